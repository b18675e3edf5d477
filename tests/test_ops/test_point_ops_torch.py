"""Pure-torch point ops of mmrgbd.ops against brute-force Python loops.

The references below re-state mmcv's CUDA kernels as plain loops over points
(float32 arithmetic via numpy scalars, kernel evaluation order), so the torch
versions must give the *same* indices, not just similar ones.
"""
import importlib

import numpy as np
import pytest
import torch

from mmrgbd.ops import (DispatchedOp, DynamicScatter, any_on_cuda, ball_query,
                        ball_query_torch, dynamic_scatter,
                        dynamic_scatter_3d_torch, dynamic_scatter_torch,
                        dynamic_scatter_with_map_torch, furthest_point_sample,
                        furthest_point_sample_torch,
                        furthest_point_sample_with_dist_torch, gather_points,
                        gather_points_torch, grouping_operation_torch,
                        knn_torch, three_interpolate_torch, three_nn_torch)
from mmrgbd.ops.dispatch import resolve

# --------------------------------------------------------------- references


def sqd(a, b):
    """Kernel-order float32 squared distance of two 3-vectors."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    dx, dy, dz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    return np.float32(np.float32(dx * dx + dy * dy) + dz * dz)


def fps_ref(dist_fn, n, m):
    """FPS loop of mmcv's kernel; ``dist_fn(i, k)`` is the distance."""
    temp = [np.float32(1e10)] * n
    out = [0]
    old = 0
    for _ in range(1, m):
        best, besti = -1.0, 0
        for k in range(n):
            temp[k] = min(dist_fn(old, k), temp[k])
            if temp[k] > best:
                best, besti = temp[k], k
        old = besti
        out.append(old)
    return out


def ball_query_ref(min_r, max_r, nsample, xyz, centers):
    min_r2 = np.float32(min_r) * np.float32(min_r)
    max_r2 = np.float32(max_r) * np.float32(max_r)
    out = np.zeros((len(centers), nsample), dtype=np.int64)
    for i, c in enumerate(centers):
        cnt = 0
        for k, p in enumerate(xyz):
            d2 = sqd(c, p)
            if d2 == 0 or (min_r2 <= d2 < max_r2):
                if cnt == 0:
                    out[i, :] = k
                out[i, cnt] = k
                cnt += 1
                if cnt >= nsample:
                    break
    return out


def clustered_points(b, n, seed):
    """Points on a coarse grid plus jitter: duplicates, ties and zero
    distances occur, as in real voxel-downsampled clouds."""
    g = torch.Generator().manual_seed(seed)
    pts = torch.randint(0, 4, (b, n, 3), generator=g).float() * 0.25
    jitter = torch.rand((b, n, 3), generator=g) * 0.05
    keep = torch.rand((b, n, 1), generator=g) < 0.5
    return pts + jitter * keep  # (B, N, 3)


# ------------------------------------------------------------------ FPS


def test_dfps_matches_loop_reference():
    xyz = torch.rand(2, 60, 3, generator=torch.Generator().manual_seed(0))
    idx = furthest_point_sample_torch(xyz, 16)
    assert idx.dtype == torch.int32 and idx.shape == (2, 16)
    for b in range(2):
        p = xyz[b].numpy()
        ref = fps_ref(lambda i, k: sqd(p[i], p[k]), 60, 16)
        assert idx[b].tolist() == ref
    # the dispatched op takes the torch path on CPU
    assert torch.equal(furthest_point_sample(xyz, 16), idx)


def test_dfps_with_duplicates_and_more_samples_than_points():
    xyz = clustered_points(1, 20, seed=3)
    xyz[0, 12:] = xyz[0, :8].clone()  # exact duplicates
    idx = furthest_point_sample_torch(xyz, 25)[0].tolist()
    p = xyz[0].numpy()
    assert idx == fps_ref(lambda i, k: sqd(p[i], p[k]), 20, 25)
    assert idx[0] == 0
    assert idx[-1] == 0  # all distances 0 once every point is taken


