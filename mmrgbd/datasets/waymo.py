"""Waymo image + LiDAR frames in mmdet3d's KITTI-format conversion.

mmdet3d converts the Waymo ``*.tfrecord`` files into a KITTI-like layout
(``waymo_format`` -> ``kitti_format``)::

    kitti_format/
        waymo_infos_{train,val}.pkl         mmdet3d >= 1.1 (v2 info files)
        training/                           (or testing/)
            image_0/ .. image_4/            CAM_FRONT, CAM_FRONT_LEFT,
                                            CAM_FRONT_RIGHT, CAM_SIDE_LEFT,
                                            CAM_SIDE_RIGHT
            velodyne/XXXXXXX.bin            float32 (x, y, z, intensity,
                                            elongation, timestamp), 6 values
            calib/XXXXXXX.txt               mmdet3d < 1.1 only

:class:`WaymoKITTIFormatDataset` reads either source:

* **info pkl** (``ann_file`` set; the current mmdet3d 1.4 converter):
  ``data_list[i].images[CAM].{img_path, cam2img, lidar2cam[, lidar2img]}`` and
  ``lidar_points.{lidar_path, num_pts_feats}``; ``lidar2img`` is
  ``cam2img @ lidar2cam`` (both padded to (4, 4)).
* **calibration files** (``ann_file=''``; the mmdet3d 0.x / 1.0 converter):
  ``calib/XXXXXXX.txt`` with the lines ``P0`` .. ``P4`` (3x4 intrinsics of the
  five cameras), ``R0_rect`` (3x3, identity) and ``Tr_velo_to_cam_0`` ..
  ``Tr_velo_to_cam_4`` (3x4 LiDAR -> camera ``i`` extrinsics, in KITTI camera
  axes); ``lidar2img = P_i @ R0_rect @ Tr_velo_to_cam_i``. The old converter
  wrote ``.png`` images. (mmdet3d's ``WaymoInfoGatherer`` reads the same lines
  by position and calls them ``Tr_velo_to_cam``, ``Tr_velo_to_cam1`` ...; both
  spellings are accepted here.)

Points outside the chosen camera's view are dropped by default
(``filter_points_in_image=True``, see :func:`ensure_points_in_image_filter`).
"""
import os.path as osp
from typing import Dict, List, Optional, Union

import numpy as np
from mmengine import fileio

from mmrgbd.registry import DATASETS
from .base_rgbd import BaseRGBDDataset
from .errors import BadSampleError
from .transforms.lidar import (FilterPointsInImage, LoadLiDARPoints,
                               pad_to_4x4, parse_calib_file)
from .transforms.loading import LoadRGBDFromFiles

__all__ = [
    'WAYMO_CAMERAS', 'WaymoKITTIFormatDataset', 'read_waymo_calib',
    'waymo_lidar2img', 'ensure_points_in_image_filter', 'info_lidar2img'
]

#: Camera names in the order of the ``image_i`` folders / ``P_i`` entries.
WAYMO_CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT',
                 'CAM_SIDE_LEFT', 'CAM_SIDE_RIGHT')

#: Number of values of each Waymo calibration entry (reshaped to 3x4 / 3x3).
_WAYMO_CALIB_SHAPES = {
    **{
        f'P{i}': (3, 4)
        for i in range(5)
    },
    'R0_rect': (3, 3),
    **{
        f'Tr_velo_to_cam_{i}': (3, 4)
        for i in range(5)
    },
}
#: Aliases (``WaymoInfoGatherer`` names) -> canonical key.
_WAYMO_CALIB_ALIASES = {
    'Tr_velo_to_cam': 'Tr_velo_to_cam_0',
    **{
        f'Tr_velo_to_cam{i}': f'Tr_velo_to_cam_{i}'
        for i in range(5)
    },
}


