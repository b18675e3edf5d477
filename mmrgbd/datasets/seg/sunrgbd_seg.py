"""SUN RGB-D semantic segmentation (37 classes, official 5285 / 5050 split).
"""
import os.path as osp
from typing import List, Optional

from mmrgbd.registry import DATASETS
from ..errors import BadSampleError
from ..sunrgbd import (SUNRGBD37_CLASSES, read_sunrgbd_info_list,
                       sunrgbd_sample_files)
from .base import RGBDSegDataset

__all__ = ['SUNRGBDSegDataset']

#: Sizes of the official split (SUN RGB-D toolbox ``allsplit.mat``:
#: ``alltrain`` / ``alltest``; Song et al., CVPR 2015).
SUNRGBD_SPLIT_SIZES = dict(train=5285, test=5050)


@DATASETS.register_module()
class SUNRGBDSegDataset(RGBDSegDataset):
    """SUN RGB-D frames with 37-class labels for mmseg pipelines.

    Reads the official ``SUNRGBD`` folder layout (see
    :class:`~mmrgbd.datasets.SUNRGBDDataset`) through an info list written by
    ``tools/dataset_converters/sunrgbd_infos.py --split-file ... --label-dir
    ... --label-order ...``, one ``<sample_dir> <label_png>`` line per frame
    (both relative to ``data_root``)::

        data_root/kv1/NYUdata/NYU0001/image/NYU0001.jpg
        data_root/kv1/NYUdata/NYU0001/depth_bfx/NYU0001.png  (bit-rotated mm)
        data_root/<label_dir>/img-XXXXXX.png   uint8, 0 = unlabelled, 1..37

    Train ids are ``0..36`` (``reduce_zero_label``). Image sizes differ
    between the four sensors (e.g. 640x480 Kinect v1, 730x530 Kinect v2);
    each label map has its image's size. The list is checked against the
    official split size of ``split`` (5285 train / 5050 test; a warning
    otherwise).

    Args:
        data_root (str): The ``SUNRGBD`` folder.
        ann_file (str): The info list (relative to ``data_root`` or
            absolute).
        split (str, optional): ``'train'`` or ``'test'``, for the size
            check only.
        depth_source (str): ``'filled'`` (``depth_bfx/``) or ``'sensor'``
            (``depth/``).
        depth_unit (str): Encoding of the depth PNGs. Defaults to
            ``'sunrgbd'``.
        **kwargs: Passed to :class:`RGBDSegDataset`.
    """

    METAINFO = dict(classes=SUNRGBD37_CLASSES)

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 split: Optional[str] = None,
                 depth_source: str = 'filled',
                 depth_unit: str = 'sunrgbd',
                 **kwargs) -> None:
        if not ann_file:
            raise ValueError('ann_file (the info list of sunrgbd_infos.py '
                             'with labels) is required')
        if split is not None and split not in SUNRGBD_SPLIT_SIZES:
            raise ValueError(f"split must be 'train', 'test' or None, got "
                             f'{split!r}')
        if depth_source not in ('filled', 'sensor'):
            raise ValueError("depth_source must be 'filled' or 'sensor', got "
                             f'{depth_source!r}')
        self.depth_source = depth_source
        kwargs.setdefault('reduce_zero_label', True)
        if split is not None:
            kwargs.setdefault('official_size', SUNRGBD_SPLIT_SIZES[split])
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            depth_unit=depth_unit,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Resolve the image, depth and label file of every listed frame."""
        depth_folder = 'depth_bfx' if self.depth_source == 'filled' \
            else 'depth'
        data_list = []
        for lineno, (rel, label) in enumerate(
                read_sunrgbd_info_list(self.ann_file), 1):
            if label is None:
                raise BadSampleError(
                    self.ann_file, f'entry {lineno} ({rel}) has no label '
                    'file; write the list with --label-dir / --label-order')
            files = sunrgbd_sample_files(
                osp.join(self.data_root, rel), depth_folder)
            data_list.append(
                self.seg_info(
                    files['rgb_path'],
                    osp.join(self.data_root, label),
                    files['depth_path'],
                    sample_dir=rel))
        if not data_list:
            raise BadSampleError(self.ann_file, 'the info list is empty')
        return data_list
