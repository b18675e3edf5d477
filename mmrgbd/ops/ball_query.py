"""Ball query in pure torch, with the semantics of mmcv's CUDA kernels.

Batched form (``ball_query_cuda_kernel.cuh``): for each centre the points are
scanned in index order and a point is taken when its squared distance ``d2``
satisfies ``d2 == 0 or min_radius**2 <= d2 < max_radius**2`` (the radii are
squared in float32, as in the kernel). The first ``sample_num`` hits fill the
slots; unused slots repeat the **first** hit; a centre without any hit gets all
zeros.

Stacked form (``stack_ball_query_cuda_kernel.cuh``): only
``d2 < max_radius**2`` counts (no ``min_radius``, no ``d2 == 0`` rule);
indices are local to each sample; a centre without a hit gets ``-1`` in
slot 0 and zeros elsewhere.
"""
from typing import Optional

import torch
from torch import Tensor

from .dispatch import register_dispatched_op

# Upper bound on elements of one (B, chunk, N) distance block.
_CHUNK_ELEMENTS = 1 << 22


def _f32_square(r: float) -> float:
    """``r * r`` computed in float32 like the kernel's ``float radius2``."""
    r32 = torch.tensor(r, dtype=torch.float32)
    return (r32 * r32).item()


def _sq_dist(center: Tensor, xyz: Tensor) -> Tensor:
    """Kernel-order squared distances: (B, M, 3), (B, N, 3) -> (B, M, N)."""
    d = center[:, :, None, 0] - xyz[:, None, :, 0]  # (B, M, N)
    d2 = d * d
    d = center[:, :, None, 1] - xyz[:, None, :, 1]
    d2 += d * d
    d = center[:, :, None, 2] - xyz[:, None, :, 2]
    d2 += d * d
    return d2


def _first_hits(mask: Tensor, sample_num: int) -> Tensor:
    """Indices of the first ``sample_num`` True entries along the last dim.

    Args:
        mask (Tensor): (..., N) bool.
        sample_num (int): Number of slots.

    Returns:
        Tensor: (..., sample_num) int64, ``N`` where fewer hits exist.
    """
    N = mask.size(-1)
    order = torch.arange(N, device=mask.device)
    key = torch.where(mask, order, N)  # (..., N) hits keep their index
    k = min(sample_num, N)
    first = key.topk(k, dim=-1, largest=False, sorted=True).values
    if k < sample_num:
        pad = first.new_full(first.shape[:-1] + (sample_num - k, ), N)
        first = torch.cat([first, pad], dim=-1)  # (..., sample_num)
    return first


@torch.no_grad()
def _ball_query_batched(min_radius: float, max_radius: float, sample_num: int,
                        xyz: Tensor, center_xyz: Tensor) -> Tensor:
    B, N, _ = xyz.shape
    M = center_xyz.size(1)
    idx = torch.zeros((B, M, sample_num), dtype=torch.long,
                      device=xyz.device)  # (B, M, nsample)
    if N == 0 or M == 0 or sample_num == 0:
        return idx.int()
    min_r2 = _f32_square(min_radius)
    max_r2 = _f32_square(max_radius)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, B * N))
    for start in range(0, M, chunk):
        d2 = _sq_dist(center_xyz[:, start:start + chunk], xyz)  # (B, m, N)
        if min_r2 == 0:  # d2 >= 0 always holds and d2 == 0 < max_r2
            mask = d2 < max_r2  # (B, m, N)
        else:
            mask = (d2 == 0) | ((d2 >= min_r2) & (d2 < max_r2))
        first = _first_hits(mask, sample_num)  # (B, m, nsample)
        head = first[..., :1].expand_as(first)
        first = torch.where(first == N, head, first)  # repeat the first hit
        first = torch.where(first == N, 0, first)  # no hit at all -> 0
        idx[:, start:start + chunk] = first
    return idx.int()


@torch.no_grad()
def _ball_query_stacked(max_radius: float, sample_num: int, xyz: Tensor,
                        center_xyz: Tensor, xyz_batch_cnt: Tensor,
                        center_xyz_batch_cnt: Tensor) -> Tensor:
    idx = torch.zeros((center_xyz.size(0), sample_num),
                      dtype=torch.long,
                      device=xyz.device)  # (M1 + M2 ..., nsample)
    max_r2 = _f32_square(max_radius)
    xyz_ends = torch.cumsum(xyz_batch_cnt.long(), 0).tolist()
    ctr_ends = torch.cumsum(center_xyz_batch_cnt.long(), 0).tolist()
    xs = cs = 0
    for xe, ce in zip(xyz_ends, ctr_ends):
        if ce > cs:
            pts, ctr = xyz[None, xs:xe], center_xyz[None, cs:ce]
            n = xe - xs
            if n == 0:
                first = idx.new_full((1, ce - cs, sample_num), n)
            else:
                d2 = _sq_dist(ctr, pts)  # (1, m_b, n_b)
                first = _first_hits(d2 < max_r2, sample_num)  # (1, m_b, ns)
            empty = first[..., 0] == n  # (1, m_b)
            head = first[..., :1].expand_as(first)
            first = torch.where(first == n, head, first)
            first = torch.where(empty[..., None], 0, first)
            first[..., 0] = torch.where(empty, -1, first[..., 0])
            idx[cs:ce] = first[0]
        xs, cs = xe, ce
    return idx.int()


def ball_query_torch(min_radius: float,
                     max_radius: float,
                     sample_num: int,
                     xyz: Tensor,
                     center_xyz: Tensor,
                     xyz_batch_cnt: Optional[Tensor] = None,
                     center_xyz_batch_cnt: Optional[Tensor] = None) -> Tensor:
    """Find up to ``sample_num`` points within a ball around each centre.

    Args:
        min_radius (float): Inner radius (inclusive; batched form only).
        max_radius (float): Outer radius (exclusive).
        sample_num (int): Number of indices per centre.
        xyz (Tensor): (B, N, 3) points, or stacked (N1 + N2 ..., 3).
        center_xyz (Tensor): (B, M, 3) centres, or stacked (M1 + M2 ..., 3).
        xyz_batch_cnt (Tensor, optional): (B, ) int32 ``[N1, N2, ...]``.
        center_xyz_batch_cnt (Tensor, optional): (B, ) int32 ``[M1, ...]``.

    Returns:
        Tensor: (B, M, sample_num) or (M1 + M2 ..., sample_num) int32 indices.
    """
    if not min_radius < max_radius:
        raise ValueError('ball_query needs min_radius < max_radius, got '
                         f'{min_radius} and {max_radius}')
    if xyz_batch_cnt is not None and center_xyz_batch_cnt is not None:
        return _ball_query_stacked(max_radius, sample_num, xyz, center_xyz,
                                   xyz_batch_cnt, center_xyz_batch_cnt)
    if xyz.dim() != 3 or center_xyz.dim() != 3:
        raise ValueError('ball_query expects xyz (B, N, 3) and center_xyz '
                         f'(B, M, 3), got {tuple(xyz.shape)} and '
                         f'{tuple(center_xyz.shape)}')
    return _ball_query_batched(min_radius, max_radius, sample_num, xyz,
                               center_xyz)


ball_query = register_dispatched_op('ball_query', ball_query_torch,
                                    'mmcv.ops.ball_query:BallQuery.apply')
