"""KITTI 3D object data: the official folders plus mmdet3d's prepared files,
as ``data/kitti`` holds them after mmdet3d's ``create_data.py kitti``::

    data/kitti/ImageSets/{train,val,test}.txt
    data/kitti/training/{calib,image_2,label_2,velodyne}/000000.*
    data/kitti/training/velodyne_reduced/000000.bin   camera-frustum crop
    data/kitti/testing/{calib,image_2,velodyne}/000002.*
    data/kitti/kitti_infos_{train,val}.pkl            mmdet3d v2 infos

from the real frames of ``kitti_object_vis`` (full 115-127k-point scans,
raw ``calib/*.txt``, ~1242x375 images; files are linked):

* SimIPU (``KITTIRawObjectDataset``): ImageSets/train.txt = 000000 from
  ``training/``, ImageSets/test.txt = 000002 from ``testing/`` (val.txt =
  000001 is the excluded downstream split);
* mmdet3d (``KittiDataset``): ``kitti_infos_train.pkl`` and
  ``kitti_infos_val.pkl`` both hold frame 000000 -- mmdet3d's own test info
  of that very frame (``mmdet3d_tests_data/kitti``: calibration, the
  pedestrian box); its ``velodyne_reduced`` scan is cropped from the full
  scan to the image frustum as mmdet3d's converter does
  (``_create_reduced_point_cloud``: depth > 0 and inside image_2).
"""
import os
import os.path as osp
import pickle
from typing import Dict

import cv2
import numpy as np

from mmrgbd.datasets.transforms.lidar import kitti_lidar2img, read_kitti_calib
from .files import link

SOURCE = ('kitti_object_vis', 'training')
INFO = ('mmdet3d_tests_data', 'kitti', 'kitti_infos_train.pkl')
SPLITS = {'training': ('000000', '000001'), 'testing': ('000002', )}
IMAGE_SETS = {'train': '000000', 'val': '000001', 'test': '000002'}


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
    """Write ``data_dir/kitti``.

    Returns:
        dict: ``data_root`` and the number of points in the reduced scan of
        frame 000000 (``reduced_points``).
    """
    root = osp.join(str(data_dir), 'kitti')
    src = osp.join(str(samples_dir), *SOURCE)
    for split, ids in SPLITS.items():
        for idx in ids:
            subs = [('calib', 'txt'), ('image_2', 'png'), ('velodyne', 'bin')]
            if split == 'training':
                subs.append(('label_2', 'txt'))
            for sub, ext in subs:
                link(osp.join(src, sub, f'{idx}.{ext}'),
                     osp.join(root, split, sub, f'{idx}.{ext}'))
    os.makedirs(osp.join(root, 'ImageSets'), exist_ok=True)
    for name, idx in IMAGE_SETS.items():
        with open(osp.join(root, 'ImageSets', f'{name}.txt'), 'w') as f:
            f.write(f'{idx}\n')
    reduced = {}
    for idx in SPLITS['training']:
        calib = read_kitti_calib(osp.join(src, 'calib', f'{idx}.txt'))
        h, w = cv2.imread(osp.join(src, 'image_2', f'{idx}.png')).shape[:2]
        points = np.fromfile(osp.join(src, 'velodyne', f'{idx}.bin'),
                             np.float32).reshape(-1, 4)
        crop = frustum_crop(points, kitti_lidar2img(calib, 2), (h, w))
        out = osp.join(root, 'training', 'velodyne_reduced', f'{idx}.bin')
        os.makedirs(osp.dirname(out), exist_ok=True)
        crop.astype(np.float32).tofile(out)
        reduced[idx] = len(crop)
    with open(osp.join(str(samples_dir), *INFO), 'rb') as f:
        infos = pickle.load(f)
    assert [i['lidar_points']['lidar_path'] for i in infos['data_list']] == [
        '000000.bin']
    for split in ('train', 'val'):
        with open(osp.join(root, f'kitti_infos_{split}.pkl'), 'wb') as f:
            pickle.dump(infos, f)
    return dict(data_root=root, reduced_points=reduced['000000'])
