"""NYUv2 labelled frames with 13-class and instance labels.

The layout of ``tools/dataset_converters/nyuv2_mat_to_png.py`` (with the
``instances`` of the labelled .mat) that
``tools/dataset_converters/scannet_instances_to_coco.py --dataset nyuv2``
reads::

    root/rgb/XXXX.png        640x480 RGB frame
    root/label13/XXXX.png    uint8 13-class ids (0 = none)
    root/instance/XXXX.png   uint8 per-class instance ids (0 = none)
    root/train.txt, test.txt 1-based frame ids

built from the real NYUv2 frame #1407 (test split): its real 13-class label
file (640x480) and its colour crop (560x425, pasted at rows 45:470, cols
40:600 of a black 640x480 frame, where it belongs). The labelled .mat
numbers instances per class; here every 8-connected piece of a class is
one instance (numbered from 1 per class).
"""
from pathlib import Path
from typing import Dict

import cv2
import numpy as np

from .nyuv2_frame import read_frame
from .scannet_frames_25k import instances_by_components

FRAME = 1407
LABEL13 = 'nyuv2_rcnn_depth_demo/nyuv2-meta-data_test_labels_13/' \
    'new_nyu_class13_1407.png'
CROP = (slice(45, 470), slice(40, 600))  # rows, cols of the 560x425 crop


def build_nyuv2_instances(root, samples_dir) -> Dict[str, object]:
    """Write frame #1407 in the layout (listed in ``test.txt``).

    Returns:
        dict: ``data_root`` (path), ``label13`` and ``instance`` (480, 640)
        arrays as written.
    """
    root = Path(root)
    label = cv2.imread(str(Path(samples_dir) / LABEL13),
                       cv2.IMREAD_UNCHANGED)
    if label is None or label.shape != (480, 640):
        raise FileNotFoundError(f'{samples_dir}/{LABEL13}: missing or not '
                                '640x480')
    bgr_crop, _, _ = read_frame(samples_dir)
    bgr = np.zeros((480, 640, 3), np.uint8)
    bgr[CROP] = bgr_crop
    inst = instances_by_components(label, no_instance=())
    name = f'{FRAME:04d}.png'
    for sub, img in (('rgb', bgr), ('label13', label), ('instance', inst)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / sub / name), img)
    (root / 'train.txt').write_text('')
    (root / 'test.txt').write_text(f'{FRAME}\n')
    return dict(data_root=str(root.resolve()), label13=label,
                instance=inst)
