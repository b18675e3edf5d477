"""Sparse (submanifold / strided / transposed / inverse) convolution in torch.

mmcv 2.1.0 builds the rule book of its spconv-v1 sparse convolution
(``mmcv.ops.sparse_ops.get_indice_pairs``) and runs the gather-GEMM-scatter
(``indice_conv_forward`` / ``indice_maxpool_forward``) with CUDA kernels only,
so mmcv's ``SubMConv3d``, ``SparseConv3d``, ``SparseInverseConv3d``,
``SparseConvTranspose3d`` and ``SparseMaxPool3d`` (and everything built on them
in mmdet3d, e.g. SECOND's ``SparseEncoder`` in MVX-Net) fail on CPU. This
module re-implements them with torch ops, following the semantics of mmcv's
sources (``csrc/common/utils/spconv/spconv/geometry.h``,
``csrc/pytorch/cuda/spconv_ops_cuda.cu``,
``csrc/pytorch/cpu/sparse_maxpool.cpp``):

* ``indices`` is (N, 1 + ndim) int32 ``(batch, z, y, x)``; ``filters`` is
  ``(*ksize, C_in, C_out)``; kernel offset ``k`` is the row-major index into
  ``ksize`` (last axis fastest), and output site ``o`` takes input site ``p``
  through offset ``k`` iff ``o * stride - padding + k * dilation == p``
  (cross-correlation, like ``torch.nn.functional.conv3d``); for a transposed
  convolution ``o == p * stride - padding + k * dilation``.
* ``indice_pairs`` is (K, 2, N) int32, row 0 = input row, row 1 = output row,
  the first ``indice_pair_num[k]`` columns of offset ``k`` are used and the
  rest hold -1; here the used columns are in increasing input row order (the
  CUDA kernel fills them in atomic, i.e. arbitrary, order).
* submanifold: stride 1 and padding ``ksize // 2`` whatever was passed (as
  mmcv's launcher does), output sites = input sites, ``outids is indices``.
* regular / transposed: output sites are all reached in-range positions,
  **sorted by linear index** ``(batch, z, y, x)`` as mmcv's CUDA path sorts
  them (``torch::_unique``); only ``.dense()`` is used downstream in mmdet3d.
* sparse max-pooling starts from **zeros** (output = ``max(0, inputs)``) and
  sends the gradient to every input equal to the maximum, as mmcv does.

Only linearised int64 keys, ``torch.unique`` and ``torch.searchsorted`` are
used: memory is O(K * N), never O(grid volume) (KITTI's grid is
41 x 1600 x 1408). The convolution is differentiable through autograd
(``index_select`` / ``mm`` / ``index_add``) for features and filters.

Each op is a :class:`~mmrgbd.ops.dispatch.DispatchedOp` named after the mmcv
binding it replaces (``get_indice_pairs`` and ``fused_indice_conv`` of
:mod:`mmcv.ops.sparse_ops`; ``indice_conv``, ``indice_subm_conv``,
``indice_inverse_conv`` and ``indice_maxpool`` of
:mod:`mmcv.ops.sparse_functional`): mmcv's kernel for CUDA tensors, the torch
version otherwise. :func:`mmrgbd.ops.enable_cpu_point_ops` installs them.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmcv.ops import sparse_ops as _mmcv_sparse_ops
from torch import Tensor
from torch.autograd import Function

from .dispatch import DispatchedOp, register_dispatched_op

IntOrSeq = Union[int, Sequence[int]]


def _mmcv_original(name: str):
    """mmcv's own ``sparse_ops.<name>`` (its CUDA path), even if patched."""
    fn = getattr(_mmcv_sparse_ops, name)
    return fn.cuda_impl if isinstance(fn, DispatchedOp) else fn


def _as_list(value: IntOrSeq, ndim: int, what: str) -> List[int]:
    if isinstance(value, (list, tuple)):
        if len(value) != ndim:
            raise ValueError(f'get_indice_pairs: {what} {list(value)} must '
                             f'have {ndim} entries')
        return [int(v) for v in value]
    return [int(value)] * ndim


