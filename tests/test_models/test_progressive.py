"""Progressive stage 2: noise, sigma embedding, loss positions, frozen
teacher, stage-1 initialisation, weights and ablations."""
import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from mmrgbd.models.algorithms import (ProgressiveStage1, ProgressiveStage2,
                                      Stage1CheckpointError)
from mmrgbd.models.losses import GlobalFeatureDistillLoss
from mmrgbd.models.utils import patchify
from mmrgbd.registry import MODELS

H, W, P = 32, 48, 8  # 4x6 = 24 patches per modality
N = (H // P) * (W // P)
C = 32
TINY_ARCH = dict(
    embed_dims=C, num_layers=1, num_heads=2, feedforward_channels=64)


def backbone_cfg(**kwargs):
    cfg = dict(
        type='MultiModalViT',
        arch=TINY_ARCH,
        img_size=(H, W),
        patch_size=P,
        modalities=dict(rgb=dict(in_channels=3), depth=dict(in_channels=1)),
        shared_encoder=False,
        num_global_tokens=0)
    cfg.update(kwargs)
    return cfg


def stage2_cfg(**kwargs):
    cfg = dict(
        type='ProgressiveStage2',
        backbone=backbone_cfg(),
        neck=dict(
            type='MAEStyleDecoder',
            in_channels=C,
            embed_dims=32,
            num_layers=1,
            num_heads=2,
            layout='concat',
            heads=dict(depth=P * P)),
        noise_embed=dict(type='NoiseLevelEmbedding', freq_dims=16),
        loss_weights=dict(depth=1.0, denoise=0.01, distill=1.0),
        sigma_max=0.5)
    cfg.update(kwargs)
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def stage1_ckpt(tmp_path_factory):
    """A stage-1 model and its runner-style checkpoint (not weights-only)."""
    torch.manual_seed(1)
    s1 = MODELS.build(
        dict(
            type='ProgressiveStage1',
            backbone=backbone_cfg(),
            head=dict(type='PatchContrastHead', in_channels=C)))
    s1.init_weights()
    path = tmp_path_factory.mktemp('stage1') / 'epoch_300.pth'
    torch.save(
        dict(
            meta=dict(epoch=300, seed=np.int64(0)),
            state_dict=s1.state_dict(),
            message_hub=dict(log=np.zeros(2))), path)
    return s1, str(path)


def make_inputs(B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    valid = torch.rand(B, 1, H, W, generator=g) > 0.2
    depth = torch.randn(B, 1, H, W, generator=g) * valid
    return dict(
        rgb=torch.randn(B, 3, H, W, generator=g),
        depth=depth,
        depth_valid=valid)


class FixedMasker(torch.nn.Module):
    """Returns the given masks."""

    def __init__(self, visible):
        super().__init__()
        self.visible = visible

    def forward(self, batch_size, grid_sizes, generator=None, device=None):
        return {m: v.clone() for m, v in self.visible.items()}


def fixed_visible(B=2):
    out = {}
    for m, ids in (('rgb', [0, 1, 2, 3, 4]), ('depth', [3, 4, 5, 6, 7])):
        v = torch.zeros(B, N, dtype=torch.bool)
        v[:, ids] = True
        out[m] = v
    return out


def fixed_noise(model, x, seed=0):
    return model.sample_noise(x['depth'],
                              torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------- #
def test_noise_is_sigma_times_standard_normal_and_reaches_the_encoder():
    model = build(stage2_cfg(masker=None))
    vis = fixed_visible()
    model.masker = FixedMasker(vis)
    x = make_inputs()
    g = torch.Generator().manual_seed(3)
    sigma, noise = model.sample_noise(x['depth'], g)
    g = torch.Generator().manual_seed(3)
    ref_sigma = torch.rand(2, generator=g) * 0.5
    ref_e = torch.randn(x['depth'].shape, generator=g)
    torch.testing.assert_close(sigma, ref_sigma)
    torch.testing.assert_close(noise, ref_sigma.view(2, 1, 1, 1) * ref_e)
    assert bool(((sigma >= 0) & (sigma <= 0.5)).all())
    out = model.forward_train(x, vis, sigma, noise)
    torch.testing.assert_close(out['depth_in'], x['depth'] + noise)
    enc = model.backbone(dict(rgb=x['rgb'], depth=x['depth'] + noise), vis)
    torch.testing.assert_close(out['feats']['tokens']['depth'],
                               enc['tokens']['depth'])


def test_sigma_embedding_changes_the_decoder_input():
    model = build(stage2_cfg(masker=None))
    vis = fixed_visible()
    model.masker = FixedMasker(vis)
    x = make_inputs()
    _, noise = fixed_noise(model, x)
    seen = []
    model.neck.register_forward_pre_hook(
        lambda mod, args: seen.append(args[0]))
    s1 = torch.tensor([0.05, 0.3])
    s2 = torch.tensor([0.45, 0.1])
    o1 = model.forward_train(x, vis, s1, noise)
    o2 = model.forward_train(x, vis, s2, noise)
    # same encoder input -> same encoder output ...
    torch.testing.assert_close(o1['feats']['tokens']['depth'],
                               o2['feats']['tokens']['depth'])
    # ... but the decoder gets depth tokens + NoiseLevelEmbedding(sigma)
    for s, out, dec_in in ((s1, o1, seen[0]), (s2, o2, seen[1])):
        assert dec_in is out['decoder_feats']
        emb = model.noise_embed(s)  # (B, C)
        torch.testing.assert_close(
            dec_in['tokens']['depth'],
            out['feats']['tokens']['depth'] + emb[:, None])
        torch.testing.assert_close(dec_in['tokens']['rgb'],
                                   out['feats']['tokens']['rgb'])
    assert not torch.allclose(seen[0]['tokens']['depth'],
                              seen[1]['tokens']['depth'])
    assert not torch.allclose(o1['preds']['depth'], o2['preds']['depth'])
    # the default embedding scale maps sigma_max to "timestep" 1000
    assert model.noise_embed.sigma_scale == pytest.approx(1000 / 0.5)

    plain = build(stage2_cfg(masker=None, noise_mode='input'))
    plain.masker = FixedMasker(vis)
    out = plain.forward_train(x, vis, s1, noise)
    assert plain.noise_embed is None
    assert out['decoder_feats'] is out['feats']


def _losses_with(model, x, vis, sigma, noise, edit=None):
    handle = None
    if edit is not None:
        handle = model.neck.register_forward_hook(
            lambda mod, args, out: dict(out, depth=edit(out['depth'])))
    try:
        return model.loss_terms(x, visible=vis, sigma=sigma, noise=noise)
    finally:
        if handle is not None:
            handle.remove()


def test_denoise_on_visible_and_depth_on_masked_positions_only():
    model = build(stage2_cfg(masker=None))
    vis = fixed_visible()
    x = make_inputs()
    sigma, noise = fixed_noise(model, x)
    shown = vis['depth'][..., None]  # (B, N, 1)
    base = _losses_with(model, x, vis, sigma, noise)
    at_hidden = _losses_with(model, x, vis, sigma, noise,
                             lambda p: torch.where(shown, p, p + 50.))
    at_shown = _losses_with(model, x, vis, sigma, noise,
                            lambda p: torch.where(shown, p + 50., p))
    torch.testing.assert_close(at_hidden['denoise'], base['denoise'])
    assert at_hidden['depth'] > base['depth'] + 100
    torch.testing.assert_close(at_shown['depth'], base['depth'])
    assert at_shown['denoise'] > base['denoise'] + 100

    # the targets: sigma * e on visible patches, norm-pix CLEAN depth on
    # hidden ones (invalid pixels excluded)
    e_target = patchify(noise, P)
    clean = patchify(x['depth'], P)
    valid = patchify(x['depth_valid'].float(), P) > 0.5
    cnt = valid.sum(-1, keepdim=True).clamp(min=1)
    mean = (clean * valid).sum(-1, keepdim=True) / cnt
    var = (((clean - mean) * valid)**2).sum(-1, keepdim=True) / cnt
    norm_clean = (clean - mean) / (var + 1e-6).sqrt()
    perfect = _losses_with(
        model, x, vis, sigma, noise,
        lambda p: torch.where(shown, e_target, norm_clean))
    assert float(perfect['denoise']) == 0.
    assert float(perfect['depth']) < 1e-10
    noisy_target = patchify(x['depth'] + noise, P)
    wrong = _losses_with(
        model, x, vis, sigma, noise,
        lambda p: torch.where(shown, e_target, noisy_target))
    assert wrong['depth'] > 1e-3  # the target is not the noisy depth


def test_weighted_total_equals_the_weighted_sum_of_terms():
    model = build(
        stage2_cfg(masker=None,
                   loss_weights=dict(depth=0.7, denoise=0.1, distill=2.0)))
    vis = fixed_visible()
    model.masker = FixedMasker(vis)
    x = make_inputs()
    torch.manual_seed(11)
    terms = model.loss_terms(x)
    torch.manual_seed(11)
    losses = model.loss(x)
    assert set(losses) == {'loss_depth', 'loss_denoise', 'loss_distill'}
    for t, w in (('depth', 0.7), ('denoise', 0.1), ('distill', 2.0)):
        torch.testing.assert_close(losses[f'loss_{t}'], w * terms[t])
    total, _ = model.parse_losses(losses)
    torch.testing.assert_close(
        total, 0.7 * terms['depth'] + 0.1 * terms['denoise'] +
        2.0 * terms['distill'])
    # the distillation term: student (masked, noisy) vs teacher (clean, the
    # student's patches, no position embedding as stage 1) through
    # GlobalFeatureDistillLoss
    torch.manual_seed(11)
    out = model.forward_train(x)
    teacher = model.teacher(dict(rgb=x['rgb'], depth=x['depth']), vis,
                            with_pos_embed=False)
    torch.testing.assert_close(teacher['visible']['depth'], vis['depth'])
    ref = GlobalFeatureDistillLoss()(out['feats'], teacher)
    torch.testing.assert_close(terms['distill'], ref)


def test_teacher_view_pools_over_the_students_positions(stage1_ckpt):
    """Default: the teacher max-pools over exactly the patches the student
    sees (clean input), so a student equal to the teacher on clean depth
    has zero distillation loss; the 'full' teacher pools over every patch
    and gives a target the student's view cannot reach."""
    _, ckpt = stage1_ckpt
    x = make_inputs()
    vis = fixed_visible()
    losses = {}
    for view in ('visible', 'full'):
        # stage1_with_pos_embed=True: student and teacher encode alike
        model = build(
            stage2_cfg(
                masker=None, stage1_checkpoint=ckpt, noise_mode='none',
                teacher_view=view, stage1_with_pos_embed=True))
        model.masker = FixedMasker(vis)
        losses[view] = model.loss_terms(x)['distill']
        seen = model.teacher_feats(x, vis)['visible']
        for m in ('rgb', 'depth'):
            assert torch.equal(seen[m], vis[m] if view == 'visible' else
                               torch.ones_like(vis[m]))
    assert losses['visible'].item() == pytest.approx(0., abs=1e-6)
    assert losses['full'].item() > 1e-3
    with pytest.raises(ValueError, match='teacher_view'):
        MODELS.build(stage2_cfg(teacher_view='all'))


def test_teacher_encodes_like_the_stage1_model(stage1_ckpt):
    """stage1_with_pos_embed=False (default): the teacher encodes content
    tokens without position embeddings, as M3MAEStage1 trained them."""
    s1, ckpt = stage1_ckpt
    model = build(stage2_cfg(stage1_checkpoint=ckpt))
    x = make_inputs()
    vis = fixed_visible()
    got = model.teacher_feats(x, vis)['tokens']['depth']
    ref = s1.encode(dict(rgb=x['rgb'], depth=x['depth']),
                    vis)['tokens']['depth']
    torch.testing.assert_close(got, ref)
    with_pos = model.teacher(dict(rgb=x['rgb'], depth=x['depth']), vis)
    assert not torch.allclose(with_pos['tokens']['depth'], got)


def test_teacher_is_frozen_gets_no_gradient_and_stays_in_eval(stage1_ckpt):
    _, ckpt = stage1_ckpt
    model = build(stage2_cfg(stage1_checkpoint=ckpt))
    model.train()
    assert model.training and not model.teacher.training
    assert all(not p.requires_grad for p in model.teacher.parameters())
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = model.backbone.encoders['depth'].layers[0].attn.qkv.\
        weight.detach().clone()
    optim = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-2, betas=(0.9, 0.95),
                           weight_decay=0.05)))
    losses = model.loss(make_inputs())
    total, _ = model.parse_losses(losses)
    optim.update_params(total)
    assert all(p.grad is None for p in model.teacher.parameters())
    for k, v in model.teacher.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)
    after = model.backbone.encoders['depth'].layers[0].attn.qkv.weight
    assert not torch.allclose(after, student_before)  # the student learns
    # the teacher is part of the state dict (saved with stage 2)
    assert any(k.startswith('teacher.') for k in model.state_dict())


