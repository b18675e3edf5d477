"""tools/model_converters/videomae2mmrgbd.py: an official VideoMAE
pre-training checkpoint (layout written here from the released code's key
names; nothing is downloaded) becomes a tubelet encoder of MultiModalViT
that computes exactly VideoMAE's encoder."""
import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmrgbd.models.backbones import MultiModalViT

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'model_converters' / 'videomae2mmrgbd.py'
C, HEADS, FFN, LAYERS = 32, 2, 64, 2
P, TP, T, IMG = 8, 2, 4, 16  # grid (2, 2, 2) = 8 tokens
ARCH = dict(embed_dims=C, num_layers=LAYERS, num_heads=HEADS,
            feedforward_channels=FFN)


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('videomae2mmrgbd', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def videomae_pretrain_checkpoint(g):
    """VideoMAE's PretrainVisionTransformer state dict (encoder + decoder)."""
    sd = {
        'encoder.patch_embed.proj.weight':
        torch.randn(C, 3, TP, P, P, generator=g) * 0.05,
        'encoder.patch_embed.proj.bias': torch.randn(C, generator=g) * 0.1,
        'encoder.norm.weight': torch.rand(C, generator=g) + 0.5,
        'encoder.norm.bias': torch.randn(C, generator=g) * 0.1,
    }
    for i in range(LAYERS):
        b = f'encoder.blocks.{i}.'
        for name, shape in [('norm1.weight', (C, )), ('norm1.bias', (C, )),
                            ('attn.qkv.weight', (3 * C, C)),
                            ('attn.q_bias', (C, )), ('attn.v_bias', (C, )),
                            ('attn.proj.weight', (C, C)),
                            ('attn.proj.bias', (C, )),
                            ('norm2.weight', (C, )), ('norm2.bias', (C, )),
                            ('mlp.fc1.weight', (FFN, C)),
                            ('mlp.fc1.bias', (FFN, )),
                            ('mlp.fc2.weight', (C, FFN)),
                            ('mlp.fc2.bias', (C, ))]:
            sd[b + name] = torch.randn(*shape, generator=g) * 0.2
            if name.startswith('norm') and name.endswith('weight'):
                sd[b + name] += 1
    # pre-training parts that are not the encoder
    sd['encoder_to_decoder.weight'] = torch.randn(16, C, generator=g)
    sd['mask_token'] = torch.randn(1, 1, 16, generator=g)
    sd['decoder.blocks.0.norm1.weight'] = torch.ones(16)
    sd['decoder.norm.weight'] = torch.ones(16)
    sd['decoder.head.weight'] = torch.randn(TP * P * P * 3, 16, generator=g)
    return sd


def sinusoid_table(n, d):
    """VideoMAE's get_sinusoid_encoding_table, written from its math."""
    table = np.array([[pos / np.power(10000, 2 * (j // 2) / d)
                       for j in range(d)] for pos in range(n)])
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float32)[None]  # (1, n, d)


def reference_encoder(sd, clip):
    """VideoMAE's encoder forward (all tokens visible), from the official
    layout: Conv3d tubelets, + sinusoid table, blocks whose qkv Linear has
    no bias and adds cat(q_bias, 0, v_bias), final LayerNorm."""
    e = {k[len('encoder.'):]: v for k, v in sd.items()
         if k.startswith('encoder.')}
    x = F.conv3d(clip, e['patch_embed.proj.weight'],
                 e['patch_embed.proj.bias'], stride=(TP, P, P))
    x = x.flatten(2).transpose(1, 2)  # (B, N, C)
    B, N, _ = x.shape
    x = x + sinusoid_table(N, C)
    for i in range(LAYERS):
        p = {k[len(f'blocks.{i}.'):]: v for k, v in e.items()
             if k.startswith(f'blocks.{i}.')}
        h = F.layer_norm(x, (C, ), p['norm1.weight'], p['norm1.bias'], 1e-6)
        bias = torch.cat([p['attn.q_bias'], torch.zeros(C), p['attn.v_bias']])
        qkv = F.linear(h, p['attn.qkv.weight'], bias)
        q, k, v = qkv.reshape(B, N, 3, HEADS, -1).permute(2, 0, 3, 1, 4)
        att = (q * (C // HEADS)**-0.5 @ k.transpose(-2, -1)).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, N, -1)
        x = x + F.linear(o, p['attn.proj.weight'], p['attn.proj.bias'])
        h = F.layer_norm(x, (C, ), p['norm2.weight'], p['norm2.bias'], 1e-6)
        x = x + F.linear(F.gelu(F.linear(h, p['mlp.fc1.weight'],
                                         p['mlp.fc1.bias'])),
                         p['mlp.fc2.weight'], p['mlp.fc2.bias'])
    return F.layer_norm(x, (C, ), e['norm.weight'], e['norm.bias'], 1e-6)


def tubelet_backbone(init_rgb=None, init_depth=None):
    def stem(ch, ckpt):
        cfg = dict(type='TubeletPatchEmbed', in_channels=ch,
                   tubelet_size=TP, num_frames=T)
        if ckpt:
            cfg['init_cfg'] = dict(type='Pretrained', checkpoint=ckpt)
        return cfg

    return MultiModalViT(
        arch=ARCH, img_size=IMG, patch_size=P, shared_encoder=False,
        num_global_tokens=0, pos_embed_order='videomae',
        modalities=dict(rgb=stem(3, init_rgb), depth=stem(1, init_depth)))


def run(tool, tmp_path, sd, *args, name='out.pth'):
    src = tmp_path / 'videomae_pretrain.pth'
    torch.save({'model': sd}, src)
    dst = tmp_path / name
    assert tool.main([str(src), str(dst), '--num-frames', str(T),
                      '--img-size', str(IMG), *args]) == 0
    return str(dst)


def test_pretrain_checkpoint_loads_strictly_and_matches_videomae(
        tool, tmp_path, capsys):
    sd = videomae_pretrain_checkpoint(torch.Generator().manual_seed(0))
    rgb = run(tool, tmp_path, sd)
    depth = run(tool, tmp_path, sd, '--in-channels', '1', name='d.pth')
    printed = capsys.readouterr().out
    assert 'decoder.blocks.*.norm1.weight' in printed  # listed as ignored
    assert 'no k bias' in printed
    out = torch.load(rgb, weights_only=True)
    assert out['meta']['pos_embed_order'] == 'videomae'
    assert 'encoder_to_decoder.weight' in out['meta']['ignored_keys']
    conv = out['state_dict']
    qkv_bias = conv['layers.1.attn.qkv.bias']
    assert torch.equal(qkv_bias[:C], sd['encoder.blocks.1.attn.q_bias'])
    assert torch.equal(qkv_bias[C:2 * C], torch.zeros(C))
    assert torch.equal(qkv_bias[2 * C:], sd['encoder.blocks.1.attn.v_bias'])
    # zero missing / unexpected keys in the tubelet encoder
    model = tubelet_backbone()
    missing, unexpected = model.encoders['rgb'].load_state_dict(
        conv, strict=True)
    assert not missing and not unexpected
    # and through the config route (init_cfg=Pretrained on each modality)
    model = tubelet_backbone(init_rgb=rgb, init_depth=depth)
    model.init_weights()
    model.eval()
    clip = torch.randn(2, 3, T, IMG, IMG)
    ref = reference_encoder(sd, clip)  # (2, 8, C)
    with torch.no_grad():
        got = model(dict(rgb=clip))['tokens']['rgb']
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    # the depth encoder on a grey clip d == the RGB encoder on (d, d, d)
    d = torch.randn(2, 1, T, IMG, IMG)
    with torch.no_grad():
        got_d = model(dict(depth=d))['tokens']['depth']
    torch.testing.assert_close(got_d, reference_encoder(sd, d.expand(
        -1, 3, -1, -1, -1)), atol=1e-5, rtol=1e-5)


def test_modality_prefix_loads_into_the_backbone(tool, tmp_path):
    sd = videomae_pretrain_checkpoint(torch.Generator().manual_seed(1))
    conv = torch.load(run(tool, tmp_path, sd, '--modality', 'rgb'),
                      weights_only=True)['state_dict']
    model = tubelet_backbone()
    missing, unexpected = model.load_state_dict(conv, strict=False)
    assert not unexpected
    assert all(k.startswith('encoders.depth.') for k in missing)


def test_position_table_equals_videomae(tool):
    emb = tool.videomae_pos_embed(C, T, IMG, P, TP)
    torch.testing.assert_close(emb, sinusoid_table(8, C))
    assert math.isclose(emb[0, 3, 1].item(), math.cos(3.), rel_tol=1e-6)


@pytest.mark.parametrize('change, message', [
    (lambda sd: sd.__setitem__('head.weight', torch.zeros(400, C)),
     r'fine-tuned \(supervised\)'),
    (lambda sd: sd.__setitem__('encoder.blocks.0.gamma_1', torch.ones(C)),
     'layer scale'),
    (lambda sd: sd.__setitem__('encoder.pos_embed', torch.zeros(1, 8, C)),
     'learned position embedding'),
    (lambda sd: sd.pop('encoder.blocks.1.attn.v_bias'),
     r'missing expected keys .*blocks\.1\.attn\.v_bias'),
    (lambda sd: sd.pop('encoder.norm.bias'), 'missing expected keys'),
    (lambda sd: sd.__setitem__('encoder.cls_token', torch.zeros(1, 1, C)),
     'unused keys'),
    (lambda sd: sd.__setitem__('something.else', torch.zeros(1)),
     'unused keys'),
])
def test_anything_else_fails_clearly(tool, tmp_path, capsys, change,
                                     message):
    sd = videomae_pretrain_checkpoint(torch.Generator().manual_seed(2))
    change(sd)
    torch.save({'model': sd}, tmp_path / 'src.pth')
    with pytest.raises(SystemExit) as exc:
        tool.main([str(tmp_path / 'src.pth'), str(tmp_path / 'o.pth')])
    assert exc.value.code == 1
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / 'o.pth').exists()


def test_cli_refuses_pickled_code(tmp_path):
    """Weights-only loading: a checkpoint that needs unpickling of objects
    is refused with a clear message, not executed."""
    src = tmp_path / 'runner.pth'
    torch.save({'model': {}, 'meta': {'seed': np.int64(0)},
                'obj': Path('x')}, src)
    res = subprocess.run(
        [sys.executable, str(SCRIPT), str(src), str(tmp_path / 'o.pth')],
        capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1
    # the safe loader names the file and the refused class; nothing ran
    assert str(src) in res.stderr and 'pathlib' in res.stderr
    assert not (tmp_path / 'o.pth').exists()


def test_videomae_table_is_regenerated_for_another_clip_length():
    """The table depends on the token count only: a 6-frame clip (12
    tokens) gets rows 0..11 of VideoMAE's table, not an interpolation of
    the configured 8-token one."""
    model = tubelet_backbone()
    stem = model.encoders['rgb']
    clip = torch.randn(1, 3, 6, IMG, IMG)
    tokens, grid = stem.embed(clip)
    assert grid == (3, 2, 2)
    raw, _ = stem.patch_embed(clip)
    torch.testing.assert_close(tokens - raw, sinusoid_table(12, C).expand(
        1, -1, -1), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match='order must be one of'):
        from mmrgbd.models.utils import get_2d_sincos_pos_embed
        get_2d_sincos_pos_embed(C, (2, 2), 'videomae')
