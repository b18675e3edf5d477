"""KITTI image + LiDAR datasets: the raw object layout and mmdet3d info pkls.

Both produce data-list entries with the contract keys ``rgb_path``,
``points_path``, ``calib_path`` (raw layout), ``lidar2img`` (float64 (4, 4),
LiDAR to pixels of the left colour camera ``image_2``), ``depth_unit`` and
``depth_source='lidar'``. Points are read by
:class:`mmrgbd.datasets.transforms.LoadLiDARPoints`.
"""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine import fileio

from mmrgbd.registry import DATASETS
from .base_rgbd import BaseRGBDDataset
from .errors import BadSampleError
from .transforms.lidar import kitti_lidar2img, pad_to_4x4, read_kitti_calib


def _read_id_list(path: str, backend_args=None) -> List[str]:
    """Read an ``ImageSets/*.txt`` style list (one id per line)."""
    try:
        text = fileio.get_text(path, backend_args=backend_args)
    except OSError as e:
        raise BadSampleError(path, f'cannot read split list ({e})')
    return [line.split()[0] for line in text.splitlines() if line.strip()]


@DATASETS.register_module()
class KITTIRawObjectDataset(BaseRGBDDataset):
    """KITTI 3D object data in its official folder layout.

    Layout read::

        data_root/
            ImageSets/{train,val,trainval,test}.txt   (optional id lists)
            training/                                  (or testing/)
                calib/000000.txt      P0-P3, R0_rect, Tr_velo_to_cam
                image_2/000000.png
                velodyne/000000.bin   float32 (x, y, z, r)

    The calibration is parsed when the data list is built:
    ``lidar2img = P2 @ R0_rect @ Tr_velo_to_cam`` with each matrix padded to
    (4, 4). A malformed calibration file raises :class:`BadSampleError` naming
    the file (or, with ``skip_bad_samples=True``, the frame is dropped and
    counted in ``self.num_bad_calib``).

    Args:
        data_root (str): Root of the KITTI object data.
        split (str): Sub-folder, ``'training'`` or ``'testing'``.
        image_set (str, optional): Id list, relative to ``data_root`` (e.g.
            ``'ImageSets/train.txt'``). Default: every file in ``velodyne/``.
        cam (int): Camera index; 2 reads ``image_2`` with ``P2``.
        depth_unit (str, optional): Depth encoding; None as KITTI has no
            depth maps (load with ``LoadRGBDFromFiles(with_depth=False)``).
        depth_source (str): Carried in the samples.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'training',
                 image_set: Optional[str] = None,
                 cam: int = 2,
                 depth_unit: Optional[str] = None,
                 depth_source: str = 'lidar',
                 **kwargs):
        self.split = split
        self.image_set = image_set
        self.cam = cam
        self.num_bad_calib = 0
        super().__init__(
            data_root=data_root,
            depth_unit=depth_unit,
            depth_source=depth_source,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Build one entry per frame id."""
        split_dir = osp.join(self.data_root, self.split)
        backend_args = getattr(self, 'backend_args', None)
        if self.image_set:
            ids = _read_id_list(osp.join(self.data_root, self.image_set),
                                backend_args)
        else:
            velo_dir = osp.join(split_dir, 'velodyne')
            if not osp.isdir(velo_dir):
                raise BadSampleError(velo_dir, 'velodyne folder not found')
            ids = sorted(
                osp.splitext(f)[0]
                for f in fileio.list_dir_or_file(
                    velo_dir, list_dir=False, suffix='.bin'))
        data_list = []
        for idx in ids:
            calib_path = osp.join(split_dir, 'calib', f'{idx}.txt')
            try:
                calib = read_kitti_calib(calib_path, backend_args)
            except BadSampleError:
                if not getattr(self, 'skip_bad_samples', False):
                    raise
                self.num_bad_calib += 1
                continue
            data_list.append(
                dict(
                    frame_id=idx,
                    rgb_path=osp.join(split_dir, f'image_{self.cam}',
                                      f'{idx}.png'),
                    points_path=osp.join(split_dir, 'velodyne', f'{idx}.bin'),
                    calib_path=calib_path,
                    lidar2img=kitti_lidar2img(calib, self.cam),
                    num_pts_feats=4,
                    depth_unit=self.depth_unit,
                    depth_source=self.depth_source))
        if not data_list:
            raise BadSampleError(
                self.image_set or osp.join(self.data_root, self.split),
                'no frames found')
        return data_list


@DATASETS.register_module()
class KITTIInfoDataset(BaseRGBDDataset):
    """KITTI frames listed by an mmdet3d v2 info pkl (``kitti_infos_*.pkl``).

    Each ``data_list`` item of the pkl is read as: image
    ``images[cam]['img_path']`` (joined with ``data_prefix['img']``), points
    ``lidar_points['lidar_path']`` (joined with ``data_prefix['pts']``),
    ``lidar2img`` from ``images[cam]['lidar2img']`` or, when absent,
    ``cam2img @ lidar2cam`` (both padded to (4, 4)). Annotations (boxes) are
    not used.

    Args:
        ann_file (str): The info pkl, relative to ``data_root``.
        data_root (str): Dataset root.
        data_prefix (dict): ``img`` and ``pts`` folders relative to
            ``data_root``.
        cam (str): Camera key of ``images``.
        depth_unit (str, optional): Depth encoding; None (no depth maps).
        depth_source (str): Carried in the samples.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    def __init__(self,
                 ann_file: str = '',
                 data_root: str = '',
                 data_prefix: dict = dict(
                     img='training/image_2', pts='training/velodyne'),
                 cam: str = 'CAM2',
                 depth_unit: Optional[str] = None,
                 depth_source: str = 'lidar',
                 **kwargs):
        self.cam = cam
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            depth_unit=depth_unit,
            depth_source=depth_source,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the pkl and convert each item."""
        from mmengine.fileio import load
        infos = load(self.ann_file)
        if not isinstance(infos, dict) or 'data_list' not in infos:
            raise BadSampleError(self.ann_file,
                                 'not an mmdet3d v2 info file (no data_list)')
        data_list = []
        for i, info in enumerate(infos['data_list']):
            try:
                img = info['images'][self.cam]
                img_path = img['img_path']
                pts = info['lidar_points']
            except (KeyError, TypeError):
                raise BadSampleError(
                    self.ann_file, f'item {i} has no images.{self.cam}.'
                    'img_path or lidar_points')
            if 'lidar2img' in img:
                lidar2img = pad_to_4x4(img['lidar2img'])
            elif 'cam2img' in img and 'lidar2cam' in img:
                lidar2img = pad_to_4x4(img['cam2img']) @ pad_to_4x4(
                    img['lidar2cam'])
            else:
                raise BadSampleError(
                    self.ann_file, f'item {i}: images.{self.cam} has neither '
                    'lidar2img nor cam2img + lidar2cam')
            data_list.append(
                dict(
                    frame_id=info.get('sample_idx', i),
                    rgb_path=osp.join(self.data_prefix.get('img', ''),
                                      img_path),
                    points_path=osp.join(self.data_prefix.get('pts', ''),
                                         pts['lidar_path']),
                    lidar2img=np.asarray(lidar2img, dtype=np.float64),
                    num_pts_feats=int(pts.get('num_pts_feats', 4)),
                    depth_unit=self.depth_unit,
                    depth_source=self.depth_source))
        if not data_list:
            raise BadSampleError(
                self.ann_file,
                'the info file lists no frames')
        return data_list
