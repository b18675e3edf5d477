"""Export of pre-trained ViT encoders to unmodified mmpretrain / mmseg configs.

A tiny ``MultiModalViT`` (64 channels, 2 blocks, 2 heads, 8 px patches on a
non-square 32x48 input) with randomised weights is saved as a runner-style
checkpoint (numpy objects in it: only the trusted loader reads it), exported
with ``tools/model_converters/export_vit.py`` and loaded through the
``init_cfg`` of mmpretrain's / mmseg's own base configs (read by mmengine's
``get_config('mmpretrain::...')`` = ``Config.fromfile`` of the installed
``.mim/configs`` file), where only the architecture is made tiny.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.hub import get_config

import mmrgbd  # noqa: F401  (installs the weights-only checkpoint loader)
from mmrgbd.models.backbones.multimodal_vit import MultiModalViT
from mmrgbd.models.utils import build_sincos_pos_embed
from mmrgbd.evaluation import DepthEstimationMetric
from mmrgbd.models.utils.export import (ExportError, convert_encoder,
                                        detect_sincos_grid, export_vit)

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'model_converters' / 'export_vit.py'
DOWNSTREAM = REPO / 'configs' / 'downstream'
C, LAYERS, HEADS, P = 64, 2, 2, 8
IMG = (32, 48)  # 4 x 6 tokens
ARCH = dict(embed_dims=C, num_layers=LAYERS, num_heads=HEADS,
            feedforward_channels=4 * C)


def load_tool():
    spec = importlib.util.spec_from_file_location('export_vit', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_vit(num_global_tokens=0, shared=False, **kwargs):
    """A tiny MultiModalViT with every parameter randomised (seeded)."""
    torch.manual_seed(num_global_tokens + 2 * shared)
    mods = dict(rgb=dict(in_channels=3), depth=dict(in_channels=1))
    if shared:
        mods['semseg'] = dict(type='semseg', num_classes=5)
    model = MultiModalViT(arch=ARCH, modalities=mods, img_size=IMG,
                          patch_size=P, shared_encoder=shared,
                          num_global_tokens=num_global_tokens, **kwargs)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.endswith('pos_embed'):
                p.copy_(torch.randn_like(p) * 0.2 +
                        (1. if name.endswith(('ln1.weight', 'ln2.weight'))
                         else 0.))
    return model.eval()


def save_runner_ckpt(model, path):
    """Runner-style checkpoint with non-tensor objects (not weights-only)."""
    state = {f'backbone.{k}': v for k, v in model.state_dict().items()}
    state['neck.decoder_embed.weight'] = torch.randn(8, C)
    torch.save(
        dict(meta=dict(epoch=1, seed=np.int64(0)),
             state_dict=state,
             message_hub=dict(log_scalars=np.zeros(3))), path)
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)
    return str(path)


@pytest.fixture(scope='module')
def tool():
    return load_tool()


_CKPTS = {}


def make_pretrained(G, tmp_path_factory):
    """Mask3D-like (G=0) or with a global token (G=1), built once."""
    if G not in _CKPTS:
        model = build_vit(G)
        path = tmp_path_factory.mktemp(f'g{G}') / 'epoch_1.pth'
        _CKPTS[G] = dict(G=G, model=model, enc=model.encoders.rgb,
                         path=save_runner_ckpt(model, path))
    return _CKPTS[G]


@pytest.fixture(scope='module', params=[0, 1], ids=['no-cls', 'cls'])
def pretrained(request, tmp_path_factory):
    return make_pretrained(request.param, tmp_path_factory)


@pytest.fixture(scope='module')
def mask3d_like(tmp_path_factory):
    """The encoder layout of Mask3D: no global token."""
    return make_pretrained(0, tmp_path_factory)


def export(tool, src, dst, *args):
    assert tool.main([src, str(dst), *args]) == 0
    ckpt = torch.load(dst, weights_only=True)  # plain tensors / types only
    assert set(ckpt) == {'state_dict', 'meta'}
    return ckpt


def rgb(batch=2, size=IMG, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *size, generator=g)


def mmpretrain_classifier(ckpt_path, G, img_size=IMG):
    """mmpretrain's unmodified ViT-B/16 classifier config, tiny arch."""
    from mmpretrain.registry import MODELS
    cfg = get_config('mmpretrain::_base_/models/vit-base-p16.py')
    cfg.model.backbone.update(
        arch=dict(embed_dims=C, num_layers=LAYERS, num_heads=HEADS,
                  feedforward_channels=4 * C),
        img_size=img_size, patch_size=P,
        init_cfg=dict(type='Pretrained', checkpoint=ckpt_path,
                      prefix='backbone.'))
    if not G:
        cfg.model.backbone.update(with_cls_token=False, out_type='featmap')
    cfg.model.head.in_channels = C
    model = MODELS.build(dict(cfg.model, _scope_='mmpretrain'))
    model.init_weights()
    return model.eval()