def ensure_points_in_image_filter(transforms: list,
                                  min_depth: float = 1e-3) -> bool:
    """Make a built pipeline drop the points outside the camera view.

    Nothing changes when the pipeline already filters (a
    :class:`FilterPointsInImage`, or a :class:`LoadLiDARPoints` with
    ``filter_in_image=True``) or loads no points. Otherwise a
    ``FilterPointsInImage(min_depth)`` is inserted right after the last
    loading transform (:class:`LoadLiDARPoints` / :class:`LoadRGBDFromFiles`),
    i.e. before any geometric augmentation, so the view is the full image.

    Args:
        transforms (list): The transforms of a built pipeline
            (``dataset.pipeline.transforms``); modified in place.
        min_depth (float): Depth threshold of the inserted filter (metres).

    Returns:
        bool: Whether a filter was inserted.
    """
    loads_points = False
    for t in transforms:
        if isinstance(t,
                      FilterPointsInImage) or (isinstance(t, LoadLiDARPoints)
                                               and t.filter_in_image):
            return False
        loads_points |= isinstance(t, LoadLiDARPoints)
    if not loads_points:
        return False
    last = max(i for i, t in enumerate(transforms)
               if isinstance(t, (LoadLiDARPoints, LoadRGBDFromFiles)))
    transforms.insert(last + 1, FilterPointsInImage(min_depth))
    return True


def info_lidar2img(cam_info: dict, path: str, what: str) -> np.ndarray:
    """``lidar2img`` (4, 4) of one camera entry of an mmdet3d v2 info file.

    ``cam2img @ lidar2cam`` (each padded to (4, 4)) when both are present,
    else the stored ``lidar2img``.

    Args:
        cam_info (dict): ``data_list[i]['images'][cam]``.
        path (str): The info file (for error messages).
        what (str): The entry, e.g. ``'item 3 images.CAM_FRONT'``.

    Returns:
        np.ndarray: float64 (4, 4).

    Raises:
        BadSampleError: Neither is present, or a matrix has a bad shape or
            non-finite values.
    """
    try:
        if 'cam2img' in cam_info and 'lidar2cam' in cam_info:
            mat = pad_to_4x4(cam_info['cam2img']) @ pad_to_4x4(
                cam_info['lidar2cam'])  # (4, 4)
        elif 'lidar2img' in cam_info:
            mat = pad_to_4x4(cam_info['lidar2img'])
        else:
            raise BadSampleError(
                path, f'{what} has neither cam2img + lidar2cam nor lidar2img')
    except (ValueError, TypeError) as exc:
        if isinstance(exc, BadSampleError):
            raise
        raise BadSampleError(path,
                             f'{what}: bad camera matrix ({exc})') from None
    if not np.isfinite(mat).all():
        raise BadSampleError(path, f'{what}: camera matrices are not finite')
    return mat


def read_waymo_calib(
        path: str,
        cam: int = 0,
        backend_args: Optional[dict] = None) -> Dict[str, np.ndarray]:
    """Parse a calibration file of mmdet3d's (pre-1.1) Waymo conversion.

    Lines look like ``P0: 2.05e+03 0 9.5e+02 0 ...``; see the module docstring
    for the keys. Every known entry is returned padded to float64 (4, 4);
    ``Tr_velo_to_cam`` / ``Tr_velo_to_camI`` are renamed
    ``Tr_velo_to_cam_0`` / ``Tr_velo_to_cam_I``; unknown keys are ignored.

    Args:
        path (str): The ``calib/XXXXXXX.txt`` file.
        cam (int): Camera index whose entries (``P{cam}``, ``R0_rect``,
            ``Tr_velo_to_cam_{cam}``) must be present.
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        dict[str, np.ndarray]: (4, 4) matrices keyed by canonical name.

    Raises:
        BadSampleError: See :func:`parse_calib_file`; the entries of camera
            ``cam`` are required.
    """
    required = (f'P{cam}', 'R0_rect', f'Tr_velo_to_cam_{cam}')
    return parse_calib_file(path, _WAYMO_CALIB_SHAPES, required,
                            _WAYMO_CALIB_ALIASES, backend_args,
                            required_for=f' of camera {cam}')


