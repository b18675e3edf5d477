import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer

from mmrgbd.models.backbones import MultiModalViT
from mmrgbd.models.utils import get_2d_sincos_pos_embed

REPO = Path(__file__).resolve().parents[2]
CONVERTERS = REPO / 'tools' / 'model_converters'
C, HEADS, FFN, LAYERS, P = 32, 2, 64, 2, 8
ARCH = dict(embed_dims=C, num_layers=LAYERS, num_heads=HEADS,
            feedforward_channels=FFN)
IMG = (32, 32)  # 4 x 4 grid


def load_script(name):
    spec = importlib.util.spec_from_file_location(name,
                                                  CONVERTERS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def mae2mmrgbd():
    return load_script('mae2mmrgbd')


@pytest.fixture(scope='module')
def multimae2mmrgbd():
    return load_script('multimae2mmrgbd')


def timm_blocks(prefix, g):
    sd = {}
    for i in range(LAYERS):
        b = f'{prefix}{i}.'
        for name, shape in [('norm1.weight', (C, )), ('norm1.bias', (C, )),
                            ('attn.qkv.weight', (3 * C, C)),
                            ('attn.qkv.bias', (3 * C, )),
                            ('attn.proj.weight', (C, C)),
                            ('attn.proj.bias', (C, )),
                            ('norm2.weight', (C, )), ('norm2.bias', (C, )),
                            ('mlp.fc1.weight', (FFN, C)),
                            ('mlp.fc1.bias', (FFN, )),
                            ('mlp.fc2.weight', (C, FFN)),
                            ('mlp.fc2.bias', (C, ))]:
            sd[b + name] = torch.randn(*shape, generator=g) * 0.1
            if name.startswith('norm') and name.endswith('weight'):
                sd[b + name] += 1
    return sd


def mae_checkpoint():
    """Synthetic checkpoint with the documented official MAE layout."""
    g = torch.Generator().manual_seed(0)
    sd = dict(
        cls_token=torch.randn(1, 1, C, generator=g),
        pos_embed=get_2d_sincos_pos_embed(C, (4, 4), 'wh',
                                          num_extra_tokens=1)[None],
        mask_token=torch.randn(1, 1, 16, generator=g))
    sd['patch_embed.proj.weight'] = torch.randn(C, 3, P, P, generator=g) * .1
    sd['patch_embed.proj.bias'] = torch.randn(C, generator=g) * .1
    sd.update(timm_blocks('blocks.', g))
    sd['norm.weight'] = torch.rand(C, generator=g) + 0.5
    sd['norm.bias'] = torch.randn(C, generator=g) * .1
    # decoder, dropped on purpose
    sd['decoder_embed.weight'] = torch.randn(16, C, generator=g)
    sd['decoder_pos_embed'] = torch.randn(1, 17, 16, generator=g)
    sd['decoder_blocks.0.norm1.weight'] = torch.randn(16, generator=g)
    sd['decoder_norm.weight'] = torch.randn(16, generator=g)
    sd['decoder_pred.weight'] = torch.randn(P * P * 3, 16, generator=g)
    return sd


def reference_vit(sd, img):
    """Plain-torch ViT forward with timm names (written for this test)."""
    x = F.conv2d(img, sd['patch_embed.proj.weight'],
                 sd['patch_embed.proj.bias'], stride=P)
    x = x.flatten(2).transpose(1, 2) + sd['pos_embed'][:, 1:]
    cls = sd['cls_token'] + sd['pos_embed'][:, :1]
    x = torch.cat([cls.expand(x.shape[0], -1, -1), x], 1)
    B, N, _ = x.shape
    for i in range(LAYERS):
        p = {k[len(f'blocks.{i}.'):]: v for k, v in sd.items()
             if k.startswith(f'blocks.{i}.')}
        h = F.layer_norm(x, (C, ), p['norm1.weight'], p['norm1.bias'], 1e-6)
        qkv = F.linear(h, p['attn.qkv.weight'], p['attn.qkv.bias'])
        q, k, v = qkv.reshape(B, N, 3, HEADS, C // HEADS).permute(2, 0, 3, 1,
                                                                  4)
        att = (q @ k.transpose(-2, -1) * (C // HEADS)**-0.5).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, N, C)
        x = x + F.linear(o, p['attn.proj.weight'], p['attn.proj.bias'])
        h = F.layer_norm(x, (C, ), p['norm2.weight'], p['norm2.bias'], 1e-6)
        h = F.linear(F.gelu(F.linear(h, p['mlp.fc1.weight'],
                                     p['mlp.fc1.bias'])),
                     p['mlp.fc2.weight'], p['mlp.fc2.bias'])
        x = x + h
    return F.layer_norm(x, (C, ), sd['norm.weight'], sd['norm.bias'], 1e-6)


def backbone(shared, modalities, **kwargs):
    model = MultiModalViT(arch=ARCH, modalities=modalities, img_size=IMG,
                          patch_size=P, shared_encoder=shared, **kwargs)
    model.eval()
    return model


def convert(module, tmp_path, sd, *args, name='out.pth'):
    src, dst = tmp_path / 'src.pth', tmp_path / name
    torch.save({'model': sd}, src)
    assert module.main([str(src), str(dst), *args]) == 0
    return torch.load(dst, weights_only=True)


def test_mae_to_mmpretrain_layout_round_trip(mae2mmrgbd, tmp_path, capsys):
    sd = mae_checkpoint()
    out = convert(mae2mmrgbd, tmp_path, sd)
    printed = capsys.readouterr().out
    assert 'decoder_blocks.*.norm1.weight' in printed  # ignored keys listed
    assert "order 'wh'" in printed
    assert 'mask_token' in out['meta']['ignored_keys']
    assert out['meta']['pos_embed_order'] == 'wh'
    conv = out['state_dict']
    assert torch.equal(conv['layers.1.attn.qkv.weight'],
                       sd['blocks.1.attn.qkv.weight'])
    assert torch.equal(conv['layers.0.ffn.layers.0.0.weight'],
                       sd['blocks.0.mlp.fc1.weight'])
    assert torch.equal(conv['layers.0.ffn.layers.1.bias'],
                       sd['blocks.0.mlp.fc2.bias'])
    assert torch.equal(conv['ln1.weight'], sd['norm.weight'])
    # strict into a plain mmpretrain ViT and into the rgb encoder
    vit = VisionTransformer(arch=ARCH, img_size=IMG, patch_size=P,
                            out_type='raw')
    vit.load_state_dict(conv, strict=True)
    model = backbone(False, dict(rgb=dict(in_channels=3),
                                 depth=dict(in_channels=1)))
    model.encoders['rgb'].load_state_dict(conv, strict=True)
    # numerically the same network as the timm-style original
    img = torch.randn(2, 3, *IMG)
    ref = reference_vit(sd, img)
    y = model(dict(rgb=img))
    assert torch.allclose(y['tokens']['rgb'], ref[:, 1:], atol=1e-4)
    assert torch.allclose(y['global_tokens'][:, 0], ref[:, 0], atol=1e-4)


@pytest.mark.parametrize('shared', [False, True])
def test_mae_modality_prefix_loads_strictly(mae2mmrgbd, tmp_path, shared):
    sd = mae_checkpoint()
    args = ['--modality', 'rgb'] + (['--shared-encoder'] if shared else [])
    conv = convert(mae2mmrgbd, tmp_path, sd, *args)['state_dict']
    model = backbone(shared, dict(rgb=dict(in_channels=3)))
    model.load_state_dict(conv, strict=True)
    enc = model.encoder_of('rgb')
    assert torch.equal(enc.layers[0].attn.proj.weight,
                       sd['blocks.0.attn.proj.weight'])
    assert torch.equal(model.stem('rgb').patch_embed.projection.weight,
                       sd['patch_embed.proj.weight'])


@pytest.mark.parametrize('change, message', [
    (lambda sd: sd.__setitem__('blocks.0.attn.q_bias', torch.zeros(C)),
     'unused keys'),
    (lambda sd: sd.__setitem__('fc_norm.weight', torch.zeros(C)),
     'unused keys'),
    (lambda sd: sd.pop('blocks.1.mlp.fc2.bias'), 'missing expected keys'),
    (lambda sd: sd.pop('cls_token'), 'missing expected keys'),
])
def test_mae_fails_on_unexpected_or_missing(mae2mmrgbd, tmp_path, capsys,
                                            change, message):
    sd = mae_checkpoint()
    change(sd)
    torch.save({'model': sd}, tmp_path / 'src.pth')
    with pytest.raises(SystemExit) as exc:
        mae2mmrgbd.main([str(tmp_path / 'src.pth'), str(tmp_path / 'o.pth')])
    assert exc.value.code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'o.pth').exists()


def test_cli_exit_status(tmp_path):
    sd = mae_checkpoint()
    sd['blocks.0.gamma_1'] = torch.ones(C)
    torch.save({'model': sd}, tmp_path / 'src.pth')
    res = subprocess.run(
        [sys.executable, str(CONVERTERS / 'mae2mmrgbd.py'),
         str(tmp_path / 'src.pth'), str(tmp_path / 'o.pth')],
        capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1
    assert 'blocks.0.gamma_1' in res.stderr


def multimae_checkpoint():
    """Synthetic checkpoint with the documented MultiMAE layout."""
    g = torch.Generator().manual_seed(1)

    def pos():  # (1, D, h, w), row-first sin-cos
        emb = get_2d_sincos_pos_embed(C, (4, 4), 'hw')  # (16, C)
        return emb.transpose(0, 1).reshape(1, C, 4, 4)

    sd = {'global_tokens': torch.randn(1, 1, C, generator=g)}
    for task, ch in (('rgb', 3), ('depth', 1)):
        sd[f'input_adapters.{task}.pos_emb'] = pos()
        sd[f'input_adapters.{task}.proj.weight'] = torch.randn(
            C, ch, P, P, generator=g)
        sd[f'input_adapters.{task}.proj.bias'] = torch.randn(C, generator=g)
    sd['input_adapters.semseg.pos_emb'] = pos()
    # pre-training: exactly num_classes rows (no row for "no label")
    sd['input_adapters.semseg.class_emb.weight'] = torch.randn(
        6, 64, generator=g)
    sd['input_adapters.semseg.proj.weight'] = torch.randn(
        C, 64, P // 4, P // 4, generator=g)
    sd['input_adapters.semseg.proj.bias'] = torch.randn(C, generator=g)
    sd.update(timm_blocks('encoder.', g))
    sd['output_adapters.rgb.decoder.0.weight'] = torch.randn(4, 4)
    sd['output_adapters.depth.mask_token'] = torch.randn(1, 1, 4)
    return sd


def test_multimae_converts_and_loads_strictly(multimae2mmrgbd, tmp_path,
                                              capsys):
    sd = multimae_checkpoint()
    out = convert(multimae2mmrgbd, tmp_path, sd)
    printed = capsys.readouterr().out
    assert 'output_adapters.rgb.decoder.*.weight' in printed  # listed
    assert 'output_adapters.depth.mask_token' in out['meta']['ignored_keys']
    assert out['meta']['pos_embed_order'] == 'hw'
    model = backbone(
        True,
        dict(rgb=dict(in_channels=3), depth=dict(in_channels=1),
             semseg=dict(type='semseg', num_classes=6)),
        final_norm=False, pos_embed_order='hw', num_global_tokens=1)
    model.load_state_dict(out['state_dict'], strict=True)
    assert torch.equal(model.encoder.cls_token, sd['global_tokens'])
    assert torch.equal(model.encoder.layers[1].attn.qkv.bias,
                       sd['encoder.1.attn.qkv.bias'])
    assert torch.equal(model.encoder.layers[0].ffn.layers[0][0].weight,
                       sd['encoder.0.mlp.fc1.weight'])
    sem = model.stems['semseg'].patch_embed
    # the 6 official rows, then the ignore row the converter added: zero
    assert sem.class_embed.weight.shape == (7, 64)
    assert torch.equal(sem.class_embed.weight[:6],
                       sd['input_adapters.semseg.class_emb.weight'])
    assert torch.equal(sem.class_embed.weight[6], torch.zeros(64))
    assert 'num_classes=6' in printed and 'zero-initialised' in printed
    assert torch.equal(sem.projection.weight,
                       sd['input_adapters.semseg.proj.weight'])
    assert torch.equal(model.stems['depth'].patch_embed.projection.bias,
                       sd['input_adapters.depth.proj.bias'])
    # the stored (1, D, h, w) sin-cos became the model's (1, 1 + h*w, D)
    assert torch.equal(out['state_dict']['stems.rgb.pos_embed'],
                       model.stems['rgb'].pos_embed)
    prefixed = convert(multimae2mmrgbd, tmp_path, sd, '--prefix',
                       'backbone.', name='p.pth')['state_dict']
    assert all(k.startswith('backbone.') for k in prefixed)


@pytest.mark.parametrize('change, message', [
    (lambda sd: sd.__setitem__('encoder_norm.weight', torch.ones(C)),
     'unused keys'),
    (lambda sd: sd.pop('input_adapters.depth.proj.bias'),
     'missing expected keys'),
    (lambda sd: sd.pop('encoder.0.attn.qkv.weight'),
     'missing expected keys'),
    (lambda sd: sd.__setitem__('global_tokens', torch.zeros(1, 2, C)),
     '2 global tokens'),
    (lambda sd: sd.__setitem__('output_adapters.rgb.mask_token',
                               torch.zeros(1, 1, 4)),
     'missing expected keys'),  # with --with-decoders: an incomplete one
])
def test_multimae_fails_on_unexpected_or_missing(multimae2mmrgbd, tmp_path,
                                                 capsys, change, message):
    sd = multimae_checkpoint()
    change(sd)
    torch.save({'model': sd}, tmp_path / 'src.pth')
    extra = ['--with-decoders'] if 'output_adapters.rgb.mask_token' in sd \
        else []
    with pytest.raises(SystemExit) as exc:
        multimae2mmrgbd.main(
            [str(tmp_path / 'src.pth'), str(tmp_path / 'o.pth')] + extra)
    assert exc.value.code == 1
    assert message in capsys.readouterr().err


def test_multimae_padded_class_embedding(multimae2mmrgbd, tmp_path):
    """A checkpoint that already has a padding row (official fine-tuning)
    keeps it as the ignore row with --num-classes; a row count that fits
    neither raises."""
    sd = multimae_checkpoint()
    sd['input_adapters.semseg.class_emb.weight'] = torch.randn(7, 64)
    out = convert(multimae2mmrgbd, tmp_path, sd, '--num-classes', '6')
    emb = out['state_dict']['stems.semseg.patch_embed.class_embed.weight']
    assert torch.equal(emb, sd['input_adapters.semseg.class_emb.weight'])
    torch.save({'model': sd}, tmp_path / 'src.pth')
    with pytest.raises(SystemExit):
        multimae2mmrgbd.main([str(tmp_path / 'src.pth'),
                              str(tmp_path / 'o.pth'), '--num-classes', '4'])
