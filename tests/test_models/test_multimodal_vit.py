import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer

from mmrgbd.models.backbones import (MultiModalViT, SemsegPatchEmbed,
                                     mmpretrain_to_mmrgbd)
from mmrgbd.models.maskers import (ComplementaryMasker,
                                   DirichletTokenBudgetMasker,
                                   RandomPatchMasker)
from mmrgbd.models.utils import (get_2d_sincos_pos_embed,
                                 interpolate_pos_embed)
from mmrgbd.registry import MODELS, build_in_scope

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
IMG = (32, 48)  # 8 px patches -> 4 x 6 grid
MODS = dict(
    rgb=dict(in_channels=3),
    depth=dict(in_channels=1),
    semseg=dict(type='semseg', num_classes=5))


def build(shared=True, modalities=None, **kwargs):
    cfg = dict(
        type='MultiModalViT',
        arch=ARCH,
        modalities=modalities or MODS,
        img_size=IMG,
        patch_size=8,
        shared_encoder=shared)
    cfg.update(kwargs)
    model = build_in_scope(MODELS, cfg)
    assert isinstance(model, MultiModalViT)
    model.init_weights()
    model.eval()
    return model


def inputs(B=2, size=IMG, seed=0):
    g = torch.Generator().manual_seed(seed)
    semseg = torch.randint(0, 5, (B, 1, *size), generator=g)
    semseg[:, :, :8, :8] = 255
    return dict(
        rgb=torch.randn(B, 3, *size, generator=g),
        depth=torch.rand(B, 1, *size, generator=g) * 5,
        semseg=semseg,
        depth_valid=torch.ones(B, 1, *size, dtype=torch.bool))


def plain_vit(num_global_tokens=1, in_channels=3, **kwargs):
    vit = VisionTransformer(
        arch=ARCH,
        img_size=IMG,
        patch_size=8,
        in_channels=in_channels,
        out_type='raw',
        with_cls_token=num_global_tokens == 1,
        **kwargs)
    vit.eval()  # BaseBackbone.train() does not return self
    return vit


@pytest.mark.parametrize('G', [0, 1])
def test_specific_encoder_is_a_mmpretrain_vit(G):
    model = build(False, dict(rgb=MODS['rgb'], depth=MODS['depth']),
                  num_global_tokens=G)
    x = inputs()
    out = model(x)
    for mod, ch in (('rgb', 3), ('depth', 1)):
        sd = model.export_encoder_state_dict(mod)
        assert set(sd) == set(model.encoders[mod].state_dict())
        vit = plain_vit(G, ch)
        vit.load_state_dict(sd, strict=True)
        ref = vit(x[mod])[0]  # (B, G + N, C)
        assert torch.allclose(out['tokens'][mod], ref[:, G:], atol=1e-5)
        if G:
            k = ['rgb', 'depth'].index(mod)
            assert torch.allclose(out['global_tokens'][:, k], ref[:, 0],
                                  atol=1e-5)
    assert out['global_tokens'] is None if G == 0 else \
        out['global_tokens'].shape == (2, 2, 32)


def test_shared_export_is_a_mmpretrain_vit():
    model = build(True)
    sd = model.export_encoder_state_dict('rgb')
    vit = plain_vit(1)
    vit.load_state_dict(sd, strict=True)
    x = inputs()
    out = model(dict(rgb=x['rgb']))  # modality subset at run time
    ref = vit(x['rgb'])[0]
    assert torch.allclose(out['tokens']['rgb'], ref[:, 1:], atol=1e-5)
    assert torch.allclose(out['global_tokens'][:, 0], ref[:, 0], atol=1e-5)
    # the rename is invertible
    back = mmpretrain_to_mmrgbd(sd, 'rgb', True)
    own = model.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in back.items())