def mmseg_backbone(ckpt_path, G, img_size=IMG, **overrides):
    """The backbone of mmseg's unmodified UPerNet ViT-B/16 config, tiny."""
    from mmseg.registry import MODELS
    cfg = get_config('mmseg::_base_/models/upernet_vit-b16_ln_mln.py')
    backbone = cfg.model.backbone
    backbone.update(img_size=img_size, patch_size=P, embed_dims=C,
                    num_layers=LAYERS, num_heads=HEADS, out_indices=(0, 1),
                    final_norm=True, with_cls_token=bool(G),
                    init_cfg=dict(type='Pretrained', checkpoint=ckpt_path),
                    **overrides)
    model = MODELS.build(dict(backbone, _scope_='mmseg'))
    model.init_weights()
    model.eval()  # mmseg's ViT.train() returns None
    return model


def layer_outputs(encoder, x):
    """Our encoder's (B, G + N, C) output after every block and the last."""
    outs = []
    hooks = [layer.register_forward_hook(lambda m, i, o: outs.append(o))
             for layer in encoder.layers]
    try:
        final = encoder(x)  # (B, G + N, C)
    finally:
        for h in hooks:
            h.remove()
    return outs, final


def assert_same(a, b):
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, rtol=0, atol=0)


# ---------------------------------------------------------------------- #
def test_base_configs_exist():
    root = Path(__import__('mmpretrain').__file__).parent / '.mim'
    assert (root / 'configs/_base_/models/vit-base-p16.py').is_file()
    root = Path(__import__('mmseg').__file__).parent / '.mim'
    assert (root / 'configs/_base_/models/upernet_vit-b16_ln_mln.py'
            ).is_file()


def test_mmpretrain_export_loads_in_unmodified_config(tool, pretrained,
                                                      tmp_path):
    G, enc = pretrained['G'], pretrained['enc']
    dst = tmp_path / 'rgb_mmpretrain.pth'
    ckpt = export(tool, pretrained['path'], dst, '--target', 'mmpretrain')
    assert all(k.startswith('backbone.') for k in ckpt['state_dict'])
    assert ckpt['meta']['backbone_cfg']['with_cls_token'] == bool(G)
    model = mmpretrain_classifier(str(dst), G)
    theirs = model.backbone.state_dict()
    ours = enc.state_dict()
    assert set(theirs) == set(ours)
    for k, v in ours.items():
        assert_same(theirs[k], v)
    x = rgb()
    with torch.no_grad():
        feat = model.backbone(x)[-1]
        _, final = layer_outputs(enc, x)
    # the weights are equal (above); the features to float rounding, since
    # our patch embedding is one matmul over flattened patches and
    # mmpretrain's a strided conv (same sums, another order)
    if G:  # default out_type 'cls_token': (B, C), our global token
        torch.testing.assert_close(feat, final[:, 0])
    else:  # 'featmap': (B, C, h, w), our tokens in row-major order
        h, w = IMG[0] // P, IMG[1] // P
        torch.testing.assert_close(
            feat, final.transpose(1, 2).reshape(2, C, h, w))
    # the head runs on it (the whole unmodified classifier works)
    if G:
        assert model(x, mode='tensor').shape == (2, 1000)


