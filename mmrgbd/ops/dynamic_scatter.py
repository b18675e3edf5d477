"""Dynamic voxel scatter (points -> voxels reduction) in pure torch.

Semantics follow mmcv's ``dynamic_point_to_voxel`` CUDA launcher
(``scatter_points_cuda.cu``):

* points with any coordinate ``< 0`` are dropped;
* voxels are the unique coordinate rows **sorted lexicographically**
  (``torch.unique(dim=0)``, the same call mmcv makes);
* ``'sum'`` / ``'mean'`` add the point features (mean divides by the count);
  ``'max'`` takes the channel-wise maximum, and its gradient goes, per voxel
  and channel, to the **lowest-index point** holding the maximum (mmcv's
  ``max_reduce_traceback_scatter_idx_kernel`` uses ``atomicMin``).

All reductions are written with ``index_add`` / ``gather`` so autograd is free.
"""
from typing import Tuple

import torch
from mmcv.ops.scatter_points import DynamicScatter as _MMCVDynamicScatter
from torch import Tensor

from mmrgbd.registry import MODELS
from .dispatch import register_dispatched_op

REDUCE_TYPES = ('max', 'sum', 'mean')


def dynamic_scatter_with_map_torch(
        feats: Tensor,
        coors: Tensor,
        reduce_type: str = 'max') -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reduce point features into voxels and return the point-voxel map.

    Args:
        feats (Tensor): (N, C) point features.
        coors (Tensor): (N, ndim) integer voxel coordinates of each point.
        reduce_type (str): ``'max'``, ``'sum'`` or ``'mean'``.

    Returns:
        tuple[Tensor]: ``voxel_feats`` (M, C), ``voxel_coors`` (M, ndim) sorted
        lexicographically, ``point2voxel_map`` (N, ) int32 voxel row of each
        point (``-1`` for dropped points) and ``voxel_points_count`` (M, )
        int32 number of points per voxel.
    """
    if reduce_type not in REDUCE_TYPES:
        raise ValueError(f'reduce_type must be one of {REDUCE_TYPES}, '
                         f'got {reduce_type!r}')
    if feats.dim() != 2 or coors.dim() != 2 or feats.size(0) != coors.size(0):
        raise ValueError('dynamic_scatter expects feats (N, C) and coors '
                         f'(N, ndim), got {tuple(feats.shape)} and '
                         f'{tuple(coors.shape)}')
    N, C = feats.shape
    int_opts = dict(dtype=torch.int32, device=coors.device)
    if N == 0:
        return (feats.clone().detach(), coors.clone().detach(),
                torch.empty(0, **int_opts), torch.empty(0, **int_opts))
    invalid = (coors < 0).any(dim=-1, keepdim=True)  # (N, 1)
    coors_clean = coors.masked_fill(invalid, -1)  # (N, ndim)
    voxel_coors, p2v, counts = torch.unique(
        coors_clean,
        dim=0,
        sorted=True,
        return_inverse=True,
        return_counts=True)  # (M', ndim), (N, ), (M', )
    if voxel_coors[0, 0] < 0:  # the (-1, ..., -1) row of dropped points
        voxel_coors, counts, p2v = voxel_coors[1:], counts[1:], p2v - 1
    M = voxel_coors.size(0)
    valid = p2v >= 0  # (N, )
    vmap = p2v[valid]  # (N_valid, )
    vfeats = feats[valid]  # (N_valid, C)
    if reduce_type == 'max':
        pidx = torch.arange(N, device=feats.device)[valid]  # (N_valid, )
        rows = vmap[:, None].expand(-1, C)  # (N_valid, C)
        detached = vfeats.detach()
        vmax = detached.new_full(
            (M, C), float('-inf')).scatter_reduce(0, rows, detached,
                                                  'amax')  # (M, C)
        holder = torch.where(detached == vmax[vmap], pidx[:, None], N)
        reduce_from = torch.full(
            (M, C), N, dtype=torch.long,
            device=feats.device).scatter_reduce(0, rows, holder,
                                                'amin')  # (M, C)
        # NaN-only channels have no holder: take the voxel's first point.
        first = torch.full(
            (M, ), N, dtype=torch.long,
            device=feats.device).scatter_reduce(0, vmap, pidx, 'amin')  # (M, )
        reduce_from = torch.where(reduce_from == N, first[:, None],
                                  reduce_from)
        voxel_feats = feats.gather(0, reduce_from)  # (M, C)
    else:
        voxel_feats = feats.new_zeros((M, C)).index_add(0, vmap,
                                                        vfeats)  # (M, C)
        if reduce_type == 'mean':
            voxel_feats = voxel_feats / counts[:, None].to(feats.dtype)
    return (voxel_feats, voxel_coors, p2v.to(torch.int32),
            counts.to(torch.int32))


def dynamic_scatter_torch(feats: Tensor,
                          coors: Tensor,
                          reduce_type: str = 'max') -> Tuple[Tensor, Tensor]:
    """Reduce point features into voxels (mmcv ``dynamic_scatter`` drop-in).

    Args:
        feats (Tensor): (N, C) point features.
        coors (Tensor): (N, ndim) integer voxel coordinates of each point;
            points with a negative coordinate are dropped.
        reduce_type (str): ``'max'``, ``'sum'`` or ``'mean'``.

    Returns:
        tuple[Tensor, Tensor]: ``voxel_feats`` (M, C) and ``voxel_coors``
        (M, ndim), voxels sorted lexicographically by coordinates.
    """
    voxel_feats, voxel_coors, _, _ = dynamic_scatter_with_map_torch(
        feats, coors, reduce_type)
    return voxel_feats, voxel_coors


def dynamic_scatter_3d_torch(feats: Tensor,
                             coors: Tensor,
                             reduce_type: str = 'max',
                             return_map: bool = False) -> Tuple[Tensor, ...]:
    """Drop-in for mmdet3d's ``dynamic_scatter_3d`` (can return the map).

    mmdet3d's ``Det3DDataPreprocessor`` (cylindrical / minkunet voxelization)
    and ``DynamicScatter3D`` call it to get ``point2voxel_map``.

    Args:
        feats (Tensor): (N, C) point features.
        coors (Tensor): (N, ndim) voxel coordinates of each point.
        reduce_type (str): ``'max'``, ``'sum'`` or ``'mean'``.
        return_map (bool): Also return the (N, ) int32 ``point2voxel_map``.

    Returns:
        tuple[Tensor]: ``(voxel_feats, voxel_coors)`` or ``(voxel_feats,
        voxel_coors, point2voxel_map)``.
    """
    voxel_feats, voxel_coors, p2v, _ = dynamic_scatter_with_map_torch(
        feats, coors, reduce_type)
    if return_map:
        return voxel_feats, voxel_coors, p2v
    return voxel_feats, voxel_coors


dynamic_scatter = register_dispatched_op(
    'dynamic_scatter', dynamic_scatter_torch,
    'mmcv.ops.scatter_points:_DynamicScatter.apply')
dynamic_scatter_3d = register_dispatched_op(
    'dynamic_scatter_3d', dynamic_scatter_3d_torch,
    'mmdet3d.models.data_preprocessors.voxelize:_DynamicScatter.apply')


@MODELS.register_module()
class DynamicScatter(_MMCVDynamicScatter):
    """mmcv's ``DynamicScatter`` that also runs on CPU.

    Identical to :class:`mmcv.ops.DynamicScatter` (same arguments, per-sample
    loop for ``(N, 1 + ndim)`` batched coordinates) except that the reduction
    goes through the dispatched :func:`dynamic_scatter`: mmcv's kernel for
    CUDA tensors, :func:`dynamic_scatter_torch` otherwise.

    Args:
        voxel_size (list): ``[x, y, z]`` voxel size.
        point_cloud_range (list): ``[x_min, y_min, z_min, x_max, y_max,
            z_max]``.
        average_points (bool): Mean-pool (True) or max-pool (False) points.
    """

    def forward_single(self, points: Tensor,
                       coors: Tensor) -> Tuple[Tensor, Tensor]:
        """Scatter the points of one sample into voxels.

        Args:
            points (Tensor): (N, C) point features.
            coors (Tensor): (N, ndim) voxel coordinates.

        Returns:
            tuple[Tensor, Tensor]: (M, C) voxel features, (M, ndim) coors.
        """
        reduce = 'mean' if self.average_points else 'max'
        return dynamic_scatter(points.contiguous(), coors.contiguous(), reduce)
