#!/usr/bin/env python
"""Convert an official MAE ImageNet checkpoint to mmpretrain / mmrgbd keys.

Input: the released MAE file (``{'model': state_dict}`` with timm-style keys:
``cls_token``, ``pos_embed``, ``patch_embed.proj.*``, ``blocks.N.norm1``,
``blocks.N.attn.qkv``, ``blocks.N.attn.proj``, ``blocks.N.norm2``,
``blocks.N.mlp.fc1/fc2``, ``norm.*``). The decoder (``decoder_*``) and
``mask_token`` are deliberately dropped and listed.

Output (``torch.save`` of plain dicts and tensors, loadable with
``torch.load(weights_only=True)``): ``{'state_dict': ..., 'meta': ...}`` with

* by default mmpretrain ``VisionTransformer`` keys (``patch_embed.projection``,
  ``layers.N.ln1``, ``layers.N.ffn.layers.0.0``, ``ln1``...): usable as
  ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` of one modality in
  ``MultiModalViT(modalities=dict(rgb=dict(..., init_cfg=...)))``, or by
  mmpretrain / mmseg directly;
* with ``--modality rgb``: the keys of that modality inside ``MultiModalViT``
  (``encoders.rgb.*``; with ``--shared-encoder`` ``stems.rgb.*`` and
  ``encoder.*``), for ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` of
  the whole backbone.

Any key that is neither mapped nor deliberately ignored, and any expected key
that is missing, makes the script fail with a non-zero exit status.

Example::

    python tools/model_converters/mae2mmrgbd.py \
        mae_pretrain_vit_base.pth mae_vit-b_mmpretrain.pth
"""
import argparse
import math
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

#: timm ``Block`` sub-keys -> mmpretrain ``TransformerEncoderLayer`` sub-keys
TIMM_BLOCK_KEYS = OrderedDict([
    ('norm1.weight', 'ln1.weight'),
    ('norm1.bias', 'ln1.bias'),
    ('attn.qkv.weight', 'attn.qkv.weight'),
    ('attn.qkv.bias', 'attn.qkv.bias'),
    ('attn.proj.weight', 'attn.proj.weight'),
    ('attn.proj.bias', 'attn.proj.bias'),
    ('norm2.weight', 'ln2.weight'),
    ('norm2.bias', 'ln2.bias'),
    ('mlp.fc1.weight', 'ffn.layers.0.0.weight'),
    ('mlp.fc1.bias', 'ffn.layers.0.0.bias'),
    ('mlp.fc2.weight', 'ffn.layers.1.weight'),
    ('mlp.fc2.bias', 'ffn.layers.1.bias'),
])

#: MAE top-level keys -> mmpretrain keys
MAE_TOP_KEYS = OrderedDict([
    ('cls_token', 'cls_token'),
    ('pos_embed', 'pos_embed'),
    ('patch_embed.proj.weight', 'patch_embed.projection.weight'),
    ('patch_embed.proj.bias', 'patch_embed.projection.bias'),
    ('norm.weight', 'ln1.weight'),
    ('norm.bias', 'ln1.bias'),
])

#: MAE keys dropped on purpose (the pre-training decoder)
MAE_IGNORED = re.compile(r'^(mask_token$|decoder_)')


class ConversionError(RuntimeError):
    """The checkpoint does not have the expected layout."""


class Report:
    """What a conversion mapped, ignored, missed and did not use."""

    def __init__(self):
        self.mapped: List[Tuple[str, str]] = []
        self.ignored: List[str] = []
        self.missing: List[str] = []
        self.unexpected: List[str] = []
        self.notes: List[str] = []
        self.pos_embed_order: Optional[str] = None

    def summary(self) -> str:
        """Human-readable mapping summary."""
        lines = [f'mapped {len(self.mapped)} tensors:']
        lines += [f'  {s} -> {d}' for s, d in _collapse(self.mapped)]
        if self.ignored:
            lines.append(f'ignored on purpose ({len(self.ignored)} '
                         f'tensors):')
            lines += [f'  {k}' for k in _collapse_keys(self.ignored)]
        lines += [f'note: {n}' for n in self.notes]
        if self.missing:
            lines.append(f'MISSING expected keys: {self.missing}')
        if self.unexpected:
            lines.append(f'UNUSED keys (neither mapped nor ignored): '
                         f'{self.unexpected}')
        return '\n'.join(lines)

    def check(self) -> None:
        """Raise :class:`ConversionError` on missing or unused keys."""
        problems = []
        if self.missing:
            problems.append(f'missing expected keys {self.missing}')
        if self.unexpected:
            problems.append(f'unused keys {self.unexpected}')
        if problems:
            raise ConversionError('; '.join(problems))