def test_output_dict_and_shapes_both_layouts():
    x = inputs(B=3)
    for shared in (True, False):
        model = build(shared)
        grids = model.grid_sizes(x)
        assert grids == dict(rgb=(4, 6), depth=(4, 6), semseg=(4, 6))
        masker = RandomPatchMasker(dict(rgb=0.5, depth=0.25, semseg=0.25))
        vis = masker(3, grids, generator=torch.Generator().manual_seed(0))
        out = model(x, vis)
        assert set(out) == {'tokens', 'visible', 'global_tokens',
                            'grid_sizes', 'ids_keep', 'encoded_tokens'}
        assert out['grid_sizes'] == grids
        for m in MODS:
            t = out['tokens'][m]
            assert t.shape == (3, 24, 32)
            assert torch.equal(out['visible'][m], vis[m])
            assert (t[~vis[m]] == 0).all()  # zeros at hidden positions
            assert (t[vis[m]].abs().sum(-1) > 0).all()
        if shared:
            assert out['ids_keep'].shape == (3, 12 + 6 + 6)
            assert out['global_tokens'].shape == (3, 1, 32)
            # the encoder outputs in ids_keep order: exactly the tokens the
            # full layout holds at those positions
            full = torch.cat([out['tokens'][m] for m in MODS], 1)
            idx = out['ids_keep'][..., None].expand(-1, -1, 32)
            assert torch.equal(out['encoded_tokens'],
                               torch.gather(full, 1, idx))
        else:
            assert out['ids_keep'] is None
            assert out['encoded_tokens'] is None
            assert out['global_tokens'].shape == (3, 3, 32)


def _capture_first_layer(encoder):
    seen = []
    handle = encoder.layers[0].register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].detach().clone()))
    return seen, handle


def test_encoder_sees_only_visible_tokens_specific():
    model = build(False, dict(rgb=MODS['rgb'], depth=MODS['depth']))
    x = inputs()
    vis = ComplementaryMasker(0.25, 0.5)(
        2, model.grid_sizes(x), generator=torch.Generator().manual_seed(1))
    seen, handle = _capture_first_layer(model.encoders['rgb'])
    out = model(x, vis)
    handle.remove()
    (first, ) = seen
    assert first.shape == (2, 1 + 6, 32)  # cls + 6 of 24 rgb tokens
    emb, _ = model.encoders['rgb'].embed(x['rgb'])  # (B, N, C)
    for b in range(2):
        assert torch.allclose(first[b, 1:], emb[b][vis['rgb'][b]])
        cls = model.encoders['rgb'].cls_token[0, 0]
        assert torch.allclose(first[b, 0], cls)
    # hidden content cannot influence the output
    x2 = dict(x)
    hidden = ~vis['rgb'].reshape(2, 1, 4, 1, 6, 1).expand(2, 3, 4, 8, 6, 8)
    x2['rgb'] = torch.where(
        hidden.reshape(2, 3, 32, 48), torch.randn_like(x['rgb']), x['rgb'])
    assert not torch.equal(x2['rgb'], x['rgb'])
    out2 = model(x2, vis)
    assert torch.allclose(out2['tokens']['rgb'], out['tokens']['rgb'],
                          atol=1e-6)


def test_encoder_sees_only_visible_tokens_shared_dirichlet():
    model = build(True)
    x = inputs(B=4)
    vis = DirichletTokenBudgetMasker(10)(
        4, model.grid_sizes(x), generator=torch.Generator().manual_seed(2))
    per_mod = torch.stack([v.sum(1) for v in vis.values()], 1)
    assert len({tuple(r) for r in per_mod.tolist()}) > 1  # counts vary
    seen, handle = _capture_first_layer(model.encoder)
    out = model(x, vis)
    handle.remove()
    (first, ) = seen
    assert first.shape == (4, 1 + 10, 32)
    emb = torch.cat([model.stems[m].embed(x[m])[0] for m in MODS], 1)
    vis_all = torch.cat([vis[m] for m in MODS], 1)
    for b in range(4):
        assert torch.allclose(first[b, 1:], emb[b][vis_all[b]])
        ids = torch.nonzero(vis_all[b]).flatten()
        assert torch.equal(out['ids_keep'][b], ids)


def test_visible_count_errors():
    x = inputs()
    grids = dict(rgb=(4, 6), depth=(4, 6))
    vis = DirichletTokenBudgetMasker(10)(
        2, grids, generator=torch.Generator().manual_seed(0))
    vis['rgb'][0] = True  # make the per-modality counts differ
    mods = dict(rgb=MODS['rgb'], depth=MODS['depth'])
    specific = build(False, mods)
    with pytest.raises(ValueError, match='differs between samples'):
        vis_c = dict(rgb=vis['rgb'], depth=torch.ones_like(vis['depth']))
        specific(x, vis_c)
    shared = build(True, mods)
    with pytest.raises(ValueError, match='same total per sample'):
        shared(x, vis)
    with pytest.raises(ValueError, match='visible masks are for'):
        shared(x, dict(rgb=vis['rgb']))
    with pytest.raises(ValueError, match='not divisible'):
        shared(dict(rgb=torch.zeros(1, 3, 30, 48)))
    with pytest.raises(ValueError, match='none of the modalities'):
        shared(dict(points=torch.zeros(1, 3)))