def waymo_lidar2img(calib: Dict[str, np.ndarray], cam: int = 0) -> np.ndarray:
    """``P_cam @ R0_rect @ Tr_velo_to_cam_cam`` of a parsed calibration.

    Args:
        calib (dict): Output of :func:`read_waymo_calib`.
        cam (int): Camera index (0 = ``CAM_FRONT``).

    Returns:
        np.ndarray: float64 (4, 4) LiDAR-to-image projection.
    """
    return calib[f'P{cam}'] @ calib['R0_rect'] @ calib[
        f'Tr_velo_to_cam_{cam}']  # (4, 4)


def _camera_index(cam: Union[int, str]) -> int:
    if isinstance(cam, str):
        if cam not in WAYMO_CAMERAS:
            raise ValueError(f'unknown Waymo camera {cam!r}; use one of '
                             f'{WAYMO_CAMERAS} or an index 0-4')
        return WAYMO_CAMERAS.index(cam)
    if not 0 <= int(cam) < len(WAYMO_CAMERAS):
        raise ValueError(f'Waymo camera index must be in 0-4, got {cam}')
    return int(cam)


def _with_suffix(path: str, suffix: Optional[str]) -> str:
    return path if suffix is None else osp.splitext(path)[0] + suffix


@DATASETS.register_module()
class WaymoKITTIFormatDataset(BaseRGBDDataset):
    """Waymo frames (one camera + LiDAR) in mmdet3d's KITTI-format layout.

    One sample per frame with the contract keys ``rgb_path``, ``points_path``,
    ``calib_path`` (calibration-file source), ``lidar2img`` (float64 (4, 4),
    LiDAR to pixels of the chosen camera), ``num_pts_feats=6``, ``cam``,
    ``depth_unit`` and ``depth_source='lidar'``. Load with
    ``LoadRGBDFromFiles(with_depth=False)`` and ``LoadLiDARPoints(load_dim=6,
    use_dim=4)`` (x, y, z, intensity; ``load_dim=None`` reads
    ``num_pts_feats``). See the module docstring for the two sources.

    Args:
        data_root (str): The ``kitti_format`` folder.
        ann_file (str): Info pkl relative to ``data_root``
            (``'waymo_infos_train.pkl'``); ``''`` reads the ``calib/`` files.
        split (str): ``'training'`` or ``'testing'`` sub-folder.
        cam (int | str): Camera name or index; default ``'CAM_FRONT'``.
        data_prefix (dict, optional): Folders relative to ``data_root`` for
            the info-pkl source, as in mmdet3d's Waymo configs: ``pts`` and
            one key per camera name. Defaults to ``{split}/velodyne`` and
            ``{split}/image_{i}``.
        img_suffix (str, optional): Replace the image file extension (e.g.
            ``'.png'`` for images re-encoded after conversion). None keeps the
            info file's name (``.jpg``) for the pkl source and uses ``.png``
            (the old converter) for the calibration-file source.
        filter_points_in_image (bool): Drop points outside the camera view
            (inserts a :class:`FilterPointsInImage` into the pipeline, see
            :func:`ensure_points_in_image_filter`). Default True.
        load_interval (int): Keep every ``load_interval``-th frame of the
            list (mmdet3d's ``WaymoDataset(load_interval=...)``; SimIPU's
            "full Waymo" is ``load_interval=5``). Default 1 (every frame).
        min_depth (float): Depth threshold of that filter (metres).
        depth_unit (str, optional): None (no depth maps).
        depth_source (str): Carried in the samples.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 split: str = 'training',
                 cam: Union[int, str] = 'CAM_FRONT',
                 data_prefix: Optional[dict] = None,
                 img_suffix: Optional[str] = None,
                 filter_points_in_image: bool = True,
                 min_depth: float = 1e-3,
                 load_interval: int = 1,
                 depth_unit: Optional[str] = None,
                 depth_source: str = 'lidar',
                 **kwargs):
        self.split = split
        self.cam_index = _camera_index(cam)
        self.cam = WAYMO_CAMERAS[self.cam_index]
        self.img_suffix = img_suffix
        self.filter_points_in_image = filter_points_in_image
        self.min_depth = min_depth
        if int(load_interval) < 1:
            raise ValueError(
                f'load_interval must be >= 1, got {load_interval}')
        self.load_interval = int(load_interval)
        prefix = {
            'pts': f'{split}/velodyne',
            self.cam: f'{split}/image_{self.cam_index}'
        }
        prefix.update(data_prefix or {})
        super().__init__(ann_file=ann_file,
                         data_root=data_root,
                         data_prefix=prefix,
                         depth_unit=depth_unit,
                         depth_source=depth_source,
                         **kwargs)
        if filter_points_in_image:
            ensure_points_in_image_filter(self.pipeline.transforms, min_depth)

    def _entry(self, frame_id, rgb_path: str, points_path: str,
               lidar2img: np.ndarray, num_pts_feats: int, **extra) -> dict:
        return dict(frame_id=frame_id,
                    cam=self.cam,
                    rgb_path=rgb_path,
                    points_path=points_path,
                    lidar2img=np.asarray(lidar2img, dtype=np.float64),
                    num_pts_feats=num_pts_feats,
                    depth_unit=self.depth_unit,
                    depth_source=self.depth_source,
                    **extra)

    def load_data_list(self) -> List[dict]:
        """Build one entry per frame from the info pkl or the calib files."""
        if self.ann_file:
            data_list = self._load_from_infos()
        else:
            data_list = self._load_from_calib_files()
        if not data_list:
            raise BadSampleError(self.ann_file or self.data_root,
                                 'no frames found')
        return data_list[::self.load_interval]

    def _load_from_infos(self) -> List[dict]:
        infos = fileio.load(self.ann_file)
        if not isinstance(infos, dict) or 'data_list' not in infos:
            raise BadSampleError(self.ann_file,
                                 'not an mmdet3d v2 info file (no data_list)')
        data_list = []
        for i, info in enumerate(infos['data_list']):
            try:
                cam_info = info['images'][self.cam]
                img_path = cam_info['img_path']
                pts = info['lidar_points']
                lidar_path = pts['lidar_path']
            except (KeyError, TypeError):
                raise BadSampleError(
                    self.ann_file, f'item {i} has no images.{self.cam}.'
                    'img_path or lidar_points.lidar_path')
            extra = {}
            if 'height' in cam_info and 'width' in cam_info:
                extra['ori_shape'] = (int(cam_info['height']),
                                      int(cam_info['width']))
            data_list.append(
                self._entry(
                    info.get('sample_idx', i),
                    osp.join(self.data_prefix.get(self.cam, ''),
                             _with_suffix(img_path, self.img_suffix)),
                    osp.join(self.data_prefix.get('pts', ''), lidar_path),
                    info_lidar2img(cam_info, self.ann_file,
                                   f'item {i} images.{self.cam}'),
                    int(pts.get('num_pts_feats', 6)), **extra))
        return data_list

    def _load_from_calib_files(self) -> List[dict]:
        split_dir = osp.join(self.data_root, self.split)
        velo_dir = osp.join(split_dir, 'velodyne')
        if not osp.isdir(velo_dir):
            raise BadSampleError(velo_dir, 'velodyne folder not found')
        ids = sorted(
            osp.splitext(f)[0] for f in fileio.list_dir_or_file(
                velo_dir, list_dir=False, suffix='.bin'))
        suffix = self.img_suffix or '.png'
        backend_args = getattr(self, 'backend_args', None)
        data_list = []
        for idx in ids:
            calib_path = osp.join(split_dir, 'calib', f'{idx}.txt')
            try:
                calib = read_waymo_calib(calib_path, self.cam_index,
                                         backend_args)
            except BadSampleError:
                if not self.skip_bad_samples:
                    raise
                continue
            data_list.append(
                self._entry(idx,
                            osp.join(split_dir, f'image_{self.cam_index}',
                                     idx + suffix),
                            osp.join(velo_dir, f'{idx}.bin'),
                            waymo_lidar2img(calib, self.cam_index),
                            6,
                            calib_path=calib_path))
        return data_list
