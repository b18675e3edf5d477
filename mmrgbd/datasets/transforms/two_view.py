"""SimIPU's two LiDAR views: a random similarity transform of one scan.

:class:`SimIPUTwoView` turns ``points`` (view alpha, the scan as loaded, still
aligned with the image through ``lidar2img``) into a second view
``points_beta = T(points)`` and stores ``T`` as ``beta_transform`` (float64
(4, 4), ``[[M s R, t], [0, 0, 0, 1]]`` with an optional mirror ``M``,
mapping homogeneous view-alpha coordinates to view-beta coordinates). The
model needs ``T`` to bring the down-sampled locations of view alpha into view
beta before matching them.

:class:`PackSimIPUInputs` is :class:`PackRGBDInputs` that also packs
``points_beta`` as an input and ``beta_transform`` into the metainfo.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmrgbd.registry import TRANSFORMS
from ..errors import BadSampleError
from .formatting import PackRGBDInputs

__all__ = ['rotation_matrix', 'SimIPUTwoView', 'PackSimIPUInputs']


def rotation_matrix(axis: Union[int, Sequence[float]],
                    angle: float) -> np.ndarray:
    """Right-handed rotation by ``angle`` (radians) about ``axis``.

    Args:
        axis (int | Sequence[float]): A coordinate axis index (0, 1, 2) or a
            3-vector (normalised here).
        angle (float): Rotation angle in radians (counter-clockwise when
            looking down the axis).

    Returns:
        np.ndarray: float64 (3, 3) rotation (Rodrigues' formula).
    """
    if isinstance(axis, (int, np.integer)):
        vec = np.zeros(3)
        vec[int(axis)] = 1.
    else:
        vec = np.asarray(axis, dtype=np.float64)
        vec = vec / np.linalg.norm(vec)
    x, y, z = vec
    skew = np.array([[0., -z, y], [z, 0., -x], [-y, x, 0.]])
    return (np.eye(3) + math.sin(angle) * skew +
            (1. - math.cos(angle)) * skew @ skew)


def _as_range(value, name: str) -> Tuple[float, float]:
    if isinstance(value, (int, float)):
        value = (-abs(float(value)), abs(float(value)))
    low, high = (float(v) for v in value)
    if low > high:
        raise ValueError(f'{name} must be (low, high) with low <= high, got '
                         f'{value}')
    return low, high


@TRANSFORMS.register_module()
class SimIPUTwoView(BaseTransform):
    """Second LiDAR view ``p_beta = T(p_alpha)`` with a random similarity T.

    ``T(p) = M @ (s * (R @ (p - c) + c) + t)`` where

    * ``R = R_up(yaw) @ R_tilt``: ``yaw`` uniform in ``rot_range`` about the
      ``up_axis`` through the point ``c = rot_center`` (the origin when None),
      and ``R_tilt`` rotations about the two other axes, each by an angle
      uniform in ``[-tilt_range, tilt_range]`` (0 = no tilt);
    * ``s`` uniform in ``scale_range``, about the origin (uniform scaling: a
      similarity, the "rigid + scale" transform of SimIPU);
    * ``t`` Gaussian with per-axis standard deviations ``translation_std``;
    * ``M`` the mirror ``mirror_axis -> -mirror_axis`` (a bird's-eye-view
      flip) or the identity, see ``mirror``.

    This is the order of the official SimIPU pipeline (mmdet3d's
    ``GlobalRotScaleTrans`` with ``points_center``, then ``RandomFlip3D``
    synchronised with the image flip). ``T`` may thus contain a reflection
    (``det < 0``); it is stored whole in ``beta_transform``, so the model's
    matching cost ``|T(l_alpha) - l_beta|`` stays exact. Extra point
    channels (intensity, ...) are copied unchanged.

    ``num_points`` first samples view alpha to a fixed size (without
    replacement when the scan is large enough, else with replacement), as
    PointNet++ batches need equal sizes. With ``shuffle=True`` the points of
    view beta are in a random order (``points_beta[k] =
    T(points[beta_index[k]])``): D-FPS, which starts from the first point and
    is invariant to similarities, would otherwise pick exactly corresponding
    points in both views and the matching would be trivial.

    Required keys: ``points`` (N, C >= 3); with ``mirror='image_flip'`` also
    ``flip`` / ``flip_direction`` (:class:`RGBDRandomFlip`). Modified keys:
    ``points`` (when ``num_points`` is set). Added keys: ``points_beta``
    float32 (N, C), ``beta_transform`` float64 (4, 4), ``beta_index`` int64
    (N,), ``beta_mirror`` bool.

    Args:
        rot_range (float | tuple[float, float]): Yaw range in radians; a
            number ``a`` means ``(-a, a)``. Default ``(-pi/2, pi/2)``.
        tilt_range (float): Maximum tilt angle (radians). Default 0.
        scale_range (tuple[float, float]): Uniform scale range. Default
            ``(0.75, 1.25)``.
        translation_std (float | Sequence[float]): Translation standard
            deviation in metres, per axis. Default 0.
        rot_center (Sequence[float], optional): Centre of the rotation (the
            official KITTI setting is ``(35.2, 0, -1)``, the middle of its
            point range). None rotates about the origin.
        mirror (str | float, optional): ``'image_flip'``: mirror view beta
            exactly when the image was flipped horizontally (the official
            ``RandomFlip3D(sync_2d=True)``); a number ``p``: mirror with
            probability ``p`` on its own; None / 0: never.
        mirror_axis (int): The axis negated by the mirror; 1 (LiDAR y, left)
            is mmdet3d's horizontal BEV flip. Default 1.
        up_axis (int): Index of the up axis in the point coordinates (2 for
            the LiDAR frame, z up). Default 2.
        num_points (int, optional): Sample view alpha to this many points.
        shuffle (bool): Randomly permute view beta. Default True.

    Raises:
        BadSampleError: (in ``transform``) for an empty cloud, naming the
            point file and the frame.
    """

    def __init__(self,
                 rot_range: Union[float, Sequence[float]] = (
                     -math.pi / 2, math.pi / 2),
                 tilt_range: float = 0.,
                 scale_range: Sequence[float] = (0.75, 1.25),
                 translation_std: Union[float, Sequence[float]] = 0.,
                 rot_center: Optional[Sequence[float]] = None,
                 mirror: Union[str, float, None] = None,
                 mirror_axis: int = 1,
                 up_axis: int = 2,
                 num_points: Optional[int] = None,
                 shuffle: bool = True):
        self.rot_range = _as_range(rot_range, 'rot_range')
        self.tilt_range = abs(float(tilt_range))
        self.scale_range = _as_range(scale_range, 'scale_range')
        if self.scale_range[0] <= 0:
            raise ValueError(
                f'scale_range must be positive, got {scale_range}')
        std = np.broadcast_to(
            np.asarray(translation_std, dtype=np.float64), (3, ))
        if (std < 0).any():
            raise ValueError('translation_std must be >= 0, got '
                             f'{translation_std}')
        self.translation_std = std.copy()
        self.rot_center = None if rot_center is None else np.asarray(
            rot_center, dtype=np.float64).reshape(3)
        if isinstance(mirror, str):
            if mirror != 'image_flip':
                raise ValueError("mirror must be 'image_flip', a probability "
                                 f'or None, got {mirror!r}')
        elif mirror is not None and not 0 <= float(mirror) <= 1:
            raise ValueError(f'mirror probability must be in [0, 1], got '
                             f'{mirror}')
        self.mirror = mirror
        if up_axis not in (0, 1, 2) or mirror_axis not in (0, 1, 2):
            raise ValueError('up_axis and mirror_axis must be 0, 1 or 2, got '
                             f'{up_axis} and {mirror_axis}')
        self.up_axis = up_axis
        self.mirror_axis = mirror_axis
        if num_points is not None and num_points < 1:
            raise ValueError(f'num_points must be >= 1, got {num_points}')
        self.num_points = num_points
        self.shuffle = shuffle

    def sample_transform(self, mirror: bool = False) -> np.ndarray:
        """Draw one random similarity.

        Args:
            mirror (bool): Append the mirror of ``mirror_axis``.

        Returns:
            np.ndarray: float64 (4, 4) ``[[M s R, M (s (c - R c) + t)],
            [0, 0, 0, 1]]``.
        """
        yaw = np.random.uniform(*self.rot_range)
        rot = rotation_matrix(self.up_axis, yaw)
        if self.tilt_range > 0:
            for axis in (a for a in range(3) if a != self.up_axis):
                tilt = np.random.uniform(-self.tilt_range, self.tilt_range)
                rot = rot @ rotation_matrix(axis, tilt)
        scale = np.random.uniform(*self.scale_range)
        trans = np.random.normal(size=3) * self.translation_std
        if self.rot_center is not None:
            trans = trans + scale * (self.rot_center - rot @ self.rot_center)
        mat = np.eye(4)
        mat[:3, :3] = scale * rot
        mat[:3, 3] = trans
        if mirror:
            flip = np.eye(4)
            flip[self.mirror_axis, self.mirror_axis] = -1.
            mat = flip @ mat
        return mat

    def _mirror_this_sample(self, results: dict) -> bool:
        if self.mirror is None:
            return False
        if self.mirror == 'image_flip':
            if 'flip' not in results:
                raise KeyError(
                    "SimIPUTwoView(mirror='image_flip') needs `flip` in the "
                    'sample: put RGBDRandomFlip before it in the pipeline')
            return bool(results['flip']) and results.get(
                'flip_direction') == 'horizontal'
        return bool(np.random.rand() < float(self.mirror))

    @staticmethod
    def apply(points: np.ndarray, mat: np.ndarray) -> np.ndarray:
        """Apply a (4, 4) transform to the xyz of (N, C) points.

        Args:
            points (np.ndarray): (N, C >= 3) points.
            mat (np.ndarray): (4, 4) homogeneous transform.

        Returns:
            np.ndarray: float32 (N, C), extra channels unchanged.
        """
        out = np.array(points, dtype=np.float32, copy=True)  # (N, C)
        xyz = np.asarray(points[:, :3], dtype=np.float64)  # (N, 3)
        out[:, :3] = xyz @ mat[:3, :3].T + mat[:3, 3]
        return out

    def transform(self, results: dict) -> dict:
        """Add view beta to the sample."""
        points = results['points']
        points = np.asarray(getattr(points, 'tensor', points))
        if points.ndim != 2 or points.shape[1] < 3:
            raise ValueError('points must be (N, C) with C >= 3, got '
                             f'{points.shape}')
        if len(points) == 0:
            frame = results.get('frame_id', results.get('sample_idx'))
            frame = '' if frame is None else f'frame {frame}: '
            raise BadSampleError(
                results.get('points_path', 'unknown point file'),
                f'{frame}empty point cloud, SimIPUTwoView needs points')
        if self.num_points is not None:
            replace = len(points) < self.num_points
            keep = np.random.choice(
                len(points), self.num_points, replace=replace)
            points = points[keep]  # (num_points, C)
        points = np.ascontiguousarray(points, dtype=np.float32)
        mirror = self._mirror_this_sample(results)
        mat = self.sample_transform(mirror)
        if self.shuffle:
            index = np.random.permutation(len(points))
        else:
            index = np.arange(len(points))
        results['points'] = points
        results['points_beta'] = self.apply(points[index], mat)  # (N, C)
        results['beta_transform'] = mat
        results['beta_index'] = index.astype(np.int64)
        results['beta_mirror'] = mirror
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(rot_range={self.rot_range}, '
                f'tilt_range={self.tilt_range}, '
                f'scale_range={self.scale_range}, '
                f'translation_std={tuple(self.translation_std)}, '
                f'rot_center={self.rot_center}, mirror={self.mirror!r}, '
                f'mirror_axis={self.mirror_axis}, '
                f'up_axis={self.up_axis}, num_points={self.num_points}, '
                f'shuffle={self.shuffle})')


@TRANSFORMS.register_module()
class PackSimIPUInputs(PackRGBDInputs):
    """:class:`PackRGBDInputs` plus SimIPU's second view.

    Packs everything :class:`PackRGBDInputs` packs, and ``points_beta``
    float32 (N, C) into ``inputs``; ``beta_transform`` is added to the
    default ``meta_keys``.

    Args:
        meta_keys (Sequence[str]): Keys copied to the metainfo.
    """

    DEFAULT_META_KEYS = PackRGBDInputs.DEFAULT_META_KEYS + (
        'beta_transform', )

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample and view beta."""
        packed = super().transform(results)
        beta = results.get('points_beta')
        if beta is not None:
            beta = torch.as_tensor(np.asarray(beta), dtype=torch.float32)
            if beta.ndim != 2 or beta.shape[1] < 3:
                raise ValueError('points_beta must be (N, C) with C >= 3, '
                                 f'got {tuple(beta.shape)}')
            packed['inputs']['points_beta'] = beta  # (N, C)
        return packed
