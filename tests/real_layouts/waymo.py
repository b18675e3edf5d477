"""Waymo in mmdet3d's KITTI-format conversion, as
``configs/pretrain/simipu_r50_waymo.py`` names it::

    data/waymo/kitti_format/waymo_infos_train.pkl      v2 infos (10 frames)
    data/waymo/kitti_format/training/image_0/XXXXXXX.jpg   CAM_FRONT 1920x1280
    data/waymo/kitti_format/training/velodyne/XXXXXXX.bin  float32 x, y, z,
                                                           intensity,
                                                           elongation,
                                                           timestamp

The info of every frame is mmdet3d's Waymo test info
(``mmdet3d_tests_data/waymo/kitti_format``: the front camera's cam2img /
lidar2cam of a real frame) and every image is that frame's real 1920x1280
front image, re-encoded as the converter's JPEG. The test data keep only
800 LiDAR points of the frame, so the scan is a real full-size LiDAR sweep
instead: KITTI's ``kitti_object_vis`` 000001 (~120k points, x forward, y
left, z up as Waymo's frame), written in Waymo's 6-float layout (intensity
from KITTI's reflectance, elongation and timestamp 0). Frames hold linked
copies of one image and one scan; ``load_interval=5`` keeps frames 0 and 5.
"""
import copy
import os
import os.path as osp
import pickle
from typing import Dict

import cv2
import numpy as np

from .files import link

SOURCE = ('mmdet3d_tests_data', 'waymo', 'kitti_format')
SCAN = ('kitti_object_vis', 'training', 'velodyne', '000001.bin')
NUM_FRAMES = 10


def build_waymo(data_dir, samples_dir) -> Dict[str, str]:
    """Write ``data_dir/waymo/kitti_format``.

    Returns:
        dict: ``data_root`` and ``ann_file``.
    """
    root = osp.join(str(data_dir), 'waymo', 'kitti_format')
    src = osp.join(str(samples_dir), *SOURCE)
    with open(osp.join(src, 'waymo_infos_train.pkl'), 'rb') as f:
        infos = pickle.load(f)
    item = infos['data_list'][0]
    img_dir = osp.join(root, 'training', 'image_0')
    velo_dir = osp.join(root, 'training', 'velodyne')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(velo_dir, exist_ok=True)
    bgr = cv2.imread(osp.join(src, 'training', 'image_0', '0000000.png'),
                     cv2.IMREAD_COLOR)
    assert bgr.shape == (1280, 1920, 3)
    first_img = osp.join(img_dir, '0000000.jpg')
    assert cv2.imwrite(first_img, bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    kitti = np.fromfile(osp.join(str(samples_dir), *SCAN),
                        np.float32).reshape(-1, 4)
    scan = np.zeros((len(kitti), 6), np.float32)
    scan[:, :4] = kitti
    first_bin = osp.join(velo_dir, '0000000.bin')
    scan.tofile(first_bin)
    data_list = []
    for i in range(NUM_FRAMES):
        frame = copy.deepcopy(item)
        frame['sample_idx'] = i
        frame['images']['CAM_FRONT']['img_path'] = f'{i:07d}.jpg'
        frame['lidar_points']['lidar_path'] = f'{i:07d}.bin'
        data_list.append(frame)
        if i:
            link(first_img, osp.join(img_dir, f'{i:07d}.jpg'))
            link(first_bin, osp.join(velo_dir, f'{i:07d}.bin'))
    infos['data_list'] = data_list
    ann_file = osp.join(root, 'waymo_infos_train.pkl')
    with open(ann_file, 'wb') as f:
        pickle.dump(infos, f)
    return dict(data_root=root, ann_file=ann_file)