def _collapse_keys(keys: List[str]) -> List[str]:
    """Replace the (first) block index by ``*`` and count repeats."""
    counts: Dict[str, int] = OrderedDict()
    for k in keys:
        pattern = re.sub(r'\.\d+\.', '.*.', k, count=1)
        counts[pattern] = counts.get(pattern, 0) + 1
    return [p if n == 1 else f'{p} (x{n})' for p, n in counts.items()]


def _collapse(pairs: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    seen: Dict[Tuple[str, str], int] = OrderedDict()
    for s, d in pairs:
        key = (re.sub(r'\.\d+\.', '.*.', s, count=1),
               re.sub(r'\.\d+\.', '.*.', d, count=1))
        seen[key] = seen.get(key, 0) + 1
    return [(s if n == 1 else f'{s} (x{n})', d) for (s, d), n in seen.items()]


def extract_state_dict(ckpt) -> Dict[str, torch.Tensor]:
    """The state dict of a checkpoint (``model`` / ``state_dict`` / raw)."""
    if not isinstance(ckpt, dict):
        raise ConversionError(f'checkpoint is a {type(ckpt).__name__}, '
                              f'expected a dict')
    for key in ('model', 'state_dict'):
        if key in ckpt and isinstance(ckpt[key], dict):
            return ckpt[key]
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    raise ConversionError(f'no state dict found (top-level keys '
                          f'{sorted(ckpt)[:10]}); expected "model"')


def convert_timm_blocks(state_dict: Dict[str, torch.Tensor], src: str,
                        dst: str, out: Dict[str, torch.Tensor],
                        report: Report) -> set:
    """Map ``<src>N.<timm key>`` to ``<dst>N.<mmpretrain key>``.

    Block indices must be contiguous from 0 and every block must have all
    :data:`TIMM_BLOCK_KEYS`. Returns the set of source keys used.
    """
    pattern = re.compile(rf'^{re.escape(src)}(\d+)\.(.+)$')
    blocks: Dict[int, Dict[str, str]] = {}
    for k in state_dict:
        m = pattern.match(k)
        if m:
            blocks.setdefault(int(m.group(1)), {})[m.group(2)] = k
    used = set()
    if not blocks:
        report.missing.append(f'{src}0.* (no transformer blocks)')
        return used
    num = max(blocks) + 1
    for i in range(num):
        sub = blocks.get(i, {})
        for timm_key, mm_key in TIMM_BLOCK_KEYS.items():
            if timm_key not in sub:
                report.missing.append(f'{src}{i}.{timm_key}')
                continue
            out[f'{dst}{i}.{mm_key}'] = state_dict[sub[timm_key]]
            report.mapped.append((sub[timm_key], f'{dst}{i}.{mm_key}'))
            used.add(sub[timm_key])
    report.notes.append(f'{num} transformer blocks')
    return used


def detect_pos_embed_order(pos: torch.Tensor, grid: Tuple[int, int],
                           num_extra_tokens: int) -> Optional[str]:
    """``'wh'`` / ``'hw'`` if ``pos`` (1, G + h*w, C) is that fixed sin-cos.
    """
    from mmrgbd.models.utils import get_2d_sincos_pos_embed
    for order in ('wh', 'hw'):
        ref = get_2d_sincos_pos_embed(pos.shape[-1], grid, order,
                                      num_extra_tokens=num_extra_tokens)
        if tuple(pos.shape[-2:]) == tuple(ref.shape) and torch.allclose(
                pos.float().reshape(ref.shape), ref, atol=1e-4):
            return order
    return None


def convert_mae(state_dict: Dict[str, torch.Tensor]
                ) -> Tuple[Dict[str, torch.Tensor], Report]:
    """MAE (timm ViT) keys -> mmpretrain ``VisionTransformer`` keys.

    Returns:
        tuple[dict, Report]: converted state dict and the report (not yet
        checked).
    """
    report = Report()
    out: Dict[str, torch.Tensor] = OrderedDict()
    used = set()
    for src, dst in MAE_TOP_KEYS.items():
        if src not in state_dict:
            report.missing.append(src)
            continue
        out[dst] = state_dict[src]
        report.mapped.append((src, dst))
        used.add(src)
    used |= convert_timm_blocks(state_dict, 'blocks.', 'layers.', out, report)
    for k in state_dict:
        if k in used:
            continue
        if MAE_IGNORED.match(k):
            report.ignored.append(k)
        else:
            report.unexpected.append(k)
    if 'pos_embed' in out:
        pos = out['pos_embed']
        side = int(round(math.sqrt(pos.shape[1] - 1)))
        order = None
        if side * side == pos.shape[1] - 1:
            order = detect_pos_embed_order(pos, (side, side), 1)
        report.notes.append(
            f'pos_embed is the fixed sin-cos with order {order!r} '
            f'(MultiModalViT pos_embed_order={order!r}); MultiModalViT keeps '
            f'its own fixed embedding' if order else
            'pos_embed is NOT a fixed 2D sin-cos; MultiModalViT ignores it '
            'and keeps its fixed embedding')
        report.pos_embed_order = order
    return out, report


def save_converted(state_dict: Dict[str, torch.Tensor], meta: dict,
                   dst: str) -> None:
    """Save ``{'state_dict', 'meta'}`` with plain types only."""
    state_dict = OrderedDict(
        (k, v.detach().clone().contiguous()) for k, v in state_dict.items())
    torch.save({'state_dict': state_dict, 'meta': meta}, dst)


def load_source(path: str):
    """Read a checkpoint with ``weights_only=True`` (mmrgbd.utils)."""
    from mmrgbd.utils import load_weights
    return load_weights(path)


def parse_args(argv=None):
    """Command-line arguments (``argv=None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        description='Convert an official MAE checkpoint to mmpretrain / '
        'MultiModalViT keys')
    parser.add_argument('src', help='MAE checkpoint (key "model")')
    parser.add_argument('dst', help='output file')
    parser.add_argument(
        '--modality',
        default=None,
        help='prefix the keys for this MultiModalViT modality (e.g. rgb); '
        'default: plain mmpretrain ViT keys')
    parser.add_argument(
        '--shared-encoder',
        action='store_true',
        help='with --modality: target the shared-encoder layout')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the conversion; returns 0 or raises ``SystemExit`` (code 1)."""
    args = parse_args(argv)
    try:
        state_dict = extract_state_dict(load_source(args.src))
        out, report = convert_mae(state_dict)
        print(report.summary())
        report.check()
    except (ConversionError, RuntimeError, FileNotFoundError) as e:
        print(f'ERROR: cannot convert {args.src}: {e}', file=sys.stderr)
        raise SystemExit(1)
    if args.modality:
        from mmrgbd.models.backbones.multimodal_vit import \
            mmpretrain_to_mmrgbd
        out = mmpretrain_to_mmrgbd(out, args.modality, args.shared_encoder)
    meta = dict(
        source='MAE',
        src=str(args.src),
        layout='mmpretrain' if not args.modality else
        ('MultiModalViT shared' if args.shared_encoder else
         'MultiModalViT modality-specific'),
        modality=args.modality or '',
        pos_embed_order=report.pos_embed_order or '',
        ignored_keys=list(report.ignored))
    save_converted(out, meta, args.dst)
    print(f'saved {len(out)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    main()
