"""MultiMAE on a tiny config: loss keys, masked-only losses, variants by
config, gradients, predict()."""
import pytest
import torch

from mmrgbd.models.algorithms import MultiMAE
from mmrgbd.models.losses import MaskedReconstructionLoss, MaskedSemsegLoss
from mmrgbd.models.utils import patchify
from mmrgbd.registry import MODELS

S, P, K = 32, 8, 5  # 4x4 = 16 patches per modality, 5 classes
N = (S // P)**2
TINY_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
ALL_MODS = dict(
    rgb=dict(in_channels=3),
    depth=dict(in_channels=1),
    semseg=dict(type='semseg', num_classes=K))


def _dec(task, out_channels):
    return dict(
        type='CrossAttentionTaskDecoder',
        task=task,
        out_channels=out_channels,
        in_channels=32,
        embed_dims=32,
        num_heads=2,
        num_layers=1)


OUTPUTS = dict(
    rgb=(_dec('rgb', P * P * 3),
         dict(type='MaskedReconstructionLoss', loss_type='mse')),
    rgb_normpix=(_dec('rgb', P * P * 3),
                 dict(
                     type='MaskedReconstructionLoss',
                     loss_type='mse',
                     norm_pix=True)),
    depth=(_dec('depth', P * P),
           dict(type='MaskedReconstructionLoss', loss_type='l1')),
    semseg=(_dec('semseg', 2 * 2 * K),
            dict(type='MaskedSemsegLoss', num_classes=K, ignore_index=255)),
)


def tiny_cfg(modalities=ALL_MODS, outputs=tuple(OUTPUTS), num_visible=8):
    return dict(
        type='MultiMAE',
        backbone=dict(
            type='MultiModalViT',
            arch=TINY_ARCH,
            img_size=S,
            patch_size=P,
            modalities={m: modalities[m]
                        for m in modalities},
            shared_encoder=True,
            num_global_tokens=1),
        masker=dict(
            type='DirichletTokenBudgetMasker',
            num_visible=num_visible,
            alpha=1.0),
        decoders={o: OUTPUTS[o][0]
                  for o in outputs},
        losses={o: OUTPUTS[o][1]
                for o in outputs})


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(**kwargs))
    model.init_weights()
    return model


