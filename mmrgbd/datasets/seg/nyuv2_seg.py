"""NYUv2 semantic segmentation (40 or 13 classes, official 795 / 654 split).
"""
import os.path as osp
from typing import List, Optional

from mmrgbd.registry import DATASETS
from ..nyuv2 import (NYU13_CLASSES, NYU40_CLASSES, check_nyu_args,
                     read_nyu_split)
from .base import RGBDSegDataset

__all__ = ['NYUv2SegDataset']

#: Sizes of the official split (``splits.mat``: ``trainNdxs`` /
#: ``testNdxs``).
NYU_SPLIT_SIZES = dict(train=795, test=654)


@DATASETS.register_module()
class NYUv2SegDataset(RGBDSegDataset):
    """The 1449 labelled NYUv2 frames for mmseg pipelines.

    Reads the layout written by
    ``tools/dataset_converters/nyuv2_mat_to_png.py`` (``XXXX`` = 1-based
    frame index of ``nyu_depth_v2_labeled.mat``)::

        data_root/
            rgb/XXXX.png        uint8 RGB 640x480
            depth/XXXX.png      uint16 mm, filled (colorization in-painting)
            rawdepth/XXXX.png   uint16 mm, raw sensor (0 = hole)
            label40/XXXX.png    uint8, 0 = unlabelled, 1..40 (NYU-40)
            label13/XXXX.png    uint8, 0 = unlabelled, 1..13 (NYU-13)
            train.txt, test.txt frame indices (official splits.mat)

    Train ids are ``0..num_classes-1`` (``reduce_zero_label``: label 0 is
    ignored, 255). The split lists are checked against the official sizes
    (795 / 654; a warning otherwise).

    Args:
        data_root (str): The converted folder.
        split (str): ``'train'`` or ``'test'``.
        num_classes (int): 40 (MultiMAE, M3 3D, Progressive) or 13 (the
            Pri3D / Mask3D protocol).
        depth_source (str): ``'filled'`` (``depth/``) or ``'sensor'``
            (``rawdepth/``).
        **kwargs: Passed to :class:`RGBDSegDataset`.
    """

    METAINFO = dict(classes=NYU40_CLASSES)

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 num_classes: int = 40,
                 depth_source: str = 'filled',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        check_nyu_args(split, num_classes, depth_source)
        self.split = split
        self.num_classes = num_classes
        self.depth_source = depth_source
        classes = NYU13_CLASSES if num_classes == 13 else NYU40_CLASSES
        kwargs.setdefault('reduce_zero_label', True)
        kwargs.setdefault('official_size', NYU_SPLIT_SIZES[split])
        super().__init__(
            data_root=data_root,
            metainfo=dict(dict(classes=classes), **(metainfo or {})),
            **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None) -> None:
        """No remapping: ``label13/`` and ``label40/`` hold the class set."""
        return None

    def load_data_list(self) -> List[dict]:
        """Read ``<split>.txt`` and build one entry per frame."""
        ids = read_nyu_split(self.data_root, self.split)
        depth_dir = 'depth' if self.depth_source == 'filled' else 'rawdepth'
        label_dir = f'label{self.num_classes}'
        return [
            self.seg_info(
                osp.join(self.data_root, 'rgb', f'{i:04d}.png'),
                osp.join(self.data_root, label_dir, f'{i:04d}.png'),
                osp.join(self.data_root, depth_dir, f'{i:04d}.png'),
                frame_id=i) for i in ids
        ]
