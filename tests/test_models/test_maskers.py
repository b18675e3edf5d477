import pytest
import torch

from mmrgbd.models.maskers import (ComplementaryMasker,
                                   DirichletTokenBudgetMasker,
                                   RandomPatchMasker)
from mmrgbd.models.maskers.dirichlet import (allocate_budget,
                                             sample_dirichlet,
                                             sample_log_gamma)
from mmrgbd.registry import MODELS, build_in_scope


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_registered():
    for cfg in (dict(type='RandomPatchMasker', keep_ratios=dict(rgb=0.5)),
                dict(type='ComplementaryMasker'),
                dict(type='DirichletTokenBudgetMasker', num_visible=4)):
        masker = build_in_scope(MODELS, cfg)
        vis = masker(2, dict(rgb=(2, 4), depth=(2, 4))
                     if cfg['type'] != 'RandomPatchMasker' else
                     dict(rgb=(2, 4)))
        assert all(v.dtype == torch.bool and v.shape == (2, 8)
                   for v in vis.values())


def test_random_patch_exact_counts_round_half_up():
    masker = RandomPatchMasker(dict(rgb=0.25, depth=0.3))
    vis = masker(16, dict(rgb=(2, 5), depth=(4, 6)), generator=gen())
    assert (vis['rgb'].sum(1) == 3).all()  # 2.5 -> 3
    assert (vis['depth'].sum(1) == 7).all()  # 7.2 -> 7
    assert len({tuple(v.tolist()) for v in vis['depth']}) > 1  # random
    # (t, h, w) grids: token-wise over t*h*w
    vis = masker(2, dict(rgb=(2, 2, 4)), generator=gen())
    assert vis['rgb'].shape == (2, 16) and (vis['rgb'].sum(1) == 4).all()
    with pytest.raises(KeyError, match='no keep ratio'):
        masker(2, dict(semseg=(2, 2)))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        RandomPatchMasker(dict(rgb=1.5))


@pytest.mark.parametrize('masker', [
    RandomPatchMasker(dict(rgb=0.4, depth=0.6)),
    ComplementaryMasker(0.3, 0.4),
    DirichletTokenBudgetMasker(num_visible=9, alpha=0.7,
                               sample_tasks_uniformly=True),
])
def test_same_seed_same_mask_and_global_rng_untouched(masker):
    grids = dict(rgb=(4, 5), depth=(4, 5))
    a = masker(8, grids, generator=gen(3))
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    b = masker(8, grids, generator=gen(3), device='cpu')
    assert torch.equal(torch.rand(3), expected_next)  # only the generator
    c = masker(8, grids, generator=gen(4))
    for m in grids:
        assert torch.equal(a[m], b[m])
    assert any(not torch.equal(a[m], c[m]) for m in grids)


def test_complementary_counts_and_disjoint():
    masker = ComplementaryMasker(rgb_keep=0.25, depth_keep=0.5)
    B, N = 2000, 24
    vis = masker(B, dict(rgb=(4, 6), depth=(4, 6)), generator=gen())
    rgb, depth = vis['rgb'], vis['depth']
    assert (rgb.sum(1) == 6).all() and (depth.sum(1) == 12).all()
    assert not (rgb & depth).any()  # never the same position
    # depth is uniform over the non-RGB positions: P = 12/24 per position
    freq = depth.float().mean(0)
    assert torch.allclose(freq, torch.full((N, ), 0.5), atol=0.05)
    assert torch.allclose(rgb.float().mean(0), torch.full((N, ), 0.25),
                          atol=0.05)


def test_complementary_rounding_and_errors():
    masker = ComplementaryMasker(0.5, 0.5)
    assert masker.counts(3) == (2, 1)  # 1.5 -> 2, min(2, 3 - 2) = 1
    vis = masker(4, dict(rgb=(1, 3), depth=(1, 3)), generator=gen())
    assert (vis['rgb'] ^ vis['depth']).all()  # a full partition
    with pytest.raises(ValueError, match=r'in \[0, 1\]'):
        ComplementaryMasker(0.6, 1.5)
    with pytest.raises(ValueError, match='equal token grids'):
        masker(1, dict(rgb=(2, 3), depth=(3, 2)))
    with pytest.raises(ValueError, match='masks exactly'):
        masker(1, dict(rgb=(2, 3)))


#: Mask3D Tab. 8 / 13: every (RGB, depth) kept ratio of the paper
MASK3D_RATIOS = [(c, d) for c in (0.2, 0.5, 0.8, 1.0)
                 for d in (0.0, 0.2, 0.5, 0.8, 1.0)]


