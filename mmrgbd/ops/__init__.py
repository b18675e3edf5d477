"""Pure-torch point operators with explicit CUDA dispatch to mmcv.

Each op (``furthest_point_sample``, ``ball_query``, ...) is a
:class:`DispatchedOp`: mmcv's kernel for CUDA tensors, the ``*_torch`` version
here otherwise. :func:`enable_cpu_point_ops` makes unmodified mmcv / mmdet3d
modules use them; importing this package patches nothing. The sparse
convolution ops (``get_indice_pairs``, ``indice_conv``, ...) of
:mod:`mmrgbd.ops.sparse_conv` go through the same switch.
"""
from .ball_query import ball_query, ball_query_torch
from .cpu_patch import (cpu_point_ops, disable_cpu_point_ops,
                        enable_cpu_point_ops, is_cpu_point_ops_enabled,
                        patched_names)
from .dispatch import DISPATCHED_OPS, DispatchedOp, any_on_cuda
from .dynamic_scatter import (DynamicScatter, dynamic_scatter,
                              dynamic_scatter_3d, dynamic_scatter_3d_torch,
                              dynamic_scatter_torch,
                              dynamic_scatter_with_map_torch)
from .furthest_point_sample import (furthest_point_sample,
                                    furthest_point_sample_torch,
                                    furthest_point_sample_with_dist,
                                    furthest_point_sample_with_dist_torch)
from .gather_points import gather_points, gather_points_torch
from .group_points import grouping_operation, grouping_operation_torch
from .knn import (knn, knn_torch, three_interpolate, three_interpolate_torch,
                  three_nn, three_nn_torch)
from .sparse_conv import (fused_indice_conv, fused_indice_conv_torch,
                          get_indice_pairs, get_indice_pairs_torch,
                          indice_conv, indice_conv_torch, indice_inverse_conv,
                          indice_inverse_conv_torch, indice_maxpool,
                          indice_maxpool_torch, indice_subm_conv,
                          indice_subm_conv_torch)

__all__ = [
    'DispatchedOp', 'DISPATCHED_OPS', 'any_on_cuda', 'enable_cpu_point_ops',
    'disable_cpu_point_ops', 'cpu_point_ops', 'is_cpu_point_ops_enabled',
    'patched_names', 'furthest_point_sample', 'furthest_point_sample_torch',
    'furthest_point_sample_with_dist', 'furthest_point_sample_with_dist_torch',
    'ball_query', 'ball_query_torch', 'grouping_operation',
    'grouping_operation_torch', 'gather_points', 'gather_points_torch', 'knn',
    'knn_torch', 'three_nn', 'three_nn_torch', 'three_interpolate',
    'three_interpolate_torch', 'dynamic_scatter', 'dynamic_scatter_torch',
    'dynamic_scatter_with_map_torch', 'dynamic_scatter_3d',
    'dynamic_scatter_3d_torch', 'DynamicScatter', 'get_indice_pairs',
    'get_indice_pairs_torch', 'indice_conv', 'indice_conv_torch',
    'indice_subm_conv', 'indice_subm_conv_torch', 'indice_inverse_conv',
    'indice_inverse_conv_torch', 'indice_maxpool', 'indice_maxpool_torch',
    'fused_indice_conv', 'fused_indice_conv_torch'
]
