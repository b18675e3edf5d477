"""SUN RGB-D with 37-class labels, as ``SUNRGBDSegDataset`` reads it.

The official ``SUNRGBD`` folders of :func:`real_layouts.sunrgbd.build_sunrgbd`
(the real Kinect v1 frame of ``open3d_rgbd_other_formats``, 640x480, its
bit-rotated depth) plus the 37-class label set in its common form::

    root/labels/img-XXXXXX.png   uint8, 0 = unlabelled, 1..37

and the info lists written by the real
``tools/dataset_converters/sunrgbd_infos.py`` (``--split-file`` with the
toolbox-style split list, ``--label-dir`` / ``--label-order``).

The label maps are real SUN / NYU 37-class maps in format: the NYU-40 label
of the ``nyuv2_labeled_vainf`` frame with ids 38..40 (the three NYU-40
classes SUN RGB-D does not have) set to 0, at the frame size -- not the
labels of this image.
"""
import importlib.util
import os
import os.path as osp
from pathlib import Path
from typing import Dict, Sequence

import cv2
import numpy as np

from .nyuv2_labeled import read_frame_vainf
from .sunrgbd import build_sunrgbd

TOOLS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'


def _infos_tool():
    spec = importlib.util.spec_from_file_location(
        'sunrgbd_infos', TOOLS / 'sunrgbd_infos.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def sun37_label(samples_dir, wh=(640, 480)) -> np.ndarray:
    """A real-format 37-class map (uint8, 0 = unlabelled) of size ``wh``."""
    label = read_frame_vainf(samples_dir)['label40'].copy()
    label[label > 37] = 0
    return cv2.resize(label, wh, interpolation=cv2.INTER_NEAREST)


def build_sunrgbd_seg(root, samples_dir,
                      train: Sequence[str] = ('NYU0001', 'NYU0002'),
                      test: Sequence[str] = ('NYU0003', )
                      ) -> Dict[str, object]:
    """Write the folders, the label PNGs and the train / test info lists.

    Returns:
        dict: ``data_root``, ``train_ann`` / ``test_ann`` (info lists) and
        ``label`` (the written 37-class map).
    """
    root = str(root)
    layout = build_sunrgbd(root, samples_dir, train=train, test=test)
    label = sun37_label(samples_dir)
    order = layout['train_dirs'].split(',') + layout['test_dirs'].split(',')
    os.makedirs(osp.join(root, 'labels'), exist_ok=True)
    for k in range(1, len(order) + 1):
        assert cv2.imwrite(osp.join(root, 'labels', f'img-{k:06d}.png'),
                           label)
    order_file = osp.join(root, 'label_order.txt')
    with open(order_file, 'w') as f:
        f.write('\n'.join(order) + '\n')
    tool = _infos_tool()
    out = dict(data_root=root, label=label)
    for split in ('train', 'test'):
        lines, problems = tool.build_infos(
            root, layout[f'{split}_split'], 'labels', order_file)
        assert not problems, problems
        path = osp.join(root, f'sunrgbd_{split}_seg.txt')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        out[f'{split}_ann'] = path
    return out
