"""NYU Depth v2 in mmseg's layout (mmseg's ``NYUDataset``), as
``configs/downstream/depth_mask3d-vit-b_nyu-480x480.py`` reads it::

    data/nyu/images/{train,test}/<scene>_<frame>.jpg       640x480 colour
    data/nyu/annotations/{train,test}/<scene>_<frame>.png  uint16 mm depth

from the real NYUv2 frame (the 560x425 crop of labelled frame 1407 resized
to NYU's 640x480; raw sensor depth, 0 = hole); the second train image is
its mirror image.
"""
import os
import os.path as osp
from typing import Dict

import cv2

from .nyuv2_frame import read_frame

SIZE_WH = (640, 480)
SPLITS = {'train': ('bedroom_0001_00001', 'bedroom_0001_00002'),
          'test': ('bedroom_0002_00001', )}


def build_nyu_depth_mmseg(data_dir, samples_dir) -> Dict[str, str]:
    """Write ``data_dir/nyu`` (2 train, 1 test frame).

    Returns:
        dict: ``data_root``.
    """
    root = osp.join(str(data_dir), 'nyu')
    bgr, depth, _ = read_frame(samples_dir)
    bgr = cv2.resize(bgr, SIZE_WH, interpolation=cv2.INTER_LINEAR)
    depth = cv2.resize(depth, SIZE_WH, interpolation=cv2.INTER_NEAREST)
    for split, names in SPLITS.items():
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations', split), exist_ok=True)
        for i, name in enumerate(names):
            img, dep = (bgr, depth) if i % 2 == 0 else (bgr[:, ::-1],
                                                       depth[:, ::-1])
            assert cv2.imwrite(osp.join(root, 'images', split, f'{name}.jpg'),
                               img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            assert cv2.imwrite(
                osp.join(root, 'annotations', split, f'{name}.png'),
                dep.copy())
    return dict(data_root=root)
