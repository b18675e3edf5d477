"""Depth normalisation.

:class:`NormalizeDepth` maps metric depth to the network's target range and
records how in ``results['depth_norm']`` so that a prediction can be mapped
back to metres with :func:`denormalize_depth`. Only valid pixels are used and
written; invalid pixels of the output are 0.
"""
from typing import Optional, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmrgbd.datasets.contract import sample_path
from mmrgbd.datasets.errors import BadSampleError
from mmrgbd.registry import TRANSFORMS

__all__ = ['NormalizeDepth', 'robust_depth_stats', 'denormalize_depth']


def robust_depth_stats(values: np.ndarray,
                       trunc: float = 0.1,
                       min_valid: int = 2,
                       eps: float = 1e-6):
    """Truncated mean and standard deviation of valid depth values.

    ``k = floor(n * trunc)`` values are dropped at each end of the sorted
    values, and the mean and (population) standard deviation of the remaining
    ``n - 2k`` values are returned. The kept values are found with
    ``np.partition`` (linear time), not a full sort; the sums then run over
    them in partition order, so the statistics may differ from a sort-based
    computation in the last bits. When fewer than ``min_valid`` values remain
    or the standard deviation is below ``eps`` the statistics are degenerate:
    the returned std is 1.0 (so the normalised output is 0 for a constant
    frame and the mapping stays invertible) and ``ok`` is False.

    Args:
        values (np.ndarray): 1-D valid depth values.
        trunc (float): Fraction dropped at each end, in [0, 0.5).
        min_valid (int): Minimum number of kept values.
        eps (float): Smallest usable standard deviation.

    Returns:
        tuple[float, float, bool]: ``(mean, std, ok)``; ``mean`` is 0.0 when
        there are no values at all.
    """
    values = np.asarray(values).ravel()
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    n = values.size
    k = int(np.floor(n * trunc))
    if n - 2 * k <= 0:
        mean = float(values.mean(dtype=np.float64)) if n else 0.0
        return mean, 1.0, False
    if k > 0:
        # the k smallest before index k, the k largest from n - k: the
        # slice between holds the kept values (float32 -> float64 is exact
        # and monotone, so partitioning float32 keeps the same values)
        values = np.partition(values, (k, n - k - 1))[k:n - k]
    kept = values.astype(np.float64, copy=False)
    mean = float(kept.mean())
    std = float(kept.std())
    if kept.size < min_valid or not std >= eps:
        return mean, 1.0, False
    return mean, std, True


def denormalize_depth(x: Union[np.ndarray, torch.Tensor], depth_norm: dict,
                      valid=None):
    """Map normalised depth back to metres (inverts :class:`NormalizeDepth`).

    Args:
        x (np.ndarray | torch.Tensor): Normalised depth; a frame, or a clip
            ``(T, ...)`` when the statistics are per frame.
        depth_norm (dict): ``results['depth_norm']`` written by
            :class:`NormalizeDepth` (or the data sample's metainfo copy).
        valid (np.ndarray | torch.Tensor, optional): If given, the output is
            0 where it is False.

    Returns:
        np.ndarray | torch.Tensor: Depth in metres, same type as ``x``.
    """
    is_tensor = isinstance(x, torch.Tensor)
    mode = depth_norm['mode']

    def _param(name):
        p = np.asarray(depth_norm[name], dtype=np.float64)
        if p.ndim == 1:  # one value per frame: broadcast over (T, ...)
            p = p.reshape((-1, ) + (1, ) * (x.ndim - 1))
        return torch.as_tensor(p, dtype=x.dtype, device=x.device) \
            if is_tensor else p

    if mode == 'robust':
        out = x * _param('std') + _param('mean')
    elif mode == 'metric':
        out = x * _param('scale') + _param('shift')
    elif mode == 'log':
        z = x * _param('scale') + _param('shift')
        out = torch.exp(z) if is_tensor else np.exp(z)
    else:
        raise ValueError(f'unknown depth normalisation mode {mode!r}')
    if valid is not None:
        out = torch.where(valid, out, torch.zeros_like(out)) if is_tensor \
            else np.where(valid, out, 0)
    if not is_tensor:
        out = out.astype(np.asarray(x).dtype, copy=False)
    return out


