"""Export of M3 3D video (tubelet) encoders to mmaction2's VideoMAE ViT.

The encoder is the backbone of the shipped video pre-training config
(``configs/pretrain/m3mae_video_ucf101.py``: Conv3d 2x16x16 tubelets,
VideoMAE's 1D position table, no global token) with the ViT-B arch made
tiny and every parameter randomised (the fused qkv bias included, so the
dropped k bias is not zero). It is saved as a runner-style checkpoint,
exported with ``tools/model_converters/export_vit.py --target mmaction2`` and
loaded through the ``init_cfg`` of mmaction2's unmodified VideoMAE
recognition config (``mmaction::recognition/videomae/...``), where only the
architecture is made tiny.
"""
import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config

import mmrgbd  # noqa: F401  (installs the weights-only checkpoint loader)
from mmrgbd.models.utils import build_sincos_pos_embed
from mmrgbd.models.utils.export import ExportError
from mmrgbd.models.utils.export_mmaction import (convert_encoder_mmaction2,
                                                 detect_video_pos_embed)
from mmrgbd.registry import MODELS
from test_export_vit import save_runner_ckpt  # runner-style checkpoint

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'model_converters' / 'export_vit.py'
PRETRAIN = REPO / 'configs' / 'pretrain' / 'm3mae_video_ucf101.py'
VIDEOMAE = 'mmaction::recognition/videomae/' \
    'vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py'
C, LAYERS, HEADS = 32, 2, 2
TINY = dict(embed_dims=C, num_layers=LAYERS, num_heads=HEADS,
            feedforward_channels=4 * C)
FRAMES, SIZE = 4, 32  # 2 x 2 x 2 tubelet grid: 8 tokens


def load_tool():
    spec = importlib.util.spec_from_file_location('export_vit', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_video_backbone(seed=0, **overrides):
    """The pre-training config's MultiModalViT, tiny, randomised."""
    cfg = Config.fromfile(str(PRETRAIN)).model.backbone
    cfg.arch = TINY
    cfg.img_size = (SIZE, SIZE)
    for mod in cfg.modalities.values():
        mod.pop('init_cfg', None)
        mod.num_frames = FRAMES
    cfg.update(overrides)
    model = MODELS.build(cfg)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.endswith('pos_embed'):
                p.copy_(torch.randn_like(p) * 0.2 +
                        (1. if name.endswith(('ln1.weight', 'ln2.weight'))
                         else 0.))
    return model.eval()


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    model = build_video_backbone()
    path = tmp_path_factory.mktemp('video') / 'epoch_1.pth'
    return dict(model=model, path=save_runner_ckpt(model, path))


def clip(seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, FRAMES, SIZE, SIZE, generator=g)


def mmaction_recognizer(ckpt, **backbone):
    """mmaction2's unmodified VideoMAE recognizer config, tiny arch."""
    from mmaction.registry import MODELS as MMA_MODELS
    cfg = get_config(VIDEOMAE)
    cfg.model.backbone.update(
        embed_dims=C, depth=LAYERS, num_heads=HEADS, img_size=SIZE,
        num_frames=FRAMES,
        init_cfg=dict(type='Pretrained', checkpoint=ckpt,
                      prefix='backbone.'), **backbone)
    cfg.model.cls_head.in_channels = C
    model = MMA_MODELS.build(dict(cfg.model, _scope_='mmaction'))
    model.init_weights()
    return model.eval()


def test_mean_pooled_features_equal_ours(pretrained, tmp_path, capsys):
    """Default export (use_mean_pooling=True): zero missing / unexpected
    keys through mmaction2's own loader, and the pooled feature equals
    LN(mean of our last block's tokens) with our final norm."""
    dst = tmp_path / 'rgb_mmaction2.pth'
    assert load_tool().main([
        pretrained['path'], str(dst), '--target', 'mmaction2',
        '--img-size', str(SIZE), '--num-frames', str(FRAMES),
        '--num-heads', str(HEADS)]) == 0
    printed = capsys.readouterr().out
    assert 'use_mean_pooling=True' in printed and 'num_heads=2' in printed
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['pos_embed_order'] == 'videomae'
    assert ckpt['meta']['max_abs_k_bias'] > 0.1  # a real bias was dropped
    sd = {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()}
    theirs = mmaction_recognizer(str(dst))
    # every key of mmaction's ViT comes from the file, none is left over
    expected = set(theirs.backbone.state_dict())
    assert set(sd) == expected
    for k, v in theirs.backbone.state_dict().items():
        torch.testing.assert_close(v, sd[k], rtol=0, atol=0)
    enc = pretrained['model'].encoders.rgb
    x = clip()
    with torch.no_grad():
        tokens, _ = enc.embed(x)  # (B, N, C)
        for layer in enc.layers:
            tokens = layer(tokens)  # (B, N, C)
        ours = enc.ln1(tokens.mean(dim=1))  # (B, C)
        feats = theirs.extract_feat(x[:, None], test_mode=True)[0]  # (B, C)
    torch.testing.assert_close(feats, ours, rtol=1e-5, atol=1e-5)


def test_feature_map_equals_our_tokens(pretrained, tmp_path):
    """``--pooling none`` (use_mean_pooling=False, return_feat_map=True):
    the whole (B, C, t, h, w) map equals our encoder's output tokens, so
    dropping the k bias changes nothing."""
    dst = tmp_path / 'rgb_map.pth'
    assert load_tool().main([
        pretrained['path'], str(dst), '--target', 'mmaction2',
        '--img-size', str(SIZE), '--num-frames', str(FRAMES),
        '--pooling', 'none']) == 0
    theirs = mmaction_recognizer(str(dst), use_mean_pooling=False,
                                 return_feat_map=True)
    x = clip(seed=1)
    with torch.no_grad():
        ours = pretrained['model'](dict(rgb=x))['tokens']['rgb']  # (B, N, C)
        fmap = theirs.backbone(x)  # (B, C, t, h, w)
    assert fmap.shape == (2, C, 2, 2, 2)
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), ours,
                               rtol=1e-5, atol=1e-5)


