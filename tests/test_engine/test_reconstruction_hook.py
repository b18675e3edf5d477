"""ReconstructionVisualizationHook and DepthReconstructionMetric on a tiny Mask3D."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmrgbd.datasets import SyntheticRGBDScenes
from mmrgbd.engine.hooks import ReconstructionVisualizationHook
from mmrgbd.evaluation import DepthReconstructionMetric
from mmrgbd.registry import MODELS
from mmrgbd.visualization.draw import title_height
from mmrgbd.visualization.reconstruction import (reconstruction_panel,
                                                 upsample_tokens)

H, W, P = 32, 48, 8


def tiny_mask3d():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='Mask3D',
            backbone=dict(
                type='MultiModalViT',
                arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                          feedforward_channels=64),
                img_size=(H, W),
                patch_size=P,
                modalities=dict(rgb=dict(in_channels=3),
                                depth=dict(in_channels=1)),
                shared_encoder=False),
            neck=dict(type='MAEStyleDecoder', in_channels=32, embed_dims=32,
                      num_layers=1, num_heads=2, layout='fused',
                      heads=dict(depth=P * P))))
    model.init_weights()
    return model


def synthetic_batch(n=2):
    ds = SyntheticRGBDScenes(
        num_samples=n, img_size=(H, W), seed=3,
        pipeline=[dict(type='NormalizeDepth', mode='metric', max_depth=10.),
                  dict(type='PackRGBDInputs')])
    return pseudo_collate([ds[i] for i in range(n)])


def test_panel_tiles_and_mask_drawing():
    model = tiny_mask3d().eval()
    batch = synthetic_batch()
    data = model.data_preprocessor(batch, False)
    samples = model.predict(data['inputs'], data['data_samples'])
    pre = model.data_preprocessor
    panel = reconstruction_panel(data['inputs'], samples[0], 0, pre.mean,
                                 pre.std)
    # rgb + given depth + gt + pred + error: 5 tiles of width W, 2px gaps
    assert panel.shape == (H, 5 * W + 4 * 2, 3) and panel.dtype == np.uint8
    # the first tile shows RGB exactly where the RGB patch was given
    vis = upsample_tokens(samples[0].visible_rgb.numpy(), (H, W))
    raw = batch['inputs']['rgb'][0].permute(1, 2, 0).numpy()
    tile = panel[:, :W]
    top = title_height(f'rgb ({vis.mean():.0%} given)', W)
    assert top < H - 4  # the title leaves image rows visible
    below_title = np.zeros((H, W), bool)
    below_title[top:] = True  # rows under the drawn title text
    keep, hide = vis & below_title, ~vis & below_title
    assert keep.any() and hide.any()
    assert np.abs(tile[keep].astype(int) - raw[keep]).max() <= 1
    assert np.abs(tile[hide].astype(int) - raw[hide]).max() > 10


def test_hook_writes_panels_every_interval(tmp_path):
    model = tiny_mask3d()
    batch = synthetic_batch()
    logged = []
    runner = SimpleNamespace(
        model=model, work_dir=str(tmp_path), iter=0,
        max_iters=4, train_loop=SimpleNamespace(max_iters=4),
        visualizer=SimpleNamespace(
            add_image=lambda name, img, step: logged.append((name, step))))
    hook = ReconstructionVisualizationHook(interval=2, num_samples=1)
    for it in range(4):
        runner.iter = it
        hook.after_train_iter(runner, it, batch, None)
    files = sorted(p.name for p in (tmp_path / 'vis').iterdir())
    assert files == ['iter_000002_0.png', 'iter_000004_0.png']
    assert logged == [('reconstruction_0', 2), ('reconstruction_0', 4)]
    assert model.training  # restored after drawing


def test_metric_equals_hand_computation():
    metric = DepthReconstructionMetric()
    gt = torch.full((1, 4, 4), 2.0)
    pred = torch.full((1, 4, 4), 2.0)
    pred[0, 0, 0] = 3.0  # hidden patch (token 0), valid: error 1 m
    pred[0, 3, 3] = 9.0  # visible patch: not counted in rmse/abs_rel
    valid = torch.ones(1, 4, 4, dtype=torch.bool)
    valid[0, 1, 0] = False  # hidden but invalid: not counted
    visible = torch.tensor([[False, True], [True, True]])  # 2x2 tokens
    sample = dict(pred_depth=pred, gt_depth=gt, visible_depth=visible)
    metric.process({'inputs': {'depth_valid': [valid]}}, [sample])
    res = metric.compute_metrics(metric.results)
    n = 3  # hidden token covers 4 pixels, one invalid
    assert res['mae'] == pytest.approx(1.0 / n)
    assert res['rmse'] == pytest.approx(np.sqrt(1.0 / n))
    assert res['abs_rel'] == pytest.approx(0.5 / n)
    assert res['delta1'] == pytest.approx(2 / 3)
    assert res['rmse_all'] == pytest.approx(np.sqrt((1 + 49) / 15))


def test_metric_maps_back_to_metres_with_depth_norm():
    metric = DepthReconstructionMetric()
    gt = torch.full((1, 2, 2), 0.2)  # 2 m after metric scaling by 10
    pred = torch.full((1, 2, 2), 0.3)
    sample = dict(pred_depth=pred, gt_depth=gt,
                  depth_norm=dict(mode='metric', shift=0.0, scale=10.0))
    metric.process({'inputs': {}}, [sample])
    res = metric.compute_metrics(metric.results)
    assert res['mae'] == pytest.approx(1.0)


def test_clip_panel_draws_the_first_frame():
    from mmrgbd.structures import RGBDDataSample
    g = torch.Generator().manual_seed(0)
    T, h, w = 4, 2, 3
    clip = dict(
        rgb=torch.randn(2, 3, T, H, W, generator=g),
        depth=torch.rand(2, 1, T, H, W, generator=g) + 0.5,
        depth_valid=torch.rand(2, 1, T, H, W, generator=g) > 0.1)
    vis = torch.rand(T // 2, h, w, generator=g) > 0.5
    sample = RGBDDataSample(
        pred_depth=torch.rand(1, T, H, W, generator=g),
        gt_depth=clip['depth'][1], visible_rgb=vis, visible_depth=~vis)
    panel = reconstruction_panel(clip, sample, 1)
    frame = {k: v[1:2, :, 0] for k, v in clip.items()}
    frame_sample = RGBDDataSample(
        pred_depth=sample.pred_depth[:, 0], gt_depth=sample.gt_depth[:, 0],
        visible_rgb=vis[0], visible_depth=~vis[0])
    expected = reconstruction_panel(frame, frame_sample, 0)
    assert panel.shape == expected.shape == (H, 5 * W + 8, 3)
    np.testing.assert_array_equal(panel, expected)
