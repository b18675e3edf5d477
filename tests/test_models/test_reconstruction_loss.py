"""MaskedReconstructionLoss and MaskedSemsegLoss against hand computations."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmrgbd.models.losses import MaskedReconstructionLoss, MaskedSemsegLoss
from mmrgbd.models.utils import patchify
from mmrgbd.registry import MODELS


def _toy():
    # B=1, N=3 patches of D=4 values
    target = torch.tensor([[[1., 2., 3., 6.], [0., 0., 4., 4.],
                            [5., 5., 5., 5.]]])
    pred = torch.tensor([[[0.5, -1., 2., 0.], [1., 1., 1., 1.],
                          [0., 0., 0., 0.]]])
    return pred, target


def test_build_from_registry():
    loss = MODELS.build(
        dict(type='MaskedReconstructionLoss', loss_type='l1', on='all'))
    assert isinstance(loss, MaskedReconstructionLoss)
    with pytest.raises(ValueError, match='loss_type'):
        MaskedReconstructionLoss(loss_type='huber')
    with pytest.raises(ValueError, match='on must be'):
        MaskedReconstructionLoss(on='hidden')


def test_mse_masked_equals_hand_computation():
    pred, target = _toy()
    visible = torch.tensor([[True, False, False]])
    loss = MaskedReconstructionLoss(loss_type='mse', on='masked')
    # masked patches 1 and 2: squared errors summed / 8 values
    e1 = (1 - 0)**2 + (1 - 0)**2 + (1 - 4)**2 + (1 - 4)**2
    e2 = 4 * 25
    assert loss(pred, target, visible).item() == pytest.approx((e1 + e2) / 8)
    # visible: only patch 0
    e0 = 0.5**2 + 3**2 + 1**2 + 6**2
    vis_loss = MaskedReconstructionLoss(loss_type='mse', on='visible')
    assert vis_loss(pred, target, visible).item() == pytest.approx(e0 / 4)
    all_loss = MaskedReconstructionLoss(
        loss_type='mse', on='all', loss_weight=2.0)
    assert all_loss(pred, target, visible).item() == pytest.approx(
        2 * (e0 + e1 + e2) / 12)


def test_norm_pix_l1_equals_hand_computation():
    pred, target = _toy()
    loss = MaskedReconstructionLoss(loss_type='l1', norm_pix=True, on='all')
    expected = []
    for n in range(3):
        t = target[0, n].tolist()
        mean = sum(t) / 4
        var = sum((v - mean)**2 for v in t) / 4  # population variance
        tn = [(v - mean) / math.sqrt(var + 1e-6) for v in t]
        expected += [abs(p - q) for p, q in zip(pred[0, n].tolist(), tn)]
    assert loss(pred, target).item() == pytest.approx(
        sum(expected) / 12, rel=1e-6)
    # the target only is normalised: pred equal to the normalised target -> 0
    tn = loss.normalize_target(target)
    assert loss(tn, target).item() == pytest.approx(0, abs=1e-6)
    # denormalize_pred inverts the normalisation
    assert torch.allclose(loss.denormalize_pred(tn, target), target,
                          atol=1e-4)


def test_invalid_pixels_excluded_and_stats_over_valid_only():
    pred, target = _toy()
    valid = torch.ones_like(target, dtype=torch.bool)
    valid[0, 0, 3] = False  # the 6 of patch 0
    valid[0, 1, :2] = False  # the zeros of patch 1
    loss = MaskedReconstructionLoss(loss_type='mse', norm_pix=True, on='all')
    value = loss(pred, target, None, valid)
    # hand computation over valid values only
    total, count = 0., 0
    for n in range(3):
        vals = [(i, target[0, n, i].item()) for i in range(4)
                if valid[0, n, i]]
        mean = sum(v for _, v in vals) / len(vals)
        var = sum((v - mean)**2 for _, v in vals) / len(vals)
        for i, v in vals:
            tn = (v - mean) / math.sqrt(var + 1e-6)
            total += (pred[0, n, i].item() - tn)**2
            count += 1
    assert value.item() == pytest.approx(total / count, rel=1e-6)
    # changing invalid values (even to inf / nan) does not change the loss
    target2 = target.clone()
    target2[0, 0, 3] = float('inf')
    target2[0, 1, 0] = float('nan')
    target2[0, 1, 1] = -123.
    value2 = loss(pred, target2, None, valid)
    assert value2.item() == pytest.approx(value.item(), rel=1e-6)
    # per-token valid mask (B, N) drops whole patches
    tok_valid = torch.tensor([[False, True, True]])
    only12 = loss(pred[:, 1:], target[:, 1:], None, None)
    assert loss(pred, target, None, tok_valid).item() == pytest.approx(
        only12.item(), rel=1e-6)


def test_all_invalid_gives_zero_with_finite_grad():
    pred, target = _toy()
    pred = pred.clone().requires_grad_(True)
    valid = torch.zeros_like(target, dtype=torch.bool)
    target = target.clone()
    target[0, 0, 0] = float('nan')
    for norm_pix in (False, True):
        for loss_type in ('l1', 'mse'):
            loss = MaskedReconstructionLoss(
                loss_type=loss_type, norm_pix=norm_pix, on='all')
            value = loss(pred, target, None, valid)
            assert value.item() == 0
            value.backward()
            assert torch.isfinite(pred.grad).all()
            assert (pred.grad == 0).all()
            pred.grad = None
    # nothing selected (every token visible, on='masked') -> 0 as well
    loss = MaskedReconstructionLoss(on='masked')
    value = loss(pred, target.nan_to_num(0), torch.ones(1, 3, dtype=bool))
    assert value.item() == 0 and value.requires_grad


def test_patch_without_valid_pixel_contributes_nothing():
    pred, target = _toy()
    valid = torch.ones_like(target, dtype=torch.bool)
    valid[0, 2] = False
    loss = MaskedReconstructionLoss(loss_type='l1', norm_pix=True, on='all')
    expect = loss(pred[:, :2], target[:, :2])
    assert loss(pred, target, None, valid).item() == pytest.approx(
        expect.item(), rel=1e-6)


def test_gradient_only_on_counted_values():
    pred, target = _toy()
    pred.requires_grad_(True)
    visible = torch.tensor([[True, False, True]])
    MaskedReconstructionLoss(on='masked')(pred, target, visible).backward()
    assert (pred.grad[0, 0] == 0).all() and (pred.grad[0, 2] == 0).all()
    # d/dp mean((p - t)^2) = 2 (p - t) / 4
    assert torch.allclose(pred.grad[0, 1],
                          2 * (pred[0, 1] - target[0, 1]).detach() / 4)


def test_shape_errors():
    pred, target = _toy()
    loss = MaskedReconstructionLoss(on='masked')
    with pytest.raises(ValueError, match='differ in shape'):
        loss(pred[:, :2], target)
    with pytest.raises(ValueError, match='needs the visible mask'):
        loss(pred, target)
    with pytest.raises(ValueError, match=r'expected \(1, 3\)'):
        loss(pred, target, torch.ones(1, 2, dtype=torch.bool))


def test_semseg_loss_masked_and_ignore():
    torch.manual_seed(0)
    B, K, h, w, q = 2, 5, 2, 3, 4
    labels = torch.randint(0, K, (B, 1, h * q, w * q))
    labels[0, 0, 0, :3] = 255
    logits_img = torch.randn(B, K, h * q, w * q)
    pred = patchify(logits_img, q)  # (B, N, q*q*K)
    visible = torch.zeros(B, h * w, dtype=torch.bool)
    visible[0, 0] = True
    visible[1, 4] = True
    loss = MaskedSemsegLoss(num_classes=K, ignore_index=255)
    ce = F.cross_entropy(
        logits_img, labels[:, 0].clamp(max=K - 1), reduction='none')
    hidden_px = (~visible).view(B, h, w).repeat_interleave(
        q, 1).repeat_interleave(q, 2)
    counted = hidden_px & (labels[:, 0] != 255)
    expected = ce[counted].mean()
    assert loss(pred, labels, visible, (h, w)).item() == pytest.approx(
        expected.item(), rel=1e-5)
    # a full-resolution label map is nearest-downsampled to the logit map
    big = labels.repeat_interleave(2, 2).repeat_interleave(2, 3)
    assert loss(pred, big, visible, (h, w)).item() == pytest.approx(
        expected.item(), rel=1e-5)
    # everything ignored -> 0, finite grad
    pred.requires_grad_(True)
    value = loss(pred, torch.full_like(labels, 255), visible, (h, w))
    value.backward()
    assert value.item() == 0 and torch.isfinite(pred.grad).all()