def test_ffps_with_feature_distance_matrix():
    g = torch.Generator().manual_seed(1)
    xyz = torch.rand(2, 40, 3, generator=g)
    feats = torch.rand(2, 5, 40, generator=g)
    # the F-FPS input of mmcv/mmdet3d's FFPSSampler
    from mmcv.ops.points_sampler import calc_square_dist
    cat = torch.cat([xyz, feats.transpose(1, 2)], dim=2)  # (B, N, 3 + C)
    dist = calc_square_dist(cat, cat, norm=False)  # (B, N, N)
    idx = furthest_point_sample_with_dist_torch(dist, 12)
    for b in range(2):
        d = dist[b].numpy()
        ref = fps_ref(lambda i, k: d[i, k], 40, 12)
        assert idx[b].tolist() == ref
    # feature-space FPS differs from 3D FPS on these inputs
    assert not torch.equal(idx, furthest_point_sample_torch(xyz, 12))


# ----------------------------------------------------------- ball query


@pytest.mark.parametrize('min_r,max_r,nsample', [(0.0, 0.3, 5), (0.2, 0.45, 4),
                                                 (0.0, 0.05, 6)])
def test_ball_query_matches_loop_reference(min_r, max_r, nsample):
    xyz = clustered_points(2, 50, seed=5)
    centers = xyz[:, ::4].contiguous()  # centres are also points (d2 == 0)
    centers[:, -1] = 10.0  # a centre with no neighbour at all
    idx = ball_query_torch(min_r, max_r, nsample, xyz, centers)
    assert idx.dtype == torch.int32 and idx.shape == (2, 13, nsample)
    for b in range(2):
        ref = ball_query_ref(min_r, max_r, nsample, xyz[b].numpy(),
                             centers[b].numpy())
        assert idx[b].tolist() == ref.tolist()
    assert idx[:, -1].eq(0).all()  # no hit -> zeros, as mmcv
    assert torch.equal(ball_query(min_r, max_r, nsample, xyz, centers), idx)


def test_ball_query_min_radius_keeps_the_centre_itself():
    xyz = torch.tensor([[[0., 0, 0], [0.1, 0, 0], [0.3, 0, 0], [0.5, 0, 0]]])
    idx = ball_query_torch(0.2, 0.4, 3, xyz, xyz[:, :1].contiguous())
    # d2 == 0 is always taken; 0.1 is inside min_radius; 0.3 is in the ring
    assert idx[0, 0].tolist() == [0, 2, 0]


def test_ball_query_chunking_is_invisible(monkeypatch):
    # the package attribute ``ball_query`` is the op, not the submodule
    bq = importlib.import_module('mmrgbd.ops.ball_query')
    xyz = clustered_points(2, 64, seed=7)
    centers = xyz[:, :33].contiguous()
    full = ball_query_torch(0, 0.3, 8, xyz, centers)
    monkeypatch.setattr(bq, '_CHUNK_ELEMENTS', 2 * 64 * 5)  # chunks of 5
    assert torch.equal(ball_query_torch(0, 0.3, 8, xyz, centers), full)


def test_stacked_ball_query():
    xyz = clustered_points(1, 30, seed=9)[0]  # (30, 3)
    centers = torch.cat([xyz[:3], xyz[20:22], torch.full((1, 3), 9.)])
    xyz_cnt = torch.tensor([18, 12], dtype=torch.int32)
    ctr_cnt = torch.tensor([3, 3], dtype=torch.int32)
    idx = ball_query_torch(0, 0.3, 4, xyz, centers, xyz_cnt, ctr_cnt)
    r2 = np.float32(0.3) * np.float32(0.3)
    for row, (c, lo,
              hi) in enumerate([(centers[i], 0, 18)
                                for i in range(3)] + [(centers[i], 18, 30)
                                                      for i in range(3, 6)]):
        hits = [
            k for k in range(hi - lo)
            if sqd(c.numpy(), xyz[lo + k].numpy()) < r2
        ][:4]
        if hits:
            ref = hits + [hits[0]] * (4 - len(hits))
        else:
            ref = [-1, 0, 0, 0]
        assert idx[row].tolist() == ref


def test_ball_query_rejects_bad_radii():
    xyz = torch.rand(1, 5, 3)
    with pytest.raises(ValueError, match='min_radius < max_radius'):
        ball_query_torch(0.5, 0.5, 2, xyz, xyz)


