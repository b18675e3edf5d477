"""k-nearest-neighbour search and three-NN interpolation in pure torch.

``knn`` is used by mmcv's ``QueryAndGroup`` when ``max_radius`` is None;
``three_nn`` and ``three_interpolate`` by mmdet3d's ``PointFPModule``
(feature propagation of PointNet++). Neighbours are ordered by increasing
squared distance, ties by increasing index (mmcv's ``three_nn`` kernel scans in
index order with strict ``<``, so this matches it; mmcv's ``knn`` kernel uses a
heap whose order among exactly equal distances is not specified).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from .ball_query import _CHUNK_ELEMENTS, _sq_dist
from .dispatch import register_dispatched_op


def _nearest(center: Tensor, xyz: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """The ``k`` nearest points of ``xyz`` for each centre.

    Args:
        center (Tensor): (B, M, 3) query points.
        xyz (Tensor): (B, N, 3) reference points.
        k (int): Number of neighbours.

    Returns:
        tuple[Tensor, Tensor]: (B, M, k) squared distances (``inf`` where
        ``N < k``) and (B, M, k) int64 indices (0 where ``N < k``), sorted by
        (distance, index).
    """
    B, N, _ = xyz.shape
    M = center.size(1)
    dist = center.new_full((B, M, k), float('inf'))  # (B, M, k)
    idx = torch.zeros((B, M, k), dtype=torch.long, device=center.device)
    kk = min(k, N)
    if kk == 0 or M == 0:
        return dist, idx
    chunk = max(1, _CHUNK_ELEMENTS // max(1, B * N))
    for start in range(0, M, chunk):
        d2 = _sq_dist(center[:, start:start + chunk], xyz)  # (B, m, N)
        cand = d2.topk(kk, dim=-1, largest=False).indices  # (B, m, kk)
        cand = cand.sort(dim=-1).values  # by index first ...
        cand_d = d2.gather(-1, cand)
        order = cand_d.sort(dim=-1, stable=True).indices  # ... then distance
        dist[:, start:start + chunk, :kk] = cand_d.gather(-1, order)
        idx[:, start:start + chunk, :kk] = cand.gather(-1, order)
    return dist, idx


@torch.no_grad()
def knn_torch(k: int,
              xyz: Tensor,
              center_xyz: Optional[Tensor] = None,
              transposed: bool = False) -> Tensor:
    """Indices of the ``k`` nearest points of each centre (mmcv ``knn``).

    Args:
        k (int): Number of neighbours, ``0 < k < 100`` as in mmcv.
        xyz (Tensor): (B, N, 3), or (B, 3, N) if ``transposed``.
        center_xyz (Tensor, optional): (B, npoint, 3), or (B, 3, npoint) if
            ``transposed``. Defaults to ``xyz``.
        transposed (bool): Whether the inputs are channel-first.

    Returns:
        Tensor: (B, k, npoint) int32 neighbour indices, nearest first.
    """
    if not 0 < k < 100:
        raise ValueError(f'knn needs 0 < k < 100, got {k}')
    if center_xyz is None:
        center_xyz = xyz
    if transposed:
        xyz = xyz.transpose(2, 1)  # (B, N, 3)
        center_xyz = center_xyz.transpose(2, 1)  # (B, npoint, 3)
    _, idx = _nearest(center_xyz, xyz, k)  # (B, npoint, k)
    return idx.transpose(2, 1).contiguous().int()  # (B, k, npoint)


@torch.no_grad()
def three_nn_torch(target: Tensor, source: Tensor) -> Tuple[Tensor, Tensor]:
    """The three nearest ``source`` points of every ``target`` point.

    Args:
        target (Tensor): (B, N, 3) points that need neighbours.
        source (Tensor): (B, M, 3) candidate neighbours.

    Returns:
        tuple[Tensor, Tensor]: (B, N, 3) L2 distances and (B, N, 3) int32
        indices, nearest first.
    """
    dist2, idx = _nearest(target, source, 3)  # (B, N, 3)
    return torch.sqrt(dist2), idx.int()


def three_interpolate_torch(features: Tensor, indices: Tensor,
                            weight: Tensor) -> Tensor:
    """Weighted sum of three neighbour features per target point.

    As in mmcv, the gradient flows to ``features`` only (``weight`` is
    treated as a constant).

    Args:
        features (Tensor): (B, C, M) source features.
        indices (Tensor): (B, N, 3) indices into M (from ``three_nn``).
        weight (Tensor): (B, N, 3) interpolation weights.

    Returns:
        Tensor: (B, C, N) interpolated features.
    """
    B, C, _ = features.shape
    N = indices.size(1)
    flat = indices.long().reshape(B, 1, N * 3).expand(B, C, N * 3)
    nb = features.gather(2, flat).view(B, C, N, 3)  # (B, C, N, 3)
    w = weight.detach().to(features.dtype).unsqueeze(1)  # (B, 1, N, 3)
    return (nb * w).sum(-1)  # (B, C, N)


knn = register_dispatched_op('knn', knn_torch, 'mmcv.ops.knn:KNN.apply')
three_nn = register_dispatched_op('three_nn', three_nn_torch,
                                  'mmcv.ops.three_nn:ThreeNN.apply')
three_interpolate = register_dispatched_op(
    'three_interpolate', three_interpolate_torch,
    'mmcv.ops.three_interpolate:ThreeInterpolate.apply')
