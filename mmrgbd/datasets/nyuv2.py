"""NYU Depth v2 (labeled subset) in the layout written by
``tools/dataset_converters/nyuv2_mat_to_png.py``."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from mmrgbd.registry import DATASETS
from .base_rgbd import BaseRGBDDataset
from .errors import BadSampleError

#: NYU-40 class names (ids 1..40 in the label PNGs), Gupta et al. 2013.
NYU40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet',
    'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
    'otherprop')

#: NYU-13 class names (ids 1..13 in the label PNGs), Couprie et al. 2013.
NYU13_CLASSES = ('bed', 'books', 'ceiling', 'chair', 'floor', 'furniture',
                 'objects', 'picture', 'sofa', 'table', 'tv', 'wall',
                 'window')

#: Colour-camera K of the full 640x480 NYUv2 frame (NYU toolbox calibration).
NYU_INTRINSICS = ((518.8579011745019, 0.0, 325.58244941119034),
                  (0.0, 519.4696111212749, 253.73616633400465),
                  (0.0, 0.0, 1.0))


def check_nyu_args(split: str, num_classes: int, depth_source: str) -> None:
    """Validate the split / class set / depth source of an NYUv2 dataset.

    Raises:
        ValueError: Naming the bad argument and its allowed values.
    """
    if split not in ('train', 'test'):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if num_classes not in (13, 40):
        raise ValueError(f'num_classes must be 13 or 40, got {num_classes}')
    if depth_source not in ('filled', 'sensor'):
        raise ValueError("depth_source must be 'filled' or 'sensor', got "
                         f'{depth_source!r}')


def read_nyu_split(data_root: str, split: str) -> List[int]:
    """Frame indices of ``<data_root>/<split>.txt`` (the converter's lists).

    Raises:
        BadSampleError: The list is unreadable, holds non-integers or is
            empty.
    """
    list_path = osp.join(data_root, f'{split}.txt')
    try:
        with open(list_path) as f:
            ids = [int(s) for s in f.read().split()]
    except OSError as e:
        raise BadSampleError(list_path, f'cannot read split list ({e})')
    except ValueError:
        raise BadSampleError(list_path, 'split list holds non-integers')
    if not ids:
        raise BadSampleError(list_path, 'the split list is empty')
    return ids


@DATASETS.register_module()
class NYUv2Dataset(BaseRGBDDataset):
    """The 1449 labelled NYUv2 frames with the official 795 / 654 split.

    Layout read (written by ``nyuv2_mat_to_png.py``; ``XXXX`` is the 1-based
    frame index of ``nyu_depth_v2_labeled.mat``, zero-padded to 4 digits)::

        data_root/
            rgb/XXXX.png        uint8 RGB 640x480
            depth/XXXX.png      uint16 mm, filled (colorization in-painting)
            rawdepth/XXXX.png   uint16 mm, raw sensor (0 = hole)
            label40/XXXX.png    uint8, 0 = unlabelled, 1..40 (NYU-40)
            label13/XXXX.png    uint8, 0 = unlabelled, 1..13 (NYU-13)
            train.txt, test.txt frame indices, one per line

    The label PNGs keep the NYU convention (0 = unlabelled), so load them
    with ``LoadRGBDFromFiles(with_semseg=True, reduce_zero_label=True)``,
    which gives train ids ``0..num_classes-1`` and 255 where unlabelled.

    Args:
        data_root (str): The converted folder.
        split (str): ``'train'`` (795 frames) or ``'test'`` (654 frames).
        num_classes (int): 13 or 40 (selects ``label13/`` or ``label40/``).
        depth_source (str): ``'filled'`` reads ``depth/``, ``'sensor'`` reads
            ``rawdepth/``.
        intrinsics (Sequence, optional): 3x3 K of the stored frames; default
            the full-frame NYU colour K (:data:`NYU_INTRINSICS`).
        with_semseg (bool): Put ``semseg_path`` in the entries.
        depth_unit (str): Encoding of the depth PNGs.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 num_classes: int = 40,
                 depth_source: str = 'filled',
                 intrinsics: Optional[Sequence] = NYU_INTRINSICS,
                 with_semseg: bool = True,
                 depth_unit: str = 'mm',
                 **kwargs):
        check_nyu_args(split, num_classes, depth_source)
        self.split = split
        self.num_classes = num_classes
        self.with_semseg = with_semseg
        self.intrinsics = None if intrinsics is None else np.asarray(
            intrinsics, dtype=np.float64).reshape(3, 3)
        classes = NYU13_CLASSES if num_classes == 13 else NYU40_CLASSES
        metainfo = dict(classes=classes, **kwargs.pop('metainfo', None) or {})
        super().__init__(
            data_root=data_root,
            depth_unit=depth_unit,
            depth_source=depth_source,
            metainfo=metainfo,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read ``<split>.txt`` and build one entry per frame."""
        ids = read_nyu_split(self.data_root, self.split)
        depth_dir = 'depth' if self.depth_source == 'filled' else 'rawdepth'
        data_list = []
        for idx in ids:
            name = f'{idx:04d}.png'
            info = dict(
                frame_id=idx,
                rgb_path=osp.join(self.data_root, 'rgb', name),
                depth_path=osp.join(self.data_root, depth_dir, name),
                depth_unit=self.depth_unit,
                depth_source=self.depth_source)
            if self.with_semseg:
                info['semseg_path'] = osp.join(
                    self.data_root, f'label{self.num_classes}', name)
            if self.intrinsics is not None:
                info['intrinsics'] = self.intrinsics.copy()
            data_list.append(info)
        return data_list
