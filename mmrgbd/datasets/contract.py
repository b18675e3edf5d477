"""The sample contract of the mmrgbd data pipeline.

A sample inside the pipeline is a dict (``results``). Loading transforms
produce, and every later transform keeps, these keys (all optional except that
``depth`` always comes with ``depth_valid``):

=================== ================================== =======================
key                 type                               meaning
=================== ================================== =======================
``rgb``             uint8 (H, W, 3), RGB order         colour image
``depth``           float32 (H, W), **metres**         depth; 0 where invalid
``depth_valid``     bool (H, W)                        True = real measurement
``semseg``          int64 (H, W)                       class ids;
                                                       ``ignore_index``
                                                       (default 255) where
                                                       unlabelled
``intrinsics``      float64 (3, 3)                     K of the registered
                                                       RGB-D camera at the
                                                       current image size
``cam2world``       float64 (4, 4)                     camera pose
``points``          float32 (N, C), C >= 3, N >= 1     LiDAR / depth points
                                                       (x, y, z, ...)
``lidar2img``       float64 (4, 4)                     projects homogeneous
                                                       points to pixels of the
                                                       current image
``depth_unit``      str                                encoding the depth was
                                                       decoded from, one of
                                                       ``DEPTH_ENCODINGS``
``depth_source``    str                                e.g. ``'sensor'``,
                                                       ``'filled'``
``*_path``          str                                ``rgb_path``,
                                                       ``depth_path``,
                                                       ``semseg_path``,
                                                       ``points_path``,
                                                       ``calib_path``: source
                                                       files (for errors)
``ori_shape``,      (H, W)                             before / after geometry
``img_shape``
``flip``,           bool, str                          set by ``RandomFlip``
``flip_direction``
=================== ================================== =======================

Video clips use the same keys with a leading time axis: ``rgb``
(T, H, W, 3), ``depth`` / ``depth_valid`` (T, H, W), ``cam2world`` (T, 4, 4).

Depth is converted to metres once, at load, by :mod:`mmrgbd.datasets.depth_io`
and ``depth_valid == (depth > 0)`` holds. :func:`check_sample` validates a
sample against this contract and raises
:class:`~mmrgbd.datasets.errors.BadSampleError` naming the offending file.
"""
from typing import Optional, Sequence

import numpy as np

from .depth_io import DEPTH_ENCODINGS
from .errors import BadSampleError

__all__ = ['check_sample', 'sample_path']

_PATH_KEYS = ('rgb_path', 'depth_path', 'points_path', 'img_path',
              'semseg_path', 'calib_path')


def sample_path(results: dict, *preferred: str) -> str:
    """The file to name in an error about ``results``.

    Args:
        results (dict): The sample.
        *preferred (str): Path keys to try first (e.g. ``'depth_path'``);
            the main files of the sample follow.

    Returns:
        str: The first path found, or ``'<sample>'``.
    """
    for key in preferred + _PATH_KEYS:
        value = results.get(key)
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        if isinstance(value, (list, tuple)):
            more = f' (+{len(value) - 1} more)' if len(value) > 1 else ''
            return f'{value[0]}{more}'
        return str(value)
    return '<sample>'


def _require_array(results: dict, key: str, path: str) -> np.ndarray:
    value = results[key]
    if not isinstance(value, np.ndarray):
        raise BadSampleError(
            path, f'{key} must be a numpy array, got {type(value).__name__}')
    return value


def _check_matrix(results: dict, key: str, size: int, path: str,
                  last_row: Optional[Sequence[float]]) -> None:
    """Shape (size, size) or (T, size, size), finite, optional last row."""
    mat = np.asarray(results[key])
    if mat.ndim not in (2, 3) or mat.shape[-2:] != (size, size):
        raise BadSampleError(
            path, f'{key} must be ({size}, {size}) (or with a leading axis), '
            f'got shape {mat.shape}')
    if not np.issubdtype(mat.dtype, np.number) or \
            np.issubdtype(mat.dtype, np.complexfloating):
        raise BadSampleError(path, f'{key} must be real-valued, got '
                             f'{mat.dtype}')
    if not np.isfinite(mat).all():
        raise BadSampleError(path, f'{key} has non-finite entries')
    if last_row is not None and not np.allclose(
            mat[..., -1, :], last_row, atol=1e-6):
        raise BadSampleError(
            path, f'{key} last row must be {list(last_row)}, got '
            f'{mat[..., -1, :].tolist()}')