def test_mmseg_export_loads_without_prefix(tool, pretrained, tmp_path):
    G, enc = pretrained['G'], pretrained['enc']
    dst = tmp_path / 'rgb_mmseg.pth'
    ckpt = export(tool, pretrained['path'], dst, '--target', 'mmseg')
    assert not any(k.startswith('backbone.') for k in ckpt['state_dict'])
    seg = mmseg_backbone(str(dst), G)
    # every weight, through mmseg's module structure (not key strings)
    assert_same(seg.patch_embed.projection.weight,
                enc.patch_embed.projection.weight)
    assert seg.patch_embed.projection.bias is None  # mmseg default
    pos = enc.pos_embed[:, G:] + enc.patch_embed.projection.bias  # folded
    assert_same(seg.pos_embed[:, 1:], pos)
    assert_same(seg.pos_embed[:, :1], torch.zeros(1, 1, C))
    if G:
        assert_same(seg.cls_token, enc.cls_token)
    for ls, lo in zip(seg.layers, enc.layers):
        assert_same(ls.ln1.weight, lo.ln1.weight)
        assert_same(ls.ln2.bias, lo.ln2.bias)
        assert_same(ls.attn.attn.in_proj_weight, lo.attn.qkv.weight)
        assert_same(ls.attn.attn.in_proj_bias, lo.attn.qkv.bias)
        assert_same(ls.attn.attn.out_proj.weight, lo.attn.proj.weight)
        assert_same(ls.attn.attn.out_proj.bias, lo.attn.proj.bias)
        assert_same(ls.ffn.layers[0][0].weight, lo.ffn.layers[0][0].weight)
        assert_same(ls.ffn.layers[1].bias, lo.ffn.layers[1].bias)
    assert_same(seg.ln1.weight, enc.ln1.weight)
    # output feature maps equal ours (block 0 raw, block 1 after ln1)
    x = rgb()
    h, w = IMG[0] // P, IMG[1] // P
    with torch.no_grad():
        outs = seg(x)
        per_layer, final = layer_outputs(enc, x)
    for out, ref in zip(outs, [per_layer[0], final]):
        ref = ref[:, G:].transpose(1, 2).reshape(2, C, h, w)  # (B, C, h, w)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_mmseg_export_at_another_size_regenerates_sincos(pretrained,
                                                         tmp_path):
    G, enc = pretrained['G'], pretrained['enc']
    dst = tmp_path / 'rgb_mmseg_64.pth'
    meta = export_vit(pretrained['path'], str(dst), 'mmseg', img_size=64)
    assert meta['src_grid'] == [4, 6] and meta['dst_grid'] == [8, 8]
    assert meta['pos_embed_order'] == 'wh'
    seg = mmseg_backbone(str(dst), G, img_size=(64, 64))
    ref = build_sincos_pos_embed(C, (8, 8), 'wh')  # (64, C)
    torch.testing.assert_close(
        seg.pos_embed[0, 1:], ref + enc.patch_embed.projection.bias)
    with torch.no_grad():
        assert seg(rgb(1, (64, 64)))[-1].shape == (1, C, 8, 8)


def test_mmpretrain_export_at_another_size(pretrained, tmp_path):
    G = pretrained['G']
    dst = tmp_path / 'rgb_mmpretrain_64x32.pth'
    meta = export_vit(pretrained['path'], str(dst), 'mmpretrain',
                      img_size=(64, 32))
    assert meta['dst_grid'] == [8, 4]
    model = mmpretrain_classifier(str(dst), G, img_size=(64, 32))
    ref = build_sincos_pos_embed(C, (8, 4), 'wh', num_extra_tokens=G)
    assert_same(model.backbone.pos_embed[0], ref)


def test_mmseg_keep_patch_bias(pretrained, tmp_path):
    G, enc = pretrained['G'], pretrained['enc']
    dst = tmp_path / 'rgb_mmseg_bias.pth'
    export_vit(pretrained['path'], str(dst), 'mmseg', patch_bias='keep')
    seg = mmseg_backbone(str(dst), G, patch_bias=True)
    assert_same(seg.patch_embed.projection.bias,
                enc.patch_embed.projection.bias)
    assert_same(seg.pos_embed[:, 1:], enc.pos_embed[:, G:])
    with torch.no_grad():
        _, final = layer_outputs(enc, rgb())
        out = seg(rgb())[-1]
    torch.testing.assert_close(
        out, final[:, G:].transpose(1, 2).reshape(2, C, 4, 6),
        rtol=1e-5, atol=1e-5)


def test_layer_scale_is_folded_for_mmseg(tmp_path):
    model = build_vit(0, layer_scale_init_value=0.1)
    enc = model.encoders.rgb
    assert isinstance(enc.layers[0].attn.gamma1.weight, torch.nn.Parameter)
    src = save_runner_ckpt(model, tmp_path / 'ls.pth')
    dst = tmp_path / 'ls_mmseg.pth'
    export_vit(src, str(dst), 'mmseg')
    seg = mmseg_backbone(str(dst), 0)
    g = enc.layers[1].ffn.gamma2.weight
    assert_same(seg.layers[1].ffn.layers[1].weight,
                enc.layers[1].ffn.layers[1].weight * g[:, None])
    with torch.no_grad():
        _, final = layer_outputs(enc, rgb())
        out = seg(rgb())[-1]
    torch.testing.assert_close(
        out, final.transpose(1, 2).reshape(2, C, 4, 6), rtol=1e-5,
        atol=1e-5)