def test_stage1_checkpoint_loads_student_and_teacher(stage1_ckpt):
    s1, ckpt = stage1_ckpt
    model = build(stage2_cfg(stage1_checkpoint=ckpt), seed=99)
    ref = s1.backbone.state_dict()
    for part in (model.backbone, model.teacher):
        got = part.state_dict()
        assert set(got) == set(ref)  # no missing encoder key
        for k in ref:
            torch.testing.assert_close(got[k], ref[k], msg=k)
    # resuming: no stage-1 file; the teacher comes from the stage-2 state
    resumed = build(stage2_cfg(stage1_checkpoint=None), seed=5)
    assert not torch.allclose(
        resumed.teacher.encoders['rgb'].layers[0].attn.qkv.weight,
        model.teacher.encoders['rgb'].layers[0].attn.qkv.weight)
    resumed.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(
        resumed.teacher.encoders['rgb'].layers[0].attn.qkv.weight,
        model.teacher.encoders['rgb'].layers[0].attn.qkv.weight)


def test_missing_or_incompatible_stage1_checkpoint_fails_at_build(
        tmp_path, stage1_ckpt):
    missing = str(tmp_path / 'work_dirs' / 'epoch_300.pth')
    with pytest.raises(Stage1CheckpointError) as e:
        MODELS.build(stage2_cfg(stage1_checkpoint=missing))
    assert str(e.value).startswith(missing)
    assert 'model.stage1_checkpoint' in str(e.value)
    _, ckpt = stage1_ckpt
    with pytest.raises(Stage1CheckpointError) as e:
        MODELS.build(
            stage2_cfg(
                backbone=backbone_cfg(
                    arch=dict(TINY_ARCH, num_layers=2)),
                stage1_checkpoint=ckpt))
    assert str(e.value).startswith(ckpt)
    assert "'encoders.rgb.layers.1.ln1.weight'" in str(e.value)


