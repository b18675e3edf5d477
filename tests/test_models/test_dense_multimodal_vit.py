"""DenseMultiModalViT (mmseg backbone over RGB / RGB-D / depth) and its
weights-only export (export_vit.py --target mmrgbd)."""
import importlib.util
from pathlib import Path

import pytest
import torch

from mmrgbd.models.backbones import DenseMultiModalViT, MultiModalViT
from mmrgbd.models.utils.export import ExportError, convert_multimodal
from mmrgbd.utils import safe_load

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'model_converters' / \
    'export_vit.py'
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def multimae_like(img_size=(32, 48)):
    """A tiny MultiMAE backbone: shared encoder, global token, 'hw'
    sin-cos, no final norm, RGB + depth + semseg stems."""
    torch.manual_seed(0)
    m = MultiModalViT(
        arch=TINY, img_size=img_size, patch_size=16,
        modalities=dict(rgb=dict(in_channels=3), depth=dict(in_channels=1),
                        semseg=dict(type='semseg', num_classes=5)),
        shared_encoder=True, num_global_tokens=1, pos_embed_order='hw',
        final_norm=False)
    m.init_weights()
    return m


def mask3d_like(img_size=(32, 48)):
    torch.manual_seed(1)
    m = MultiModalViT(
        arch=TINY, img_size=img_size, patch_size=16,
        modalities=dict(rgb=dict(in_channels=3), depth=dict(in_channels=1)),
        shared_encoder=False, num_global_tokens=0)
    m.init_weights()
    return m


def algorithm_state(backbone):
    return {f'backbone.{k}': v for k, v in backbone.state_dict().items()}


@pytest.mark.parametrize('make', [multimae_like, mask3d_like])
def test_export_and_features_equal_the_pretrained_encoder(make):
    """Exported at the pre-training size, the dense backbone gives the
    pre-trained encoder's RGB tokens (of the RGB-D input) exactly; at
    another size every key still loads strictly."""
    src = make()
    out, meta = convert_multimodal(algorithm_state(src), ['rgb', 'depth'])
    cfg = dict(meta['backbone_cfg'])
    assert cfg.pop('type') == 'mmrgbd.DenseMultiModalViT'
    cfg['arch'] = dict(cfg['arch'], num_heads=2)
    dense = DenseMultiModalViT(**cfg)
    dense.load_state_dict(out, strict=True)
    assert not any(k.startswith('stems.semseg') for k in out)
    src.eval()
    dense.eval()
    x = torch.randn(2, 4, 32, 48)
    with torch.no_grad():
        ref = src(dict(rgb=x[:, :3], depth=x[:, 3:]))['tokens']
        feat, = dense(x)
    assert feat.shape == (2, 32, 2, 3)
    torch.testing.assert_close(feat.flatten(2).transpose(1, 2), ref['rgb'],
                               rtol=0, atol=0)
    both = DenseMultiModalViT(**dict(cfg, out_modalities=['rgb', 'depth']))
    both.load_state_dict(out)
    both.eval()
    with torch.no_grad():
        feat2, = both(x)
    torch.testing.assert_close(
        feat2[:, 32:].flatten(2).transpose(1, 2), ref['depth'])
    big, meta64 = convert_multimodal(algorithm_state(src), ['rgb', 'depth'],
                                     img_size=64)
    assert meta64['dst_grid'] == [4, 4]
    DenseMultiModalViT(**dict(cfg, img_size=(64, 64))).load_state_dict(
        big, strict=True)


