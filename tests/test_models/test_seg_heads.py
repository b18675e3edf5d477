"""Segmentation heads: MultiMAE's ConvNeXt head, Mask3D's decoder reuse."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmrgbd.models.heads import (ConvNeXtAdapterHead, MAEDecoderSegHead,
                                 tokens_to_subpixel_map)
from mmrgbd.models.necks import MAEStyleDecoder
from mmrgbd.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


def test_tokens_to_subpixel_map_against_a_loop():
    """Token (i, j), sub-pixel (a, b), channel k -> pixel (4i + a, 4j + b):
    MultiMAE's 'b n (p c) -> b (n p) c', 'b (nh nw ph pw) c -> b c (nh ph)
    (nw pw)' layout, written out by hand."""
    B, h, w, s, c = 2, 3, 5, 4, 3
    x = torch.randn(B, h * w, s * s * c)
    got = tokens_to_subpixel_map(x, (h, w), s * s)
    ref = torch.empty(B, c, h * s, w * s)
    for i in range(h):
        for j in range(w):
            for a in range(s):
                for b in range(s):
                    for k in range(c):
                        ref[:, k, i * s + a, j * s + b] = \
                            x[:, i * w + j, (a * s + b) * c + k]
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    with pytest.raises(ValueError, match='cannot reshape tokens'):
        tokens_to_subpixel_map(x, (h, w), 15)


def test_convnext_head_official_layout_and_shapes():
    """Defaults = the official adapter: Linear(768, 6144), 384 channels at
    1/4 resolution, 4 ConvNeXt blocks (7x7 depthwise, LN eps 1e-6, 4x MLP,
    no layer scale), a 1x1 classifier; no dropout."""
    head = ConvNeXtAdapterHead(num_classes=40)
    assert tuple(head.proj.weight.shape) == (6144, 768)
    assert head.channels == 384 and head.dropout is None
    assert len(head.blocks) == 4
    for blk in head.blocks:
        assert tuple(blk.depthwise_conv.weight.shape) == (384, 1, 7, 7)
        assert blk.norm.eps == 1e-6 and blk.gamma is None
        assert tuple(blk.pointwise_conv1.weight.shape) == (1536, 384)
        assert tuple(blk.pointwise_conv2.weight.shape) == (384, 1536)
    assert tuple(head.conv_seg.weight.shape) == (40, 384, 1, 1)
    head.init_weights()
    assert head.proj.bias.abs().max() == 0
    assert 0.015 < head.proj.weight.std() < 0.025  # trunc normal 0.02
    with torch.no_grad():
        out = head((torch.randn(1, 768, 15, 20), ))  # 240x320 input
    assert out.shape == (1, 40, 60, 80)  # H/4 x W/4


def test_convnext_head_forward_against_a_hand_built_reference():
    torch.manual_seed(0)
    head = ConvNeXtAdapterHead(in_channels=8, embed_dims=32,
                               preds_per_patch=16, num_classes=3)
    head.init_weights()
    head.eval()
    x = torch.randn(2, 8, 2, 3)
    with torch.no_grad():
        got = head((x, ))
        tokens = x.flatten(2).transpose(1, 2)  # (2, 6, 8)
        proj = tokens @ head.proj.weight.T + head.proj.bias  # (2, 6, 32)
        fmap = torch.zeros(2, 2, 8, 12)
        for n in range(6):
            i, j = divmod(n, 3)
            fmap[:, :, 4 * i:4 * i + 4, 4 * j:4 * j + 4] = \
                proj[:, n].reshape(2, 4, 4, 2).permute(0, 3, 1, 2)
        for blk in head.blocks:
            y = F.conv2d(fmap, blk.depthwise_conv.weight,
                         blk.depthwise_conv.bias, padding=3, groups=2)
            y = y.permute(0, 2, 3, 1)
            y = F.layer_norm(y, (2, ), blk.norm.weight, blk.norm.bias, 1e-6)
            y = F.gelu(F.linear(y, blk.pointwise_conv1.weight,
                                blk.pointwise_conv1.bias))
            y = F.linear(y, blk.pointwise_conv2.weight,
                         blk.pointwise_conv2.bias)
            fmap = fmap + y.permute(0, 3, 1, 2)
        ref = F.conv2d(fmap, head.conv_seg.weight, head.conv_seg.bias)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def _seg_samples(labels):
    out = []
    for lab in labels:
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=lab[None])
        s.set_metainfo(dict(img_shape=lab.shape, ori_shape=lab.shape))
        out.append(s)
    return out


def test_convnext_head_learns_a_segmentation():
    """The mmseg loss of the head (CE over labelled pixels) falls far below
    chance (ln 3) on features that determine the class of each 16-px
    patch; unlabelled (255) pixels do not count."""
    torch.manual_seed(0)
    K = 3
    head = ConvNeXtAdapterHead(
        in_channels=8, embed_dims=128, num_classes=K,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True))
    head.init_weights()
    cls = torch.randint(0, K, (4, 3, 4))  # class per patch
    feats = F.one_hot(cls, 8).permute(0, 3, 1, 2).float()  # (4, 8, 3, 4)
    labels = cls.repeat_interleave(16, 1).repeat_interleave(16, 2)
    labels[:, :8] = 255  # ignored band
    samples = _seg_samples(labels)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = head.loss((feats, ), samples, {})['loss_ce']
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 0.8 * math.log(K)
    assert loss.item() < 0.1 * math.log(K)


# ------------------------------------------------------- Mask3D decoder head
DEC = dict(type='MAEStyleDecoder', embed_dims=16, num_layers=2, num_heads=2,
           mlp_ratio=4)


