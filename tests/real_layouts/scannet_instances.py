"""ScanNet 2D benchmark frames (``scannet_frames_25k``) with instance images.

:func:`real_layouts.scannet_seg.build_scannet_frames_25k` writes the
download's colour / depth / label / pose files (real NYUv2-40 frame,
640x480); this adds what ``tools/dataset_converters/
scannet_instances_to_coco.py`` reads besides them::

    root/<scene>/instance/<frame>.png     uint16 nyu40 * 1000 + instance

ScanNet's instance ids come from its 3D annotation; here every 8-connected
piece of a class is one instance, numbered per class from 1 in raster order
of its first pixel, and wall / floor / ceiling get instance 0 (as ScanNet's
``convert_scannet_instance_image.py``). Every frame holds the same images.
"""
import os
import os.path as osp
from typing import Dict, Sequence

import cv2
import numpy as np

from .files import load_tool
from .scannet_seg import build_scannet_frames_25k

#: nyu40 classes without instances in ScanNet's 2D instance images
NO_INSTANCE = (1, 2, 22)  # wall, floor, ceiling


def instances_by_components(label: np.ndarray,
                            no_instance: Sequence[int] = NO_INSTANCE,
                            per_class: bool = True) -> np.ndarray:
    """Instance ids: the 8-connected pieces of each class.

    Args:
        label (np.ndarray): (H, W) class ids, 0 = none.
        no_instance (Sequence[int]): Classes left at instance 0.
        per_class (bool): Number from 1 within each class (ScanNet) or
            through all classes in ascending class order (object ids, as
            ``nyuv2_mat_to_png.py`` writes).

    Returns:
        np.ndarray: (H, W) uint16 instance ids (0 = none).
    """
    inst = np.zeros(label.shape, np.uint16)
    offset = 0
    for cls in np.unique(label):
        if cls == 0 or cls in no_instance:
            continue
        n, pieces = cv2.connectedComponents((label == cls).astype(np.uint8),
                                            connectivity=8)
        inst[label == cls] = pieces[label == cls] + offset
        if not per_class:
            offset += n - 1
    return inst


def build_scannet_instances(root, samples_dir,
                            train_scenes: Sequence[str] = ('scene0000_00', ),
                            val_scenes: Sequence[str] = ('scene0011_00', ),
                            frame_ids: Sequence[int] = (0, 100)
                            ) -> Dict[str, object]:
    """Write ``scannet_frames_25k`` with ``instance/`` images.

    Returns:
        dict: what :func:`build_scannet_frames_25k` returns (``data_root``,
        ``train_list``, ``val_list``, ``label``) plus ``instance``, the
        (480, 640) encoded ``label * 1000 + id`` map of every frame.
    """
    out = build_scannet_frames_25k(root, samples_dir, train_scenes,
                                   val_scenes, frame_ids)
    label = out['label']
    encoded = label.astype(np.uint16) * 1000 + instances_by_components(
        label)  # (480, 640)
    encoded[label == 0] = 0
    for scene in (*train_scenes, *val_scenes):
        folder = osp.join(str(root), scene, 'instance')
        os.makedirs(folder, exist_ok=True)
        for i in frame_ids:
            assert cv2.imwrite(osp.join(folder, f'{i:06d}.png'), encoded)
    out['instance'] = encoded.astype(np.int64)
    return out


def build_scannet_instances_coco(root, samples_dir, **kwargs
                                 ) -> Dict[str, object]:
    """:func:`build_scannet_instances` (``kwargs``) plus
    ``scannet_train.coco.json`` / ``scannet_val.coco.json`` in ``root``,
    written by ``tools/dataset_converters/scannet_instances_to_coco.py
    --scenes scannetv2_<split>.txt`` as a user runs it."""
    out = build_scannet_instances(root, samples_dir, **kwargs)
    tool = load_tool('scannet_instances_to_coco')
    for split in ('train', 'val'):
        assert tool.main([str(root), osp.join(str(root),
                                              f'scannet_{split}.coco.json'),
                          '--scenes', out[f'{split}_list']])
    return out
