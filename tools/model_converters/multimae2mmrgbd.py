#!/usr/bin/env python
"""Convert an official MultiMAE pre-training checkpoint to MultiModalViT keys.

Input layout (``{'model': state_dict}``; read from the public MultiMAE
documentation, no code copied):

* ``input_adapters.<task>.proj.weight/bias``: patch conv of rgb / depth (and
  of semseg's class-embedding map, a 4x4 conv), ``input_adapters.<task>.
  pos_emb`` (1, D, h, w) fixed sin-cos, ``input_adapters.semseg.class_emb.
  weight`` (K, 64);
* ``global_tokens`` (1, G, D);
* ``encoder.N.*``: timm blocks (``norm1``, ``attn.qkv``, ``attn.proj``,
  ``norm2``, ``mlp.fc1/fc2``); no final norm;
* ``output_adapters.<task>.*``: the decoders, ignored on purpose and listed.

Output: ``{'state_dict', 'meta'}`` (plain dicts and tensors) with the keys of
a shared-encoder ``MultiModalViT`` (``encoder.cls_token``,
``encoder.layers.N.*``, ``stems.<task>.patch_embed.projection.*``,
``stems.semseg.patch_embed.class_embed.weight``, ``stems.<task>.pos_embed``),
loadable strictly into ``MultiModalViT(shared_encoder=True,
num_global_tokens=1, final_norm=False, pos_embed_order=<printed>,
modalities=<printed>)``. ``--prefix backbone.`` prefixes every key.

Unexpected (unused) or missing keys make the script fail with a non-zero exit
status.

Example::

    python tools/model_converters/multimae2mmrgbd.py \
        multimae-b_98_rgb+-depth-semseg_1600e.pth multimae_mmrgbd.pth
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
                        convert_timm_blocks, detect_pos_embed_order,
                        extract_state_dict, load_source, save_converted)

ADAPTER_KEYS = {
    'proj.weight': 'patch_embed.projection.weight',
    'proj.bias': 'patch_embed.projection.bias',
    'class_emb.weight': 'patch_embed.class_embed.weight',
    'pos_emb': 'pos_embed',
}
IGNORED = re.compile(r'^output_adapters\.')


def convert_multimae(state_dict: Dict[str, torch.Tensor]
                     ) -> Tuple[Dict[str, torch.Tensor], Report, dict]:
    """MultiMAE keys -> shared-encoder MultiModalViT keys.

    Returns:
        tuple[dict, Report, dict]: converted state dict, report (not yet
        checked) and the suggested backbone config.
    """
    report = Report()
    out: Dict[str, torch.Tensor] = OrderedDict()
    used = set()
    num_global = 0
    if 'global_tokens' not in state_dict:
        report.missing.append('global_tokens')
    else:
        glob = state_dict['global_tokens']  # (1, G, D)
        num_global = glob.shape[1]
        used.add('global_tokens')
        if num_global > 1:
            raise ConversionError(
                f'the checkpoint has {num_global} global tokens; '
                f'MultiModalViT supports 0 or 1')
        if num_global == 1:
            out['encoder.cls_token'] = glob
            report.mapped.append(('global_tokens', 'encoder.cls_token'))
    used |= convert_timm_blocks(state_dict, 'encoder.', 'encoder.layers.',
                                out, report)

    tasks: Dict[str, Dict[str, str]] = OrderedDict()
    pattern = re.compile(r'^input_adapters\.([^.]+)\.(.+)$')
    for k in state_dict:
        m = pattern.match(k)
        if m:
            tasks.setdefault(m.group(1), {})[m.group(2)] = k
    if not tasks:
        report.missing.append('input_adapters.<task>.*')
    modalities, orders = OrderedDict(), {}
    for task, sub in tasks.items():
        required = ['proj.weight', 'proj.bias', 'pos_emb']
        if 'class_emb.weight' in sub:
            required.append('class_emb.weight')
        for name in required:
            if name not in sub:
                report.missing.append(f'input_adapters.{task}.{name}')
                continue
            src = sub[name]
            value = state_dict[src]
            if name == 'pos_emb':  # (1, D, h, w) -> (1, G + h*w, D)
                _, dims, h, w = value.shape
                value = value.flatten(2).transpose(1, 2)  # (1, h*w, D)
                value = torch.cat(
                    [value.new_zeros(1, num_global, dims), value], dim=1)
                orders[task] = detect_pos_embed_order(value, (h, w),
                                                      num_global)
            dst = f'stems.{task}.{ADAPTER_KEYS[name]}'
            out[dst] = value
            report.mapped.append((src, dst))
            used.add(src)
        weight = state_dict.get(sub.get('proj.weight', ''), None)
        if 'class_emb.weight' in sub:
            k_rows = state_dict[sub['class_emb.weight']].shape[0]
            modalities[task] = dict(
                type='semseg', num_classes=k_rows - 1,
                class_embed_dims=state_dict[sub['class_emb.weight']].shape[1])
            report.notes.append(
                f'{task}: {k_rows} class embeddings -> num_classes='
                f'{k_rows - 1}; SemsegPatchEmbed uses the last row for '
                f'ignore_index pixels (check it matches how the checkpoint '
                f'was trained)')
        elif weight is not None:
            modalities[task] = dict(in_channels=weight.shape[1])
    for k in state_dict:
        if k in used:
            continue
        if IGNORED.match(k):
            report.ignored.append(k)
        else:
            report.unexpected.append(k)
    found = set(orders.values())
    order = found.pop() if len(found) == 1 else None
    if None in orders.values() or order is None:
        report.notes.append(f'pos_emb orders per task {orders}: not all '
                            f'are one fixed sin-cos; MultiModalViT keeps '
                            f'its own fixed embeddings')
    suggested = dict(
        shared_encoder=True,
        num_global_tokens=num_global,
        final_norm=False,
        pos_embed_order=order or 'hw',
        modalities=dict(modalities))
    report.notes.append(f'backbone config: {suggested}')
    return out, report, suggested


def parse_args(argv=None):
    """Command-line arguments (``argv=None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        description='Convert an official MultiMAE checkpoint to '
        'MultiModalViT keys')
    parser.add_argument('src', help='MultiMAE checkpoint (key "model")')
    parser.add_argument('dst', help='output file')
    parser.add_argument(
        '--prefix', default='', help='prefix of every key, e.g. backbone.')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the conversion; returns 0 or raises ``SystemExit`` (code 1)."""
    args = parse_args(argv)
    try:
        state_dict = extract_state_dict(load_source(args.src))
        out, report, suggested = convert_multimae(state_dict)
        print(report.summary())
        report.check()
    except (ConversionError, RuntimeError, FileNotFoundError) as e:
        print(f'ERROR: cannot convert {args.src}: {e}', file=sys.stderr)
        raise SystemExit(1)
    out = OrderedDict((args.prefix + k, v) for k, v in out.items())
    meta = dict(
        source='MultiMAE',
        src=str(args.src),
        layout='MultiModalViT shared',
        prefix=args.prefix,
        pos_embed_order=suggested['pos_embed_order'],
        num_global_tokens=suggested['num_global_tokens'],
        ignored_keys=list(report.ignored))
    save_converted(out, meta, args.dst)
    print(f'saved {len(out)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    main()
