"""Gathering of point features by index (e.g. after FPS), in pure torch.

A plain ``torch.gather``: autograd scatters the output gradient back to the
source points, as mmcv's ``gather_points_backward`` kernel does.
"""
from torch import Tensor

from .dispatch import register_dispatched_op


def gather_points_torch(features: Tensor, indices: Tensor) -> Tensor:
    """Gather point features with per-sample indices (e.g. from FPS).

    Args:
        features (Tensor): (B, C, N) features.
        indices (Tensor): (B, M) indices into N.

    Returns:
        Tensor: (B, C, M) gathered features.
    """
    if features.dim() != 3 or indices.dim() != 2:
        raise ValueError('gather_points expects features (B, C, N) and '
                         f'indices (B, M), got {tuple(features.shape)} and '
                         f'{tuple(indices.shape)}')
    B, C, _ = features.shape
    idx = indices.long().unsqueeze(1).expand(B, C, indices.size(1))  # (B,C,M)
    return features.gather(2, idx)  # (B, C, M)


gather_points = register_dispatched_op(
    'gather_points', gather_points_torch,
    'mmcv.ops.gather_points:GatherPoints.apply')
