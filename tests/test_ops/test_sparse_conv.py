"""Pure-torch sparse convolution behind unmodified mmcv sparse modules.

mmcv's ``SubMConv3d`` / ``SparseConv3d`` / ``SparseInverseConv3d`` /
``SparseConvTranspose3d`` / ``SparseMaxPool3d`` run on CPU after
``enable_cpu_point_ops()`` and are checked against dense
``torch.nn.functional`` references (values and gradients, float64), and the
rule book against a brute-force loop over the output grid.
"""
import itertools

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('mmdet3d')

from mmcv.ops import (SparseConv3d, SparseConvTensor,  # noqa: E402
                      SparseConvTranspose3d, SparseInverseConv3d,
                      SparseMaxPool3d, SubMConv3d, sparse_functional,
                      sparse_ops, sparse_pool)

from mmrgbd.ops import (DISPATCHED_OPS, DispatchedOp,  # noqa: E402
                        cpu_point_ops, disable_cpu_point_ops,
                        enable_cpu_point_ops, fused_indice_conv_torch,
                        get_indice_pairs_torch, indice_conv_torch,
                        is_cpu_point_ops_enabled)

SHAPE = (5, 6, 7)  # (D, H, W) tiny grid


@pytest.fixture
def unpatched():
    """Run a test with mmcv's originals, then restore the previous state."""
    was_enabled = is_cpu_point_ops_enabled()
    disable_cpu_point_ops()
    yield
    if was_enabled:
        enable_cpu_point_ops()


def _sparse_input(batch=2, shape=SHAPE, channels=3, density=0.2, seed=0):
    """Random active sites (batch, z, y, x) int32 and float64 features."""
    g = torch.Generator().manual_seed(seed)
    occ = torch.rand(batch, *shape, generator=g) < density
    indices = occ.nonzero().int()  # (N, 4) sorted
    perm = torch.randperm(len(indices), generator=g)  # order must not matter
    indices = indices[perm]
    feats = torch.randn(len(indices), channels, generator=g,
                        dtype=torch.float64)
    return indices, feats, occ


def _to_dense(feats, indices, batch, shape):
    """Differentiable scatter of (N, C) features into (B, C, D, H, W)."""
    dense = feats.new_zeros(batch, *shape, feats.size(1))
    i = indices.long()
    dense = dense.index_put((i[:, 0], i[:, 1], i[:, 2], i[:, 3]), feats)
    return dense.permute(0, 4, 1, 2, 3)  # (B, C, D, H, W)


def _at_sites(dense, indices):
    """(B, C, D, H, W) values at (N, 4) sites -> (N, C)."""
    i = indices.long()
    return dense.permute(0, 2, 3, 4, 1)[i[:, 0], i[:, 1], i[:, 2], i[:, 3]]


def _leaf(t):
    return t.detach().clone().requires_grad_(True)


def test_patch_installs_sparse_dispatchers(unpatched):
    indices, feats, _ = _sparse_input()
    conv = SubMConv3d(3, 4, 3).double()
    x = SparseConvTensor(feats, indices, list(SHAPE), 2)
    with pytest.raises(RuntimeError, match='not implemented on CPU'):
        conv(x)
    originals = (sparse_ops.get_indice_pairs, sparse_ops.indice_conv,
                 sparse_functional.indice_subm_conv)
    with cpu_point_ops() as patched:
        for name in [
                'mmcv.ops.sparse_ops.get_indice_pairs',
                'mmcv.ops.sparse_ops.fused_indice_conv',
                'mmcv.ops.sparse_functional.indice_conv',
                'mmcv.ops.sparse_functional.indice_subm_conv',
                'mmcv.ops.sparse_functional.indice_inverse_conv',
                'mmcv.ops.sparse_functional.indice_maxpool',
                'mmcv.ops.sparse_pool.get_indice_pairs',
                'mmcv.ops.sparse_pool.indice_maxpool',
        ]:
            assert name in patched
        assert isinstance(sparse_ops.get_indice_pairs, DispatchedOp)
        assert sparse_pool.get_indice_pairs is sparse_ops.get_indice_pairs
        # the low-level kernel wrapper of mmcv's Functions is left alone
        assert sparse_ops.indice_conv is originals[1]
        out = conv(x)
        assert out.features.shape == (len(indices), 4)
    assert sparse_ops.get_indice_pairs is originals[0]
    assert sparse_functional.indice_subm_conv is originals[2]


