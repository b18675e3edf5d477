"""nuScenes image + LiDAR samples read through mmdet3d's v2 info files.

mmdet3d's ``nuscenes_infos_{train,val}.pkl`` (``info_version`` 1.1) hold, per
key frame, ``lidar_points.{lidar_path, num_pts_feats}`` (``LIDAR_TOP``
``.pcd.bin``: float32 x, y, z, intensity, ring; 5 values per point) and, per
camera, ``images.CAM_*.{img_path, cam2img (3x3 K), lidar2cam (4x4)}``, where
``lidar2cam`` already includes the ego motion between the LiDAR and the camera
timestamps. :class:`NuScenesImageLiDARDataset` serves one sample per
``(frame, camera)`` with ``lidar2img = cam2img_4x4 @ lidar2cam``.
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine import fileio

from mmrgbd.registry import DATASETS
from .base_rgbd import BaseRGBDDataset
from .errors import BadSampleError
from .transforms.lidar import pad_to_4x4
from .waymo import ensure_points_in_image_filter, info_lidar2img

__all__ = ['NUSCENES_CAMERAS', 'NuScenesImageLiDARDataset']

#: The six nuScenes cameras in mmdet3d's order.
NUSCENES_CAMERAS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT',
                    'CAM_BACK', 'CAM_BACK_LEFT', 'CAM_BACK_RIGHT')

#: mmdet3d's nuScenes ``data_prefix`` (configs/_base_/datasets/nus-3d.py).
_DEFAULT_PREFIX = dict(pts='samples/LIDAR_TOP',
                       img='',
                       **{cam: f'samples/{cam}'
                          for cam in NUSCENES_CAMERAS})


@DATASETS.register_module()
class NuScenesImageLiDARDataset(BaseRGBDDataset):
    """nuScenes ``(key frame, camera)`` pairs from an mmdet3d v2 info pkl.

    Each sample carries ``rgb_path``, ``points_path``, ``lidar2img`` (float64
    (4, 4), ``cam2img`` padded to (4, 4) times ``lidar2cam``; the stored
    ``lidar2img`` is used only when those are absent), ``intrinsics``
    (float64 (3, 3) ``cam2img``), ``lidar2cam``, ``cam``, ``frame_id``
    (``sample_idx``), ``token``, ``num_pts_feats`` (5), ``depth_unit`` and
    ``depth_source='lidar'``. Load with ``LoadRGBDFromFiles(with_depth=False)``
    and ``LoadLiDARPoints(load_dim=5, use_dim=4)`` (x, y, z, intensity; 5 adds
    the ring index), like mmdet3d's ``LoadPointsFromFile(load_dim=5,
    use_dim=...)``.

    Paths are joined as in mmdet3d's ``Det3DDataset``: camera images with
    ``data_prefix[cam]`` if present, else ``data_prefix['img']``; points with
    ``data_prefix['pts']``; all relative to ``data_root``.

    Args:
        ann_file (str): Info pkl, relative to ``data_root``.
        data_root (str): Dataset root.
        data_prefix (dict, optional): Folders (see above); default mmdet3d's
            ``samples/LIDAR_TOP`` and ``samples/CAM_*``. Keys given here
            override the defaults.
        cameras (str | Sequence[str]): Camera names, or ``'all'`` for every
            camera of each frame (in :data:`NUSCENES_CAMERAS` order). A named
            camera missing from a frame raises :class:`BadSampleError`.
        filter_points_in_image (bool): Drop points outside the camera view
            (see :func:`mmrgbd.datasets.waymo.ensure_points_in_image_filter`).
            Default False (the full scan is kept).
        min_depth (float): Depth threshold of that filter (metres).
        depth_unit (str, optional): None (no depth maps).
        depth_source (str): Carried in the samples.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    def __init__(self,
                 ann_file: str = '',
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 cameras: Union[str, Sequence[str]] = ('CAM_FRONT', ),
                 filter_points_in_image: bool = False,
                 min_depth: float = 1e-3,
                 depth_unit: Optional[str] = None,
                 depth_source: str = 'lidar',
                 **kwargs):
        if isinstance(cameras, str):
            cameras = None if cameras == 'all' else [cameras]
        elif not list(cameras):
            raise ValueError('cameras must name at least one camera or be '
                             '"all"')
        self.cameras = None if cameras is None else list(cameras)
        self.filter_points_in_image = filter_points_in_image
        self.min_depth = min_depth
        prefix = dict(_DEFAULT_PREFIX)
        prefix.update(data_prefix or {})
        super().__init__(ann_file=ann_file,
                         data_root=data_root,
                         data_prefix=prefix,
                         depth_unit=depth_unit,
                         depth_source=depth_source,
                         **kwargs)
        if filter_points_in_image:
            ensure_points_in_image_filter(self.pipeline.transforms, min_depth)

    def _frame_cameras(self, images: dict) -> List[str]:
        if self.cameras is not None:
            return self.cameras
        known = [c for c in NUSCENES_CAMERAS if c in images]
        return known + sorted(c for c in images if c not in known)

    def load_data_list(self) -> List[dict]:
        """One entry per (frame, camera) of the info file."""
        infos = fileio.load(self.ann_file)
        if not isinstance(infos, dict) or 'data_list' not in infos:
            raise BadSampleError(self.ann_file,
                                 'not an mmdet3d v2 info file (no data_list)')
        data_list = []
        for i, info in enumerate(infos['data_list']):
            try:
                images = info['images']
                pts = info['lidar_points']
                points_path = osp.join(self.data_prefix['pts'],
                                       pts['lidar_path'])
            except (KeyError, TypeError):
                raise BadSampleError(
                    self.ann_file,
                    f'item {i} has no images or lidar_points.lidar_path')
            for cam in self._frame_cameras(images):
                what = f'item {i} images.{cam}'
                cam_info = images.get(cam)
                if not isinstance(cam_info, dict) or 'img_path' not in \
                        cam_info:
                    raise BadSampleError(
                        self.ann_file, f'{what} is missing or has no img_path')
                prefix = self.data_prefix.get(cam,
                                              self.data_prefix.get('img', ''))
                entry = dict(frame_id=info.get('sample_idx', i),
                             token=info.get('token'),
                             cam=cam,
                             rgb_path=osp.join(prefix, cam_info['img_path']),
                             points_path=points_path,
                             lidar2img=info_lidar2img(cam_info, self.ann_file,
                                                      what),
                             num_pts_feats=int(pts.get('num_pts_feats', 5)),
                             depth_unit=self.depth_unit,
                             depth_source=self.depth_source)
                if 'cam2img' in cam_info:
                    entry['intrinsics'] = pad_to_4x4(
                        cam_info['cam2img'])[:3, :3]  # (3, 3)
                if 'lidar2cam' in cam_info:
                    entry['lidar2cam'] = pad_to_4x4(cam_info['lidar2cam'])
                data_list.append(entry)
        if not data_list:
            raise BadSampleError(self.ann_file,
                                 'the info file lists no frames')
        return data_list
