"""Grouping of point features by neighbour index, in pure torch.

Both forms are plain torch indexing, so autograd (the scatter-add of the output
gradient back to the source points, as mmcv's backward kernels do) is provided
by torch.
"""
from typing import Optional

import torch
from torch import Tensor

from .dispatch import register_dispatched_op


def grouping_operation_torch(
        features: Tensor,
        indices: Tensor,
        features_batch_cnt: Optional[Tensor] = None,
        indices_batch_cnt: Optional[Tensor] = None) -> Tensor:
    """Group point features with neighbour indices (e.g. from ball query).

    Args:
        features (Tensor): (B, C, N) features, or stacked (N1 + N2 ..., C).
        indices (Tensor): (B, npoint, nsample) indices into N, or stacked
            (M1 + M2 ..., nsample) indices local to each sample.
        features_batch_cnt (Tensor, optional): (B, ) ``[N1, N2, ...]``.
        indices_batch_cnt (Tensor, optional): (B, ) ``[M1, M2, ...]``.

    Returns:
        Tensor: (B, C, npoint, nsample), or (M1 + M2 ..., C, nsample) for the
        stacked form, where out-of-range (e.g. ``-1``) indices give zeros.
    """
    if features_batch_cnt is not None and indices_batch_cnt is not None:
        return _grouping_stacked(features, indices, features_batch_cnt,
                                 indices_batch_cnt)
    if features.dim() != 3 or indices.dim() != 3:
        raise ValueError('grouping_operation expects features (B, C, N) and '
                         f'indices (B, npoint, nsample), got '
                         f'{tuple(features.shape)} and {tuple(indices.shape)}')
    B, C, _ = features.shape
    _, npoint, nsample = indices.shape
    flat = indices.long().reshape(B, 1, npoint * nsample)  # (B, 1, P*S)
    out = features.gather(2, flat.expand(B, C, npoint * nsample))  # (B,C,P*S)
    return out.view(B, C, npoint, nsample)  # (B, C, npoint, nsample)


def _grouping_stacked(features: Tensor, indices: Tensor,
                      features_batch_cnt: Tensor,
                      indices_batch_cnt: Tensor) -> Tensor:
    feat_cnt = features_batch_cnt.long()
    starts = torch.cumsum(feat_cnt, 0) - feat_cnt  # (B, )
    batch_of_row = torch.repeat_interleave(
        torch.arange(len(indices_batch_cnt), device=indices.device),
        indices_batch_cnt.long())  # (M, )
    local = indices.long()  # (M, nsample)
    valid = (local >= 0) & (local < feat_cnt[batch_of_row, None])
    glob = torch.where(valid, local + starts[batch_of_row, None], 0)
    out = features[glob]  # (M, nsample, C)
    out = out * valid[..., None].to(out.dtype)
    return out.permute(0, 2, 1).contiguous()  # (M, C, nsample)


grouping_operation = register_dispatched_op(
    'grouping_operation', grouping_operation_torch,
    'mmcv.ops.group_points:GroupingOperation.apply')