def test_cuda_side_of_the_dispatchers_is_mmcv():
    # resolved without a GPU: the CUDA path must be mmcv's own code, never a
    # dispatcher (which would recurse)
    with cpu_point_ops():
        ops = DISPATCHED_OPS
        get_pairs = ops['get_indice_pairs'].cuda_impl
        assert not isinstance(get_pairs, DispatchedOp)
        assert get_pairs.__module__ == 'mmcv.ops.sparse_ops'
        assert ops['fused_indice_conv'].cuda_impl.__module__ == \
            'mmcv.ops.sparse_ops'
        for name, cls in [('indice_conv', 'SparseConvFunction'),
                          ('indice_subm_conv', 'SubMConvFunction'),
                          ('indice_inverse_conv', 'SparseInverseConvFunction'),
                          ('indice_maxpool', 'SparseMaxPoolFunction')]:
            impl = ops[name].cuda_impl
            assert impl.__self__ is getattr(sparse_functional, cls), name


def _brute_force_pairs(indices, shape, ksize, stride, padding, dilation,
                       subm, transpose):
    """{(k, input row, output site)} by looping over the whole output grid."""
    if subm:
        out_shape = list(shape)
        stride, padding = [1, 1, 1], [k // 2 for k in ksize]
    elif transpose:
        out_shape = [(shape[a] - 1) * stride[a] - 2 * padding[a] + ksize[a]
                     for a in range(3)]
    else:
        out_shape = [(shape[a] + 2 * padding[a] - dilation[a] *
                      (ksize[a] - 1) - 1) // stride[a] + 1 for a in range(3)]
    active = {tuple(r): j for j, r in enumerate(indices.tolist())}
    pairs = set()
    batches = sorted({r[0] for r in active})
    offsets = list(itertools.product(*[range(k) for k in ksize]))
    for b in batches:
        for o in itertools.product(*[range(s) for s in out_shape]):
            if subm and (b, *o) not in active:
                continue
            for k, off in enumerate(offsets):
                if transpose:  # o = p * stride - padding + k * dilation
                    num = [o[a] + padding[a] - off[a] * dilation[a]
                           for a in range(3)]
                    if any(n % s for n, s in zip(num, stride)):
                        continue
                    p = tuple(n // s for n, s in zip(num, stride))
                else:  # p = o * stride - padding + k * dilation
                    p = tuple(o[a] * stride[a] - padding[a] +
                              off[a] * dilation[a] for a in range(3))
                j = active.get((b, *p))
                if j is not None:
                    pairs.add((k, j, (b, *o)))
    return pairs, out_shape


@pytest.mark.parametrize(
    'ksize,stride,padding,dilation,subm,transpose',
    [
        ((3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), True, False),
        ((3, 1, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), True, False),
        ((3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), False, False),
        ((3, 1, 1), (2, 1, 1), (0, 0, 0), (1, 1, 1), False, False),
        ((2, 3, 2), (2, 1, 2), (0, 1, 0), (1, 1, 1), False, False),
        ((3, 3, 3), (1, 1, 1), (2, 1, 0), (2, 1, 1), False, False),
        ((3, 2, 3), (2, 2, 1), (1, 0, 1), (1, 1, 1), False, True),
    ])
def test_indice_pairs_match_brute_force(ksize, stride, padding, dilation,
                                        subm, transpose):
    indices, _, _ = _sparse_input(density=0.15, seed=1)
    expect, out_shape = _brute_force_pairs(indices, SHAPE, ksize, stride,
                                           padding, dilation, subm, transpose)
    outids, pairs, num = get_indice_pairs_torch(indices, 2, list(SHAPE),
                                                list(ksize), list(stride),
                                                list(padding), list(dilation),
                                                0, subm, transpose)
    K, N = ksize[0] * ksize[1] * ksize[2], len(indices)
    assert pairs.shape == (K, 2, N) and pairs.dtype == torch.int32
    assert num.shape == (K, ) and num.dtype == torch.int32
    got = set()
    for k in range(K):
        n = int(num[k])
        assert (pairs[k, :, n:] == -1).all()  # -1 padding
        rows = pairs[k, 0, :n]
        assert (rows[1:] > rows[:-1]).all()  # increasing input rows
        for j, o in pairs[k, :, :n].t().tolist():
            got.add((k, j, tuple(outids[o].tolist())))
    assert got == expect
    counts = [sum(1 for e in expect if e[0] == k) for k in range(K)]
    assert num.tolist() == counts
    if subm:
        assert outids is indices
    else:  # every reached site once, sorted by (batch, z, y, x)
        assert outids.dtype == torch.int32
        reached = sorted({e[2] for e in expect})
        assert outids.tolist() == [list(r) for r in reached]
        assert (outids[:, 1:] < torch.tensor(out_shape, dtype=torch.int32)
                ).all()


def test_subm_conv3d_matches_dense_conv3d():
    indices, feats, _ = _sparse_input(channels=3)
    torch.manual_seed(0)
    conv = SubMConv3d(3, 4, 3, bias=True).double()
    grad = torch.randn(len(indices), 4, dtype=torch.float64)
    f = _leaf(feats)
    with cpu_point_ops():
        out = conv(SparseConvTensor(f, indices, list(SHAPE), 2))
    assert out.indices is indices and out.spatial_shape == list(SHAPE)
    (out.features * grad).sum().backward()

    f_ref, w_ref, b_ref = _leaf(feats), _leaf(conv.weight), _leaf(conv.bias)
    ref = F.conv3d(_to_dense(f_ref, indices, 2, SHAPE),
                   w_ref.permute(4, 3, 0, 1, 2), b_ref,
                   padding=1)  # (B, 4, D, H, W)
    ref = _at_sites(ref, indices)  # (N, 4) submanifold: active sites only
    (ref * grad).sum().backward()
    torch.testing.assert_close(out.features, ref)
    torch.testing.assert_close(f.grad, f_ref.grad)
    torch.testing.assert_close(conv.weight.grad, w_ref.grad)
    torch.testing.assert_close(conv.bias.grad, b_ref.grad)
    assert f.grad.abs().sum() > 0
    # mmcv's fused_bn path: the same convolution plus bias in one op
    _, pairs, num = get_indice_pairs_torch(indices, 2, list(SHAPE), 3,
                                           subm=True)
    fused = fused_indice_conv_torch(feats, conv.weight, conv.bias, pairs, num,
                                    len(indices), False, True)
    torch.testing.assert_close(fused, ref)


@pytest.mark.parametrize('ksize,stride,padding,dilation', [
    (3, 2, 1, 1),
    ((3, 1, 1), (2, 1, 1), 0, 1),
    (2, 2, 0, 1),
    (3, 1, 2, 2),
])
def test_sparse_conv3d_matches_dense_conv3d(ksize, stride, padding,
                                            dilation):
    indices, feats, occ = _sparse_input(channels=2)
    torch.manual_seed(0)
    conv = SparseConv3d(2, 3, ksize, stride, padding, dilation).double()
    f = _leaf(feats)
    with cpu_point_ops():
        out = conv(SparseConvTensor(f, indices, list(SHAPE), 2))
    dense_out = out.dense()  # (B, 3, D', H', W')

    f_ref, w_ref, b_ref = _leaf(feats), _leaf(conv.weight), _leaf(conv.bias)
    ref = F.conv3d(_to_dense(f_ref, indices, 2, SHAPE),
                   w_ref.permute(4, 3, 0, 1, 2), b_ref, stride, padding,
                   dilation)  # (B, 3, D', H', W')
    kernel = torch.ones(1, 1, *conv.kernel_size, dtype=torch.float64)
    reached = F.conv3d(occ[:, None].double(), kernel, None, stride, padding,
                       dilation) > 0  # (B, 1, D', H', W') output sites
    assert dense_out.shape == ref.shape
    assert len(out.indices) == reached.sum()
    ref = ref * reached  # the bias is added at active output sites only
    torch.testing.assert_close(dense_out, ref)
    grad = torch.randn(ref.shape, dtype=torch.float64)
    (dense_out * grad).sum().backward()
    (ref * grad).sum().backward()
    torch.testing.assert_close(f.grad, f_ref.grad)
    torch.testing.assert_close(conv.weight.grad, w_ref.grad)
    torch.testing.assert_close(conv.bias.grad, b_ref.grad)


def test_inverse_and_transposed_conv3d_match_conv_transpose3d():
    indices, feats, _ = _sparse_input(channels=2)
    torch.manual_seed(0)
    down = SparseConv3d(2, 3, 3, 2, 1, indice_key='d1').double()
    inv = SparseInverseConv3d(3, 2, 3, indice_key='d1').double()
    up = SparseConvTranspose3d(3, 2, 3, 2, 1).double()
    f = _leaf(feats)
    with cpu_point_ops():
        x = SparseConvTensor(f, indices, list(SHAPE), 2)
        low = down(x)
        back = inv(low)  # onto the input sites of `down`
        t_low = _leaf(low.features)
        upsampled = up(SparseConvTensor(t_low, low.indices, low.spatial_shape,
                                        2))
    assert torch.equal(back.indices, indices)
    assert back.spatial_shape == list(SHAPE)

    low_dense = low.dense().detach()  # (B, 3, 3, 3, 4)
    out_pad = [s - ((o - 1) * 2 - 2 + 3)
               for s, o in zip(SHAPE, low.spatial_shape)]
    ref = F.conv_transpose3d(low_dense, inv.weight.permute(3, 4, 0, 1, 2),
                             inv.bias, 2, 1, out_pad)  # (B, 2, D, H, W)
    torch.testing.assert_close(back.features, _at_sites(ref, indices))

    t_ref = _leaf(t_low)
    w_ref = _leaf(up.weight)
    ref_up = F.conv_transpose3d(_to_dense(t_ref, low.indices, 2,
                                          low.spatial_shape),
                                w_ref.permute(3, 4, 0, 1, 2), up.bias, 2, 1)
    low_occ = _to_dense(torch.ones(len(low.indices), 1, dtype=torch.float64),
                        low.indices, 2, low.spatial_shape)
    reached = F.conv_transpose3d(low_occ, torch.ones(1, 1, 3, 3, 3,
                                                     dtype=torch.float64),
                                 None, 2, 1) > 0
    assert upsampled.spatial_shape == list(ref_up.shape[2:])
    assert len(upsampled.indices) == reached.sum()
    torch.testing.assert_close(upsampled.dense(), ref_up * reached)
    grad = torch.randn(ref_up.shape, dtype=torch.float64)
    (upsampled.dense() * grad).sum().backward()
    (ref_up * reached * grad).sum().backward()
    torch.testing.assert_close(t_low.grad, t_ref.grad)
    torch.testing.assert_close(up.weight.grad, w_ref.grad)


def test_sparse_maxpool3d_zero_start_and_gradient():
    indices, feats, occ = _sparse_input(channels=3)
    f = _leaf(feats)
    with cpu_point_ops():
        out = SparseMaxPool3d(3, 2, 1)(SparseConvTensor(f, indices,
                                                        list(SHAPE), 2))
    # mmcv's kernel starts every output at 0: max(0, max of active inputs)
    f_ref = _leaf(feats)
    dense = _to_dense(f_ref, indices, 2, SHAPE)
    dense = dense.masked_fill(~occ[:, None], float('-inf'))
    ref = F.max_pool3d(dense, 3, 2, 1).clamp(min=0)  # (B, 3, 3, 3, 4)
    reached = F.max_pool3d(occ[:, None].double(), 3, 2, 1) > 0
    assert len(out.indices) == reached.sum()
    torch.testing.assert_close(out.dense(), ref * reached)
    assert (out.features == 0).any() and (out.features > 0).any()
    grad = torch.randn(ref.shape, dtype=torch.float64)
    (out.dense() * grad).sum().backward()
    (ref * reached * grad).sum().backward()
    torch.testing.assert_close(f.grad, f_ref.grad)


def test_indice_conv_rejects_bad_shapes():
    indices, feats, _ = _sparse_input()
    with pytest.raises(ValueError, match=r'indices \(N, 1 \+ ndim\)'):
        get_indice_pairs_torch(indices[:, 0], 2, list(SHAPE))
    with pytest.raises(ValueError, match='does not match indices with 3'):
        get_indice_pairs_torch(indices, 2, [5, 6])
    with pytest.raises(ValueError, match=r'ksize \[3, 3\] must have 3'):
        get_indice_pairs_torch(indices, 2, list(SHAPE), [3, 3])
    _, pairs, num = get_indice_pairs_torch(indices, 2, list(SHAPE), 3,
                                           subm=True)
    with pytest.raises(ValueError, match='do not fit 27 kernel offsets'):
        indice_conv_torch(feats, torch.zeros(3, 3, 3, 2, 4), pairs, num,
                          len(indices))


def test_second_sparse_encoder_trains_on_cpu():
    """mmdet3d's SparseEncoder (SECOND / MVX-Net) forward + backward."""
    from mmdet3d.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    shape = (41, 16, 16)
    g = torch.Generator().manual_seed(0)
    occ = torch.rand(2, *shape, generator=g) < 0.01
    coors = occ.nonzero().int()  # (N, 4)
    feats = torch.randn(len(coors), 4, generator=g)
    torch.manual_seed(0)
    enc = MODELS.build(
        dict(type='SparseEncoder', in_channels=4, sparse_shape=list(shape),
             order=('conv', 'norm', 'act')))
    f = _leaf(feats)
    with cpu_point_ops():
        bev = enc(f, coors, 2)  # (B, 128 * 2, 2, 2)
        assert bev.shape == (2, 256, 2, 2)
        bev.square().mean().backward()
        assert f.grad is not None and f.grad.abs().sum() > 0
        for name, p in enc.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        # the result does not depend on the order of the input voxels
        enc.eval()
        perm = torch.randperm(len(coors), generator=g)
        with torch.no_grad():
            a = enc(feats, coors, 2)
            b = enc(feats[perm], coors[perm], 2)
    torch.testing.assert_close(a, b)
