import math

import pytest
import torch

from mmrgbd.models.heads.contrast_head import PatchContrastHead
from mmrgbd.models.losses.patch_infonce import PatchInfoNCELoss, both_visible
from mmrgbd.registry import MODELS, build_in_scope


def _loop_reference(z_a, z_b, valid, tau, negatives, symmetric=True):
    """Plain-Python InfoNCE, one anchor at a time (RGB anchors, and depth
    anchors too when symmetric)."""
    B, N, _ = z_a.shape
    za = [[(z_a[b, i] / z_a[b, i].norm()).tolist() for i in range(N)]
          for b in range(B)]
    zb = [[(z_b[b, i] / z_b[b, i].norm()).tolist() for i in range(N)]
          for b in range(B)]

    def dot(u, v):
        return sum(x * y for x, y in zip(u, v))

    per_image = []
    for b in range(B):
        anchors = [i for i in range(N) if valid[b, i]]
        if not anchors:
            continue
        a2b, b2a = 0., 0.
        for i in anchors:
            if negatives == 'image':
                cands = [(b, k) for k in anchors]
            elif negatives == 'position':
                cands = [(c, i) for c in range(B) if valid[c, i]]
            else:
                cands = [(c, k) for c in range(B) for k in range(N)
                         if valid[c, k]]
            num = math.exp(dot(za[b][i], zb[b][i]) / tau)
            den = sum(math.exp(dot(za[b][i], zb[c][k]) / tau)
                      for c, k in cands)
            a2b += -math.log(num / den)
            den = sum(math.exp(dot(zb[b][i], za[c][k]) / tau)
                      for c, k in cands)
            b2a += -math.log(num / den)
        n = len(anchors)
        per_image.append(0.5 * (a2b / n + b2a / n) if symmetric else a2b / n)
    return sum(per_image) / len(per_image)


@pytest.mark.parametrize('symmetric', [True, False])
@pytest.mark.parametrize('negatives', ['image', 'batch', 'position'])
@pytest.mark.parametrize('tau', [0.07, 0.5])
def test_infonce_matches_loop_with_partial_visibility(negatives, tau,
                                                      symmetric):
    g = torch.Generator().manual_seed(0)
    B, N, D = 3, 6, 5
    z_a = torch.randn(B, N, D, generator=g)
    z_b = torch.randn(B, N, D, generator=g)
    vis_rgb = torch.rand(B, N, generator=g) > 0.3
    vis_depth = torch.rand(B, N, generator=g) > 0.3
    vis_rgb[2] = False  # image 2: empty set, must be skipped in the mean
    valid = both_visible(vis_rgb, vis_depth)
    assert valid[:2].any(dim=1).all()
    loss = PatchInfoNCELoss(temperature=tau, negatives=negatives,
                            symmetric=symmetric)(z_a, z_b, valid)
    ref = _loop_reference(z_a.double(), z_b.double(), valid, tau, negatives,
                          symmetric)
    assert loss.item() == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_infonce_directions_differ_and_are_averaged():
    """Single image: (a2b + b2a) / 2, with a2b != b2a in general."""
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(1, 4, 3, generator=g)
    z_b = torch.randn(1, 4, 3, generator=g)
    loss_fn = PatchInfoNCELoss(temperature=0.1)
    s = torch.nn.functional.normalize(z_a[0], dim=-1) @ \
        torch.nn.functional.normalize(z_b[0], dim=-1).t() / 0.1
    a2b = -(s.diag() - s.logsumexp(dim=1)).mean()
    b2a = -(s.diag() - s.logsumexp(dim=0)).mean()
    assert abs(a2b - b2a) > 1e-3
    assert loss_fn(z_a, z_b).item() == pytest.approx(
        (0.5 * (a2b + b2a)).item(), rel=1e-6)


def test_infonce_one_directional_is_m3mae_eq3_by_hand():
    """symmetric=False: only RGB anchors (M3 3D Eq. 3); the depth -> RGB
    direction does not enter the loss."""
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(1, 4, 3, generator=g)
    z_b = torch.randn(1, 4, 3, generator=g)
    s = torch.nn.functional.normalize(z_a[0], dim=-1) @ \
        torch.nn.functional.normalize(z_b[0], dim=-1).t() / 0.1
    a2b = -(s.diag() - s.logsumexp(dim=1)).mean()
    loss = PatchInfoNCELoss(temperature=0.1, symmetric=False)(z_a, z_b)
    assert loss.item() == pytest.approx(a2b.item(), rel=1e-6)
    # swapping the two maps changes the one-directional loss only
    swapped = PatchInfoNCELoss(temperature=0.1, symmetric=False)(z_b, z_a)
    assert abs(swapped.item() - loss.item()) > 1e-3
    sym = PatchInfoNCELoss(temperature=0.1)
    assert sym(z_a, z_b).item() == pytest.approx(sym(z_b, z_a).item())


def test_position_negatives_ignore_position_embeddings():
    """Every candidate shares the anchor's position: adding the same
    position code to both maps cannot lower the loss, and identical content
    gives exactly ln(B)."""
    g = torch.Generator().manual_seed(3)
    B, N, D = 4, 6, 8
    pos = torch.randn(1, N, D, generator=g) * 10
    same = torch.randn(1, 1, D, generator=g).expand(B, N, D)
    loss = PatchInfoNCELoss(negatives='position', temperature=0.1)
    assert loss(same + pos, same + pos).item() == pytest.approx(math.log(B))
    image = PatchInfoNCELoss(negatives='image', temperature=0.1)
    assert image(same + pos, same + pos).item() < 0.1 * math.log(N)  # position


