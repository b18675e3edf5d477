import pytest
import torch

from mmrgbd.models.losses.distill import (GlobalFeatureDistillLoss,
                                          masked_max_pool)
from mmrgbd.registry import MODELS, build_in_scope


def _smooth_l1_beta2(x, y):
    """Hand-written Smooth-L1 with beta=2, mean over all elements."""
    total, n = 0., 0
    for a, b in zip(x.flatten().tolist(), y.flatten().tolist()):
        d = abs(a - b)
        total += 0.5 * d * d / 2. if d < 2. else d - 1.
        n += 1
    return total / n


def test_masked_max_pool_by_hand():
    tokens = torch.tensor([[[1., -5.], [9., 0.], [-2., 3.]]])
    visible = torch.tensor([[True, False, True]])
    assert masked_max_pool(tokens, visible).tolist() == [[1., 3.]]
    assert masked_max_pool(tokens, None).tolist() == [[9., 3.]]
    # zeros at hidden positions must not win over negative visible values
    neg = torch.tensor([[[-1.], [0.], [-3.]]])
    assert masked_max_pool(neg, visible).item() == -1.


def test_distill_value_and_teacher_gets_no_gradient():
    g = torch.Generator().manual_seed(0)
    B, N, C = 2, 5, 3
    s_tok = {m: (torch.randn(B, N, C, generator=g) * 3).requires_grad_()
             for m in ('rgb', 'depth')}
    t_tok = {m: (torch.randn(B, N, C, generator=g) * 3).requires_grad_()
             for m in ('rgb', 'depth')}
    s_vis = {m: torch.rand(B, N, generator=g) > 0.4 for m in ('rgb', 'depth')}
    for m in s_vis:
        s_vis[m][:, 0] = True
    # hidden student positions hold zeros, as in the backbone layout
    s_in = {m: s_tok[m] * s_vis[m][..., None] for m in s_tok}
    loss_fn = build_in_scope(MODELS, dict(type='GlobalFeatureDistillLoss'))
    assert loss_fn.beta == 2.0
    loss = loss_fn(dict(tokens=s_in, visible=s_vis), dict(tokens=t_tok))

    expect = 0.
    for m in ('rgb', 'depth'):
        f_s = torch.tensor([[max(s_tok[m][b, i, c].item() for i in range(N)
                                 if s_vis[m][b, i]) for c in range(C)]
                            for b in range(B)])
        f_t = torch.tensor([[max(t_tok[m][b, i, c].item() for i in range(N))
                             for c in range(C)] for b in range(B)])
        expect += _smooth_l1_beta2(f_s, f_t)
    assert loss.item() == pytest.approx(expect, rel=1e-5)

    loss.backward()
    for m in t_tok:
        assert t_tok[m].grad is None
        assert s_tok[m].grad is not None and s_tok[m].grad.abs().sum() > 0
        # only the argmax (visible) tokens receive gradient
        assert (s_tok[m].grad[~s_vis[m]] == 0).all()


def test_distill_sums_over_modalities_and_weight():
    g = torch.Generator().manual_seed(1)
    s = {m: torch.randn(2, 4, 3, generator=g) for m in ('rgb', 'depth')}
    t = {m: torch.randn(2, 4, 3, generator=g) for m in ('rgb', 'depth')}
    both = GlobalFeatureDistillLoss()(dict(tokens=s), dict(tokens=t))
    rgb = GlobalFeatureDistillLoss(modalities=('rgb', ))(
        dict(tokens=s), dict(tokens=t))
    depth = GlobalFeatureDistillLoss(modalities=('depth', ))(
        dict(tokens=s), dict(tokens=t))
    assert both.item() == pytest.approx(rgb.item() + depth.item(), rel=1e-6)
    w = GlobalFeatureDistillLoss(loss_weight=0.5)(
        dict(tokens=s), dict(tokens=t))
    assert w.item() == pytest.approx(0.5 * both.item(), rel=1e-6)


def test_distill_sample_without_visible_tokens_is_dropped():
    s = {m: torch.randn(2, 4, 3, requires_grad=True) for m in ('rgb', )}
    t = {m: torch.randn(2, 4, 3) for m in ('rgb', )}
    vis = {'rgb': torch.tensor([[True, True, False, False],
                                [False, False, False, False]])}
    fn = GlobalFeatureDistillLoss(modalities=('rgb', ))
    loss = fn(dict(tokens=s, visible=vis), dict(tokens=t))
    only0 = fn(dict(tokens={'rgb': s['rgb'][:1]},
                    visible={'rgb': vis['rgb'][:1]}),
               dict(tokens={'rgb': t['rgb'][:1]}))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(only0.item())
    vis['rgb'][:] = False
    empty = fn(dict(tokens=s, visible=vis), dict(tokens=t))
    assert empty.item() == 0.
    empty.backward()
    assert torch.isfinite(s['rgb'].grad).all()


def test_distill_shape_mismatch_raises():
    with pytest.raises(ValueError, match='differ'):
        GlobalFeatureDistillLoss(modalities=('rgb', ))(
            dict(tokens={'rgb': torch.randn(2, 4, 3)}),
            dict(tokens={'rgb': torch.randn(2, 4, 5)}))
