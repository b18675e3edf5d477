"""Your own RGB-D frames as ``configs/_base_/datasets/rgbd_list_own_frames.py``
documents them::

    data/my_rgbd/color/000000.jpg   colour JPEG (640x480, a Kinect-class
                                    sensor export)
    data/my_rgbd/depth/000000.png   registered depth, uint16 mm, 0 = hole
    data/my_rgbd/train.txt          "color/... depth/..." lines ('#' comment)

built from the real NYUv2 frame (colour and raw sensor depth of the 560x425
crop resized to 640x480; the second frame is the mirror image).
"""
import os
import os.path as osp
from typing import Dict

import cv2

from .nyuv2_frame import read_frame

SIZE_WH = (640, 480)


def build_own_frames(data_dir, samples_dir) -> Dict[str, str]:
    """Write two frames and ``train.txt`` under ``data_dir/my_rgbd``.

    Returns:
        dict: ``data_root`` and ``ann_file`` (absolute paths).
    """
    root = osp.join(str(data_dir), 'my_rgbd')
    for sub in ('color', 'depth'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    bgr, depth, _ = read_frame(samples_dir)
    bgr = cv2.resize(bgr, SIZE_WH, interpolation=cv2.INTER_AREA)
    depth = cv2.resize(depth, SIZE_WH, interpolation=cv2.INTER_NEAREST)
    lines = ['# rgb depth']
    for i in range(2):
        img, dep = (bgr, depth) if i == 0 else (bgr[:, ::-1], depth[:, ::-1])
        rgb_rel, depth_rel = f'color/{i:06d}.jpg', f'depth/{i:06d}.png'
        assert cv2.imwrite(osp.join(root, rgb_rel), img,
                           [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert cv2.imwrite(osp.join(root, depth_rel), dep.copy())
        lines.append(f'{rgb_rel} {depth_rel}')
    ann_file = osp.join(root, 'train.txt')
    with open(ann_file, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(data_root=root, ann_file=ann_file)