def test_pos_embed_regenerated_for_mmaction_defaults(pretrained):
    """Without a size the export targets 16 x 224 x 224 (1568 tokens) with
    VideoMAE's table, which equals mmaction2's own sinusoid buffer."""
    from mmaction.models.backbones.vit_mae import get_sinusoid_encoding
    state = pretrained['model'].state_dict()
    out, meta = convert_encoder_mmaction2(state, num_heads=HEADS)
    assert meta['dst_grid'] == [8, 14, 14]
    pos = out['backbone.pos_embed']
    assert pos.shape == (1, 1568, C)
    torch.testing.assert_close(pos, get_sinusoid_encoding(1568, C),
                               rtol=0, atol=1e-6)


def test_3d_sincos_source_is_detected_and_regenerated():
    """A 3D sin-cos table (pos_embed_order='wh') is recognised among the
    factorisations of N and regenerated on the target grid."""
    model = build_video_backbone(pos_embed_order='wh')
    stored = model.encoders.rgb.pos_embed  # (1, 8, C)
    assert detect_video_pos_embed(stored) == ((2, 2, 2), 'wh')
    out, meta = convert_encoder_mmaction2(model.state_dict(), img_size=48,
                                          num_frames=6)
    assert (meta['pos_embed_order'], meta['dst_grid']) == ('wh', [3, 3, 3])
    torch.testing.assert_close(
        out['backbone.pos_embed'][0],
        build_sincos_pos_embed(C, (3, 3, 3), 'wh'), rtol=0, atol=0)


def test_layer_scale_and_missing_qkv_bias(tmp_path):
    """Layer scale goes to gamma_1 / gamma_2 (init_values > 0 in the
    printed config); without qkv bias mmaction's qkv_bias=False."""
    model = build_video_backbone(layer_scale_init_value=0.1, qkv_bias=False)
    out, meta = convert_encoder_mmaction2(
        model.state_dict(), img_size=SIZE, num_frames=FRAMES,
        pooling='none', num_heads=HEADS)
    cfg = dict(meta['backbone_cfg'])
    assert cfg['init_values'] > 0 and cfg['qkv_bias'] is False
    assert 'backbone.blocks.0.attn.q_bias' not in out
    torch.testing.assert_close(
        out['backbone.blocks.1.gamma_2'],
        model.state_dict()['encoders.rgb.layers.1.ffn.gamma2.weight'])
    from mmaction.models.backbones import VisionTransformer
    cfg.pop('type')
    theirs = VisionTransformer(**cfg).eval()
    theirs.load_state_dict({k[9:]: v for k, v in out.items()}, strict=True)
    x = clip(seed=2)
    with torch.no_grad():
        ours = model(dict(rgb=x))['tokens']['rgb']  # (B, N, C)
        fmap = theirs(x)  # (B, C, t, h, w)
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), ours,
                               rtol=1e-5, atol=1e-5)


def test_errors(pretrained, tmp_path, capsys):
    state = pretrained['model'].state_dict()
    # an image encoder (Conv2d stem) is not exportable to mmaction2
    from mmrgbd.models.backbones.multimodal_vit import MultiModalViT
    image = MultiModalViT(arch=TINY, img_size=SIZE, patch_size=16,
                          shared_encoder=False, num_global_tokens=0)
    with pytest.raises(ExportError, match='no Conv3d tubelet projection'):
        convert_encoder_mmaction2(image.state_dict())
    cls = build_video_backbone(num_global_tokens=1)
    with pytest.raises(ExportError, match='global .class. token'):
        convert_encoder_mmaction2(cls.state_dict())
    with pytest.raises(ExportError, match='not multiples of the patch'):
        convert_encoder_mmaction2(state, img_size=40)
    learned = dict(state)
    learned['encoders.rgb.pos_embed'] = torch.randn_like(
        state['encoders.rgb.pos_embed'])
    with pytest.raises(ExportError, match='export at the pre-training size'):
        convert_encoder_mmaction2(learned)
    out, meta = convert_encoder_mmaction2(learned, img_size=SIZE,
                                          num_frames=FRAMES)
    assert meta['pos_embed_mode'] == 'copied'
    extra = dict(state, **{'encoders.rgb.adapter.weight': torch.ones(3)})
    with pytest.raises(ExportError, match="unexpected encoder key 'adapter"):
        convert_encoder_mmaction2(extra)
    # the CLI: exit status 1, message, nothing written
    with pytest.raises(SystemExit) as e:
        load_tool().main([pretrained['path'], str(tmp_path / 'x.pth'),
                          '--target', 'mmaction2', '--img-size', '32', '48'])
    assert e.value.code == 1
    assert 'square img_size' in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()
