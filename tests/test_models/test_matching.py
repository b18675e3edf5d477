import itertools

import numpy as np
import pytest
import torch

from mmrgbd.models.utils.matching import (auction_match, greedy_match,
                                          hungarian_match)


def brute_force_min_cost(cost):
    n, m = cost.shape
    best = None
    for cols in itertools.permutations(range(m), n):
        total = sum(cost[i, c] for i, c in enumerate(cols))
        best = total if best is None else min(best, total)
    return best


def _total(cost, rows, cols):
    return float(cost[rows, cols].sum())


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('shape', [(5, 5), (4, 6), (6, 6)])
def test_hungarian_is_optimal_against_brute_force(seed, shape):
    cost = torch.rand(*shape, generator=torch.Generator().manual_seed(seed))
    rows, cols = hungarian_match(cost)
    assert len(set(cols.tolist())) == len(cols) == shape[0]
    assert _total(cost, rows, cols) == pytest.approx(
        brute_force_min_cost(cost.numpy()), abs=1e-6)


def test_greedy_is_the_ablation_and_can_be_suboptimal():
    # greedy takes the 0.0 pair and is forced into 10.0; optimum is 1 + 1
    cost = torch.tensor([[0.0, 1.0], [1.0, 10.0]])
    rows, cols = greedy_match(cost)
    assert cols.tolist() == [0, 1] and _total(cost, rows, cols) == 10.0
    rows, cols = hungarian_match(cost)
    assert cols.tolist() == [1, 0] and _total(cost, rows, cols) == 2.0


@pytest.mark.parametrize('seed', range(5))
def test_auction_pairs_agree_with_hungarian(seed):
    g = torch.Generator().manual_seed(seed)
    # point-cloud-like costs: L2 between a set and a jittered permutation
    a = torch.rand(2, 48, 3, generator=g)
    perm = torch.stack([torch.randperm(48, generator=g) for _ in range(2)])
    b = torch.gather(a, 1, perm[..., None].expand(-1, -1, 3)) + \
        0.01 * torch.randn(2, 48, 3, generator=g)
    cost = torch.cdist(a, b)  # (2, 48, 48)
    rows, cols = auction_match(cost)
    for i in range(2):
        r_ref, c_ref = hungarian_match(cost[i])
        assert torch.equal(cols[i], c_ref[torch.argsort(r_ref)])


def test_auction_integer_costs_exactly_optimal_rectangular():
    g = torch.Generator().manual_seed(0)
    cost = torch.randint(0, 20, (5, 7), generator=g).float()
    rows, cols = auction_match(cost, eps_final=1.0 / 6)
    assert len(set(cols.tolist())) == 5
    assert _total(cost, rows, cols) == brute_force_min_cost(cost.numpy())


def test_auction_rejects_more_rows_than_columns():
    with pytest.raises(ValueError, match='N <= M'):
        auction_match(torch.rand(4, 3))


# --------------------------------------------------------------------- #
# Hungarian on distance costs: coinciding locations fixed first
# --------------------------------------------------------------------- #
def _forced_optimum(cost, rows, cols):
    """Optimum of ``cost`` with the pairs (rows, cols) forced (scipy)."""
    from scipy.optimize import linear_sum_assignment
    c = cost.copy()
    big = c.max() * (c.shape[0] + 1) + 1.
    for r, k in zip(rows, cols):
        c[r, :] = big
        c[:, k] = big
        c[r, k] = cost[r, k]
    r, k = linear_sum_assignment(c)
    return float(cost[r, k].sum())


def _clouds(seed, n=60, m=None, coincide=0.6, dup=0):
    """Two point sets: a share of b coincides with a up to float round-off,
    the rest is elsewhere; optional duplicated points."""
    rng = np.random.default_rng(seed)
    m = n if m is None else m
    a = rng.uniform(0, 10, (n, 3))
    b = rng.uniform(0, 10, (m, 3))
    k = int(coincide * min(n, m))
    b[:k] = a[rng.permutation(n)[:k]] + rng.normal(0, 1e-7, (k, 3))
    if dup:
        a[-dup:] = a[:dup]
        b[-dup:] = b[:dup]
    return a, b[rng.permutation(m)]


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('shape,dup', [((60, 60), 0), ((60, 60), 8),
                                       ((40, 55), 0), ((40, 55), 5)])
def test_metric_hungarian_within_its_bound(seed, shape, dup):
    """The forced pairs are disjoint, raise the optimum by no more than the
    bound 2 * sum(c) (checked by forcing them into scipy's solver), and the
    result is within metric_tol of scipy's optimum (here: the same
    total)."""
    from scipy.optimize import linear_sum_assignment

    from mmrgbd.models.utils.matching import coincident_pairs
    a, b = _clouds(seed, *shape, dup=dup)
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    opt_r, opt_c = linear_sum_assignment(cost)
    opt = float(cost[opt_r, opt_c].sum())
    fr, fc, bound = coincident_pairs(cost, 1e-4)
    assert len(fr) >= 0.5 * min(shape) - dup
    assert len(set(fr)) == len(fr) and len(set(fc)) == len(fc)
    assert bound == pytest.approx(2 * cost[fr, fc].sum())
    assert _forced_optimum(cost, fr, fc) <= opt + bound + 1e-9
    assert bound <= 1e-4 * opt
    rows, cols = hungarian_match(torch.from_numpy(cost), metric_tol=1e-4)
    assert torch.equal(rows, torch.arange(shape[0]))
    assert len(set(cols.tolist())) == shape[0]
    total = _total(cost, rows.numpy(), cols.numpy())
    assert opt <= total + 1e-9 and total <= opt * (1 + 1e-4)


