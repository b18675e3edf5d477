"""Mask3D on a tiny config: loss keys, masking semantics, gradients,
predict()."""
import copy

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmrgbd.models.algorithms import Mask3D
from mmrgbd.models.losses import MaskedReconstructionLoss
from mmrgbd.models.utils import patchify, unpatchify
from mmrgbd.registry import MODELS
from mmrgbd.structures import RGBDDataSample

H, W, P = 32, 48, 8  # 4x6 = 24 patches per modality
TINY_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def tiny_cfg(**kwargs):
    cfg = dict(
        type='Mask3D',
        backbone=dict(
            type='MultiModalViT',
            arch=TINY_ARCH,
            img_size=(H, W),
            patch_size=P,
            modalities=dict(
                rgb=dict(in_channels=3), depth=dict(in_channels=1)),
            shared_encoder=False,
            num_global_tokens=0),
        neck=dict(
            type='MAEStyleDecoder',
            in_channels=32,
            embed_dims=32,
            num_layers=1,
            num_heads=2,
            layout='fused',
            heads=dict(depth=P * P)),
    )
    cfg.update(kwargs)
    return cfg


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(**kwargs))
    model.init_weights()
    return model


def make_inputs(B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    depth = torch.rand(B, 1, H, W, generator=g) * 3 + 0.5
    valid = torch.rand(B, 1, H, W, generator=g) > 0.2
    depth = depth * valid
    return dict(
        rgb=torch.randn(B, 3, H, W, generator=g),
        depth=depth,
        depth_valid=valid)


class FixedMasker(torch.nn.Module):
    """Returns the given masks (lets a test control the visible patches)."""

    def __init__(self, visible):
        super().__init__()
        self.visible = visible

    def forward(self, batch_size, grid_sizes, generator=None, device=None):
        return {m: v.clone() for m, v in self.visible.items()}


def fixed_visible(B=2):
    N = (H // P) * (W // P)
    rgb = torch.zeros(B, N, dtype=torch.bool)
    depth = torch.zeros(B, N, dtype=torch.bool)
    rgb[:, :5] = True
    depth[:, 5:10] = True
    return dict(rgb=rgb, depth=depth)


def test_defaults_and_loss_keys():
    model = build()
    assert isinstance(model, Mask3D)
    assert model.masker.__class__.__name__ == 'ComplementaryMasker'
    assert model.losses['depth'].norm_pix and \
        model.losses['depth'].loss_type == 'mse' and \
        model.losses['depth'].on == 'masked'
    losses = model(make_inputs(), mode='loss')
    assert set(losses) == {'loss_depth'}
    assert torch.isfinite(losses['loss_depth'])
    assert losses['loss_depth'] > 0


def test_gradients_reach_both_encoders_and_decoder():
    model = build()
    loss = model.loss(make_inputs())['loss_depth']
    loss.backward()
    for mod in ('rgb', 'depth'):
        enc = model.backbone.encoders[mod]
        g = enc.layers[0].attn.qkv.weight.grad
        assert g is not None and g.abs().sum() > 0, mod
        assert enc.patch_embed.projection.weight.grad.abs().sum() > 0, mod
    assert model.neck.heads['depth'].weight.grad.abs().sum() > 0
    assert model.neck.mask_token.grad.abs().sum() > 0


def test_loss_is_depth_on_hidden_depth_patches_with_valid_mask():
    model = build()
    vis = fixed_visible()
    model.masker = FixedMasker(vis)
    inputs = make_inputs()
    value = model.loss(inputs)['loss_depth']
    # the same from the parts: decoder output vs norm-pix depth targets
    with torch.no_grad():
        feats = model.extract_feat(inputs, vis)
        pred = model.neck(feats)['depth']
    target = patchify(inputs['depth'], P)
    valid = patchify(inputs['depth_valid'].float(), P) > 0.5
    ref = MaskedReconstructionLoss('mse', norm_pix=True, on='masked')(
        pred, target, vis['depth'], valid)
    assert value.item() == pytest.approx(ref.item(), rel=1e-5)
    # invalid pixels inside hidden depth patches do not matter
    changed = copy.deepcopy(inputs)
    hidden_px = ~vis['depth'][:, :, None].expand(-1, -1, P * P)
    px = (~patchify(inputs['depth_valid'].float(), P).bool()) & hidden_px
    d = patchify(changed['depth'], P)
    d[px] = 7.5
    changed['depth'] = unpatchify(d, P, (H // P, W // P))
    assert not torch.equal(changed['depth'], inputs['depth'])
    assert model.loss(changed)['loss_depth'].item() == pytest.approx(
        value.item(), rel=1e-6)
    # loss_on='all' also counts the depth patches given as input
    model_all = build(loss_on='all')
    model_all.load_state_dict(model.state_dict())
    model_all.masker = FixedMasker(vis)
    ref_all = MaskedReconstructionLoss('mse', norm_pix=True, on='all')(
        pred, target, vis['depth'], valid)
    assert model_all.loss(inputs)['loss_depth'].item() == pytest.approx(
        ref_all.item(), rel=1e-5)


def test_rgb_loss_option():
    with pytest.raises(ValueError, match="head for \\['rgb'\\]"):
        build(with_rgb_loss=True)
    neck = tiny_cfg()['neck']
    neck['heads'] = dict(depth=P * P, rgb=P * P * 3)
    model = build(with_rgb_loss=True, neck=neck)
    losses = model.loss(make_inputs())
    assert set(losses) == {'loss_depth', 'loss_rgb'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert model.losses['rgb'].on == 'masked'
    with pytest.raises(ValueError, match='loss_on'):
        build(loss_on='visible')


def test_predict_attaches_reconstructions():
    model = build()
    model.eval()
    inputs = make_inputs()
    samples = model(inputs, [RGBDDataSample(), RGBDDataSample()],
                    mode='predict')
    assert len(samples) == 2
    s = samples[0]
    assert s.pred_depth.shape == (1, H, W)
    assert s.gt_depth.shape == (1, H, W)
    assert torch.equal(s.gt_depth, inputs['depth'][0])
    assert s.visible_rgb.shape == (H // P, W // P)
    assert s.visible_rgb.sum() == 5 and s.visible_depth.sum() == 5
    assert not (s.visible_rgb & s.visible_depth).any()
    assert torch.isfinite(s.pred_depth).all()


def test_predict_depth_is_in_input_units():
    model = build()
    model.eval()
    vis = fixed_visible()
    model.masker = FixedMasker(vis)
    inputs = make_inputs()
    samples = model.predict(inputs)  # data samples created when None
    with torch.no_grad():
        out = model.neck(model.extract_feat(inputs, vis))['depth']
    gt = patchify(inputs['depth'], P)
    valid = patchify(inputs['depth_valid'].float(), P) > 0.5
    # norm-pix output * std + mean of the valid GT values of each patch
    for b in range(2):
        pred = patchify(samples[b].pred_depth[None], P)[0]  # (N, P*P)
        for n in (0, 7, 20):
            v = valid[b, n]
            mean = gt[b, n][v].mean()
            std = (gt[b, n][v].var(unbiased=False) + 1e-6).sqrt()
            assert torch.allclose(pred[n], out[b, n] * std + mean,
                                  atol=1e-4)
        assert torch.equal(samples[b].visible_depth.flatten(),
                           vis['depth'][b])


def test_train_step_with_preprocessor():
    model = build(data_preprocessor=dict(type='RGBDDataPreprocessor'))
    g = torch.Generator().manual_seed(1)
    samples = []
    for _ in range(2):
        depth = torch.rand(1, H, W, generator=g) * 4
        samples.append(
            dict(
                inputs=dict(
                    rgb=torch.randint(0, 256, (3, H, W), dtype=torch.uint8,
                                      generator=g),
                    depth=depth,
                    depth_valid=depth > 0.3),
                data_samples=RGBDDataSample()))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = model.backbone.encoders['rgb'].layers[0].attn.qkv.weight.clone()
    log = model.train_step(pseudo_collate(samples), optim)
    assert set(log) == {'loss', 'loss_depth'}
    assert torch.isfinite(log['loss'])
    after = model.backbone.encoders['rgb'].layers[0].attn.qkv.weight
    assert not torch.equal(before, after)


#: Mask3D Tab. 8 / 13: every (RGB, depth) kept ratio of the paper
PAPER_RATIOS = [(c, d) for c in (0.2, 0.5, 0.8, 1.0)
                for d in (0.0, 0.2, 0.5, 0.8, 1.0)]


@pytest.mark.parametrize('rgb_keep,depth_keep', PAPER_RATIOS)
def test_paper_ratio_ablations_build_and_train_one_step(rgb_keep, depth_keep):
    """Each ratio pair of the paper's tables builds and trains one step:
    0 % depth (the encoder runs on no depth token) and RGB + depth above
    100 % (overlapping positions are averaged by the fused decoder). With
    100 % depth no depth patch is hidden, so the loss covers all depth
    patches (loss_on='all')."""
    loss_on = 'all' if depth_keep == 1.0 else 'masked'
    model = build(
        masker=dict(
            type='ComplementaryMasker', rgb_keep=rgb_keep,
            depth_keep=depth_keep),
        loss_on=loss_on)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    weights = [
        model.backbone.encoders['rgb'].layers[0].attn.qkv.weight,
        model.neck.layers[0].attn.qkv.weight,
        model.backbone.encoders['depth'].layers[0].attn.qkv.weight
    ]
    before = [w.detach().clone() for w in weights]
    losses = model.loss(make_inputs())
    assert set(losses) == {'loss_depth'}
    assert torch.isfinite(losses['loss_depth'])
    assert losses['loss_depth'] > 0.1  # norm-pix targets: about 1 at init
    optim.update_params(losses['loss_depth'])
    changed = [not torch.equal(w, b) for w, b in zip(weights, before)]
    # the depth encoder learns only when it sees depth
    assert changed == [True, True, depth_keep > 0]


def test_full_depth_with_masked_loss_raises():
    with pytest.raises(ValueError, match="loss_on='all'"):
        build(
            masker=dict(
                type='ComplementaryMasker', rgb_keep=0.2, depth_keep=1.0))
