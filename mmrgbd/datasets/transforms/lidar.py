"""LiDAR points: loading, KITTI calibration and projection into the image.

The helpers here are shared by :mod:`mmrgbd.datasets.kitti` (which parses the
calibration when it builds its data list) and by the transforms
:class:`LoadLiDARPoints`, :class:`FilterPointsInImage` and
:class:`FilterPointsInRange`. A filter that leaves no point raises the
skippable :class:`~mmrgbd.datasets.errors.BadSampleError` naming the frame.

Conventions (see CONTRIBUTING.md): ``points`` is float32 (N, C) with
(x, y, z, ...) in the LiDAR frame; ``lidar2img`` is float64 (4, 4) and maps
homogeneous LiDAR points to ``(u * d, v * d, d, 1)`` where ``d`` is the depth
along the camera axis, so ``u, v`` are pixel coordinates of the current image.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from mmrgbd.registry import TRANSFORMS
from ..errors import BadSampleError

#: Number of values of each KITTI calibration entry and its padded shape.
_KITTI_CALIB_SHAPES = {
    'P0': (3, 4),
    'P1': (3, 4),
    'P2': (3, 4),
    'P3': (3, 4),
    'R0_rect': (3, 3),
    'Tr_velo_to_cam': (3, 4),
    'Tr_imu_to_velo': (3, 4),
}
_KITTI_REQUIRED = ('P2', 'R0_rect', 'Tr_velo_to_cam')


def pad_to_4x4(mat: np.ndarray) -> np.ndarray:
    """Pad a (3, 3) or (3, 4) matrix to a homogeneous (4, 4) float64 matrix.

    Args:
        mat (np.ndarray): (3, 3), (3, 4) or (4, 4) matrix.

    Returns:
        np.ndarray: float64 (4, 4) with the input in the top-left corner and
        ``[0, 0, 0, 1]`` as the last row.
    """
    mat = np.asarray(mat, dtype=np.float64)
    if mat.shape == (4, 4):
        return mat.copy()
    if mat.shape not in ((3, 3), (3, 4)):
        raise ValueError(f'cannot pad a matrix of shape {mat.shape} to 4x4')
    out = np.eye(4, dtype=np.float64)
    out[:3, :mat.shape[1]] = mat
    return out


def parse_calib_file(path: str,
                     shapes: Dict[str, Tuple[int, int]],
                     required: Sequence[str],
                     aliases: Optional[Dict[str, str]] = None,
                     backend_args: Optional[dict] = None,
                     required_for: str = '') -> Dict[str, np.ndarray]:
    """Parse a KITTI-style ``key: v1 v2 ...`` calibration file.

    Every entry named in ``shapes`` (after renaming through ``aliases``) is
    returned padded to a float64 (4, 4) matrix; unknown keys are ignored.

    Args:
        path (str): The calibration file.
        shapes (dict[str, tuple[int, int]]): Known entries and their shapes.
        required (Sequence[str]): Entries that must be present.
        aliases (dict[str, str], optional): Other spellings of entry names.
        backend_args (dict, optional): MMEngine file backend arguments.
        required_for (str): Appended to the missing-entry message, e.g.
            ``' of camera 0'``.

    Returns:
        dict[str, np.ndarray]: (4, 4) matrices keyed by canonical name.

    Raises:
        BadSampleError: If the file cannot be read, a line is not
            ``key: values``, values are non-numeric or non-finite, an entry
            has the wrong number of values, or a required entry is missing.
            The message names the file.
    """
    aliases = aliases or {}
    try:
        text = fileio.get_text(path, backend_args=backend_args)
    except (OSError, UnicodeDecodeError) as e:
        raise BadSampleError(path, f'cannot read calibration file ({e})')
    calib = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if ':' not in line:
            raise BadSampleError(
                path, f'line {lineno} is not "<key>: <values>": {line[:40]!r}')
        key, values = line.split(':', 1)
        key = aliases.get(key.strip(), key.strip())
        if key not in shapes:
            continue
        shape = shapes[key]
        try:
            nums = np.array([float(v) for v in values.split()],
                            dtype=np.float64)
        except ValueError:
            raise BadSampleError(
                path, f'{key} (line {lineno}) has non-numeric values')
        if nums.size != shape[0] * shape[1]:
            raise BadSampleError(
                path, f'{key} (line {lineno}) has {nums.size} values, '
                f'expected {shape[0] * shape[1]}')
        if not np.isfinite(nums).all():
            raise BadSampleError(path, f'{key} (line {lineno}) is not finite')
        calib[key] = pad_to_4x4(nums.reshape(shape))
    missing = [k for k in required if k not in calib]
    if missing:
        raise BadSampleError(
            path, f'missing calibration entries {missing}{required_for}')
    return calib


def read_kitti_calib(path: str, backend_args: Optional[dict] = None
                     ) -> Dict[str, np.ndarray]:
    """Parse a KITTI object calibration file.

    Lines look like ``P2: 7.07e+02 0 6.04e+02 4.57e+01 ...``. Every known entry
    (P0-P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo) is returned padded to a
    float64 (4, 4) matrix; unknown keys are ignored.

    Args:
        path (str): The ``calib/XXXXXX.txt`` file.
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        dict[str, np.ndarray]: (4, 4) matrices keyed by entry name.

    Raises:
        BadSampleError: See :func:`parse_calib_file`; P2 / R0_rect /
            Tr_velo_to_cam are required.
    """
    return parse_calib_file(
        path, _KITTI_CALIB_SHAPES, _KITTI_REQUIRED, backend_args=backend_args)


def kitti_lidar2img(calib: Dict[str, np.ndarray], cam: int = 2) -> np.ndarray:
    """``P_cam @ R0_rect @ Tr_velo_to_cam`` of a parsed KITTI calibration.

    Args:
        calib (dict): Output of :func:`read_kitti_calib`.
        cam (int): Camera index (2 = left colour camera, ``image_2``).

    Returns:
        np.ndarray: float64 (4, 4) LiDAR-to-image projection.
    """
    return calib[f'P{cam}'] @ calib['R0_rect'] @ calib['Tr_velo_to_cam']


def load_points_bin(path: str,
                    load_dim: int = 4,
                    use_dim: Union[int, Sequence[int]] = 4,
                    backend_args: Optional[dict] = None) -> np.ndarray:
    """Load a float32 point file (KITTI ``velodyne/*.bin`` and alike).

    Args:
        path (str): The ``.bin`` file of ``N * load_dim`` float32 values.
        load_dim (int): Values stored per point (4 for KITTI x, y, z, r).
        use_dim (int | Sequence[int]): Number of leading dimensions to keep, or
            the indices of the kept dimensions (must include 0, 1, 2).
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        np.ndarray: float32 (N, C) points.

    Raises:
        BadSampleError: If the file is unreadable, empty, its size is not a
            multiple of ``load_dim`` float32 values, or it holds NaN / inf.
    """
    try:
        raw = fileio.get(path, backend_args=backend_args)
    except OSError as e:
        raise BadSampleError(path, f'cannot read point file ({e})')
    if len(raw) == 0:
        raise BadSampleError(path, 'point file is empty (0 points)')
    if len(raw) % (4 * load_dim) != 0:
        raise BadSampleError(
            path, f'file size {len(raw)} bytes is not a multiple of '
            f'{load_dim} float32 values per point')
    points = np.frombuffer(raw, dtype=np.float32).reshape(-1, load_dim)
    if isinstance(use_dim, int):
        use_dim = list(range(use_dim))
    use_dim = list(use_dim)
    if max(use_dim) >= load_dim or use_dim[:3] != [0, 1, 2]:
        raise ValueError(f'use_dim={use_dim} must start with 0, 1, 2 and stay '
                         f'below load_dim={load_dim}')
    points = points[:, use_dim]  # (N, C)
    if not np.isfinite(points).all():
        raise BadSampleError(path, 'points contain NaN or inf')
    return np.ascontiguousarray(points, dtype=np.float32)


def project_points(points: np.ndarray,
                   lidar2img: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Project points with a (4, 4) (or (3, 4)) ``lidar2img`` matrix.

    Args:
        points (np.ndarray): (N, C >= 3) points; only x, y, z are used.
        lidar2img (np.ndarray): (4, 4) or (3, 4) projection.

    Returns:
        tuple[np.ndarray, np.ndarray]: pixel coordinates ``uv`` float64
        (N, 2) (undefined where the depth is <= 0) and depth float64 (N,)
        along the camera axis.
    """
    proj = np.asarray(lidar2img, dtype=np.float64)[:3]  # (3, 4)
    xyz = np.asarray(points[:, :3], dtype=np.float64)  # (N, 3)
    cam = xyz @ proj[:, :3].T + proj[:, 3]  # (N, 3)
    depth = cam[:, 2]  # (N,)
    with np.errstate(divide='ignore', invalid='ignore'):
        uv = cam[:, :2] / depth[:, None]  # (N, 2)
    return uv, depth


def points_in_image_mask(points: np.ndarray,
                         lidar2img: np.ndarray,
                         img_shape: Tuple[int, int],
                         min_depth: float = 1e-3) -> np.ndarray:
    """Which points project inside the image and lie in front of the camera.

    A point is kept when its depth is greater than ``min_depth`` and it
    projects into the image area ``-0.5 <= u <= W - 0.5``, ``-0.5 <= v <= H -
    0.5`` (pixel centres at integers, the convention of
    :mod:`mmrgbd.datasets.transforms.geometry`; the same test as the SimIPU
    model's, so the points kept here stay inside the image through any
    resize or flip).

    Args:
        points (np.ndarray): (N, C >= 3) points.
        lidar2img (np.ndarray): (4, 4) projection into the image.
        img_shape (tuple[int, int]): (H, W) of the image.
        min_depth (float): Minimum depth in metres.

    Returns:
        np.ndarray: bool (N,) mask.
    """
    uv, depth = project_points(points, lidar2img)
    h, w = img_shape[:2]
    front = depth > min_depth
    with np.errstate(invalid='ignore'):
        inside = ((uv[:, 0] >= -0.5) & (uv[:, 0] <= w - 0.5)
                  & (uv[:, 1] >= -0.5) & (uv[:, 1] <= h - 0.5))
    return front & inside


def points_in_range_mask(points: np.ndarray,
                         point_cloud_range: Sequence[float]) -> np.ndarray:
    """Which points lie strictly inside an axis-aligned box.

    The test of mmdet3d's ``PointsRangeFilter`` (``BasePoints.in_range_3d``):
    ``x_min < x < x_max`` and likewise for y and z.

    Args:
        points (np.ndarray): (N, C >= 3) points.
        point_cloud_range (Sequence[float]): ``(x_min, y_min, z_min, x_max,
            y_max, z_max)`` in the points' frame (metres).

    Returns:
        np.ndarray: bool (N,) mask.
    """
    box = np.asarray(point_cloud_range, dtype=np.float32)  # (6, )
    xyz = np.asarray(points[:, :3], dtype=np.float32)  # (N, 3)
    return ((xyz > box[:3]) & (xyz < box[3:])).all(axis=1)


def _image_shape(results: dict) -> Tuple[int, int]:
    if results.get('rgb') is not None:
        return tuple(results['rgb'].shape[:2])
    for key in ('img_shape', 'ori_shape'):
        if results.get(key) is not None:
            return tuple(results[key][:2])
    raise KeyError('FilterPointsInImage needs the image size: load `rgb` '
                   'first or provide `img_shape`')


def check_points_left(results: dict, num_before: int, what: str) -> None:
    """Raise a skippable error when a filter left no LiDAR point.

    Args:
        results (dict): The sample after the filter.
        num_before (int): Number of points before the filter.
        what (str): The filter, for the message (``'the camera-view
            filter'``).

    Raises:
        BadSampleError: ``results['points']`` is empty; the message names the
            point file and the frame.
    """
    if len(results['points']):
        return
    frame = results.get('frame_id', results.get('sample_idx'))
    frame = '' if frame is None else f'frame {frame}: '
    raise BadSampleError(
        results.get('points_path', 'unknown point file'),
        f'{frame}no LiDAR point left after {what} ({num_before} before)')


@TRANSFORMS.register_module()
class FilterPointsInImage(BaseTransform):
    """Drop the points outside the image or behind the camera.

    The crop of KITTI's ``velodyne_reduced`` scans (the camera frustum of the
    image as loaded). Required keys: ``points``, ``lidar2img`` and the image
    size (``rgb`` or ``img_shape`` / ``ori_shape``). Modified keys:
    ``points``. Added keys: ``num_points_before_filter``.

    Args:
        min_depth (float): Points with depth <= this (metres) are dropped.

    Raises:
        BadSampleError: (in ``transform``) when no point is left, naming the
            point file and the frame (skippable with the dataset's
            ``skip_bad_samples=True``).
    """

    def __init__(self, min_depth: float = 1e-3):
        self.min_depth = min_depth

    def transform(self, results: dict) -> dict:
        """Filter ``results['points']`` in place of the dict."""
        points = results['points']
        keep = points_in_image_mask(points, results['lidar2img'],
                                    _image_shape(results), self.min_depth)
        results['num_points_before_filter'] = len(points)
        results['points'] = points[keep]  # (N_in, C)
        check_points_left(results, len(points), 'the camera-view filter')
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(min_depth={self.min_depth})'


@TRANSFORMS.register_module()
class FilterPointsInRange(BaseTransform):
    """Keep the points strictly inside ``point_cloud_range``.

    mmdet3d's ``PointsRangeFilter`` for plain (N, C) arrays (see
    :func:`points_in_range_mask`). Required keys: ``points``. Modified keys:
    ``points``.

    Args:
        point_cloud_range (Sequence[float]): ``(x_min, y_min, z_min, x_max,
            y_max, z_max)``, e.g. KITTI's ``(0, -40, -3, 70.4, 40, 1)``.

    Raises:
        BadSampleError: (in ``transform``) when no point is left, naming the
            point file and the frame.
    """

    def __init__(self, point_cloud_range: Sequence[float]):
        box = tuple(float(v) for v in point_cloud_range)
        if len(box) != 6 or not all(lo < hi
                                    for lo, hi in zip(box[:3], box[3:])):
            raise ValueError('point_cloud_range must be (x_min, y_min, z_min, '
                             f'x_max, y_max, z_max), got {point_cloud_range}')
        self.point_cloud_range = box

    def transform(self, results: dict) -> dict:
        """Filter ``results['points']``."""
        points = results['points']
        keep = points_in_range_mask(points, self.point_cloud_range)
        results['points'] = points[keep]  # (N_in, C)
        check_points_left(results, len(points),
                          f'the range filter {list(self.point_cloud_range)}')
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}('
                f'point_cloud_range={list(self.point_cloud_range)})')


@TRANSFORMS.register_module()
class LoadLiDARPoints(BaseTransform):
    """Load LiDAR points from ``results['points_path']`` into ``points``.

    Mirrors mmdet3d's ``LoadPointsFromFile`` (float32 ``.bin`` files read via
    the MMEngine file backend) but outputs a plain float32 (N, C) array under
    the contract key ``points`` instead of a ``BasePoints`` object. The
    optional filters run right after reading, in the image as loaded: first
    the camera frustum (``filter_in_image``, KITTI's ``velodyne_reduced``),
    then ``point_cloud_range`` (mmdet3d's ``PointsRangeFilter``).

    Required keys: ``points_path`` (and for ``filter_in_image``: ``lidar2img``
    and the image size). Added keys: ``points``, and with a filter
    ``num_points_before_filter`` (the number of points read).

    Args:
        load_dim (int, optional): Values stored per point. ``None`` uses
            ``results['num_pts_feats']`` (set by info-pkl datasets), else 4.
        use_dim (int | Sequence[int]): Leading dims to keep, or their indices.
        filter_in_image (bool): Also drop points outside the image / behind
            the camera (see :class:`FilterPointsInImage`).
        min_depth (float): Depth threshold of the filter.
        point_cloud_range (Sequence[float], optional): Also keep only the
            points inside this box (see :class:`FilterPointsInRange`).
        backend_args (dict, optional): MMEngine file backend arguments.

    Raises:
        BadSampleError: (in ``transform``) for an unreadable or empty file,
            or when the filters leave no point; the message names the file
            (and the frame).
    """

    def __init__(self,
                 load_dim: Optional[int] = 4,
                 use_dim: Union[int, Sequence[int]] = 4,
                 filter_in_image: bool = False,
                 min_depth: float = 1e-3,
                 point_cloud_range: Optional[Sequence[float]] = None,
                 backend_args: Optional[dict] = None):
        self.load_dim = load_dim
        self.use_dim = use_dim
        self.filter_in_image = filter_in_image
        self.backend_args = backend_args
        self._filter = FilterPointsInImage(min_depth)
        self._range = None if point_cloud_range is None else \
            FilterPointsInRange(point_cloud_range)

    def transform(self, results: dict) -> dict:
        """Read the point file and optionally filter it."""
        load_dim = self.load_dim or results.get('num_pts_feats', 4)
        results['points'] = load_points_bin(results['points_path'], load_dim,
                                            self.use_dim, self.backend_args)
        num_read = len(results['points'])
        if self.filter_in_image:
            results = self._filter(results)
        if self._range is not None:
            results = self._range(results)
            results['num_points_before_filter'] = num_read
        return results

    def __repr__(self):
        box = None if self._range is None else \
            list(self._range.point_cloud_range)
        return (f'{self.__class__.__name__}(load_dim={self.load_dim}, '
                f'use_dim={self.use_dim}, '
                f'filter_in_image={self.filter_in_image}, '
                f'point_cloud_range={box})')