def check_sample(results: dict) -> dict:
    """Validate a loaded sample against the contract.

    Only the keys present are checked; ``depth`` requires ``depth_valid``.

    Args:
        results (dict): The sample.

    Returns:
        dict: ``results`` unchanged (for chaining).

    Raises:
        BadSampleError: The message starts with the offending file and names
            the problem: wrong dtype / shape, RGB and depth (or label) sizes
            that differ, NaN / inf or negative depth, ``depth_valid`` that
            disagrees with ``depth > 0``, depth without any valid pixel (per
            frame), an unknown ``depth_unit``, an empty
            or non-finite point cloud, or non-finite / malformed
            ``intrinsics``, ``cam2world`` or ``lidar2img``.
    """
    spatial = None  # (H, W) or (T, H, W) of the image grid
    spatial_from = None
    if 'rgb' in results:
        path = sample_path(results, 'rgb_path')
        rgb = _require_array(results, 'rgb', path)
        if rgb.dtype != np.uint8:
            raise BadSampleError(path, f'rgb must be uint8, got {rgb.dtype}')
        if rgb.ndim not in (3, 4) or rgb.shape[-1] != 3:
            raise BadSampleError(
                path, f'rgb must be (H, W, 3) or (T, H, W, 3), got shape '
                f'{rgb.shape}')
        spatial, spatial_from = rgb.shape[:-1], sample_path(
            results, 'rgb_path')

    if 'depth' in results:
        path = sample_path(results, 'depth_path')
        depth = _require_array(results, 'depth', path)
        if depth.dtype != np.float32:
            raise BadSampleError(path,
                                 f'depth must be float32, got {depth.dtype}')
        if depth.ndim not in (2, 3):
            raise BadSampleError(
                path, f'depth must be (H, W) or (T, H, W), got shape '
                f'{depth.shape}')
        if spatial is not None and depth.shape != spatial:
            raise BadSampleError(
                path, f'depth size {tuple(depth.shape)} does not match RGB '
                f'size {tuple(spatial)} of {spatial_from}')
        if not np.isfinite(depth).all():
            raise BadSampleError(
                path, f'depth contains NaN or inf '
                f'({int((~np.isfinite(depth)).sum())} pixels)')
        if (depth < 0).any():
            raise BadSampleError(
                path, f'depth has {int((depth < 0).sum())} negative values')
        if 'depth_valid' not in results:
            raise BadSampleError(path, 'depth is given without depth_valid')
        valid = _require_array(results, 'depth_valid', path)
        if valid.dtype != np.bool_:
            raise BadSampleError(
                path, f'depth_valid must be bool, got {valid.dtype}')
        if valid.shape != depth.shape:
            raise BadSampleError(
                path, f'depth_valid shape {valid.shape} differs from depth '
                f'shape {depth.shape}')
        disagree = int((valid != (depth > 0)).sum())
        if disagree:
            raise BadSampleError(
                path, f'depth_valid disagrees with depth > 0 at {disagree} '
                'pixels (invalid pixels must hold 0)')
        per_frame = valid.reshape(-1, valid.shape[-2] * valid.shape[-1])
        empty = np.flatnonzero(~per_frame.any(axis=1))  # (T, H*W) -> ids
        if empty.size:
            where = '' if valid.ndim == 2 else \
                f' in frames {empty[:10].tolist()}'
            raise BadSampleError(
                path, f'depth has no valid pixel{where} (all zero or '
                'invalid): a wrong depth_unit, max_depth or a broken '
                'converter? Such a frame adds nothing to a depth loss')
        unit = results.get('depth_unit')
        if unit is not None and unit not in DEPTH_ENCODINGS:
            raise BadSampleError(
                path, f'unknown depth_unit {unit!r}; known: '
                f'{list(DEPTH_ENCODINGS)}')
        if spatial is None:
            spatial, spatial_from = depth.shape, path

    if 'semseg' in results:
        path = sample_path(results, 'semseg_path')
        semseg = _require_array(results, 'semseg', path)
        if not np.issubdtype(semseg.dtype, np.integer):
            raise BadSampleError(
                path, f'semseg must hold integer ids, got {semseg.dtype}')
        if spatial is not None and semseg.shape != spatial:
            raise BadSampleError(
                path, f'semseg size {tuple(semseg.shape)} does not match '
                f'image size {tuple(spatial)} of {spatial_from}')

    if 'points' in results:
        path = sample_path(results, 'points_path')
        points = _require_array(results, 'points', path)
        if points.dtype != np.float32:
            raise BadSampleError(
                path, f'points must be float32, got {points.dtype}')
        if points.ndim != 2 or points.shape[1] < 3:
            raise BadSampleError(
                path, f'points must be (N, C) with C >= 3, got shape '
                f'{points.shape}')
        if points.shape[0] == 0:
            raise BadSampleError(path, 'point cloud is empty (0 points)')
        if not np.isfinite(points[:, :3]).all():
            raise BadSampleError(path, 'points have non-finite coordinates')

    calib = ('calib_path', 'intrinsics_path')
    if results.get('intrinsics') is not None:
        path = sample_path(results, *calib)
        _check_matrix(results, 'intrinsics', 3, path, (0., 0., 1.))
        k = np.asarray(results['intrinsics'], dtype=np.float64)
        if (k[..., 0, 0] <= 0).any() or (k[..., 1, 1] <= 0).any():
            raise BadSampleError(
                path, 'intrinsics must have positive focal lengths, got '
                f'fx={k[..., 0, 0].tolist()} fy={k[..., 1, 1].tolist()}')
    if results.get('cam2world') is not None:
        path = sample_path(results, 'pose_path', *calib)
        _check_matrix(results, 'cam2world', 4, path, (0., 0., 0., 1.))
    if results.get('lidar2img') is not None:
        path = sample_path(results, *calib)
        _check_matrix(results, 'lidar2img', 4, path, None)
    return results