def mask3d_neck(layout='fused'):
    """The pre-training neck of a (tiny) Mask3D / M3 3D model."""
    cfg = Config.fromfile(str(CONFIGS / '_base_/models/mask3d_vit-b.py'))
    neck = dict(cfg.model.neck, in_channels=8, embed_dims=16, num_layers=2,
                num_heads=2, layout=layout)
    if layout == 'concat':
        neck['heads'] = dict(rgb=16 * 16 * 3, depth=256)
    init_default_scope('mmrgbd')
    module = MODELS.build(neck)
    module.init_weights()
    init_default_scope('mmseg')
    return module


@pytest.mark.parametrize('layout', ['fused', 'concat'])
def test_mae_decoder_head_reuses_the_pretrained_decoder(tmp_path, layout):
    neck = mask3d_neck(layout)
    ckpt = tmp_path / 'pretrain.pth'
    torch.save(dict(state_dict={f'neck.{k}': v for k, v in
                                neck.state_dict().items()},
                    meta=dict(epoch=100)), ckpt)
    head = MAEDecoderSegHead(decoder=DEC, in_channels=8, num_classes=5,
                             decoder_checkpoint=str(ckpt))
    assert not hasattr(head, 'conv_seg')
    head.init_weights()
    own = head.decoder.state_dict()
    pre = neck.state_dict()
    for k, v in own.items():
        if k.startswith('heads.'):
            continue
        torch.testing.assert_close(v, pre[k], rtol=0, atol=0)
    assert tuple(own['heads.rgb.weight'].shape) == (16 * 16 * 5, 16)
    # the reused decoder builds exactly the pre-training sequence of an
    # all-visible RGB input (fused: RGB at every position; concat: the RGB
    # grid, no hidden position)
    x = torch.randn(2, 8, 3, 4)
    tokens = x.flatten(2).transpose(1, 2)
    feats = dict(tokens=dict(rgb=tokens, depth=torch.zeros_like(tokens)),
                 visible=dict(rgb=torch.ones(2, 12, dtype=torch.bool),
                              depth=torch.zeros(2, 12, dtype=torch.bool)),
                 grid_sizes=dict(rgb=(3, 4), depth=(3, 4)))
    seq, slices = neck.build_sequence(feats)
    ref = seq[:, slices['rgb']] if layout == 'concat' else seq
    ours, _ = head.decoder.build_sequence(
        dict(tokens=dict(rgb=tokens), visible=dict(rgb=feats['visible']
                                                   ['rgb']),
             grid_sizes=dict(rgb=(3, 4))))
    torch.testing.assert_close(ours, ref)
    head.eval()
    with torch.no_grad():
        logits = head((x, ))
    assert logits.shape == (2, 5, 48, 64)  # full resolution, 16 px patches


def test_mae_decoder_head_errors(tmp_path):
    neck = mask3d_neck()
    bad = {f'neck.{k}': v for k, v in neck.state_dict().items()
           if not k.startswith('layers.1.')}
    torch.save(dict(state_dict=bad), tmp_path / 'bad.pth')
    head = MAEDecoderSegHead(decoder=DEC, in_channels=8, num_classes=5,
                             decoder_checkpoint=str(tmp_path / 'bad.pth'))
    with pytest.raises(ValueError, match=r'bad\.pth: not a pre-trained '
                       r"decoder .*missing \['layers\.1\."):
        head.init_weights()
    wide = MAEDecoderSegHead(decoder=dict(DEC, embed_dims=32), in_channels=8,
                             num_classes=5,
                             decoder_checkpoint=str(tmp_path / 'bad.pth'))
    with pytest.raises(ValueError, match='shape mismatches'):
        wide.load_decoder(str(tmp_path / 'bad.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        wide.load_decoder(str(tmp_path / 'nope.pth'))


def test_mae_decoder_head_learns():
    torch.manual_seed(0)
    head = MAEDecoderSegHead(
        decoder=DEC, in_channels=8, num_classes=3,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True))
    head.init_weights()
    cls = torch.randint(0, 3, (4, 2, 3))
    feats = F.one_hot(cls, 8).permute(0, 3, 1, 2).float()
    labels = cls.repeat_interleave(16, 1).repeat_interleave(16, 2)
    samples = _seg_samples(labels)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(60):
        loss = head.loss((feats, ), samples, {})['loss_ce']
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * math.log(3)
    assert isinstance(head.decoder, MAEStyleDecoder)


@pytest.mark.parametrize('kind', ['convnext', 'maedec'])
def test_heads_pass_gradients_to_every_weight_and_the_features(kind):
    """One backward pass of the mmseg loss reaches every head parameter
    and the backbone features (the encoder is fine-tuned through it)."""
    torch.manual_seed(0)
    if kind == 'convnext':
        head = ConvNeXtAdapterHead(in_channels=8, embed_dims=32,
                                   num_blocks=2, num_classes=3)
    else:
        head = MAEDecoderSegHead(decoder=DEC, in_channels=8, num_classes=3)
    head.init_weights()
    feats = torch.randn(2, 8, 2, 3, requires_grad=True)
    labels = torch.randint(0, 3, (2, 32, 48))
    loss = head.loss((feats, ), _seg_samples(labels), {})['loss_ce']
    loss.backward()
    for name, p in head.named_parameters():
        if name == 'decoder.mask_token':  # all visible: unused, frozen
            assert not p.requires_grad and p.grad is None
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert feats.grad.abs().sum(1).gt(0).all()  # every token
