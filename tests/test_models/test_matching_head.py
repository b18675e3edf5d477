import pytest
import torch
import torch.nn.functional as F

from mmrgbd.models.heads.matching_head import (RGBDMatchingHead,
                                               masked_mean_pool,
                                               random_derangement)
from mmrgbd.registry import MODELS, build_in_scope


def test_derangement_never_fixes_a_point_over_many_seeds():
    for n in range(2, 9):
        seen = set()
        for seed in range(200):
            perm = random_derangement(n, torch.Generator().manual_seed(seed))
            assert sorted(perm.tolist()) == list(range(n))
            assert (perm != torch.arange(n)).all(), (n, seed, perm)
            seen.add(tuple(perm.tolist()))
        # not always the same cyclic shift: several derangements occur
        assert len(seen) >= (1 if n == 2 else 2)
    with pytest.raises(ValueError, match='n >= 2'):
        random_derangement(1)


def test_derangement_is_reproducible_with_generator():
    a = random_derangement(7, torch.Generator().manual_seed(3))
    b = random_derangement(7, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_derangement_fallback_cycle_has_no_fixed_point():
    # max_tries=0 forces the single-cycle fallback
    for seed in range(20):
        perm = random_derangement(6, torch.Generator().manual_seed(seed),
                                  max_tries=0)
        assert sorted(perm.tolist()) == list(range(6))
        assert (perm != torch.arange(6)).all()


def test_masked_mean_pool_by_hand():
    tokens = torch.arange(12, dtype=torch.float32).reshape(1, 4, 3)
    visible = torch.tensor([[True, False, True, False]])
    pooled = masked_mean_pool(tokens, visible)
    assert torch.allclose(pooled, (tokens[0, 0] + tokens[0, 2])[None] / 2)
    assert torch.equal(masked_mean_pool(tokens, None), tokens.mean(1))


@pytest.mark.parametrize('B', [2, 3, 5, 8])
def test_make_pairs_negatives_never_pair_sample_with_itself(B):
    head = RGBDMatchingHead(in_channels=4)
    f_a = torch.randn(B, 4)
    # every entry of depth feature b equals b: its sample id is readable
    f_b = torch.arange(B, dtype=torch.float32)[:, None].expand(B, 4)
    for seed in range(50):
        pair_a, pair_b, labels, perm = head.make_pairs(
            f_a, f_b, torch.Generator().manual_seed(seed))
        assert pair_a.shape == (2 * B, 4) and labels.shape == (2 * B, )
        assert labels[:B].eq(1).all() and labels[B:].eq(0).all()
        assert torch.equal(pair_a[:B], f_a) and torch.equal(pair_a[B:], f_a)
        pos_ids = pair_b[:B, 0].long()
        neg_ids = pair_b[B:, 0].long()
        assert torch.equal(pos_ids, torch.arange(B))
        assert (neg_ids != torch.arange(B)).all(), (seed, neg_ids)
        assert sorted(neg_ids.tolist()) == list(range(B))
        assert torch.equal(neg_ids, perm)


def test_matching_loss_and_accuracy_by_hand():
    torch.manual_seed(0)
    head = build_in_scope(MODELS, dict(type='RGBDMatchingHead',
                                       in_channels=3, seed=11))
    head.init_weights()
    B, N = 4, 6
    tokens = dict(rgb=torch.randn(B, N, 3), depth=torch.randn(B, N, 3))
    visible = dict(rgb=torch.rand(B, N) > 0.5, depth=torch.ones(B, N).bool())
    visible['rgb'][:, 0] = True
    feats = dict(tokens=tokens, visible=visible)
    out = head.loss(feats, generator=torch.Generator().manual_seed(5))
    assert set(out) == {'loss_match', 'acc_match'}
    assert all('loss' not in k for k in out if k.startswith('acc'))

    f_a = masked_mean_pool(tokens['rgb'], visible['rgb'])
    f_b = tokens['depth'].mean(1)
    perm = random_derangement(B, torch.Generator().manual_seed(5))
    pairs = torch.cat([torch.cat([f_a, f_b], 1),
                       torch.cat([f_a, f_b[perm]], 1)])
    logits = pairs @ head.fc.weight.t() + head.fc.bias
    labels = torch.tensor([1] * B + [0] * B)
    assert out['loss_match'].item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6)
    acc = (logits.argmax(1) == labels).float().mean()
    assert out['acc_match'].item() == pytest.approx(acc.item())


def test_matching_head_seeded_generator_reproducible():
    feats = dict(tokens=dict(rgb=torch.randn(6, 2, 4),
                             depth=torch.randn(6, 2, 4)))
    h1 = RGBDMatchingHead(in_channels=4, seed=7)
    h2 = RGBDMatchingHead(in_channels=4, seed=7)
    h2.load_state_dict(h1.state_dict())
    assert torch.equal(h1.loss(feats)['loss_match'],
                       h2.loss(feats)['loss_match'])


def test_matching_head_batch_of_one_warns_and_gives_zero():
    head = RGBDMatchingHead(in_channels=4)
    feats = dict(tokens=dict(rgb=torch.randn(1, 3, 4),
                             depth=torch.randn(1, 3, 4)))
    with pytest.warns(UserWarning, match='batch size 1'):
        out = head.loss(feats)
    assert set(out) == {'loss_match'}
    assert out['loss_match'].item() == 0.
    out['loss_match'].backward()
    assert head.fc.weight.grad is not None