@pytest.mark.parametrize('rgb_keep,depth_keep', MASK3D_RATIOS)
def test_complementary_paper_ratios(rgb_keep, depth_keep):
    """All ratio pairs of the paper run (p_c + p_d > 1 and p_d = 0 raised
    or failed before): exact counts on the 15x20 grid; disjoint while
    possible, otherwise depth covers every non-RGB position and overlaps a
    uniform subset of exactly k_c + k_d - N RGB positions."""
    masker = ComplementaryMasker(rgb_keep, depth_keep)
    N, B = 300, 400
    k_c, k_d = round(rgb_keep * N), round(depth_keep * N)
    vis = masker(B, dict(rgb=(15, 20), depth=(15, 20)), generator=gen())
    rgb, depth = vis['rgb'], vis['depth']
    assert (rgb.sum(1) == k_c).all() and (depth.sum(1) == k_d).all()
    overlap = max(0, k_c + k_d - N)
    assert ((rgb & depth).sum(1) == overlap).all()
    if overlap:
        assert (rgb | depth).all()  # every non-RGB position shows depth
        if overlap < k_c:  # the shared positions are uniform over RGB ones
            freq = (rgb & depth).float().mean(0)  # (N,)
            assert torch.allclose(freq, torch.full((N, ), overlap / N),
                                  atol=0.1)


def test_allocate_budget_hand_computed():
    caps = torch.tensor([10, 10, 10])
    lam = torch.tensor([[0.5, 0.3, 0.2]])
    # 3.5, 2.1, 1.4 -> floors 3, 2, 1; one left goes to the largest remainder
    assert allocate_budget(lam, caps, 7).tolist() == [[4, 2, 1]]
    # capacity: 9 > 3, the excess 6 goes to the only other share
    lam = torch.tensor([[0.9, 0.1, 0.0]])
    assert allocate_budget(lam, torch.tensor([3, 10, 10]),
                           10).tolist() == [[3, 7, 0]]
    # no share with room: spill by room (0, 3, 5) -> 1.5, 2.5
    out = allocate_budget(torch.tensor([[1., 0., 0.]]),
                          torch.tensor([2, 3, 5]), 6)
    assert out[0, 0] == 2 and out.sum() == 6 and (out[0] <= torch.tensor(
        [2, 3, 5])).all()
    with pytest.raises(ValueError, match='exceeds'):
        allocate_budget(lam, torch.tensor([1, 1, 1]), 4)


@pytest.mark.parametrize('uniform', [False, True])
@pytest.mark.parametrize('alpha', [0.1, 1.0, 5.0])
def test_dirichlet_total_exact(uniform, alpha):
    grids = dict(rgb=(4, 6), depth=(4, 6), semseg=(2, 3))
    caps = dict(rgb=24, depth=24, semseg=6)
    for B in (1, 3, 64):
        for budget in (1, 5, 20, 30, 54):
            masker = DirichletTokenBudgetMasker(budget, alpha, uniform)
            vis = masker(B, grids, generator=gen(B + budget))
            total = sum(v.sum(1) for v in vis.values())
            assert (total == budget).all()
            for m, v in vis.items():
                assert v.shape == (B, caps[m])
                assert (v.sum(1) <= caps[m]).all()
    with pytest.raises(ValueError, match='exceeds'):
        DirichletTokenBudgetMasker(55)(1, grids)


def test_dirichlet_per_modality_alpha_and_errors():
    masker = DirichletTokenBudgetMasker(8, alpha=dict(rgb=50., depth=0.05))
    vis = masker(400, dict(rgb=(4, 4), depth=(4, 4)), generator=gen())
    # rgb's concentration dominates: it gets most of the budget on average
    assert vis['rgb'].sum(1).float().mean() > 6.5
    with pytest.raises(KeyError, match='no alpha'):
        masker(1, dict(semseg=(4, 4), rgb=(4, 4)))
    with pytest.raises(ValueError, match='positive'):
        DirichletTokenBudgetMasker(8, alpha=0.)


def test_gamma_and_dirichlet_moments():
    g = gen(1)
    for a in (0.3, 1.0, 2.5):
        x = sample_log_gamma(torch.full((40000, ), a), g).exp()
        assert abs(x.mean().item() - a) < 0.05 * max(a, 1)  # E = alpha
        assert abs(x.var().item() - a) < 0.1 * max(a, 1)  # Var = alpha
    alpha = torch.tensor([1., 2., 3.]).expand(40000, 3)
    lam = sample_dirichlet(alpha, g)
    assert torch.allclose(lam.sum(1), torch.ones(40000, dtype=lam.dtype))
    a0 = 6.
    mean = torch.tensor([1., 2., 3.]) / a0
    var = torch.tensor([1., 2., 3.]) * (a0 - torch.tensor([1., 2., 3.])) / (
        a0**2 * (a0 + 1))
    assert torch.allclose(lam.mean(0).float(), mean, atol=0.01)
    assert torch.allclose(lam.var(0).float(), var, rtol=0.1)


def test_sample_tasks_uniformly_draws_subsets():
    grids = dict(rgb=(4, 6), depth=(4, 6), semseg=(4, 6))
    B = 700

    def single_modality_fraction(uniform):
        masker = DirichletTokenBudgetMasker(10, 1.0, uniform)
        vis = masker(B, grids, generator=gen(5))
        counts = torch.stack([v.sum(1) for v in vis.values()], 1)  # (B, 3)
        return ((counts == 10).any(1)).float().mean().item()

    # 3 of the 7 non-empty subsets are singletons (~43 %); with a plain
    # Dirichlet over three modalities it is rare (~2 %)
    assert single_modality_fraction(True) > 0.3
    assert single_modality_fraction(False) < 0.1
