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