def test_metric_hungarian_large_tolerance_keeps_the_bound():
    """With a loose tolerance real (non-coinciding) pairs get forced too;
    the total still stays within (1 + tol) of the optimum."""
    from scipy.optimize import linear_sum_assignment

    from mmrgbd.models.utils.matching import coincident_pairs
    for seed in range(6):
        a, b = _clouds(seed, 50, coincide=0.)
        cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
        r, c = linear_sum_assignment(cost)
        opt = float(cost[r, c].sum())
        for tol in (0.05, 0.3):
            fr, fc, bound = coincident_pairs(cost, tol)
            assert len(fr) > 0 and bound <= tol * opt
            assert _forced_optimum(cost, fr, fc) <= opt + bound + 1e-9
            rows, cols = hungarian_match(torch.from_numpy(cost), tol)
            assert _total(cost, rows, cols) <= opt * (1 + tol) + 1e-9


def test_metric_hungarian_degenerate_inputs():
    """Ties, all-zero costs, duplicated points, more rows than columns,
    negative or non-finite costs: a valid assignment (the optimum), never a
    wrong reduction."""
    from scipy.optimize import linear_sum_assignment

    def check(cost, tol=1e-4):
        rows, cols = hungarian_match(torch.as_tensor(cost), tol)
        r, c = linear_sum_assignment(cost)
        assert len(set(cols.tolist())) == len(cols) == min(cost.shape)
        assert _total(cost, rows, cols) == pytest.approx(
            float(cost[r, c].sum()), abs=1e-9)

    check(np.zeros((6, 6)))
    check(np.ones((5, 7)))
    pts = np.repeat(np.random.default_rng(0).uniform(0, 1, (3, 3)), 3, 0)
    check(np.linalg.norm(pts[:, None] - pts[None], axis=-1))  # 3x dups
    check(np.random.default_rng(1).uniform(0, 1, (7, 4)))  # N > M
    check(np.array([[-1., 0.], [0., -1.]]))  # not distances: no reduction
    inf = np.array([[0., np.inf], [np.inf, 0.]])
    check(inf)
    with pytest.raises(ValueError):  # scipy's error, as without the tol
        hungarian_match(torch.tensor([[np.nan, 1.], [1., 0.]]), 1e-4)


def test_metric_hungarian_needs_distances():
    """The reduction relies on the triangle inequality: for a cost that
    violates it, forcing the zero pair would be wrong; the default
    (metric_tol=0) stays exact for any cost."""
    cost = torch.tensor([[0.0, 1.0], [1.0, 10.0]])  # d(1,1) > 1 + 0 + 1
    assert _total(cost, *hungarian_match(cost)) == 2.0
    assert _total(cost, *hungarian_match(cost, metric_tol=1e-4)) == 10.0


def test_metric_hungarian_on_real_kitti_views(samples_dir):
    """Two views of a real KITTI scan (SimIPUTwoView, D-FPS to 512
    locations each), cost |T(l_a) - l_b|: most locations coincide and are
    fixed first; the matching is scipy's total cost (within 1e-4) and in
    practice its pairs."""
    from scipy.optimize import linear_sum_assignment

    from mmrgbd.datasets.transforms.lidar import load_points_bin
    from mmrgbd.datasets.transforms.two_view import SimIPUTwoView
    from mmrgbd.models.utils.matching import coincident_pairs
    from mmrgbd.ops import furthest_point_sample_torch
    scan = load_points_bin(str(samples_dir / 'kitti_object_vis' / 'training'
                               / 'velodyne' / '000001.bin'))
    np.random.seed(0)
    two_view = SimIPUTwoView(translation_std=0.5, num_points=4096)
    for _ in range(2):
        sample = two_view({'points': scan})
        pa = torch.from_numpy(sample['points'][:, :3])[None]  # (1, S, 3)
        pb = torch.from_numpy(sample['points_beta'][:, :3])[None]
        la = pa[0, furthest_point_sample_torch(pa, 512)[0].long()]  # (512, 3)
        lb = pb[0, furthest_point_sample_torch(pb, 512)[0].long()]
        mat = torch.from_numpy(sample['beta_transform']).float()
        cost = torch.cdist(la @ mat[:3, :3].T + mat[:3, 3], lb).double()
        c = cost.numpy()
        fr, _, bound = coincident_pairs(c, 1e-4)
        assert len(fr) > 0.3 * 512
        r, k = linear_sum_assignment(c)
        opt = float(c[r, k].sum())
        assert bound <= 1e-4 * opt
        rows, cols = hungarian_match(cost, metric_tol=1e-4)
        total = _total(c, rows, cols)
        assert opt - 1e-9 <= total <= opt * (1 + 1e-4)
        assert (cols.numpy() == k).mean() > 0.99
