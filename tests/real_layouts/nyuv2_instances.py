"""NYUv2 labelled frames with instance images.

:func:`real_layouts.nyuv2_labeled.build_nyuv2_labeled` writes frame #1407
(real 13-class label, 640x480) in the layout of
``tools/dataset_converters/nyuv2_mat_to_png.py``; this adds the
``instance/XXXX.png`` object ids (uint16, 0 = none) that the converter
writes from the labelled file's ``instances`` and that
``scannet_instances_to_coco.py --dataset nyuv2`` reads. The .mat numbers
the instances of each object label; here every 8-connected piece of a
13-class region is one object (ids 1..K through all classes).
"""
import os
import os.path as osp
from typing import Dict

import cv2

from .files import load_tool
from .nyuv2_labeled import build_nyuv2_labeled
from .scannet_instances import instances_by_components


def build_nyuv2_instances(root, samples_dir, frame: str = '1407',
                          num_train: int = 1) -> Dict[str, object]:
    """Write a frame (default #1407) with its instances, listed in train
    and test (``frame`` / ``num_train``: see :func:`build_nyuv2_labeled`).

    Returns:
        dict: what :func:`build_nyuv2_labeled` returns plus ``instance``,
        the (480, 640) object id map.
    """
    out = build_nyuv2_labeled(root, samples_dir, frame=frame,
                              num_train=num_train)
    inst = instances_by_components(out['label13'], no_instance=(),
                                   per_class=False)
    os.makedirs(osp.join(str(root), 'instance'), exist_ok=True)
    for idx in (*out['train_ids'], out['test_id']):
        assert cv2.imwrite(osp.join(str(root), 'instance', f'{idx:04d}.png'),
                           inst)
    out['instance'] = inst
    return out


def build_nyuv2_instances_coco(root, samples_dir, frame: str = '1407',
                               num_train: int = 1) -> Dict[str, object]:
    """:func:`build_nyuv2_instances` plus ``nyuv2_train.coco.json`` /
    ``nyuv2_test.coco.json`` in ``root``, written by
    ``tools/dataset_converters/scannet_instances_to_coco.py --dataset
    nyuv2 --split <split>`` as a user runs it."""
    out = build_nyuv2_instances(root, samples_dir, frame, num_train)
    tool = load_tool('scannet_instances_to_coco')
    for split in ('train', 'test'):
        assert tool.main([str(root), osp.join(str(root),
                                              f'nyuv2_{split}.coco.json'),
                          '--dataset', 'nyuv2', '--split', split])
    return out
