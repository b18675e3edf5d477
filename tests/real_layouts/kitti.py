"""KITTI 3D object data in the official layout.

The layout ``configs/_base_/datasets/kitti_simipu.py`` and
:class:`mmrgbd.datasets.KITTIRawObjectDataset` read::

    root/training/{calib,image_2,velodyne}/<id>.{txt,png,bin}
    root/testing/{calib,image_2,velodyne}/<id>.{txt,png,bin}
    root/ImageSets/{train,test}.txt       frame ids, one per line

from the three real KITTI frames of ``kitti_object_vis`` (full velodyne
scans, ~1242x375 images), linked (not copied) into ``root``.

:func:`build_kitti` writes ``data/kitti`` as all shipped KITTI configs read
it: the above (SimIPU: ImageSets/train.txt = 000000 from ``training/``,
ImageSets/test.txt = 000002 from ``testing/``; val.txt = 000001 is the
excluded downstream split) plus what mmdet3d's ``create_data.py kitti``
adds for the mmdet3d configs::

    root/training/label_2/<id>.txt
    root/training/velodyne_reduced/000000.bin   camera-frustum crop
    root/kitti_infos_{train,val}.pkl            mmdet3d v2 infos

Both info files hold frame 000000: mmdet3d's own test info of that very
frame (``mmdet3d_tests_data/kitti``: calibration, the pedestrian box); its
``velodyne_reduced`` scan is cropped from the full scan to the image
frustum as mmdet3d's converter does (``_create_reduced_point_cloud``:
depth > 0 and inside image_2).
"""
import os
import os.path as osp
import pickle
from pathlib import Path
from typing import Dict, Sequence

import cv2
import numpy as np

from mmrgbd.datasets.transforms.lidar import kitti_lidar2img, read_kitti_calib
from .files import link

SOURCE = 'kitti_object_vis/training'
_FILES = (('calib', 'txt'), ('image_2', 'png'), ('velodyne', 'bin'))


def build_kitti_object(root, samples_dir,
                       train: Sequence[str] = ('000000', '000001'),
                       test: Sequence[str] = ('000002', )
                       ) -> Dict[str, str]:
    """Link frames into ``training`` / ``testing`` and write the ImageSets.

    Args:
        root (str | Path): Output folder (the dataset's ``data_root``).
        samples_dir (str | Path): ``../shared/samples``.
        train (Sequence[str]): Frame ids of ``training`` (listed in
            ``ImageSets/train.txt``).
        test (Sequence[str]): Frame ids of ``testing``
            (``ImageSets/test.txt``).

    Returns:
        dict: ``data_root`` (absolute path).
    """
    root = Path(root)
    src = Path(samples_dir) / SOURCE
    for split, ids in (('training', train), ('testing', test)):
        for sub, ext in _FILES:
            (root / split / sub).mkdir(parents=True, exist_ok=True)
            for idx in ids:
                os.symlink((src / sub / f'{idx}.{ext}').resolve(),
                           root / split / sub / f'{idx}.{ext}')
    (root / 'ImageSets').mkdir(parents=True, exist_ok=True)
    for name, ids in (('train', train), ('test', test)):
        (root / 'ImageSets' / f'{name}.txt').write_text(
            ''.join(f'{i}\n' for i in ids))
    return dict(data_root=str(root.resolve()))


INFO = ('mmdet3d_tests_data', 'kitti', 'kitti_infos_train.pkl')


def frustum_crop(points: np.ndarray, lidar2img: np.ndarray,
                 image_hw) -> np.ndarray:
    """Points (N, C) whose projection lies in front of and inside image_2."""
    xyz1 = np.concatenate([points[:, :3], np.ones((len(points), 1))], 1)
    proj = xyz1 @ lidar2img.T  # (N, 4)
    z = proj[:, 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        u, v = proj[:, 0] / z, proj[:, 1] / z
    h, w = image_hw
    keep = (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    return points[keep]


def build_kitti(data_dir, samples_dir) -> Dict[str, str]:
    """Write ``data_dir/kitti`` (see the module doc).

    Returns:
        dict: ``data_root`` and the number of points in the reduced scan of
        frame 000000 (``reduced_points``).
    """
    root = osp.join(str(data_dir), 'kitti')
    build_kitti_object(root, samples_dir, train=('000000', ),
                       test=('000002', ))
    src = osp.join(str(samples_dir), SOURCE)
    for idx in ('000000', '000001'):
        for sub, ext in _FILES + (('label_2', 'txt'), ):
            dst = osp.join(root, 'training', sub, f'{idx}.{ext}')
            if not osp.lexists(dst):
                link(osp.join(src, sub, f'{idx}.{ext}'), dst)
    with open(osp.join(root, 'ImageSets', 'val.txt'), 'w') as f:
        f.write('000001\n')
    calib = read_kitti_calib(osp.join(src, 'calib', '000000.txt'))
    h, w = cv2.imread(osp.join(src, 'image_2', '000000.png')).shape[:2]
    points = np.fromfile(osp.join(src, 'velodyne', '000000.bin'),
                         np.float32).reshape(-1, 4)
    crop = frustum_crop(points, kitti_lidar2img(calib, 2), (h, w))
    out = osp.join(root, 'training', 'velodyne_reduced', '000000.bin')
    os.makedirs(osp.dirname(out), exist_ok=True)
    crop.astype(np.float32).tofile(out)
    with open(osp.join(str(samples_dir), *INFO), 'rb') as f:
        infos = pickle.load(f)
    assert [i['lidar_points']['lidar_path'] for i in infos['data_list']] == [
        '000000.bin']
    for split in ('train', 'val'):
        with open(osp.join(root, f'kitti_infos_{split}.pkl'), 'wb') as f:
            pickle.dump(infos, f)
    return dict(data_root=root, reduced_points=len(crop))
