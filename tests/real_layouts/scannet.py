"""ScanNet exported frames at ScanNet's real sizes.

The layout ``tools/dataset_converters/scannet_sens_to_frames.py`` writes
and :class:`mmrgbd.datasets.ScanNetFrames` reads::

    root/<scene>/color/<i>.jpg        1296x968 JPEG
    root/<scene>/depth/<i>.png        640x480 uint16 millimetres (0 = hole)
    root/<scene>/pose/<i>.txt         4x4 camera-to-world
    root/<scene>/intrinsic/{intrinsic,extrinsic}_{color,depth}.txt  4x4
    root/scannetv2_train.txt          scene names, one per line

built from the real NYUv2 frame (colour resized to 1296x968 and stored as
JPEG, raw sensor depth resized to 640x480 with nearest neighbours, K scaled
to each size). Every scene holds the same frame (the files are written once
and linked).

:func:`build_scannet_data` arranges the folder the shipped configs name
(``data/scannet/frames/`` plus the official scene lists next to it).
"""
import os
import os.path as osp
from typing import Dict, Mapping, Sequence, Union

import cv2
import numpy as np

from .files import link
from .nyuv2_frame import read_frame, scale_intrinsics

COLOR_WH = (1296, 968)
DEPTH_WH = (640, 480)


def _write_matrix(path: str, mat: np.ndarray) -> None:
    np.savetxt(path, mat, fmt='%.9g')  # as scannet_sens_to_frames.py


def _k44(k: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = k
    return out


def build_scannet_frames(root, samples_dir,
                         scenes: Sequence[str] = ('scene0000_00',
                                                  'scene0001_00'),
                         frame_ids: Union[Sequence[int],
                                          Mapping[str, Sequence[int]]] = (0, ),
                         scene_list_name: str = 'scannetv2_train.txt'
                         ) -> Dict[str, str]:
    """Write the exported-frames layout.

    Args:
        root (str | Path): Output folder (the dataset's ``data_root``).
        samples_dir (str | Path): ``../shared/samples``.
        scenes (Sequence[str]): Scene folders to write.
        frame_ids (Sequence[int] | Mapping[str, Sequence[int]]): Exported
            frame indices of every scene, or per scene name (the exporter
            writes every frame; ``ScanNetFrames(frame_skip=25)`` then uses
            indices 0, 25, ...).
        scene_list_name (str): Name of the scene list written in ``root``.

    Returns:
        dict: ``data_root`` and ``scene_list`` (absolute paths).
    """
    root = str(root)
    bgr, depth, k = read_frame(samples_dir)
    h, w = depth.shape
    color = cv2.resize(bgr, COLOR_WH, interpolation=cv2.INTER_LINEAR)
    depth = cv2.resize(depth, DEPTH_WH, interpolation=cv2.INTER_NEAREST)
    k_color = scale_intrinsics(k, (w, h), COLOR_WH)
    k_depth = scale_intrinsics(k, (w, h), DEPTH_WH)
    assert color.shape == (COLOR_WH[1], COLOR_WH[0], 3)
    assert depth.shape == (DEPTH_WH[1], DEPTH_WH[0])
    os.makedirs(root, exist_ok=True)
    first = None
    for scene in scenes:
        sdir = osp.join(root, scene)
        for sub in ('color', 'depth', 'pose', 'intrinsic'):
            os.makedirs(osp.join(sdir, sub), exist_ok=True)
        _write_matrix(osp.join(sdir, 'intrinsic', 'intrinsic_color.txt'),
                      _k44(k_color))
        _write_matrix(osp.join(sdir, 'intrinsic', 'intrinsic_depth.txt'),
                      _k44(k_depth))
        for name in ('extrinsic_color.txt', 'extrinsic_depth.txt'):
            _write_matrix(osp.join(sdir, 'intrinsic', name), np.eye(4))
        ids = frame_ids[scene] if isinstance(frame_ids, Mapping) \
            else frame_ids
        for i in ids:
            jpg = osp.join(sdir, 'color', f'{i}.jpg')
            png = osp.join(sdir, 'depth', f'{i}.png')
            if first is None:
                assert cv2.imwrite(jpg, color,
                                   [cv2.IMWRITE_JPEG_QUALITY, 90])
                assert cv2.imwrite(png, depth)
                first = (jpg, png)
            else:
                link(first[0], jpg)
                link(first[1], png)
            pose = np.eye(4)
            pose[:3, 3] = (0.1 * i, 0., 1.5)  # camera-to-world, metres
            _write_matrix(osp.join(sdir, 'pose', f'{i}.txt'), pose)
    scene_list = osp.join(root, scene_list_name)
    with open(scene_list, 'w') as f:
        f.write('\n'.join(scenes) + '\n')
    return dict(data_root=root, scene_list=scene_list)


def build_scannet_data(data_dir, samples_dir) -> Dict[str, str]:
    """``data_dir/scannet`` as the shipped ScanNet configs name it.

    ``frames/scene0000_00`` holds exported frames 0..25 (so
    ``frame_skip=25`` samples two of them, 0 and 25) and is the only scene of
    ``scannetv2_train.txt``; ``frames/scene0001_00`` (frame 0) is the only
    scene of ``scannetv2_val.txt``. Both lists sit next to ``frames/``, as in
    the ScanNet download.

    Returns:
        dict: ``data_root`` (the ``frames`` folder) and ``train_list`` /
        ``val_list`` (absolute paths).
    """
    root = osp.join(str(data_dir), 'scannet')
    frames = osp.join(root, 'frames')
    out = build_scannet_frames(
        frames, samples_dir, scenes=('scene0000_00', 'scene0001_00'),
        frame_ids={'scene0000_00': range(26), 'scene0001_00': (0, )},
        scene_list_name='../scannetv2_train.txt')
    val_list = osp.join(root, 'scannetv2_val.txt')
    with open(out['scene_list'], 'w') as f:
        f.write('scene0000_00\n')
    with open(val_list, 'w') as f:
        f.write('scene0001_00\n')
    return dict(data_root=frames, train_list=osp.normpath(out['scene_list']),
                val_list=val_list)
