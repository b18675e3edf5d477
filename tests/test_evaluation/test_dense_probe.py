"""Dense linear probes (mmrgbd.evaluation.dense_probe) against hand
computations."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmrgbd.datasets.synthetic import render_sample
from mmrgbd.datasets.transforms.geometry import nearest_resize
from mmrgbd.evaluation.dense_probe import (ProbeSplit, classification_scores,
                                           dense_probe, depth_scores,
                                           extract_patch_features,
                                           fit_dense_probes,
                                           fit_logistic_regression, fit_ridge,
                                           patch_targets, position_features,
                                           probe_input_spec,
                                           render_probe_split,
                                           rgb_patch_features, standardize,
                                           trivial_baseline)
from mmrgbd.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _split(labels, depth, valid, grid=(1, 2)):
    labels = torch.as_tensor(labels)
    return ProbeSplit(
        rgb=torch.zeros(labels.shape[0], 3, 16 * grid[0], 16 * grid[1],
                        dtype=torch.uint8),
        labels=labels,
        depth=torch.as_tensor(depth, dtype=torch.float64),
        depth_valid=torch.as_tensor(valid),
        grid_size=grid,
        patch_size=16)


# ---------------------------------------------------------------- targets
def test_patch_targets_on_a_hand_made_map():
    # one 4x12 image, 4x4 patches -> 3 patches
    semseg = torch.full((1, 4, 12), 255)
    semseg[0, :, 0:2] = 2  # patch 0: eight 2s and eight 1s: tie -> 1
    semseg[0, :, 2:4] = 1
    semseg[0, :3, 4:8] = 3  # patch 1: twelve 3s, four 0s
    semseg[0, 3, 4:8] = 0
    # patch 2: all 255 (unlabelled) -> -1
    depth = torch.zeros(1, 4, 12)
    valid = torch.zeros(1, 4, 12, dtype=torch.bool)
    depth[0, 0, 0:4] = torch.tensor([1., 2., 3., 6.])  # valid in patch 0
    valid[0, 0, 0:4] = True
    depth[0, 1, 0] = 100.  # invalid pixel: ignored
    depth[0, :, 4:8] = 2.5  # patch 1: all valid
    valid[0, :, 4:8] = True
    # patch 2: depth without a valid pixel -> left out
    depth[0, :, 8:] = 7.
    labels, mean_depth, has_depth = patch_targets(semseg, depth, valid, 4,
                                                  num_classes=10)
    assert labels.tolist() == [[1, 3, -1]]
    assert has_depth.tolist() == [[True, True, False]]
    assert mean_depth[0, 0].item() == pytest.approx(3.0)
    assert mean_depth[0, 1].item() == pytest.approx(2.5)
    assert mean_depth[0, 2].item() == 0


def test_patch_targets_row_major_order_and_shape_errors():
    semseg = torch.arange(4).reshape(1, 2, 2).repeat_interleave(
        2, 1).repeat_interleave(2, 2)  # (1, 4, 4): 2x2 patches of 2 px
    depth = torch.ones(1, 4, 4)
    labels, _, _ = patch_targets(semseg, depth, depth > 0, 2, 10)
    assert labels.tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match='not divisible'):
        patch_targets(semseg, depth, depth > 0, 3, 10)
    with pytest.raises(ValueError, match=r'\(B, H, W\)'):
        patch_targets(semseg[0], depth, depth > 0, 2, 10)


# ---------------------------------------------------------------- probes
def test_logistic_regression_separable_case_reaches_100_percent():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[4., 0.], [-4., 0.], [0., 4.]])
    y = torch.arange(3).repeat(40)  # (120,)
    x = centres[y] + 0.5 * torch.randn(120, 2, generator=g)
    w, b = fit_logistic_regression(x, y, num_classes=3, C=1.0)
    assert ((x.double() @ w + b).argmax(-1) == y).all()
    # fresh points of the same blobs
    y2 = torch.arange(3).repeat(10)
    x2 = centres[y2] + 0.5 * torch.randn(30, 2, generator=g)
    assert ((x2.double() @ w + b).argmax(-1) == y2).all()


def test_logistic_regression_solves_the_stated_objective():
    # x = +1 -> class 1, x = -1 -> class 0, n/2 each. By symmetry b = 0 and
    # W = [-a, a]; the mean CE is -log sigmoid(2a) and the penalty
    # 2 a^2 / (2 C n), so the optimum solves a = C n (1 - sigmoid(2a)).
    n, C = 20, 0.05
    x = torch.tensor([1., -1.]).repeat(n // 2)[:, None]  # (n, 1)
    y = torch.tensor([1, 0]).repeat(n // 2)
    w, b = fit_logistic_regression(x, y, num_classes=2, C=C, tol=1e-10)
    lo, hi = 0., 10.
    for _ in range(200):  # bisection of a - C n (1 - sigmoid(2a)) = 0
        mid = (lo + hi) / 2
        if mid - C * n * (1 - 1 / (1 + math.exp(-2 * mid))) > 0:
            hi = mid
        else:
            lo = mid
    assert w[0, 1].item() == pytest.approx(lo, abs=1e-6)
    assert w[0, 0].item() == pytest.approx(-lo, abs=1e-6)
    assert b.abs().max().item() < 1e-6
    with pytest.raises(ValueError, match='labels'):
        fit_logistic_regression(x, y + 5, num_classes=2)


def test_ridge_equals_the_closed_form_of_numpy_lstsq():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)) + 3.0
    y = x @ np.array([1., -2., 0.5, 0.]) + 7.0 + 0.1 * rng.normal(size=50)
    alpha = 2.5
    w, b = fit_ridge(torch.from_numpy(x), torch.from_numpy(y), alpha)
    # centred least squares with sqrt(alpha) I rows appended
    xc, yc = x - x.mean(0), y - y.mean()
    aug_x = np.concatenate([xc, np.sqrt(alpha) * np.eye(4)])
    aug_y = np.concatenate([yc, np.zeros(4)])
    ref, *_ = np.linalg.lstsq(aug_x, aug_y, rcond=None)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-9, atol=1e-12)
    assert b.item() == pytest.approx(y.mean() - x.mean(0) @ ref, rel=1e-9)
    with pytest.raises(ValueError, match='alpha'):
        fit_ridge(torch.from_numpy(x), torch.from_numpy(y), 0.)


def test_standardize_uses_train_statistics_and_keeps_constant_columns():
    train = torch.tensor([[1., 5.], [3., 5.]])
    test = torch.tensor([[5., 7.]])
    tr, te = standardize(train, test)
    assert tr.tolist() == [[-1., 0.], [1., 0.]]
    assert te.tolist() == [[3., 2.]]  # (5 - 2) / 1 and (7 - 5) / 1


# ---------------------------------------------------------------- scores
def test_classification_scores_by_hand():
    gt = torch.tensor([0, 0, 1, 1, 2, 2])
    pred = torch.tensor([0, 1, 1, 1, 2, 3])
    out = classification_scores(pred, gt, num_classes=5)
    assert out['acc'] == pytest.approx(4 / 6)
    # IoU: class 0 1/2, class 1 2/3, class 2 1/2, class 3 0/1 (union from
    # the prediction alone counts), class 4 empty union: left out
    assert out['miou'] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2 + 0) / 4)


def test_depth_scores_by_hand_with_clipping():
    pred = torch.tensor([1.0, 2.0, -3.0])
    gt = torch.tensor([1.1, 3.0, 1.0])
    out = depth_scores(pred, gt, min_depth=0.05)
    # -3 is clipped to 0.05; ratios 1.1, 1.5, 20 -> one of three below 1.25
    rmse = math.sqrt((0.1**2 + 1.0**2 + 0.95**2) / 3)
    assert out['rmse'] == pytest.approx(rmse)
    assert out['delta1'] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match='> 0'):
        depth_scores(pred, torch.tensor([1., 0., 1.]))


def test_trivial_baseline_and_position_reference():
    train = _split([[1, 1], [1, 2]], [[1., 3.], [5., 0.]],
                   [[True, True], [True, False]])
    test = _split([[1, 2]], [[2., 4.]], [[True, True]])
    out = trivial_baseline(train, test)
    assert out['acc'] == pytest.approx(0.5)  # always class 1
    assert out['miou'] == pytest.approx((1 / 2 + 0) / 2)
    # train-mean depth 3 m: errors 1 and 1, ratios 1.5 and 4/3
    assert out['rmse'] == pytest.approx(1.0)
    assert out['delta1'] == 0.
    pos = position_features(3, 4)
    assert pos.shape == (3, 4, 4) and (pos[2] == torch.eye(4)).all()


def test_position_probe_learns_a_position_only_task():
    # class = patch column, depth = 1 + patch column: position features
    # predict both exactly
    n = 20
    labels = torch.tensor([[0, 1]]).repeat(n, 1)
    depth = (labels + 1).double()
    split = _split(labels, depth, torch.ones(n, 2, dtype=torch.bool))
    feats = position_features(n, 2)
    out = fit_dense_probes(feats, split, feats, split)
    assert out['acc'] == 1. and out['miou'] == 1. and out['delta1'] == 1.
    assert out['rmse'] < 0.05  # only the ridge shrinkage remains


# ---------------------------------------------------------------- data
def test_render_probe_split_crops_to_the_input_aspect_and_resizes():
    split = render_probe_split(seed=5, start=1, num_images=2,
                               input_size=(32, 32), render_size=(40, 56),
                               patch_size=16)
    assert split.rgb.shape == (2, 3, 32, 32) and split.rgb.dtype == \
        torch.uint8
    assert split.grid_size == (2, 2) and split.labels.shape == (2, 4)
    # by hand: sample 2 rendered at 40x56, centre 40x40 crop, nearest resize
    raw = render_sample(5, 2, (40, 56))
    sem = nearest_resize(raw['semseg'][:, 8:48], (32, 32))
    dep = nearest_resize(raw['depth'][:, 8:48], (32, 32))
    val = nearest_resize(raw['depth_valid'][:, 8:48], (32, 32))
    labels, depth, valid = patch_targets(
        torch.from_numpy(sem)[None], torch.from_numpy(dep)[None],
        torch.from_numpy(val)[None], 16, 10)
    assert (split.labels[1] == labels[0]).all()
    assert torch.allclose(split.depth[1], depth[0])
    assert (split.depth_valid[1] == valid[0]).all()


def test_probe_input_spec_of_the_demo_configs():
    def spec(name):
        return probe_input_spec(
            Config.fromfile(osp.join(ROOT, 'configs/pretrain', name)))

    assert spec('mask3d_vit-tiny_synthetic-demo.py') == dict(
        input_size=(96, 128), render_size=(96, 128), patch_size=16)
    assert spec('multimae_vit-tiny_synthetic-demo.py') == dict(
        input_size=(96, 96), render_size=(120, 160), patch_size=16)
    assert spec('simipu_r18-tiny_synthetic-demo.py') == dict(
        input_size=(96, 128), render_size=(96, 128), patch_size=16)


# ---------------------------------------------------------------- features
def _tiny_vit_cfg(shared, modalities):
    return dict(
        type='MultiModalViT',
        arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                  feedforward_channels=64),
        img_size=(32, 48),
        patch_size=16,
        modalities=modalities,
        shared_encoder=shared,
        num_global_tokens=1)


def test_vit_features_are_the_rgb_tokens_with_every_patch_visible():
    torch.manual_seed(0)
    mods = dict(rgb=dict(in_channels=3), depth=dict(in_channels=1))
    for shared in (False, True):
        backbone = MODELS.build(_tiny_vit_cfg(shared, mods))
        backbone.init_weights()
        model = nn.Module()
        model.backbone = backbone
        rgb = torch.randn(2, 3, 32, 48)
        feats = rgb_patch_features(model, rgb, 16)
        assert feats.shape == (2, 6, 32)  # 2x3 patches, no global token
        # = the encoder on the RGB tokens alone (no depth token attends)
        if shared:
            tokens, _ = backbone.stems['rgb'].embed(rgb)  # (2, 6, 32)
            ref = backbone.encoder.encode(tokens)[:, 1:]  # drop global
        else:
            ref = backbone.encoders['rgb'](rgb)[:, 1:]
        torch.testing.assert_close(feats, ref)
        with pytest.raises(ValueError, match='8'):
            rgb_patch_features(model, torch.randn(1, 3, 32, 48), 8)
    video = nn.Module()
    video.backbone = MODELS.build(_tiny_vit_cfg(False, dict(
        rgb=dict(type='TubeletPatchEmbed', in_channels=3, tubelet_size=2,
                 num_frames=4))))
    with pytest.raises(ValueError, match='video tubelets'):
        rgb_patch_features(video, torch.randn(1, 3, 32, 48), 16)


class _FeatureMapModel(nn.Module):
    """A stand-in with SimIPU's ``extract_img_feat`` capability."""

    def __init__(self):
        super().__init__()
        self.data_preprocessor = MODELS.build(
            dict(type='RGBDDataPreprocessor', mean=(0., 0., 0.),
                 std=(1., 1., 1.)))
        self.bn = nn.BatchNorm2d(3)

    def extract_img_feat(self, rgb):
        return self.bn(rgb[:, :, ::8, ::8])  # (B, 3, H/8, W/8)