def test_fixed_sincos_pos_embed_non_square_and_interpolated():
    model = build(False, dict(rgb=MODS['rgb']), img_size=(240, 320),
                  patch_size=16)
    enc = model.encoders['rgb']
    assert enc.grid_size == (15, 20)
    ref = get_2d_sincos_pos_embed(32, (15, 20), 'wh', num_extra_tokens=1)
    assert torch.equal(enc.pos_embed[0], ref)
    assert not enc.pos_embed.requires_grad
    # other input size: the stored 15x20 embedding is interpolated
    x = torch.randn(1, 3, 64, 96)
    emb, grid = enc.embed(x)
    assert grid == (4, 6)
    tokens, _ = enc.patch_embed(x)
    pos = interpolate_pos_embed(enc.pos_embed, (15, 20), (4, 6), 'bicubic',
                                1)
    assert torch.allclose(emb - tokens, pos[:, 1:].expand_as(tokens),
                          atol=1e-6)


def test_loading_keeps_fixed_pos_embed():
    model = build(True, dict(rgb=MODS['rgb']), pos_embed_order='hw')
    sd = model.state_dict()
    fixed = sd['stems.rgb.pos_embed'].clone()
    sd['stems.rgb.pos_embed'] = torch.randn(1, 5, 32)  # wrong shape/values
    sd['encoder.cls_token'] = torch.ones(1, 1, 32)
    model.load_state_dict(sd, strict=True)
    assert torch.equal(model.stems['rgb'].pos_embed, fixed)
    assert torch.equal(model.encoder.cls_token, torch.ones(1, 1, 32))
    ref = get_2d_sincos_pos_embed(32, (4, 6), 'hw', num_extra_tokens=1)
    assert torch.equal(fixed[0], ref)


def test_gradients_reach_patch_embeds_not_pos_embed():
    for shared in (True, False):
        model = build(shared).train()
        x = inputs()
        vis = RandomPatchMasker(dict(rgb=0.5, depth=0.5, semseg=0.5))(
            2, model.grid_sizes(x))
        out = model(x, vis)
        loss = sum(t.pow(2).sum() for t in out['tokens'].values())
        loss = loss + out['global_tokens'].sum()
        loss.backward()
        for m in MODS:
            stem = model.stem(m)
            w = stem.patch_embed.projection.weight
            assert w.grad is not None and w.grad.abs().sum() > 0, m
            assert stem.pos_embed.grad is None
        sem = model.stem('semseg').patch_embed.class_embed.weight
        assert sem.grad.abs().sum() > 0
        cls = model.encoder_of('rgb').cls_token
        assert cls.grad.abs().sum() > 0


def test_with_cp_same_output_and_grads():
    torch.manual_seed(0)
    a = build(True, dict(rgb=MODS['rgb'])).train()
    b = build(True, dict(rgb=MODS['rgb']), with_cp=True).train()
    b.load_state_dict(a.state_dict())
    x = dict(rgb=torch.randn(2, 3, *IMG))
    vis = RandomPatchMasker(dict(rgb=0.5))(2, dict(rgb=(4, 6)))
    outs = []
    for model in (a, b):
        y = model(x, vis)['tokens']['rgb']
        y.pow(2).sum().backward()
        outs.append((y, model.encoder.layers[0].attn.qkv.weight.grad))
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-6)
    assert torch.allclose(outs[0][1], outs[1][1], atol=1e-5)


def test_semseg_patch_embed_formula_and_errors():
    emb = SemsegPatchEmbed(num_classes=5, embed_dims=8, patch_size=8,
                           class_embed_dims=4)
    emb.init_weights()
    x = torch.randint(0, 5, (2, 1, 16, 24))
    x[0, 0, 0, 0] = 255
    tokens, grid = emb(x)
    assert grid == (2, 3) and tokens.shape == (2, 6, 8)
    ds = x[:, 0, ::4, ::4].clone()  # nearest 4x downsampling
    assert torch.equal(ds, F.interpolate(x.float(), scale_factor=0.25,
                                         mode='nearest')[:, 0].long())
    ds[ds == 255] = 5  # ignore -> the extra embedding row
    e = emb.class_embed.weight[ds].permute(0, 3, 1, 2)  # (B, 4, 4, 6)
    ref = F.conv2d(e, emb.projection.weight, emb.projection.bias, stride=2)
    assert torch.allclose(tokens, ref.flatten(2).transpose(1, 2), atol=1e-6)
    bad = x.clone()
    bad[0, 0, 4, 4] = 7
    with pytest.raises(ValueError, match=r'outside \[0, 5\)'):
        emb(bad)
    with pytest.raises(ValueError, match='integer labels'):
        emb(x.float())