def test_shared_encoder_layout_to_mmpretrain(tmp_path):
    model = build_vit(1, shared=True)
    src = save_runner_ckpt(model, tmp_path / 'multimae.pth')
    dst = tmp_path / 'multimae_rgb.pth'
    meta = export_vit(src, str(dst), 'mmpretrain')
    assert meta['source_layout'] == 'shared'
    clf = mmpretrain_classifier(str(dst), 1)
    assert_same(clf.backbone.layers[1].attn.qkv.weight,
                model.encoder.layers[1].attn.qkv.weight)
    assert_same(clf.backbone.patch_embed.projection.weight,
                model.stems.rgb.patch_embed.projection.weight)
    x = rgb()
    with torch.no_grad():
        out = model(dict(rgb=x))  # every rgb token visible
        theirs = clf.backbone(x)[-1]  # cls_token output
    torch.testing.assert_close(theirs, out['global_tokens'][:, 0],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('G', [0, 1], ids=['no-cls', 'cls'])
def test_vitdet_export_computes_our_encoder(G, tmp_path):
    """--target vitdet: mmpretrain ViTSAM (ViTDet's backbone) loaded through
    its init_cfg from the export, with global attention in every block and
    its relative position biases (new: written as zeros), gives our encoder's
    last-block
    tokens (ViTDet has no final norm), layer scale and patch bias included;
    the global token and final norm are not written (an encoder trained
    with a global token is used without it, so only its weights match)."""
    from mmpretrain.registry import MODELS
    model = build_vit(G, layer_scale_init_value=0.1)
    enc = model.encoders.rgb
    src = save_runner_ckpt(model, tmp_path / 'src.pth')
    dst = tmp_path / 'vitdet.pth'
    meta = export_vit(src, str(dst), 'vitdet', num_heads=HEADS)
    sd = torch.load(dst, weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in sd)
    assert not any('cls_token' in k or 'ln1.' in k.split('layers')[0]
                   for k in sd)
    assert meta['not_exported'] == (['cls_token'] if G else []) + [
        'ln1.bias', 'ln1.weight']
    # ViTDet's new relative position biases are written as its zero init
    assert len(meta['zero_in_file']) == 2 * LAYERS  # rel_pos_h / _w
    assert meta['new_in_target'] == []
    # without the head count their shape is unknown: left to the detector
    meta2 = export_vit(src, str(tmp_path / 'noheads.pth'), 'vitdet')
    assert meta2['zero_in_file'] == [] and len(meta2['new_in_target']) == 4
    cfg = dict(meta['backbone_cfg'], window_size=0,  # every block global
               init_cfg=dict(type='Pretrained', checkpoint=str(dst),
                             prefix='backbone.'))
    cfg['arch'] = dict(cfg['arch'], num_heads=HEADS)
    assert cfg['type'] == 'mmpretrain.ViTSAM' and tuple(cfg['img_size']) == IMG
    vitdet = MODELS.build(cfg)  # as an mmdet config names it
    with torch.no_grad():  # not zero before loading: the file sets them
        for n, p in vitdet.named_parameters():
            if 'rel_pos' in n:
                p.fill_(1.)
    vitdet.init_weights()
    assert all(not p.any() for n, p in vitdet.named_parameters()
               if 'rel_pos' in n)
    for k, v in enc.state_dict().items():
        if k.startswith('layers.') and 'gamma' not in k and not k.endswith(
                ('attn.proj.weight', 'attn.proj.bias', 'ffn.layers.1.weight',
                 'ffn.layers.1.bias')):  # the last four: layer scale folded
            assert_same(vitdet.state_dict()[k], v)
    if G:  # ViTDet has no global token: the patch tokens no longer attend
        return  # to one, so the features differ from ours by design
    x = rgb()
    h, w = IMG[0] // P, IMG[1] // P
    with torch.no_grad():
        out = vitdet(x)[-1]  # (B, C, h, w)
        per_layer, _ = layer_outputs(enc, x)
    ref = per_layer[-1].transpose(1, 2).reshape(2, C, h, w)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_detect_non_square_grid_and_order():
    for grid, order in [((4, 6), 'wh'), ((6, 4), 'hw'), ((15, 20), 'wh')]:
        pos = build_sincos_pos_embed(C, grid, order, num_extra_tokens=1)
        assert detect_sincos_grid(pos[None], 1) == (grid, order)
    learned = torch.randn(1, 25, C)
    assert detect_sincos_grid(learned, 0) is None


def test_errors(tool, mask3d_like, tmp_path, capsys):
    pretrained = mask3d_like
    state = pretrained['model'].state_dict()
    # semseg (class-embedding stem) is not a conv-patch ViT
    shared = build_vit(1, shared=True).state_dict()
    with pytest.raises(ExportError, match='class_embed.*image-like'):
        convert_encoder(shared, 'mmseg', modality='semseg')
    with pytest.raises(ExportError, match=r"modalities present: \['depth', "
                       r"'rgb'\]"):
        convert_encoder(state, 'mmseg', modality='normals')
    with pytest.raises(ExportError, match='target must be'):
        convert_encoder(state, 'timm')
    with pytest.raises(ExportError, match='several prefixes'):
        convert_encoder(
            dict({f'ema.{k}': v for k, v in state.items()}, **state),
            'mmseg')
    with pytest.raises(ExportError, match='multiple of the patch size'):
        convert_encoder(state, 'mmseg', img_size=30)
    # the result is checked against the target module's own state dict
    extra = dict(state, **{'encoders.rgb.adapter.weight': torch.ones(3)})
    with pytest.raises(ExportError, match=r"unexpected \['adapter.weight'"):
        convert_encoder(extra, 'mmseg')
    lacking = {k: v for k, v in state.items()
               if k != 'encoders.rgb.layers.1.ln2.bias'}
    with pytest.raises(ExportError, match=r"missing \['layers.1.ln2.bias'"):
        convert_encoder(lacking, 'mmpretrain')
    # a stored embedding that is not sin-cos on a non-square grid needs
    # the grid; with it, it is resized
    bad = dict(state)
    bad['encoders.rgb.pos_embed'] = torch.randn_like(
        state['encoders.rgb.pos_embed'])
    with pytest.raises(ExportError, match='src_grid'):
        convert_encoder(bad, 'mmseg')
    out, meta = convert_encoder(bad, 'mmseg', src_grid=(4, 6), img_size=64)
    assert meta['pos_embed_mode'] == 'interpolated'
    assert out['pos_embed'].shape == (1, 65, C)
    # a missing source: exit status 1 naming it, nothing written
    with pytest.raises(SystemExit) as e:
        tool.main([str(tmp_path / 'none.pth'), str(tmp_path / 'x.pth'),
                   '--target', 'mmseg'])
    assert e.value.code == 1
    assert 'none.pth can not be found' in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()


# ---------------------------------------------------------------------- #
# configs/downstream: thin configs over unmodified mmseg / mmpretrain ones
# ---------------------------------------------------------------------- #
DOWNSTREAM_CFGS = {
    'upernet_mask3d-vit-b_ade20k-512x512.py': ('EncoderDecoder', None),
    'depth_mask3d-vit-b_nyu-480x480.py': ('DepthEstimator', None),
    'vit-b-p16_mask3d-pre_8xb128-coslr-100e_in1k.py':
    ('ImageClassifier', 'backbone.'),
    'vit-b-p16_mask3d-pre_8xb2048-linear-coslr-90e_in1k.py':
    ('ImageClassifier', 'backbone.'),
}


@pytest.mark.parametrize('name', sorted(DOWNSTREAM_CFGS))
def test_downstream_configs(name):
    from mmengine import Config
    text = (DOWNSTREAM / name).read_text()
    assert "_base_ = 'mmseg::" in text or "_base_ = 'mmpretrain::" in text \
        or "'mmseg::_base_/models/" in text
    cfg = Config.fromfile(DOWNSTREAM / name)
    model_type, prefix = DOWNSTREAM_CFGS[name]
    assert cfg.model.type == model_type
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained'
    assert init.checkpoint == cfg.pretrained_rgb
    assert init.get('prefix') == prefix
    assert cfg.model.backbone.with_cls_token is False  # Mask3D: no token
    if prefix is None:  # mmseg: no model-level pretrained next to init_cfg
        assert cfg.model.pretrained is None
        assert cfg.model.backbone.final_norm is True


def test_upernet_config_loads_the_export(mask3d_like, tmp_path):
    """The ADE20K UPerNet config (tiny arch) initialises from the export."""
    from mmengine import Config
    from mmseg.registry import MODELS
    pretrained = mask3d_like
    dst = tmp_path / 'rgb_mmseg_64.pth'
    export_vit(pretrained['path'], str(dst), 'mmseg', img_size=64)
    cfg = Config.fromfile(
        DOWNSTREAM / 'upernet_mask3d-vit-b_ade20k-512x512.py')
    m = cfg.model
    m.backbone.update(img_size=(64, 64), patch_size=P, embed_dims=C,
                      num_layers=LAYERS, num_heads=HEADS, out_indices=(0, 1),
                      drop_path_rate=0.)
    m.backbone.init_cfg.checkpoint = str(dst)
    m.neck.update(in_channels=[C] * 2, out_channels=C, scales=[2, 1])
    m.decode_head.update(in_channels=[C] * 2, in_index=[0, 1], channels=16,
                         norm_cfg=dict(type='BN'))
    m.auxiliary_head.update(in_channels=C, in_index=1, channels=16,
                            norm_cfg=dict(type='BN'))
    model = MODELS.build(dict(m, _scope_='mmseg'))
    model.init_weights()
    enc = pretrained['enc']
    assert_same(model.backbone.layers[1].attn.attn.in_proj_weight,
                enc.layers[1].attn.qkv.weight)
    assert_same(model.backbone.ln1.bias, enc.ln1.bias)


def test_depth_config_end_to_end_on_real_nyu(mask3d_like, tmp_path,
                                             samples_dir):
    """mmseg's NYU test pipeline -> DepthEstimator (export loaded through
    the config's init_cfg) -> the config's mmrgbd.DepthEstimationMetric."""
    from mmengine import Config
    from mmengine.dataset import Compose, pseudo_collate
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    pretrained = mask3d_like
    register_all_modules(init_default_scope=False)
    dst = tmp_path / 'rgb_mmseg_480.pth'
    export_vit(pretrained['path'], str(dst), 'mmseg', img_size=(96, 96))
    cfg = Config.fromfile(DOWNSTREAM / 'depth_mask3d-vit-b_nyu-480x480.py')
    m = cfg.model
    m.backbone.update(img_size=(96, 96), patch_size=P, embed_dims=C,
                      num_layers=LAYERS, num_heads=HEADS, drop_path_rate=0.,
                      out_indices=(1, ))
    m.backbone.init_cfg.checkpoint = str(dst)
    # one ViT level, resized by the neck to the 4 scales the head needs
    m.neck.update(in_channels=[C], out_channels=C)
    m.decode_head.update(in_channels=[C] * 4, embed_dim=8, feature_dim=64,
                         num_deconv_filters=(16, 16, 16))
    m.test_cfg = dict(mode='whole')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(m)
        model.init_weights()
        model.eval()
        pipeline = Compose(cfg.test_pipeline)
        evaluator = Evaluator(cfg.test_evaluator)
    enc = pretrained['enc']
    assert_same(model.backbone.layers[0].ffn.layers[1].weight,
                enc.layers[0].ffn.layers[1].weight)
    root = samples_dir / 'mmseg_pseudo_nyu'
    name = 'bookstore_0001d_00001'
    data = pipeline(
        dict(img_path=str(root / 'images' / f'{name}.jpg'),
             depth_map_path=str(root / 'annotations' / f'{name}.png'),
             seg_fields=[], reduce_zero_label=False))
    assert tuple(data['inputs'].shape[1:]) == (480, 640)  # test resize
    with torch.no_grad():
        outputs = model.test_step(pseudo_collate([data]))
    pred = outputs[0].pred_depth_map.data  # (1, 120, 160) at GT size
    assert pred.shape == (1, 120, 160)
    assert 0 < float(pred.min()) and float(pred.max()) < 10.
    evaluator.process(outputs, pseudo_collate([data]))
    metrics = evaluator.evaluate(1)
    assert set(metrics) == set(DepthEstimationMetric.METRICS)
    assert all(np.isfinite(v) for v in metrics.values())
    assert 0 <= metrics['d1'] <= metrics['d2'] <= metrics['d3'] <= 1