def kernel_offsets(ksize: Sequence[int],
                   device: Optional[torch.device] = None) -> Tensor:
    """All kernel offsets in mmcv's order (row-major, last axis fastest).

    Args:
        ksize (Sequence[int]): Kernel size per spatial axis.
        device (torch.device, optional): Device of the result.

    Returns:
        Tensor: (K, ndim) int64 offsets, ``K = prod(ksize)``; row ``k`` is
        the position of ``filters.view(K, C_in, C_out)[k]`` in the kernel.
    """
    axes = [torch.arange(k, device=device) for k in ksize]
    grids = torch.meshgrid(*axes, indexing='ij')  # ndim x ksize
    return torch.stack([g.reshape(-1) for g in grids], dim=1)  # (K, ndim)


def _linearize(batch: Tensor, coords: Tensor, shape: Sequence[int]) -> Tensor:
    """Row-major int64 key of ``(batch, *coords)`` in ``(B, *shape)``."""
    key = batch.long()
    for axis, size in enumerate(shape):
        key = key * size + coords[..., axis]
    return key


def _delinearize(key: Tensor, shape: Sequence[int]) -> Tensor:
    """Inverse of :func:`_linearize`: (M, ) keys -> (M, 1 + ndim)."""
    cols = []
    for size in reversed(shape):
        cols.append(key % size)
        key = key // size
    cols.append(key)
    return torch.stack(cols[::-1], dim=1)  # (M, 1 + ndim)


