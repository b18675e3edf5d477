"""ImageNet-1K with pseudo depth, as ``RGBDListDataset`` lists it.

The layout of ``configs/_base_/datasets/imagenet_pseudo_rgbd.py``::

    root/train/<wnid>/<wnid>_<n>.JPEG       RGB JPEG (ImageNet-like 500x375)
    root/depth/train/<wnid>/<wnid>_<n>.png  pseudo depth, uint16 (mm)
    root/semseg/train/<wnid>/<wnid>_<n>.png uint8 class ids (with_semseg)
    root/train.txt                          "rgb depth [semseg]" lines

built from the real NYUv2 frame (its filled depth stands in for the output
of a monocular depth network, its 13-class labels for the pseudo semantic
map of a segmentation network).
"""
import os
import os.path as osp
from typing import Dict

import cv2

from .nyuv2_frame import FOLDER

IMAGE_WH = (500, 375)
#: the 13-class labels of the frame (640x480) and the box of the 560x425 crop
LABELS_13 = 'nyuv2-meta-data_test_labels_13/new_nyu_class13_1407.png'
LABEL_CROP = (slice(45, 470), slice(40, 600))


def build_imagenet_pseudo_list(root, samples_dir, num_images: int = 2,
                               wnid: str = 'n01440764',
                               with_semseg: bool = False) -> Dict[str, str]:
    """Write ``num_images`` RGB / pseudo-depth pairs and ``train.txt``.

    Args:
        root (str | Path): Output folder (the dataset's ``data_root``).
        samples_dir (str | Path): ``../shared/samples``.
        num_images (int): Number of listed samples.
        wnid (str): The class folder.
        with_semseg (bool): Also write a uint8 pseudo semantic map per image
            (the frame's 13-class NYUv2 labels, ids 0..13) and list it as a
            third column.

    Returns:
        dict: ``data_root`` and ``ann_file`` (absolute paths).
    """
    root = str(root)
    frame = osp.join(str(samples_dir), FOLDER)
    demo = osp.join(frame, 'demo-data')
    bgr = cv2.imread(osp.join(demo, 'images.png'), cv2.IMREAD_COLOR)
    depth = cv2.imread(osp.join(demo, 'depth.png'), cv2.IMREAD_UNCHANGED)
    bgr = cv2.resize(bgr, IMAGE_WH, interpolation=cv2.INTER_AREA)
    depth = cv2.resize(depth, IMAGE_WH, interpolation=cv2.INTER_NEAREST)
    subdirs = ['train', 'depth/train']
    if with_semseg:
        labels = cv2.imread(osp.join(frame, LABELS_13),
                            cv2.IMREAD_UNCHANGED)[LABEL_CROP]
        labels = cv2.resize(labels, IMAGE_WH,
                            interpolation=cv2.INTER_NEAREST)
        subdirs.append('semseg/train')
    for sub in subdirs:
        os.makedirs(osp.join(root, sub, wnid), exist_ok=True)
    lines = []
    for n in range(num_images):
        stem = f'{wnid}_{n + 1}'
        rgb = osp.join('train', wnid, f'{stem}.JPEG')
        dep = osp.join('depth', 'train', wnid, f'{stem}.png')
        img = bgr if n % 2 == 0 else bgr[:, ::-1]  # two distinct images
        assert cv2.imwrite(osp.join(root, rgb), img,
                           [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert cv2.imwrite(osp.join(root, dep),
                           depth if n % 2 == 0 else depth[:, ::-1].copy())
        line = f'{rgb} {dep}'
        if with_semseg:
            seg = osp.join('semseg', 'train', wnid, f'{stem}.png')
            assert cv2.imwrite(
                osp.join(root, seg),
                labels if n % 2 == 0 else labels[:, ::-1].copy())
            line += f' {seg}'
        lines.append(line)
    ann_file = osp.join(root, 'train.txt')
    with open(ann_file, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(data_root=root, ann_file=ann_file)