def test_channel_order_and_depth_only():
    src = multimae_like()
    out, meta = convert_multimodal(algorithm_state(src), ['depth'])
    cfg = dict(meta['backbone_cfg'], arch=dict(TINY))
    cfg.pop('type')
    dense = DenseMultiModalViT(**cfg, out_modalities=['depth'])
    dense.load_state_dict(out, strict=True)
    src.eval()
    dense.eval()
    d = torch.randn(1, 1, 32, 48)
    with torch.no_grad():
        ref = src(dict(depth=d))['tokens']['depth']
        torch.testing.assert_close(
            dense(d)[0].flatten(2).transpose(1, 2), ref)
    # in_modalities fixes the channel order whatever the dict order
    swapped = DenseMultiModalViT(
        arch=TINY, img_size=(32, 48),
        modalities=dict(depth=dict(in_channels=1), rgb=dict(in_channels=3)),
        in_modalities=['rgb', 'depth'])
    parts = swapped.split_channels(torch.arange(4.).view(1, 4, 1, 1))
    assert parts['rgb'].flatten().tolist() == [0., 1., 2.]
    assert parts['depth'].flatten().tolist() == [3.]
    with pytest.raises(ValueError, match=r'expected \(B, 4, H, W\)'):
        swapped(torch.zeros(1, 3, 32, 48))
    with pytest.raises(ValueError, match='must name each of the modal'):
        DenseMultiModalViT(arch=TINY, modalities=dict(
            rgb=dict(in_channels=3)), in_modalities=['rgb', 'depth'])
    with pytest.raises(ValueError, match='not image-like'):
        DenseMultiModalViT(arch=TINY, modalities=dict(
            semseg=dict(type='semseg', num_classes=3)))
    with pytest.raises(ExportError, match='semseg'):
        convert_multimodal(algorithm_state(src), ['rgb', 'semseg'])


def test_layer_depth_of_every_parameter():
    """Stems and global token depth 0, block i depth i + 1, the rest (and
    the head, outside the prefix) depth L + 1, as mmpretrain's ViT."""
    for dense in (DenseMultiModalViT(
            arch=TINY, modalities=dict(rgb=dict(in_channels=3),
                                       depth=dict(in_channels=1)),
            shared_encoder=shared, num_global_tokens=int(shared),
            final_norm=True) for shared in (True, False)):
        depths = {}
        for name, _ in dense.named_parameters():
            depths[name] = dense.get_layer_depth('backbone.' + name,
                                                 'backbone.')
        for name, (depth, total) in depths.items():
            assert total == 4
            if '.layers.' in f'.{name}':
                block = int(name.split('layers.')[1].split('.')[0])
                assert depth == block + 1, name
            elif 'ln1' in name:
                assert depth == 3, name
            else:
                assert depth == 0, name  # patch embed, cls_token
        assert dense.get_layer_depth('decode_head.conv_seg.weight',
                                     'backbone.') == (3, 4)


def _tool():
    spec = importlib.util.spec_from_file_location('export_vit', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_cli_target_mmrgbd(tmp_path, capsys):
    src = multimae_like()
    ckpt = tmp_path / 'pretrain.pth'
    torch.save(dict(state_dict=algorithm_state(src)), ckpt)
    dst = tmp_path / 'rgbd.pth'
    tool = _tool()
    assert tool.main([str(ckpt), str(dst), '--target', 'mmrgbd',
                      '--modality', 'rgb', 'depth', '--img-size', '64',
                      '--num-heads', '2']) == 0
    out = capsys.readouterr().out
    assert "type='mmrgbd.DenseMultiModalViT'" in out
    assert "in_modalities=[" in out
    saved = safe_load(str(dst))  # weights only
    assert saved['meta']['target'] == 'mmrgbd'
    assert saved['meta']['modality'] == ['rgb', 'depth']
    cfg = dict(saved['meta']['backbone_cfg'])
    cfg.pop('type')
    DenseMultiModalViT(**cfg).load_state_dict(saved['state_dict'],
                                              strict=True)
    with pytest.raises(SystemExit) as e:
        tool.main([str(ckpt), str(tmp_path / 'x.pth'), '--target', 'mmseg',
                   '--modality', 'rgb', 'depth'])
    assert e.value.code == 1
    assert 'exports one modality' in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()
