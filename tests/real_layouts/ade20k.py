"""ADE20K (SceneParsing, ``ADEChallengeData2016``) in mmseg's layout, as
``configs/downstream/upernet_mask3d-vit-b_ade20k-512x512.py`` reads it::

    data/ade/ADEChallengeData2016/images/training/ADE_train_00000001.jpg
    data/ade/ADEChallengeData2016/annotations/training/ADE_train_00000001.png
    data/ade/ADEChallengeData2016/images/validation/ADE_val_00000001.jpg
    data/ade/ADEChallengeData2016/annotations/validation/ADE_val_00000001.png

Images are JPEGs of 683x512 (a common ADE20K size: shorter side 512);
annotations are 8-bit PNGs with 0 = "other" and 1..150 the ADE20K classes
(mmseg reduces them to 0..149 / 255). Both come from the real NYUv2 frame
and its NYU-13 labels, mapped to the ADE20K ids of the same classes.
"""
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np

from .imagenet_pseudo import LABEL_CROP, LABELS_13
from .nyuv2_frame import FOLDER, read_frame

SIZE_WH = (683, 512)
#: NYU-13 id -> ADE20K id (1-based, objectInfo150): bed 8, books 68,
#: ceiling 6, chair 20, floor 4, furniture (cabinet) 11, objects (box) 42,
#: picture 23, sofa 24, table 16, tv (screen) 90, wall 1, window 9
NYU13_TO_ADE = {0: 0, 1: 8, 2: 68, 3: 6, 4: 20, 5: 4, 6: 11, 7: 42, 8: 23,
                9: 24, 10: 16, 11: 90, 12: 1, 13: 9}
SPLITS = {'training': ('ADE_train_00000001', 'ADE_train_00000002'),
          'validation': ('ADE_val_00000001', )}


def build_ade20k(data_dir, samples_dir) -> Dict[str, str]:
    """Write ``data_dir/ade/ADEChallengeData2016`` (2 train, 1 val image).

    Returns:
        dict: ``data_root``.
    """
    root = osp.join(str(data_dir), 'ade', 'ADEChallengeData2016')
    bgr, _, _ = read_frame(samples_dir)
    label = cv2.imread(osp.join(str(samples_dir), FOLDER, LABELS_13),
                       cv2.IMREAD_UNCHANGED)[LABEL_CROP]
    lut = np.zeros(256, np.uint8)
    for nyu, ade in NYU13_TO_ADE.items():
        lut[nyu] = ade
    img = cv2.resize(bgr, SIZE_WH, interpolation=cv2.INTER_LINEAR)
    ann = cv2.resize(lut[label], SIZE_WH, interpolation=cv2.INTER_NEAREST)
    for split, names in SPLITS.items():
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations', split), exist_ok=True)
        for i, name in enumerate(names):
            flip = (lambda a: a[:, ::-1].copy()) if i % 2 else (lambda a: a)
            assert cv2.imwrite(osp.join(root, 'images', split, f'{name}.jpg'),
                               flip(img), [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert cv2.imwrite(
                osp.join(root, 'annotations', split, f'{name}.png'),
                flip(ann))
    return dict(data_root=root)