@TRANSFORMS.register_module()
class NormalizeDepth(BaseTransform):
    """Normalise ``depth`` (metres) over its valid pixels.

    Modes (``d`` = depth in metres, only at valid pixels):

    * ``'robust'`` (MultiMAE): drop the lowest and highest ``trunc`` fraction
      of the valid values, take the mean ``m`` and population std ``s`` of the
      rest (:func:`robust_depth_stats`), output ``(d - m) / s``;
    * ``'metric'``: ``(d - shift) / scale`` with ``scale`` defaulting to
      ``max_depth`` (i.e. ``d / max_depth``);
    * ``'log'``: ``(log(d) - shift) / scale`` (defaults ``log(d)``).

    Invalid pixels (``depth_valid`` False, or ``depth <= 0`` when there is no
    ``depth_valid``) are ignored and set to 0 in the output. Degenerate
    frames never give NaN or inf: in ``'robust'`` mode a frame with no valid
    pixel, fewer than ``min_valid`` kept values or a std below ``eps`` is
    output as all zeros (stored std 1.0).

    For a clip ``(T, H, W)`` the statistics are computed per frame when
    ``per_frame=True`` (``depth_norm`` then holds length-``T`` lists) and over
    the whole clip otherwise (default, one mapping for all frames).

    Added key ``depth_norm``: ``{'mode', ...parameters}`` with
    ``mean``/``std`` (robust) or ``shift``/``scale`` (metric, log), so that
    ``depth_m = denormalize_depth(x, depth_norm)``.

    Args:
        mode (str): ``'robust'``, ``'metric'`` or ``'log'``.
        trunc (float): Robust mode: fraction dropped at each end. 0.1.
        min_valid (int): Robust mode: fewest kept values for statistics.
        eps (float): Robust mode: smallest usable std.
        max_depth (float): Metric mode: default ``scale``. Defaults to 10.
        shift (float): Metric / log mode shift. Defaults to 0.
        scale (float, optional): Metric / log mode scale; defaults to
            ``max_depth`` (metric) or 1 (log).
        per_frame (bool): Clip statistics per frame. Defaults to False.
    """

    MODES = ('robust', 'metric', 'log')

    def __init__(self,
                 mode: str = 'robust',
                 trunc: float = 0.1,
                 min_valid: int = 2,
                 eps: float = 1e-6,
                 max_depth: float = 10.0,
                 shift: float = 0.0,
                 scale: Optional[float] = None,
                 per_frame: bool = False) -> None:
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        if not 0 <= trunc < 0.5:
            raise ValueError(f'trunc must be in [0, 0.5), got {trunc}')
        if scale is None:
            scale = max_depth if mode == 'metric' else 1.0
        if not scale > 0:
            raise ValueError(f'scale must be positive, got {scale}')
        self.mode = mode
        self.trunc = trunc
        self.min_valid = max(int(min_valid), 1)
        self.eps = eps
        self.max_depth = max_depth
        self.shift = float(shift)
        self.scale = float(scale)
        self.per_frame = per_frame

    def _normalize(self, depth: np.ndarray, valid: np.ndarray):
        """Normalise one group of pixels; returns (output, params)."""
        # float64 arithmetic on the valid values only, cast to float32
        values = depth[valid]  # (n_valid, )
        d = values.astype(np.float64)
        out = np.zeros(depth.shape, dtype=np.float32)
        if self.mode == 'robust':
            mean, std, ok = robust_depth_stats(values, self.trunc,
                                               self.min_valid, self.eps)
            if ok:
                d -= mean
                d /= std
                out[valid] = d
            return out, dict(mean=mean, std=std)
        if self.mode == 'metric':
            d -= self.shift
            d /= self.scale
        else:  # log
            d = np.log(d)
            d -= self.shift
            d /= self.scale
        out[valid] = d
        return out, dict(shift=self.shift, scale=self.scale)

    def transform(self, results: dict) -> dict:
        """Normalise ``results['depth']`` and add ``depth_norm``.

        Args:
            results (dict): The sample with ``depth`` (metres) and optionally
                ``depth_valid``.

        Returns:
            dict: The sample.

        Raises:
            BadSampleError: If a valid pixel holds a non-finite depth, or (log
                mode) a non-positive one.
        """
        depth = results.get('depth')
        if depth is None:
            return results
        valid = results.get('depth_valid')
        if valid is None:
            valid = np.isfinite(depth) & (depth > 0)
        valid = np.asarray(valid, dtype=bool)
        path = sample_path(results, 'depth_path')
        # the whole map first (no gather); only if that fails, the valid part
        if not np.isfinite(depth).all() and \
                not np.isfinite(depth[valid]).all():
            raise BadSampleError(path, 'depth holds non-finite values at '
                                 'pixels marked valid')
        if self.mode == 'log' and (depth[valid] <= 0).any():
            raise BadSampleError(path, 'log depth normalisation needs '
                                 'positive depth at all valid pixels')
        if self.per_frame and depth.ndim == 3:
            outs, params = [], []
            for d_t, v_t in zip(depth, valid):
                o, p = self._normalize(d_t, v_t)
                outs.append(o)
                params.append(p)
            out = np.stack(outs)  # (T, H, W)
            norm = {k: [p[k] for p in params] for k in params[0]}
        else:
            out, norm = self._normalize(depth, valid)
        results['depth'] = out
        results['depth_norm'] = dict(mode=self.mode, **norm)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mode={self.mode!r}, '
                f'trunc={self.trunc}, shift={self.shift}, '
                f'scale={self.scale}, per_frame={self.per_frame})')