def test_ablation_switches():
    x = make_inputs()
    none = build(stage2_cfg(noise_mode='none'))
    assert none.noise_embed is None
    out = none.forward_train(x)
    assert out['noise'] is None and out['depth_in'] is x['depth']
    assert set(none.loss(x)) == {'loss_depth', 'loss_distill'}

    inp = build(stage2_cfg(noise_mode='input'))
    out = inp.forward_train(x)
    assert out['noise'] is not None and inp.noise_embed is None
    assert set(inp.loss(x)) == {'loss_depth', 'loss_distill'}

    nodist = build(
        stage2_cfg(loss_weights=dict(depth=1.0, denoise=0.01, distill=0.)))
    assert nodist.teacher is None and 'distill' not in nodist.losses
    assert set(nodist.loss(x)) == {'loss_depth', 'loss_denoise'}

    cfg = stage2_cfg(loss_weights=dict(depth=1., denoise=0.01, distill=1.,
                                       rgb=1.))
    cfg['neck'] = dict(cfg['neck'], heads=dict(depth=P * P, rgb=P * P * 3))
    both = build(cfg)
    assert set(both.loss(x)) == {
        'loss_depth', 'loss_denoise', 'loss_distill', 'loss_rgb'}
    samples = both.predict(x)
    assert samples[0].pred_depth.shape == (1, H, W)
    assert samples[0].pred_rgb.shape == (3, H, W)

    with pytest.raises(ValueError, match=r"neck.heads\['rgb'\]"):
        MODELS.build(
            stage2_cfg(loss_weights=dict(depth=1., denoise=0.01, distill=1.,
                                         rgb=1.)))
    with pytest.raises(ValueError, match='noise_mode'):
        MODELS.build(stage2_cfg(noise_mode='diffusion'))
    assert issubclass(ProgressiveStage1, MODELS.get('M3MAEStage1'))
    assert isinstance(both, ProgressiveStage2)