def make_inputs(B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    valid = torch.rand(B, 1, S, S, generator=g) > 0.2
    semseg = torch.randint(0, K, (B, 1, S, S), generator=g)
    semseg[:, :, :4] = 255
    return dict(
        rgb=torch.randn(B, 3, S, S, generator=g),
        depth=torch.randn(B, 1, S, S, generator=g) * valid,
        depth_valid=valid,
        semseg=semseg)


class FixedMasker(torch.nn.Module):

    def __init__(self, visible):
        super().__init__()
        self.visible = visible

    def forward(self, batch_size, grid_sizes, generator=None, device=None):
        return {m: v.clone() for m, v in self.visible.items()}


def test_loss_keys_finite_and_gradients():
    model = build()
    assert isinstance(model, MultiMAE)
    losses = model(make_inputs(), mode='loss')
    assert set(losses) == {
        'loss_rgb', 'loss_rgb_normpix', 'loss_depth', 'loss_semseg'
    }
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    enc = model.backbone.encoder
    assert enc.layers[0].attn.qkv.weight.grad.abs().sum() > 0
    assert enc.cls_token.grad.abs().sum() > 0  # the global token
    for name, dec in model.decoders.items():
        assert dec.head.weight.grad.abs().sum() > 0, name


def test_masked_only_and_matches_parts():
    model = build()
    B = 3
    # sample-wise: 8 visible tokens in total, split differently
    vis = {m: torch.zeros(B, N, dtype=torch.bool) for m in ALL_MODS}
    vis['rgb'][0, :8] = True
    vis['depth'][1, 2:6] = True
    vis['semseg'][1, 10:14] = True
    vis['rgb'][2, 3:5] = True
    vis['depth'][2, 0:6] = True
    model.masker = FixedMasker(vis)
    inputs = make_inputs(B)
    losses = model.loss(inputs)
    with torch.no_grad():
        feats = model.extract_feat(inputs, vis)
        preds = {n: d(feats) for n, d in model.decoders.items()}
    grid = (S // P, S // P)
    ref = dict(
        loss_rgb=MaskedReconstructionLoss('mse')(
            preds['rgb'], patchify(inputs['rgb'], P), vis['rgb']),
        loss_rgb_normpix=MaskedReconstructionLoss('mse', norm_pix=True)(
            preds['rgb_normpix'], patchify(inputs['rgb'], P), vis['rgb']),
        loss_depth=MaskedReconstructionLoss('l1')(
            preds['depth'], patchify(inputs['depth'], P), vis['depth'],
            patchify(inputs['depth_valid'].float(), P) > 0.5),
        loss_semseg=MaskedSemsegLoss(K)(preds['semseg'], inputs['semseg'],
                                        vis['semseg'], grid))
    for k, v in ref.items():
        assert losses[k].item() == pytest.approx(v.item(), rel=1e-5), k


def test_fully_visible_task_has_zero_loss():
    model = build()
    B = 3
    vis = {m: torch.zeros(B, N, dtype=torch.bool) for m in ALL_MODS}
    vis['rgb'][:] = True  # 16 per sample, all of them RGB
    model.masker = FixedMasker(vis)
    losses = model.loss(make_inputs(B))
    assert losses['loss_rgb'].item() == 0
    assert losses['loss_rgb_normpix'].item() == 0
    assert losses['loss_depth'] > 0 and losses['loss_semseg'] > 0


def test_rgbd_and_rgb_only_variants_by_config():
    rgbd = build(
        modalities=dict(rgb=ALL_MODS['rgb'], depth=ALL_MODS['depth']),
        outputs=('rgb', 'rgb_normpix', 'depth'))
    losses = rgbd.loss(make_inputs())
    assert set(losses) == {'loss_rgb', 'loss_rgb_normpix', 'loss_depth'}
    assert set(rgbd.backbone.stems) == {'rgb', 'depth'}
    # RGB in, RGB + depth + semseg out: non-input tasks predicted everywhere
    rgb_only = build(modalities=dict(rgb=ALL_MODS['rgb']), num_visible=4)
    losses = rgb_only.loss(make_inputs())
    assert set(losses) == {
        'loss_rgb', 'loss_rgb_normpix', 'loss_depth', 'loss_semseg'
    }
    assert all(torch.isfinite(v) for v in losses.values())
    with pytest.raises(ValueError, match='same outputs'):
        cfg = tiny_cfg()
        cfg['losses'].pop('semseg')
        MODELS.build(cfg)


def test_predict_shapes():
    model = build()
    model.eval()
    inputs = make_inputs(2)
    samples = model.predict(inputs)
    s = samples[1]
    assert s.pred_rgb.shape == (3, S, S)
    assert s.pred_rgb_normpix.shape == (3, S, S)
    assert s.pred_depth.shape == (1, S, S)
    assert s.pred_semseg.shape == (1, S, S)
    assert s.pred_semseg.dtype == torch.long
    assert 0 <= int(s.pred_semseg.min()) and int(s.pred_semseg.max()) < K
    total = sum(int(getattr(s, f'visible_{m}').sum()) for m in ALL_MODS)
    assert total == 8
    assert s.visible_rgb.shape == (S // P, S // P)
    assert torch.equal(s.gt_depth, inputs['depth'][1])


def test_init_weights_reaches_every_decoder():
    model = build()  # build() calls init_weights()
    for name, dec in model.decoders.items():
        # official init of the decoders ran: xavier-uniform linear layers
        # (the fused qkv split into its 3 matrices) with zero biases, also
        # inside the transformer blocks
        qkv = dec.layers[0].attn.qkv
        assert (qkv.bias == 0).all(), name
        bound = (6 / (qkv.weight.shape[0] // 3 + qkv.weight.shape[1]))**0.5
        assert qkv.weight.abs().max() <= bound, name
        assert qkv.weight.abs().max() > 0.8 * bound, name