def test_infonce_batch_negatives_differ_from_image_negatives():
    g = torch.Generator().manual_seed(2)
    z_a = torch.randn(2, 4, 8, generator=g)
    z_b = torch.randn(2, 4, 8, generator=g)
    img = PatchInfoNCELoss(negatives='image')(z_a, z_b)
    bat = PatchInfoNCELoss(negatives='batch')(z_a, z_b)
    # more negatives in the denominator: the batch loss is larger
    assert bat.item() > img.item()


@pytest.mark.parametrize('negatives', ['image', 'batch'])
def test_infonce_empty_visible_is_zero_with_graph(negatives):
    z_a = torch.randn(2, 5, 4, requires_grad=True)
    z_b = torch.randn(2, 5, 4, requires_grad=True)
    valid = torch.zeros(2, 5, dtype=torch.bool)
    loss = PatchInfoNCELoss(negatives=negatives)(z_a, z_b, valid)
    assert loss.item() == 0.
    loss.backward()
    assert torch.isfinite(z_a.grad).all() and (z_a.grad == 0).all()
    assert torch.isfinite(z_b.grad).all()


@pytest.mark.parametrize('negatives', ['image', 'batch'])
def test_infonce_gradients_finite_and_hidden_positions_untouched(negatives):
    z_a = torch.randn(2, 5, 4, requires_grad=True)
    z_b = torch.randn(2, 5, 4, requires_grad=True)
    valid = torch.ones(2, 5, dtype=torch.bool)
    valid[0, :3] = False
    valid[1] = False
    valid[1, 0] = True  # one valid patch: loss 0 for that image
    loss = PatchInfoNCELoss(negatives=negatives)(z_a, z_b, valid)
    loss.backward()
    for z in (z_a, z_b):
        assert torch.isfinite(z.grad).all()
        assert (z.grad[~valid] == 0).all()
        assert z.grad[0, 3:].abs().sum() > 0


def test_infonce_rejects_bad_args():
    with pytest.raises(ValueError, match="negatives must be one of"):
        PatchInfoNCELoss(negatives='queue')
    with pytest.raises(ValueError, match='same shape'):
        PatchInfoNCELoss()(torch.randn(1, 3, 4), torch.randn(1, 4, 4))


def test_contrast_head_uses_positions_visible_in_both():
    torch.manual_seed(0)
    head = build_in_scope(
        MODELS,
        dict(type='PatchContrastHead', in_channels=8,
             loss=dict(type='PatchInfoNCELoss', temperature=0.2)))
    head.init_weights()
    assert isinstance(head, PatchContrastHead)
    B, N = 2, 9
    tokens = dict(rgb=torch.randn(B, N, 8, requires_grad=True),
                  depth=torch.randn(B, N, 8, requires_grad=True))
    visible = dict(rgb=torch.rand(B, N) > 0.3, depth=torch.rand(B, N) > 0.3)
    visible['rgb'][:, 0] = visible['depth'][:, 0] = True
    out = head.loss(dict(tokens=tokens, visible=visible))
    assert set(out) == {'loss_patch_nce'}
    # default: the loss runs on the encoder features themselves (both
    # papers' s_ij), no projection and no parameters
    assert list(head.parameters()) == []
    both = visible['rgb'] & visible['depth']
    ref = PatchInfoNCELoss(temperature=0.2)(tokens['rgb'], tokens['depth'],
                                            both)
    assert out['loss_patch_nce'].item() == pytest.approx(ref.item(), rel=1e-6)
    out['loss_patch_nce'].backward()
    assert (tokens['rgb'].grad[~both] == 0).all()
    assert tokens['rgb'].grad[both].abs().sum() > 0


def test_contrast_head_projection_mlp_is_an_option():
    torch.manual_seed(0)
    head = build_in_scope(
        MODELS,
        dict(type='PatchContrastHead', in_channels=8, out_channels=6,
             num_layers=2,
             loss=dict(type='PatchInfoNCELoss', temperature=0.2)))
    head.init_weights()
    B, N = 2, 9
    tokens = dict(rgb=torch.randn(B, N, 8), depth=torch.randn(B, N, 8))
    visible = dict(rgb=torch.ones(B, N, dtype=torch.bool),
                   depth=torch.ones(B, N, dtype=torch.bool))
    out = head.loss(dict(tokens=tokens, visible=visible))
    proj = head(tokens)
    assert proj['rgb'].shape == (B, N, 6)
    ref = PatchInfoNCELoss(temperature=0.2)(proj['rgb'], proj['depth'])
    assert out['loss_patch_nce'].item() == pytest.approx(ref.item(), rel=1e-6)
    out['loss_patch_nce'].backward()
    assert all(p.grad is not None for p in head.parameters())


def test_contrast_head_grid_mismatch_raises():
    head = PatchContrastHead(in_channels=4)
    feats = dict(tokens=dict(rgb=torch.randn(1, 4, 4),
                             depth=torch.randn(1, 9, 4)))
    with pytest.raises(ValueError, match='share'):
        head.loss(feats)