def test_pretrained_init_cfg_loads_rgb_encoder(tmp_path):
    vit = plain_vit(1)
    for p in vit.parameters():
        torch.nn.init.normal_(p)
    ckpt = tmp_path / 'vit.pth'
    torch.save({'state_dict': vit.state_dict()}, ckpt)
    mods = dict(
        rgb=dict(
            in_channels=3,
            init_cfg=dict(type='Pretrained', checkpoint=str(ckpt))),
        depth=MODS['depth'])
    model = build(False, mods)
    enc = model.encoders['rgb'].state_dict()
    for k, v in vit.state_dict().items():
        if k == 'pos_embed':  # stays the fixed sin-cos
            assert torch.equal(enc[k][0], get_2d_sincos_pos_embed(
                32, (4, 6), num_extra_tokens=1))
        else:
            assert torch.equal(enc[k], v), k


def test_vit_init_as_mae_multimae():
    """Trained from scratch, the attention weights get MultiMAE's init: qkv
    split-xavier (std 0.036 for ViT-B width 768, PyTorch's default gives
    0.0208), proj and FFN xavier, zero biases. A Pretrained encoder keeps
    its loaded weights (tested in test_pretrained_init_cfg_loads_rgb_encoder).
    """
    torch.manual_seed(0)
    arch = dict(embed_dims=768, num_layers=1, num_heads=12,
                feedforward_channels=3072)
    for shared in (True, False):
        model = build(shared, dict(rgb=MODS['rgb']), arch=arch,
                      num_global_tokens=1)
        layer = model.encoder_of('rgb').layers[0]
        qkv, proj = layer.attn.qkv.weight, layer.attn.proj.weight
        bound = (6. / (768 + 768))**0.5  # 0.0625, both
        for w in (qkv, proj):
            assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
            assert w.std().item() == pytest.approx(0.0361, abs=4e-4)
        fc1 = layer.ffn.layers[0][0].weight  # (3072, 768) plain xavier
        assert fc1.abs().max() <= (6. / (3072 + 768))**0.5
        assert fc1.std().item() == pytest.approx(0.0228, abs=3e-4)
        for b in (layer.attn.qkv.bias, layer.attn.proj.bias,
                  layer.ffn.layers[0][0].bias, layer.ffn.layers[1].bias):
            assert b.abs().max() == 0
        assert torch.equal(layer.ln1.weight, torch.ones(768))
        cls = model.encoder_of('rgb').cls_token
        assert cls.std().item() == pytest.approx(0.02, rel=0.2)


@pytest.mark.parametrize('shared', [False, True])
def test_zero_visible_tokens_of_a_modality(shared):
    """Mask3D's 0 % depth ablation: no visible depth token, no global token.
    The encoder runs on an empty sequence (it raised before): depth outputs
    are zeros, RGB is encoded as usual and every encoder parameter still
    gets a (zero) gradient, so DDP needs no unused-parameter search."""
    mods = dict(rgb=MODS['rgb'], depth=MODS['depth'])
    model = build(shared, mods, num_global_tokens=0)
    model.train()
    x = inputs()
    vis = ComplementaryMasker(rgb_keep=0.5, depth_keep=0.0)(
        2, dict(rgb=(4, 6), depth=(4, 6)),
        generator=torch.Generator().manual_seed(0))
    assert not vis['depth'].any() and (vis['rgb'].sum(1) == 12).all()
    out = model(x, vis)
    assert torch.equal(out['tokens']['depth'], torch.zeros(2, 24, 32))
    assert out['tokens']['rgb'][vis['rgb']].abs().sum() > 0
    sum(t.sum() for t in out['tokens'].values()).backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, name
    if not shared:
        enc = model.encoders['depth']
        assert enc.layers[0].attn.qkv.weight.grad.abs().max() == 0
    # nothing visible at all
    none = dict(rgb=torch.zeros_like(vis['rgb']), depth=vis['depth'])
    out = model(x, none)
    assert all(t.abs().max() == 0 for t in out['tokens'].values())