# ---------------------------------------------------- grouping / gather


def test_grouping_values_and_gradient():
    g = torch.Generator().manual_seed(2)
    feats = torch.rand(2, 4, 10, generator=g, requires_grad=True)
    idx = torch.randint(0, 10, (2, 3, 5), generator=g, dtype=torch.int32)
    out = grouping_operation_torch(feats, idx)
    assert out.shape == (2, 4, 3, 5)
    grad_out = torch.rand(out.shape, generator=g)
    out.backward(grad_out)
    expect = torch.zeros(2, 4, 10)
    for b in range(2):
        for p in range(3):
            for s in range(5):
                k = int(idx[b, p, s])
                assert torch.equal(out[b, :, p, s], feats[b, :, k])
                expect[b, :, k] += grad_out[b, :, p, s]
    torch.testing.assert_close(feats.grad, expect)


def test_stacked_grouping():
    feats = torch.arange(12.).view(6, 2)  # (N1 + N2, C) with N = [4, 2]
    idx = torch.tensor([[0, 3], [1, 1], [1, 0], [-1, 0]], dtype=torch.int32)
    out = grouping_operation_torch(feats, idx,
                                   torch.tensor([4, 2], dtype=torch.int32),
                                   torch.tensor([2, 2], dtype=torch.int32))
    assert out.shape == (4, 2, 2)  # (M1 + M2, C, nsample)
    assert out[0].t().tolist() == [[0, 1], [6, 7]]
    assert out[2].t().tolist() == [[10, 11], [8, 9]]  # offset by N1 = 4
    assert out[3].t().tolist() == [[0, 0], [8, 9]]  # -1 -> zeros


def test_gather_points_values_and_gradient():
    g = torch.Generator().manual_seed(4)
    feats = torch.rand(2,
                       3,
                       8,
                       generator=g,
                       dtype=torch.float64,
                       requires_grad=True)
    idx = torch.tensor([[7, 0, 7, 2], [1, 1, 5, 3]], dtype=torch.int32)
    out = gather_points_torch(feats, idx)
    assert out.shape == (2, 3, 4)
    for b in range(2):
        for m in range(4):
            assert torch.equal(out[b, :, m], feats[b, :, int(idx[b, m])])
    out.sum().backward()
    assert feats.grad[0, :, 7].tolist() == [2.0] * 3  # picked twice
    assert feats.grad[0, :, 4].tolist() == [0.0] * 3  # never picked
    assert torch.autograd.gradcheck(lambda f: gather_points(f, idx), feats)


# --------------------------------------------------- knn / three-NN


def test_knn_and_three_nn_against_sorting():
    xyz = clustered_points(2, 30, seed=11)
    centers = torch.rand(2, 7, 3, generator=torch.Generator().manual_seed(1))
    idx = knn_torch(5, xyz, centers)
    assert idx.shape == (2, 5, 7) and idx.dtype == torch.int32
    dist, nn3 = three_nn_torch(centers, xyz)
    for b in range(2):
        for m in range(7):
            d = [(sqd(centers[b, m].numpy(), p), k)
                 for k, p in enumerate(xyz[b].numpy())]
            ref = [k for _, k in sorted(d)]
            assert idx[b, :, m].tolist() == ref[:5]
            assert nn3[b, m].tolist() == ref[:3]
            assert dist[b, m].tolist() == pytest.approx(
                [float(np.sqrt(v)) for v, _ in sorted(d)[:3]])
    # transposed inputs give the same answer
    assert torch.equal(
        knn_torch(5, xyz.transpose(1, 2), centers.transpose(1, 2), True), idx)
    # centre defaults to xyz: each distinct point is its own nearest one
    self_idx = knn_torch(2, centers)  # (B, 2, 7)
    assert torch.equal(self_idx[:, 0],
                       torch.arange(7, dtype=torch.int32).expand(2, 7))
    with pytest.raises(ValueError, match='0 < k < 100'):
        knn_torch(0, xyz)