def get_indice_pairs_torch(indices: Tensor,
                           batch_size: int,
                           spatial_shape: Sequence[int],
                           ksize: IntOrSeq = 3,
                           stride: IntOrSeq = 1,
                           padding: IntOrSeq = 0,
                           dilation: IntOrSeq = 1,
                           out_padding: IntOrSeq = 0,
                           subm: bool = False,
                           transpose: bool = False,
                           grid: Optional[Tensor] = None) -> List[Tensor]:
    """Rule book of a sparse convolution (mmcv's ``get_indice_pairs``).

    Same arguments and results as :func:`mmcv.ops.sparse_ops.get_indice_pairs`
    (``grid``, a CUDA scratch buffer, is ignored).

    Args:
        indices (Tensor): (N, 1 + ndim) integer ``(batch, *coords)`` of the
            active input sites (unique).
        batch_size (int): Number of samples.
        spatial_shape (Sequence[int]): Input grid size per axis.
        ksize, stride, padding, dilation, out_padding (int | Sequence[int]):
            Convolution geometry (``out_padding`` only for ``transpose``).
        subm (bool): Submanifold convolution (outputs at the input sites;
            stride 1 and padding ``ksize // 2`` are used, as in mmcv).
        transpose (bool): Transposed convolution.
        grid (Tensor, optional): Ignored.

    Returns:
        list[Tensor]: ``outids`` (M, 1 + ndim) int32 output sites (``indices``
        itself for ``subm``, else sorted by linear index), ``indice_pairs``
        (K, 2, N) int32 (input row, output row; -1 padded) and
        ``indice_pair_num`` (K, ) int32.
    """
    if indices.dim() != 2 or indices.size(1) < 2:
        raise ValueError('get_indice_pairs expects indices (N, 1 + ndim), '
                         f'got {tuple(indices.shape)}')
    ndim = indices.size(1) - 1
    if len(spatial_shape) != ndim:
        raise ValueError(f'get_indice_pairs: spatial_shape {spatial_shape} '
                         f'does not match indices with {ndim} coordinates')
    ksize = _as_list(ksize, ndim, 'ksize')
    stride = _as_list(stride, ndim, 'stride')
    padding = _as_list(padding, ndim, 'padding')
    dilation = _as_list(dilation, ndim, 'dilation')
    out_padding = _as_list(out_padding, ndim, 'out_padding')
    in_shape = [int(s) for s in spatial_shape]
    if subm:
        out_shape = in_shape
        stride, padding = [1] * ndim, [k // 2 for k in ksize]
    elif transpose:
        out_shape = _mmcv_sparse_ops.get_deconv_output_size(
            in_shape, ksize, stride, padding, dilation, out_padding)
    else:
        out_shape = _mmcv_sparse_ops.get_conv_output_size(
            in_shape, ksize, stride, padding, dilation)
    device = indices.device
    N, K = indices.size(0), 1
    for k in ksize:
        K *= k
    idx = indices.long()  # (N, 1 + ndim)
    batch, coords = idx[:, 0], idx[:, 1:]  # (N, ), (N, ndim)
    offs = kernel_offsets(ksize, device)  # (K, ndim)
    as_t = dict(device=device, dtype=torch.long)
    stride_t = torch.tensor(stride, **as_t)  # (ndim, )
    pad_t = torch.tensor(padding, **as_t)
    dil_t = torch.tensor(dilation, **as_t)
    shape_t = torch.tensor(out_shape, **as_t)
    kd = offs * dil_t  # (K, ndim)
    if transpose and not subm:
        out_pos = (coords * stride_t - pad_t)[None] + kd[:, None]  # (K,N,nd)
        valid = torch.ones(K, N, dtype=torch.bool, device=device)
    else:
        num = (coords + pad_t)[None] - kd[:, None]  # (K, N, ndim)
        valid = (num % stride_t == 0).all(-1)  # (K, N)
        out_pos = torch.div(num, stride_t, rounding_mode='floor')  # (K,N,nd)
    valid &= ((out_pos >= 0) & (out_pos < shape_t)).all(-1)  # (K, N)
    out_pos = out_pos.clamp(min=0)  # keys of invalid entries are masked
    keys = _linearize(batch[None].expand(K, N), out_pos, out_shape)  # (K, N)
    if subm:
        in_keys = _linearize(batch, coords, in_shape)  # (N, )
        sorted_keys, order = in_keys.sort()  # (N, ), (N, )
        if N > 0:
            pos = torch.searchsorted(sorted_keys, keys).clamp(max=N - 1)
            valid &= sorted_keys[pos] == keys  # (K, N) output site active
        kk, jj = valid.nonzero(as_tuple=True)  # (P, ) x 2, (k, j) order
        rows_out = order[pos[kk, jj]] if N > 0 else jj  # (P, )
        outids = indices
    else:
        kk, jj = valid.nonzero(as_tuple=True)  # (P, ) x 2, (k, j) order
        uniq, rows_out = torch.unique(
            keys[kk, jj], sorted=True, return_inverse=True)  # (M, ), (P, )
        outids = _delinearize(uniq, out_shape).to(torch.int32)  # (M, 1+nd)
    pair_num = valid.sum(1)  # (K, )
    start = pair_num.cumsum(0) - pair_num  # (K, ) first pair of offset k
    slot = torch.arange(kk.numel(), device=device) - start[kk]  # (P, )
    pairs = torch.full((K, 2, N), -1, dtype=torch.int32, device=device)
    pairs[kk, 0, slot] = jj.to(torch.int32)
    pairs[kk, 1, slot] = rows_out.to(torch.int32)
    return [outids, pairs, pair_num.to(torch.int32)]


def _pair_rows(indice_pairs: Tensor,
               indice_pair_num: Tensor) -> Tuple[Tensor, Tensor, List[int]]:
    """Used columns of a rule book, offset-major.

    Returns:
        tuple: (P, ) int64 input rows, (P, ) int64 output rows and the list
        of pair counts per offset (summing to P).
    """
    if indice_pairs.dim() != 3 or indice_pairs.size(1) != 2:
        raise ValueError('indice_pairs must be (K, 2, N), got '
                         f'{tuple(indice_pairs.shape)}')
    K, _, N = indice_pairs.shape
    counts = indice_pair_num.to(device=indice_pairs.device,
                                dtype=torch.long).reshape(-1)  # (K, )
    if counts.numel() != K:
        raise ValueError(f'indice_pair_num has {counts.numel()} entries for '
                         f'{K} kernel offsets')
    used = torch.arange(N, device=indice_pairs.device) < counts[:, None]
    kk, jj = used.nonzero(as_tuple=True)  # (P, ) x 2, offset-major
    src = indice_pairs[kk, 0, jj].long()  # (P, )
    dst = indice_pairs[kk, 1, jj].long()  # (P, )
    return src, dst, counts.tolist()


def indice_conv_torch(features: Tensor,
                      filters: Tensor,
                      indice_pairs: Tensor,
                      indice_pair_num: Tensor,
                      num_activate_out: int,
                      inverse: bool = False,
                      subm: bool = False) -> Tensor:
    """Gather-GEMM-scatter sparse convolution (mmcv's ``indice_conv``).

    For every kernel offset ``k``, the features of its input rows are
    multiplied by ``filters[k]`` (C_in, C_out) and added into its output rows.
    Differentiable (features and filters) through autograd. The positional
    signature also fits ``mmcv.ops.sparse_functional.indice_conv`` /
    ``indice_subm_conv`` / ``indice_inverse_conv``.

    Args:
        features (Tensor): (N_in, C_in) input features.
        filters (Tensor): (*ksize, C_in, C_out) weights.
        indice_pairs (Tensor): (K, 2, N) rule book of
            :func:`get_indice_pairs_torch`.
        indice_pair_num (Tensor): (K, ) used pairs per offset.
        num_activate_out (int): Number of output sites.
        inverse (bool): Inverse convolution: gather from the output rows of
            the rule book and scatter to its input rows.
        subm (bool): Submanifold convolution (no change to the arithmetic).

    Returns:
        Tensor: (num_activate_out, C_out) output features.
    """
    if features.dim() != 2:
        raise ValueError('indice_conv expects features (N, C_in), got '
                         f'{tuple(features.shape)}')
    K = indice_pairs.size(0)
    c_in, c_out = filters.shape[-2:]
    if c_in != features.size(1) or filters.numel() != K * c_in * c_out:
        raise ValueError(f'indice_conv: filters {tuple(filters.shape)} do '
                         f'not fit {K} kernel offsets and features '
                         f'{tuple(features.shape)}')
    weights = filters.reshape(K, c_in, c_out)  # (K, C_in, C_out)
    src, dst, counts = _pair_rows(indice_pairs, indice_pair_num)  # (P, ) x 2
    if inverse:
        src, dst = dst, src
    out = features.new_zeros(int(num_activate_out), c_out)  # (M, C_out)
    if src.numel() == 0:
        return out + 0 * weights.sum()  # keep the graph to the filters
    gathered = features.index_select(0, src).split(counts)  # K x (n_k, C_in)
    products = [x @ weights[k] for k, x in enumerate(gathered)
                if x.size(0) > 0]  # K' x (n_k, C_out)
    # one out-of-place scatter: many small in-place index_add_ calls are very
    # slow with several OpenMP threads on a busy CPU
    return out.index_add(0, dst, torch.cat(products))  # (M, C_out)


def indice_subm_conv_torch(features: Tensor, filters: Tensor,
                           indice_pairs: Tensor, indice_pair_num: Tensor,
                           num_activate_out: int) -> Tensor:
    """Submanifold sparse convolution (``sparse_functional.indice_subm_conv``).

    Args:
        features (Tensor): (N, C_in) input features.
        filters (Tensor): (*ksize, C_in, C_out) weights.
        indice_pairs (Tensor): (K, 2, N) rule book.
        indice_pair_num (Tensor): (K, ) used pairs per offset.
        num_activate_out (int): Number of output sites (N).

    Returns:
        Tensor: (num_activate_out, C_out) output features.
    """
    return indice_conv_torch(features, filters, indice_pairs, indice_pair_num,
                             num_activate_out, False, True)


def indice_inverse_conv_torch(features: Tensor, filters: Tensor,
                              indice_pairs: Tensor, indice_pair_num: Tensor,
                              num_activate_out: int) -> Tensor:
    """Inverse sparse convolution (``sparse_functional.indice_inverse_conv``).

    Uses the rule book of the paired strided convolution backwards: from its
    output sites to its input sites.

    Args:
        features (Tensor): (M, C_in) features at the paired conv's outputs.
        filters (Tensor): (*ksize, C_in, C_out) weights.
        indice_pairs (Tensor): (K, 2, N) rule book of the paired conv.
        indice_pair_num (Tensor): (K, ) used pairs per offset.
        num_activate_out (int): Number of sites of the paired conv's input.

    Returns:
        Tensor: (num_activate_out, C_out) output features.
    """
    return indice_conv_torch(features, filters, indice_pairs, indice_pair_num,
                             num_activate_out, True, False)


def fused_indice_conv_torch(features: Tensor, filters: Tensor, bias: Tensor,
                            indice_pairs: Tensor, indice_pair_num: Tensor,
                            num_activate_out: int, inverse: bool,
                            subm: bool) -> Tensor:
    """Sparse convolution plus bias (mmcv's ``fused_indice_conv``).

    Args:
        features (Tensor): (N_in, C_in) input features.
        filters (Tensor): (*ksize, C_in, C_out) weights.
        bias (Tensor): (C_out, ) bias.
        indice_pairs (Tensor): (K, 2, N) rule book.
        indice_pair_num (Tensor): (K, ) used pairs per offset.
        num_activate_out (int): Number of output sites.
        inverse (bool): Inverse convolution.
        subm (bool): Submanifold convolution.

    Returns:
        Tensor: (num_activate_out, C_out) output features.
    """
    return indice_conv_torch(features, filters, indice_pairs, indice_pair_num,
                             num_activate_out, inverse, subm) + bias


class _IndiceMaxPool(Function):
    """Sparse max-pooling with mmcv's zero start and tie gradients."""

    @staticmethod
    def forward(ctx, features: Tensor, indice_pairs: Tensor,
                indice_pair_num: Tensor, num_activate_out: int) -> Tensor:
        src, dst, _ = _pair_rows(indice_pairs, indice_pair_num)  # (P, ) x 2
        C = features.size(1)
        vals = features.index_select(0, src)  # (P, C)
        out = features.new_zeros(int(num_activate_out), C).scatter_reduce(
            0, dst[:, None].expand(-1, C), vals, 'amax')  # (M, C)
        ctx.save_for_backward(src, dst, vals == out[dst])  # hit: (P, C)
        ctx.num_in = features.size(0)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        src, dst, hit = ctx.saved_tensors
        grad_pairs = grad_out[dst] * hit  # (P, C)
        grad_in = grad_out.new_zeros(ctx.num_in, grad_out.size(1)).index_add(
            0, src, grad_pairs)  # (N_in, C)
        return grad_in, None, None, None


def indice_maxpool_torch(features: Tensor, indice_pairs: Tensor,
                         indice_pair_num: Tensor,
                         num_activate_out: int) -> Tensor:
    """Sparse max-pooling (``sparse_functional.indice_maxpool``).

    As in mmcv, every output starts at 0, so it is ``max(0, max of its
    inputs)``, and the gradient goes to every input equal to the output.

    Args:
        features (Tensor): (N_in, C) input features.
        indice_pairs (Tensor): (K, 2, N) rule book.
        indice_pair_num (Tensor): (K, ) used pairs per offset.
        num_activate_out (int): Number of output sites.

    Returns:
        Tensor: (num_activate_out, C) pooled features.
    """
    if features.dim() != 2:
        raise ValueError('indice_maxpool expects features (N, C), got '
                         f'{tuple(features.shape)}')
    return _IndiceMaxPool.apply(features, indice_pairs, indice_pair_num,
                                int(num_activate_out))


_FUNCTIONAL = 'mmcv.ops.sparse_functional:'

get_indice_pairs = register_dispatched_op(
    'get_indice_pairs', get_indice_pairs_torch,
    _mmcv_original('get_indice_pairs'))
fused_indice_conv = register_dispatched_op(
    'fused_indice_conv', fused_indice_conv_torch,
    _mmcv_original('fused_indice_conv'))
indice_conv = register_dispatched_op(
    'indice_conv', indice_conv_torch, _FUNCTIONAL + 'SparseConvFunction.apply')
indice_subm_conv = register_dispatched_op(
    'indice_subm_conv', indice_subm_conv_torch,
    _FUNCTIONAL + 'SubMConvFunction.apply')
indice_inverse_conv = register_dispatched_op(
    'indice_inverse_conv', indice_inverse_conv_torch,
    _FUNCTIONAL + 'SparseInverseConvFunction.apply')
indice_maxpool = register_dispatched_op(
    'indice_maxpool', indice_maxpool_torch,
    _FUNCTIONAL + 'SparseMaxPoolFunction.apply')
