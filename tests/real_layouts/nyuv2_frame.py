"""The real NYUv2 frame of ``nyuv2_rcnn_depth_demo`` as arrays.

The source of the RGB-D layouts of this package: NYUv2 labeled frame #1407
(560x425 crop), colour (BGR uint8), raw depth (uint16 mm, 0 = hole) and
the colour-camera K of the crop.
"""
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np

FOLDER = 'nyuv2_rcnn_depth_demo'


def read_intrinsics(samples_dir) -> np.ndarray:
    """K (3, 3) float64 of the 560x425 crop (``intrinsics.txt``)."""
    values = {}
    path = Path(samples_dir) / FOLDER / 'intrinsics.txt'
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith('#'):
            values[parts[0]] = float(parts[1])
    return np.array([[values['fx'], 0., values['cx']],
                     [0., values['fy'], values['cy']],
                     [0., 0., 1.]])


def read_frame(samples_dir) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bgr uint8 (425, 560, 3), depth uint16 mm (425, 560), K (3, 3))``.

    The depth is the raw sensor depth (0 = hole), as real RGB-D sensors
    store it.
    """
    demo = Path(samples_dir) / FOLDER / 'demo-data'
    bgr = cv2.imread(str(demo / 'images.png'), cv2.IMREAD_COLOR)
    depth = cv2.imread(str(demo / 'rawdepth.png'), cv2.IMREAD_UNCHANGED)
    if bgr is None or depth is None or depth.dtype != np.uint16:
        raise FileNotFoundError(f'{demo}: images.png / rawdepth.png (uint16) '
                                'not readable')
    return bgr, depth, read_intrinsics(samples_dir)


def scale_intrinsics(k: np.ndarray, src_wh, dst_wh) -> np.ndarray:
    """K of an image resized from ``src_wh`` to ``dst_wh`` (pixel centres).
    """
    sx, sy = dst_wh[0] / src_wh[0], dst_wh[1] / src_wh[1]
    out = k.copy()
    out[0, 0] *= sx
    out[1, 1] *= sy
    out[0, 2] = (k[0, 2] + 0.5) * sx - 0.5
    out[1, 2] = (k[1, 2] + 0.5) * sy - 0.5
    return out