def test_three_nn_fewer_than_three_sources():
    dist, idx = three_nn_torch(torch.zeros(1, 2, 3), torch.ones(1, 2, 3))
    assert idx[0, 0].tolist() == [0, 1, 0]
    assert torch.isinf(dist[0, 0, 2]) and dist[0, 0, 0] == pytest.approx(3**.5)


def test_three_interpolate_values_and_gradient():
    g = torch.Generator().manual_seed(6)
    feats = torch.rand(1, 2, 5, generator=g, requires_grad=True)
    idx = torch.tensor([[[0, 1, 2], [4, 4, 3]]], dtype=torch.int32)
    w = torch.tensor([[[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]], requires_grad=True)
    out = three_interpolate_torch(feats, idx, w)
    f = feats.detach()
    expect = torch.stack([
        0.5 * f[0, :, 0] + 0.3 * f[0, :, 1] + 0.2 * f[0, :, 2],
        0.2 * f[0, :, 4] + 0.8 * f[0, :, 3]
    ],
                         dim=-1)
    torch.testing.assert_close(out[0], expect)
    out.sum().backward()
    torch.testing.assert_close(feats.grad[0, 0],
                               torch.tensor([0.5, 0.3, 0.2, 0.8, 0.2]))
    assert w.grad is None  # weights are constants, as in mmcv


# ------------------------------------------------------ dynamic scatter


def scatter_ref(feats, coors, reduce):
    groups = {}
    for i, c in enumerate(coors.tolist()):
        if min(c) < 0:
            continue
        groups.setdefault(tuple(c), []).append(i)
    keys = sorted(groups)
    out = []
    for key in keys:
        rows = feats[groups[key]]
        if reduce == 'max':
            out.append(rows.max(0).values)
        elif reduce == 'sum':
            out.append(rows.sum(0))
        else:
            out.append(rows.sum(0) / len(rows))
    return torch.stack(out), torch.tensor(keys, dtype=coors.dtype), groups


def random_voxel_input(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    coors = torch.randint(0, 3, (n, 3), generator=g, dtype=torch.int32)
    coors[::7, 1] = -1  # dropped points
    feats = torch.randn(n, 4, generator=g, dtype=torch.float64)
    return feats, coors


@pytest.mark.parametrize('reduce', ['max', 'sum', 'mean'])
def test_dynamic_scatter_matches_dict_reference(reduce):
    feats, coors = random_voxel_input()
    vf, vc, p2v, cnt = dynamic_scatter_with_map_torch(feats, coors, reduce)
    ref_f, ref_c, groups = scatter_ref(feats, coors, reduce)
    assert torch.equal(vc, ref_c)  # lexicographically sorted voxels
    torch.testing.assert_close(vf, ref_f)
    assert cnt.tolist() == [len(groups[k]) for k in sorted(groups)]
    for v, key in enumerate(sorted(groups)):
        assert p2v[groups[key]].tolist() == [v] * len(groups[key])
    assert p2v[::7].tolist() == [-1] * len(p2v[::7])
    assert p2v.dtype == torch.int32 and vc.dtype == torch.int32
    f2, c2 = dynamic_scatter(feats, coors, reduce)
    assert torch.equal(f2, vf) and torch.equal(c2, vc)


@pytest.mark.parametrize('reduce', ['sum', 'mean'])
def test_dynamic_scatter_gradcheck(reduce):
    feats, coors = random_voxel_input(n=20, seed=1)
    feats.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda f: dynamic_scatter_torch(f, coors, reduce)[0], feats)


def test_dynamic_scatter_max_gradient_goes_to_first_maximum():
    feats = torch.tensor([[1., 5.], [3., 5.], [3., 2.], [9., 9.]],
                         requires_grad=True)
    coors = torch.tensor([[0, 0, 1], [0, 0, 1], [0, 0, 1], [2, -1, 0]],
                         dtype=torch.int32)
    vf, vc = dynamic_scatter_torch(feats, coors, 'max')
    assert vf.tolist() == [[3., 5.]] and vc.tolist() == [[0, 0, 1]]
    vf.backward(torch.tensor([[10., 20.]]))
    # ties: the lowest point index gets the gradient (mmcv's atomicMin)
    assert feats.grad.tolist() == [[0, 20], [10, 0], [0, 0], [0, 0]]
    # distinct values: numerical gradient check
    f = torch.randn(15, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randint(0, 2, (15, 2), dtype=torch.int32)
    assert torch.autograd.gradcheck(
        lambda x: dynamic_scatter_torch(x, c, 'max')[0], f)


def test_dynamic_scatter_edge_cases():
    empty = torch.zeros(0, 3, dtype=torch.int32)
    vf, vc = dynamic_scatter_torch(torch.zeros(0, 3), empty)
    assert vf.shape == (0, 3) and vc.shape == (0, 3)
    negative = -torch.ones(2, 3, dtype=torch.int32)
    vf, vc = dynamic_scatter_torch(torch.ones(2, 3), negative)
    assert vf.shape == (0, 3) and vc.shape == (0, 3)  # all dropped
    with pytest.raises(ValueError, match='reduce_type'):
        dynamic_scatter_torch(torch.ones(2, 3), torch.zeros(2, 3), 'min')
    feats, coors = random_voxel_input()
    _, _, p2v = dynamic_scatter_3d_torch(feats, coors, 'mean', True)
    assert torch.equal(p2v, dynamic_scatter_with_map_torch(feats, coors)[2])


def test_dynamic_scatter_module_with_batch_index():
    feats, coors = random_voxel_input(n=30, seed=2)
    batch = torch.tensor([0] * 12 + [1] * 18, dtype=torch.int32)
    coors4 = torch.cat([batch[:, None], coors], dim=1)  # (N, 1 + 3)
    module = DynamicScatter([0.1] * 3, [0] * 3 + [1] * 3, average_points=True)
    vf, vc = module(feats, coors4)
    for i, (lo, hi) in enumerate([(0, 12), (12, 30)]):
        ref_f, ref_c, _ = scatter_ref(feats[lo:hi], coors[lo:hi], 'mean')
        rows = vc[:, 0] == i
        assert torch.equal(vc[rows, 1:], ref_c)
        torch.testing.assert_close(vf[rows], ref_f)


# ------------------------------------------------------------- dispatch


class _FakeCuda(torch.Tensor):
    """A CPU tensor that claims to be on CUDA (to test routing only)."""

    @property
    def is_cuda(self):
        return True


def test_dispatch_routes_by_device():
    calls = []
    op = DispatchedOp('op', lambda x: calls.append('torch') or 'cpu',
                      lambda x: calls.append('cuda') or 'gpu')
    assert op(torch.zeros(1)) == 'cpu'
    fake = torch.zeros(1).as_subclass(_FakeCuda)
    assert any_on_cuda(1, y=fake) and not any_on_cuda(torch.zeros(1))
    assert op(fake) == 'gpu'
    assert calls == ['torch', 'cuda']
    # the CUDA target is mmcv's autograd Function, not the (patchable) name
    from mmcv.ops.furthest_point_sample import FurthestPointSampling
    assert furthest_point_sample.cuda_impl == FurthestPointSampling.apply
    assert resolve('mmcv.ops.gather_points:GatherPoints.apply') == \
        gather_points.cuda_impl


# ------------------------------------------------------------ GPU parity


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_kernels_match_torch_versions():
    xyz = torch.rand(2, 500, 3)
    centers = xyz[:, :64].contiguous()
    cu, cc = xyz.cuda(), centers.cuda()
    assert torch.equal(
        furthest_point_sample(cu, 64).cpu(),
        furthest_point_sample_torch(xyz, 64))
    assert torch.equal(
        ball_query(0, 0.2, 16, cu, cc).cpu(),
        ball_query_torch(0, 0.2, 16, xyz, centers))
    feats = torch.randn(300, 8)
    coors = torch.randint(-1, 4, (300, 3), dtype=torch.int32)
    for reduce in ('max', 'sum', 'mean'):
        gf, gc = dynamic_scatter(feats.cuda(), coors.cuda(), reduce)
        tf, tc = dynamic_scatter_torch(feats, coors, reduce)
        assert torch.equal(gc.cpu(), tc)
        torch.testing.assert_close(gf.cpu(), tf)
