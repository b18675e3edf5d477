"""Furthest point sampling (D-FPS and F-FPS) in pure torch.

Semantics follow mmcv's CUDA kernels
(``furthest_point_sample_cuda_kernel.cuh``): the first sample is index 0; each
point keeps ``temp = min(temp, d(point, last sample))`` starting from ``1e10``;
the next sample is the point with the largest ``temp`` (the first one on ties).
Squared distances are computed as ``dx*dx + dy*dy + dz*dz`` in the input
precision, as the kernel does. Indices are returned as int32 like mmcv.
"""
from typing import Callable

import torch
from torch import Tensor

from .dispatch import register_dispatched_op

_INIT_DIST = 1e10


def _fps_loop(num_points: int, batch_size: int, num_all: int,
              dist_to: Callable[[Tensor], Tensor], ref: Tensor) -> Tensor:
    """Shared FPS loop; ``dist_to(old)`` gives (B, N) distances to ``old``."""
    out = torch.zeros((batch_size, max(num_points, 0)),
                      dtype=torch.long,
                      device=ref.device)  # (B, M)
    if num_points <= 1 or num_all == 0:
        return out.int()
    temp = torch.full((batch_size, num_all),
                      _INIT_DIST,
                      dtype=ref.dtype,
                      device=ref.device)  # (B, N)
    old = out[:, 0]  # (B, )
    for j in range(1, num_points):
        torch.minimum(temp, dist_to(old), out=temp)
        old = temp.argmax(dim=1)  # (B, ) first maximum, as the kernel
        out[:, j] = old
    return out.int()


def _working_dtype(x: Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in (torch.float16,
                                        torch.bfloat16) else x.dtype


@torch.no_grad()
def furthest_point_sample_torch(points_xyz: Tensor, num_points: int) -> Tensor:
    """D-FPS: iterative furthest point sampling on 3D Euclidean distance.

    Args:
        points_xyz (Tensor): (B, N, 3) point coordinates.
        num_points (int): Number of points to sample.

    Returns:
        Tensor: (B, num_points) int32 indices of the sampled points; the first
        one is always 0. If ``num_points > N`` the surplus entries are 0.
    """
    if points_xyz.dim() != 3 or points_xyz.size(-1) != 3:
        raise ValueError('furthest_point_sample expects points_xyz of shape '
                         f'(B, N, 3), got {tuple(points_xyz.shape)}')
    B, N, _ = points_xyz.shape
    xyz = points_xyz.to(_working_dtype(points_xyz))
    x, y, z = (xyz[..., i].contiguous() for i in range(3))  # (B, N) each
    row_start = torch.arange(B, device=xyz.device) * N  # (B, )
    buf = torch.empty_like(x)  # (B, N)
    sq = torch.empty_like(x)  # (B, N)

    def dist_to(old: Tensor) -> Tensor:
        flat = row_start + old  # (B, ) index into the flattened (B * N)
        # (x2 - x1)^2 + (y2 - y1)^2 + (z2 - z1)^2, summed left to right
        torch.sub(x, x.view(-1).index_select(0, flat).unsqueeze(1), out=buf)
        torch.mul(buf, buf, out=sq)
        torch.sub(y, y.view(-1).index_select(0, flat).unsqueeze(1), out=buf)
        sq.add_(buf.mul_(buf))
        torch.sub(z, z.view(-1).index_select(0, flat).unsqueeze(1), out=buf)
        sq.add_(buf.mul_(buf))
        return sq

    return _fps_loop(num_points, B, N, dist_to, x)


@torch.no_grad()
def furthest_point_sample_with_dist_torch(points_dist: Tensor,
                                          num_points: int) -> Tensor:
    """F-FPS: furthest point sampling on a given pairwise distance matrix.

    mmdet3d's ``FFPSSampler`` passes ``calc_square_dist`` of the concatenated
    xyz and features (3DSSD's feature distance) here.

    Args:
        points_dist (Tensor): (B, N, N) distance between each point pair.
        num_points (int): Number of points to sample.

    Returns:
        Tensor: (B, num_points) int32 indices of the sampled points.
    """
    if points_dist.dim() != 3 or points_dist.size(1) != points_dist.size(2):
        raise ValueError('furthest_point_sample_with_dist expects a (B, N, N) '
                         f'distance matrix, got {tuple(points_dist.shape)}')
    B, N, _ = points_dist.shape
    rows = points_dist.to(_working_dtype(points_dist)).reshape(B * N, N)
    row_start = torch.arange(B, device=rows.device) * N  # (B, )

    def dist_to(old: Tensor) -> Tensor:
        return rows.index_select(0, row_start + old)  # (B, N)

    return _fps_loop(num_points, B, N, dist_to, rows)


furthest_point_sample = register_dispatched_op(
    'furthest_point_sample', furthest_point_sample_torch,
    'mmcv.ops.furthest_point_sample:FurthestPointSampling.apply')
furthest_point_sample_with_dist = register_dispatched_op(
    'furthest_point_sample_with_dist', furthest_point_sample_with_dist_torch,
    'mmcv.ops.furthest_point_sample:FurthestPointSamplingWithDist.apply')