def test_feature_map_is_pooled_to_the_patch_grid_in_eval_mode():
    model = _FeatureMapModel().train()
    with torch.no_grad():
        model.bn.running_mean.fill_(1.)
    rgb = torch.randint(0, 255, (3, 3, 32, 48), dtype=torch.uint8)
    feats = extract_patch_features(model, rgb, 16, batch_size=2)
    assert model.training  # restored
    assert model.bn.running_mean.eq(1.).all()  # eval: statistics untouched
    fmap = (rgb.float()[:, :, ::8, ::8] - 1.) / math.sqrt(1. + 1e-5)
    ref = fmap.reshape(3, 3, 2, 2, 3, 2).mean((3, 5))  # (3, 3, 2, 3)
    torch.testing.assert_close(feats, ref.flatten(2).transpose(1, 2))
    with pytest.raises(TypeError, match='no RGB encoder'):
        rgb_patch_features(nn.Linear(1, 1), rgb.float(), 16)


def test_simipu_demo_model_gives_a_feature_per_patch():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/pretrain/simipu_r18-tiny_synthetic-demo.py'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    rgb = torch.randint(0, 255, (2, 3, 96, 128), dtype=torch.uint8)
    feats = extract_patch_features(model, rgb, 16)
    assert feats.shape == (2, 48, 32)  # 32-channel stride-8 map, 6x8 grid


def test_dense_probe_is_deterministic():
    def run():
        torch.manual_seed(0)
        model = MODELS.build(
            dict(type='Mask3D',
                 backbone=_tiny_vit_cfg(
                     False, dict(rgb=dict(in_channels=3),
                                 depth=dict(in_channels=1))),
                 neck=dict(type='MAEStyleDecoder', in_channels=32,
                           embed_dims=32, num_layers=1, num_heads=2,
                           layout='fused', heads=dict(depth=256))))
        model.init_weights()
        train = render_probe_split(11, 0, 12, (32, 48))
        test = render_probe_split(11, 12, 6, (32, 48))
        return dense_probe(model, train, test, batch_size=5)

    first, second = run(), run()
    assert first == second
    assert set(first) == {'acc', 'miou', 'rmse', 'delta1'}
    assert 0 < first['acc'] <= 1 and 0 < first['miou'] <= 1
    assert first['rmse'] > 0 and 0 <= first['delta1'] <= 1
