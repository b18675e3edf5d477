#!/usr/bin/env python
"""Convert an official VideoMAE (self-supervised) checkpoint to mmrgbd keys.

M3 3D starts its video pre-training from the **self-supervised** VideoMAE
Kinetics-400 weights (paper Sec. 4.1; UCF-101 100 epochs, OR-AR
"Kinetics-400 + OR-AR"). This script maps such a checkpoint onto the
encoder of one :class:`MultiModalViT` modality with a ``TubeletPatchEmbed``
stem (Conv3d 2x16x16 tubelets).

Input: the released pre-training file (``{'model': state_dict}``; the key
``model`` / ``state_dict`` or a bare state dict) of VideoMAE's
``PretrainVisionTransformer``:

* ``encoder.patch_embed.proj.weight`` (C, 3, t_p, p, p) and ``.bias``: the
  tubelet Conv3d -> ``patch_embed.projection.*``;
* ``encoder.blocks.N.{norm1, attn.qkv.weight, attn.q_bias, attn.v_bias,
  attn.proj, norm2, mlp.fc1, mlp.fc2}``: VideoMAE's attention has **no k
  bias** (``qkv`` is a bias-free Linear and the forward adds ``cat(q_bias,
  0, v_bias)``), so ``layers.N.attn.qkv.bias = cat(q_bias, zeros, v_bias)``
  (a checkpoint with one ``attn.qkv.bias`` is copied as it is);
* ``encoder.norm.*`` -> ``ln1.*`` (the encoder's final LayerNorm);
* the decoder (``decoder.*``), ``encoder_to_decoder.weight`` and
  ``mask_token`` are dropped on purpose and listed.

A bare encoder (the same keys without ``encoder.``) is accepted too. The
position embedding of VideoMAE is a fixed 1D sinusoid table over the token
index (not stored in the checkpoint); use ``pos_embed_order='videomae'`` in
the backbone so the encoder sees the embedding it was trained with. The
output holds that table as ``pos_embed`` for ``--num-frames`` x
``--img-size``.

Anything else fails with a non-zero exit status and a message: a fine-tuned
(supervised) checkpoint (``head.*`` / ``fc_norm.*``), layer scale
(``gamma_1``), a learned position embedding, missing or unknown keys. The
file is read with ``torch.load(weights_only=True)`` (no code is unpickled).

``--in-channels 1`` writes the weights for a **depth** encoder: the RGB
kernel summed over its three input channels (the response of the RGB
kernel to a grey clip), so a 1-channel clip ``d`` gives the features the
RGB encoder gives ``(d, d, d)``.

Output (``torch.save`` of plain dicts and tensors): ``{'state_dict': ...,
'meta': ...}`` with mmpretrain-ViT-style keys of one ``ViTEncoder``
(``init_cfg=dict(type='Pretrained', checkpoint=DST)`` of one modality), or
with ``--modality rgb`` the keys of that modality inside ``MultiModalViT``.

Example::

    python tools/model_converters/videomae2mmrgbd.py \\
        videomae_vit-b_k400_pretrain_1600e.pth \\
        checkpoints/videomae_vit-b_k400_rgb.pth
    python tools/model_converters/videomae2mmrgbd.py \\
        videomae_vit-b_k400_pretrain_1600e.pth \\
        checkpoints/videomae_vit-b_k400_depth.pth --in-channels 1
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from mae2mmrgbd import (ConversionError, Report,  # noqa: E402
                        convert_timm_blocks, extract_state_dict, load_source,
                        save_converted)

#: VideoMAE encoder top-level keys -> mmpretrain keys
TOP_KEYS = OrderedDict([
    ('patch_embed.proj.weight', 'patch_embed.projection.weight'),
    ('patch_embed.proj.bias', 'patch_embed.projection.bias'),
    ('norm.weight', 'ln1.weight'),
    ('norm.bias', 'ln1.bias'),
])

#: pre-training keys outside the encoder, dropped on purpose
IGNORED = re.compile(r'^(decoder\.|encoder_to_decoder\.|mask_token$)')

#: keys of a fine-tuned (supervised) VideoMAE classifier
FINETUNED = re.compile(r'^(head\.|fc_norm\.)')

#: VideoMAE's separate attention biases (there is no k bias)
QV_BIAS = re.compile(r'^(blocks\.\d+\.attn\.)(q|v)_bias$')


def strip_encoder_prefix(state_dict: Dict[str, torch.Tensor]
                         ) -> Tuple[Dict[str, torch.Tensor], Report]:
    """Split a checkpoint into encoder keys (no prefix) and the rest.

    Returns:
        tuple[dict, Report]: encoder state dict and a report listing the
        keys ignored on purpose and the unknown ones.

    Raises:
        ConversionError: A fine-tuned (supervised) checkpoint.
    """
    report = Report()
    finetuned = sorted(k for k in state_dict if FINETUNED.match(k))
    if finetuned:
        raise ConversionError(
            f'this is a fine-tuned (supervised) VideoMAE checkpoint (keys '
            f'{finetuned[:4]}); M3 3D starts from the self-supervised '
            'pre-training checkpoint (keys encoder.*, decoder.*)')
    prefixed = any(k.startswith('encoder.') for k in state_dict)
    encoder = OrderedDict()
    for k, v in state_dict.items():
        if prefixed and k.startswith('encoder.'):
            encoder[k[len('encoder.'):]] = v
        elif IGNORED.match(k):
            report.ignored.append(k)
        elif prefixed:
            report.unexpected.append(k)
        else:
            encoder[k] = v
    return encoder, report


def fuse_qv_bias(enc: Dict[str, torch.Tensor],
                 report: Report) -> Dict[str, torch.Tensor]:
    """``blocks.N.attn.{q,v}_bias`` -> ``blocks.N.attn.qkv.bias``.

    VideoMAE's attention adds ``cat(q_bias, 0, v_bias)`` to a bias-free
    ``qkv`` Linear, so the fused bias has a **zero k part**. A block with
    only one of the two biases is reported missing.
    """
    out = OrderedDict()
    pairs: Dict[str, Dict[str, torch.Tensor]] = {}
    for k, v in enc.items():
        m = QV_BIAS.match(k)
        if m:
            pairs.setdefault(m.group(1), {})[m.group(2)] = v
        else:
            out[k] = v
    for prefix, qv in pairs.items():
        if set(qv) != {'q', 'v'}:
            lacking = ({'q', 'v'} - set(qv)).pop()
            report.missing.append(f'{prefix}{lacking}_bias')
            continue
        if prefix + 'qkv.bias' in enc:
            raise ConversionError(f'{prefix} has both qkv.bias and '
                                  'q_bias/v_bias')
        out[prefix + 'qkv.bias'] = torch.cat(
            [qv['q'], torch.zeros_like(qv['q']), qv['v']])  # (3C,)
    if pairs:
        report.notes.append(f'{len(pairs)} blocks: qkv bias = cat(q_bias, '
                            '0, v_bias) (VideoMAE has no k bias)')
    return out


def convert_videomae(state_dict: Dict[str, torch.Tensor],
                     in_channels: int = 3
                     ) -> Tuple[Dict[str, torch.Tensor], Report]:
    """VideoMAE encoder keys -> ``ViTEncoder`` (mmpretrain-style) keys.

    Args:
        state_dict (dict): The checkpoint's state dict.
        in_channels (int): 3 (RGB) or 1 (depth: kernel summed over RGB).

    Returns:
        tuple[dict, Report]: converted state dict and the report (not yet
        checked).
    """
    if in_channels not in (1, 3):
        raise ConversionError(f'in_channels must be 1 or 3, got '
                              f'{in_channels}')
    enc, report = strip_encoder_prefix(state_dict)
    out: Dict[str, torch.Tensor] = OrderedDict()
    used = set()
    for src, dst in TOP_KEYS.items():
        if src not in enc:
            report.missing.append(src)
            continue
        out[dst] = enc[src]
        report.mapped.append((src, dst))
        used.add(src)
    w = out.get('patch_embed.projection.weight')
    if w is not None:
        if w.dim() != 5:
            raise ConversionError(
                f'patch_embed.proj.weight has shape {tuple(w.shape)}; a '
                'VideoMAE tubelet Conv3d is (C, 3, t_p, p, p)')
        if w.shape[1] != 3:
            raise ConversionError(f'the tubelet Conv3d has {w.shape[1]} '
                                  'input channels, expected RGB (3)')
        if in_channels == 1:
            out['patch_embed.projection.weight'] = w.sum(dim=1, keepdim=True)
            report.notes.append('depth weights: tubelet kernel summed over '
                                'the 3 RGB input channels')
    if 'pos_embed' in enc:
        raise ConversionError(
            'the checkpoint stores a pos_embed (a learned position '
            'embedding); MultiModalViT only has the fixed VideoMAE table '
            "(pos_embed_order='videomae')")
    layer_scale = sorted(k for k in enc if re.search(r'\.gamma_[12]$', k))
    if layer_scale:
        raise ConversionError(f'layer scale ({layer_scale[:2]}) is not '
                              'supported by this converter')
    enc = fuse_qv_bias(enc, report)
    used |= convert_timm_blocks(enc, 'blocks.', 'layers.', out, report)
    report.unexpected += [k for k in enc if k not in used]
    return out, report


def videomae_pos_embed(embed_dims: int, num_frames: int, img_size: int,
                       patch_size: int, tubelet_size: int) -> torch.Tensor:
    """VideoMAE's table for the grid, as the (1, N, C) ``pos_embed``."""
    from mmrgbd.models.utils.pos_embed import get_token_sincos_pos_embed
    n = (num_frames // tubelet_size) * (img_size // patch_size)**2
    return get_token_sincos_pos_embed(embed_dims, n)[None]  # (1, N, C)


def parse_args(argv=None):
    """Command-line arguments (``argv=None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        description='Convert an official VideoMAE pre-training checkpoint '
        'to the keys of a MultiModalViT tubelet encoder')
    parser.add_argument('src', help='VideoMAE checkpoint (key "model")')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--in-channels', type=int, default=3,
                        help='3 for the RGB encoder, 1 for the depth encoder')
    parser.add_argument('--modality', default=None,
                        help='prefix the keys for this MultiModalViT '
                        'modality (e.g. rgb); default: ViTEncoder keys')
    parser.add_argument('--num-frames', type=int, default=16)
    parser.add_argument('--img-size', type=int, default=224)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the conversion; returns 0 or raises ``SystemExit`` (code 1)."""
    args = parse_args(argv)
    try:
        state_dict = extract_state_dict(load_source(args.src))
        out, report = convert_videomae(state_dict, args.in_channels)
        print(report.summary())
        report.check()
    except (ConversionError, RuntimeError, FileNotFoundError) as e:
        print(f'ERROR: cannot convert {args.src}: {e}', file=sys.stderr)
        raise SystemExit(1)
    w = out['patch_embed.projection.weight']  # (C, in, t_p, p, p)
    out['pos_embed'] = videomae_pos_embed(w.shape[0], args.num_frames,
                                          args.img_size, w.shape[-1],
                                          w.shape[2])
    if args.modality:
        from mmrgbd.models.backbones.multimodal_vit import \
            mmpretrain_to_mmrgbd
        out = mmpretrain_to_mmrgbd(out, args.modality, False)
    meta = dict(
        source='VideoMAE (self-supervised pre-training)',
        src=str(args.src),
        in_channels=args.in_channels,
        layout='ViTEncoder' if not args.modality else
        'MultiModalViT modality-specific',
        modality=args.modality or '',
        pos_embed_order='videomae',
        ignored_keys=list(report.ignored))
    save_converted(out, meta, args.dst)
    print(f'saved {len(out)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    main()
