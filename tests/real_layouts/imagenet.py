"""ImageNet-1k in mmpretrain's layout (``ImageNet(split=...)``), as the
mmpretrain fine-tuning / linear-probing configs read it::

    data/imagenet/train/n01440764/n01440764_10026.JPEG
    data/imagenet/val/ILSVRC2012_val_00000001.JPEG
    data/imagenet/meta/{train,val}.txt     "<relative path> <class id>"

JPEGs of 500x375 (ImageNet's typical size) from the real NYUv2 frame; two
train images of classes 0 and 1 (the second mirrored), one val image.
"""
import os
import os.path as osp
from typing import Dict

import cv2

from .imagenet_pseudo import IMAGE_WH
from .nyuv2_frame import read_frame

TRAIN = (('n01440764/n01440764_10026.JPEG', 0),
         ('n01443537/n01443537_10007.JPEG', 1))
VAL = (('ILSVRC2012_val_00000001.JPEG', 65), )


def build_imagenet(data_dir, samples_dir) -> Dict[str, str]:
    """Write ``data_dir/imagenet``.

    Returns:
        dict: ``data_root``.
    """
    root = osp.join(str(data_dir), 'imagenet')
    bgr, _, _ = read_frame(samples_dir)
    img = cv2.resize(bgr, IMAGE_WH, interpolation=cv2.INTER_AREA)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, items in (('train', TRAIN), ('val', VAL)):
        lines = []
        for i, (rel, label) in enumerate(items):
            path = osp.join(root, split, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            assert cv2.imwrite(path, img if i % 2 == 0 else img[:, ::-1],
                               [cv2.IMWRITE_JPEG_QUALITY, 90])
            lines.append(f'{rel} {label}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return dict(data_root=root)
