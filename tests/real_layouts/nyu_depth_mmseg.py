"""mmseg's NYU depth layout of the NYUv2 labeled frames, at 640x480.

Built the way a user builds it: the real frame #1407 of
``nyuv2_rcnn_depth_demo`` is put back into its 640x480 frame (the sample is
the 560x425 crop ``[45:470, 40:600]``; the RGB border is edge-replicated,
the depth border is 0 = no measurement), written in the layout of
``tools/dataset_converters/nyuv2_mat_to_png.py`` (``rgb/XXXX.png``,
``depth/XXXX.png`` uint16 mm filled depth, ``train.txt`` / ``test.txt``)
and arranged by ``tools/dataset_converters/nyuv2_png_to_mmseg_depth.py``::

    root/images/{train,test}/XXXX.png
    root/annotations/{train,test}/XXXX.png   uint16 mm
"""
import importlib.util
import os
import os.path as osp
from pathlib import Path
from typing import Dict

import cv2
import numpy as np

from .nyuv2_frame import FOLDER

NYU_HW = (480, 640)
#: top, left of the sample's crop inside the 640x480 frame
CROP_TOP_LEFT = (45, 40)
TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters' \
    / 'nyuv2_png_to_mmseg_depth.py'


def read_full_frame(samples_dir):
    """``(bgr uint8 (480, 640, 3), depth uint16 mm (480, 640))``."""
    demo = osp.join(str(samples_dir), FOLDER, 'demo-data')
    bgr = cv2.imread(osp.join(demo, 'images.png'), cv2.IMREAD_COLOR)
    depth = cv2.imread(osp.join(demo, 'depth.png'), cv2.IMREAD_UNCHANGED)
    assert bgr is not None and depth is not None and depth.dtype == np.uint16
    top, left = CROP_TOP_LEFT
    h, w = depth.shape
    pads = (top, NYU_HW[0] - top - h, left, NYU_HW[1] - left - w)
    bgr = cv2.copyMakeBorder(bgr, *pads, cv2.BORDER_REPLICATE)
    depth = cv2.copyMakeBorder(depth, *pads, cv2.BORDER_CONSTANT, value=0)
    assert bgr.shape[:2] == NYU_HW == depth.shape
    return bgr, depth


def load_arranger():
    """``arrange`` of the converter script (a tool, not a package)."""
    spec = importlib.util.spec_from_file_location('nyu_to_mmseg', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.arrange


def build_nyu_depth_mmseg(root, samples_dir,
                          train_ids=(1, 2), test_ids=(1407, )) -> Dict:
    """Write the labeled-PNG layout and arrange mmseg's layout from it.

    Train frames after the first are the mirrored frame (distinct images);
    every test frame is the real frame #1407 (a test frame of NYUv2).

    Returns:
        dict: ``data_root`` (mmseg layout), ``png_root`` (converter input),
        ``depth_mm`` (the 480x640 depth written for #1407).
    """
    root = Path(root)
    png_root = root / 'nyuv2_png'
    for sub in ('rgb', 'depth'):
        os.makedirs(png_root / sub, exist_ok=True)
    bgr, depth = read_full_frame(samples_dir)
    for split, ids in (('train', train_ids), ('test', test_ids)):
        for n, idx in enumerate(ids):
            img, dep = (bgr, depth) if n == 0 or split == 'test' else (
                bgr[:, ::-1], depth[:, ::-1])
            name = f'{idx:04d}.png'
            assert cv2.imwrite(str(png_root / 'rgb' / name),
                               np.ascontiguousarray(img))
            assert cv2.imwrite(str(png_root / 'depth' / name),
                               np.ascontiguousarray(dep))
        (png_root / f'{split}.txt').write_text(
            ''.join(f'{i}\n' for i in ids))
    data_root = root / 'nyu_labeled'
    load_arranger()(str(png_root), str(data_root))
    return dict(data_root=str(data_root), png_root=str(png_root),
                depth_mm=depth)
