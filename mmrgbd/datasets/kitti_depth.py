"""KITTI monocular depth (Eigen split, projected-LiDAR ground truth) as an
mmseg dataset for ``DepthEstimator``."""
import os.path as osp
from typing import List

from mmengine import fileio
from mmseg.datasets import BaseSegDataset

from mmrgbd.registry import DATASETS
from .errors import BadSampleError


@DATASETS.register_module()
class KITTIDepthDataset(BaseSegDataset):
    """KITTI depth in the layout of BTS / AdaBins / SimIPU's depth toolbox.

    ::

        data_root/
            input/<date>/<date>_drive_<n>_sync/image_02/data/<frame>.png
            gt_depth/<date>_drive_<n>_sync/proj_depth/groundtruth/image_02/
                <frame>.png            uint16, metres = value / 256, 0 = none
            <split>.txt                "<image> <depth or None> <focal>"

    ``input/`` holds the KITTI raw images (``2011_09_26/...``);
    ``gt_depth/`` the KITTI depth-completion ground truth (``train/`` and
    ``val/`` of ``data_depth_annotated`` merged), whose PNGs store the
    LiDAR depth projected into ``image_02`` in the official encoding. A split
    line whose depth is ``None`` (Eigen test frames without ground truth) is
    skipped, as in the toolbox (652 of the 697 Eigen test frames remain).
    Data entries are sorted by image path and hold ``img_path``,
    ``depth_map_path``, ``focal`` (read, unused by the models) and an empty
    ``seg_fields``: mmseg's ``LoadDepthAnnotation(depth_rescale_factor=1 /
    256)`` then loads metres.

    Args:
        ann_file (str): The split file (relative to ``data_root``), e.g.
            ``'kitti_eigen_train.txt'``.
        data_prefix (dict): ``img_path`` / ``depth_map_path`` folders.
            Defaults to ``input`` / ``gt_depth``.
        **kwargs: Of mmseg's ``BaseSegDataset`` (``data_root``,
            ``pipeline``, ``test_mode``, ...).
    """

    METAINFO = dict(classes=('depth', ))

    def __init__(self,
                 ann_file: str,
                 data_prefix: dict = dict(
                     img_path='input', depth_map_path='gt_depth'),
                 **kwargs) -> None:
        if not ann_file:
            raise ValueError('KITTIDepthDataset needs ann_file (the split '
                             'file, e.g. kitti_eigen_train.txt)')
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         img_suffix='.png', seg_map_suffix='.png', **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the split file.

        Returns:
            list[dict]: One entry per line with ground truth.

        Raises:
            BadSampleError: The split file is unreadable or a line is not
                ``<image> <depth> [<focal>]``.
        """
        img_dir = self.data_prefix.get('img_path', '')
        depth_dir = self.data_prefix.get('depth_map_path', '')
        try:
            text = fileio.get_text(self.ann_file,
                                   backend_args=self.backend_args)
        except OSError as e:
            raise BadSampleError(self.ann_file,
                                 f'cannot read the split file ({e})')
        data_list = []
        for n, line in enumerate(text.splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (2, 3):
                raise BadSampleError(
                    self.ann_file, f'line {n}: expected "<image> <depth> '
                    f'[<focal>]", got {line.strip()!r}')
            if parts[1] == 'None':
                continue
            try:
                focal = float(parts[2]) if len(parts) == 3 else None
            except ValueError:
                raise BadSampleError(
                    self.ann_file, f'line {n}: focal {parts[2]!r} is not a '
                    f'number')
            data_list.append(
                dict(img_path=osp.join(img_dir, parts[0]),
                     depth_map_path=osp.join(depth_dir, parts[1]),
                     focal=focal,
                     seg_fields=[]))
        return sorted(data_list, key=lambda info: info['img_path'])
