#!/usr/bin/env python
"""Convert an official MultiMAE pre-training checkpoint to MultiModalViT keys.

Input layout (``{'model': state_dict}``; read from the public MultiMAE
documentation, no code copied):

* ``input_adapters.<task>.proj.weight/bias``: patch conv of rgb / depth (and
  of semseg's class-embedding map, a 4x4 conv), ``input_adapters.<task>.
  pos_emb`` (1, D, h, w) fixed sin-cos, ``input_adapters.semseg.class_emb.
  weight`` (K, 64): **exactly K = num_classes rows** in a pre-training
  checkpoint (133 COCO classes, no row for "no label");
* ``global_tokens`` (1, G, D);
* ``encoder.N.*``: timm blocks (``norm1``, ``attn.qkv``, ``attn.proj``,
  ``norm2``, ``mlp.fc1/fc2``); no final norm;
* ``output_adapters.<name>.*``: the decoders (``rgb``, ``norm_rgb``,
  ``depth``, ``semseg``): ``proj_context``, ``task_embeddings.<task>``,
  ``mask_token``, ``pos_emb`` (fixed sin-cos), ``decoder.q/kv/proj`` (the
  cross-attention), ``query_norm``, ``context_norm``, ``out_norm``,
  ``mlp.fc1/fc2``, ``decoder_transformer.N.*`` (timm blocks), ``out_proj``.

Semseg class embedding: ``SemsegPatchEmbed(num_classes=K)`` holds K + 1 rows,
the last for ``ignore_index`` pixels. The converter keeps the K official rows
as rows 0..K-1 and **adds row K, zero**: an unlabelled pixel then gets an
embedding no class shares (and that adds nothing to the patch projection).
``--num-classes K`` with a K + 1-row checkpoint (the official fine-tuning
code pads one row) keeps that last row as the ignore row instead.

Output: ``{'state_dict', 'meta'}`` (plain dicts and tensors).

* By default the keys of a shared-encoder ``MultiModalViT``
  (``encoder.cls_token``, ``encoder.layers.N.*``,
  ``stems.<task>.patch_embed.projection.*``,
  ``stems.semseg.patch_embed.class_embed.weight``,
  ``stems.<task>.pos_embed``), loadable strictly into the backbone of
  ``configs/_base_/models/multimae_vit-b.py`` (``num_classes=133``).
  ``--prefix backbone.`` prefixes every key (e.g. for ``init_cfg`` of the
  whole algorithm); the decoders are listed as ignored.
* ``--with-decoders``: the whole ``MultiMAE`` algorithm, backbone keys under
  ``backbone.`` and each decoder as ``neck.<name>.*`` of a
  ``CrossAttentionTaskDecoder`` (official ``norm_rgb`` -> ``rgb_normpix``),
  loadable strictly into the shipped config (``load_from``), which then
  gives the official model's outputs. The official output projection
  orders a token's values ``(C, p, p)``; mmrgbd's patch layout is
  ``(p, p, C)``, so ``out_proj`` rows are permuted into ``head``.

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
from typing import Dict, Optional, Tuple

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
#: official output-adapter keys -> CrossAttentionTaskDecoder keys (besides
#: ``task_embeddings.<task>``, ``decoder_transformer.N.*``, ``out_proj.*``
#: and the fixed ``pos_emb``)
DECODER_KEYS = OrderedDict([
    ('proj_context.weight', 'proj_context.weight'),
    ('proj_context.bias', 'proj_context.bias'),
    ('mask_token', 'mask_token'),
    ('query_norm.weight', 'query_norm.weight'),
    ('query_norm.bias', 'query_norm.bias'),
    ('context_norm.weight', 'context_norm.weight'),
    ('context_norm.bias', 'context_norm.bias'),
    ('decoder.q.weight', 'cross_attn.q.weight'),
    ('decoder.q.bias', 'cross_attn.q.bias'),
    ('decoder.kv.weight', 'cross_attn.kv.weight'),
    ('decoder.kv.bias', 'cross_attn.kv.bias'),
    ('decoder.proj.weight', 'cross_attn.proj.weight'),
    ('decoder.proj.bias', 'cross_attn.proj.bias'),
    ('out_norm.weight', 'mlp_norm.weight'),
    ('out_norm.bias', 'mlp_norm.bias'),
    ('mlp.fc1.weight', 'mlp.layers.0.0.weight'),
    ('mlp.fc1.bias', 'mlp.layers.0.0.bias'),
    ('mlp.fc2.weight', 'mlp.layers.1.weight'),
    ('mlp.fc2.bias', 'mlp.layers.1.bias'),
])
#: official output-adapter names that differ from the mmrgbd decoder names
DECODER_NAMES = {'norm_rgb': 'rgb_normpix'}
#: official output adapter -> the modality it reconstructs
DECODER_TASKS = {'norm_rgb': 'rgb'}
IGNORED = re.compile(r'^output_adapters\.')


def _class_embedding(weight: torch.Tensor, num_classes: Optional[int],
                     task: str, report: Report) -> Tuple[torch.Tensor, int]:
    """Official class embedding -> SemsegPatchEmbed rows (K + 1).

    Returns the (K + 1, E) weight and K.
    """
    rows = weight.shape[0]
    if num_classes is None or num_classes == rows:
        k = rows
        weight = torch.cat([weight, weight.new_zeros(1, weight.shape[1])])
        report.notes.append(
            f'{task}: {rows} class embeddings -> num_classes={k}; row {k} '
            f'(ignore_index pixels) added, zero-initialised')
    elif num_classes + 1 == rows:
        k = num_classes
        report.notes.append(
            f'{task}: {rows} class embeddings with --num-classes {k}: the '
            f'last row is kept as the ignore_index row')
    else:
        raise ConversionError(
            f'{task}: the class embedding has {rows} rows, which fits '
            f'neither --num-classes {num_classes} nor {num_classes} + 1')
    return weight, k


def convert_encoder(state_dict: Dict[str, torch.Tensor],
                    num_classes: Optional[int] = None
                    ) -> Tuple[Dict[str, torch.Tensor], Report, dict, set]:
    """MultiMAE encoder keys -> shared-encoder MultiModalViT keys.

    Args:
        state_dict (dict): The official state dict.
        num_classes (int, optional): Semseg classes; None: the number of
            rows of the class embedding (pre-training checkpoints).

    Returns:
        tuple[dict, Report, dict, set]: converted state dict, report (not
        yet checked), the suggested backbone config and the used keys.
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
            elif name == 'class_emb.weight':  # (K, E) -> (K + 1, E)
                value, k = _class_embedding(value, num_classes, task, report)
                modalities[task] = dict(
                    type='semseg', num_classes=k,
                    class_embed_dims=value.shape[1])
            dst = f'stems.{task}.{ADAPTER_KEYS[name]}'
            out[dst] = value
            report.mapped.append((src, dst))
            used.add(src)
        weight = state_dict.get(sub.get('proj.weight', ''), None)
        if task not in modalities and weight is not None:
            modalities[task] = dict(in_channels=weight.shape[1])
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
    return out, report, suggested, used


def _task_channels(task: str, modalities: dict) -> int:
    cfg = modalities.get(task)
    if cfg is None:
        raise ConversionError(
            f'decoder of {task!r}: {task} is not an input modality of the '
            f'checkpoint, so the channels of its output projection are '
            f'unknown')
    return cfg['num_classes'] if cfg.get('type') == 'semseg' \
        else cfg['in_channels']


def convert_decoder(state_dict: Dict[str, torch.Tensor], name: str,
                    modalities: dict, report: Report,
                    out: Dict[str, torch.Tensor], dst: str) -> set:
    """One official output adapter -> ``CrossAttentionTaskDecoder`` keys.

    Args:
        state_dict (dict): The official state dict.
        name (str): The adapter name (``rgb``, ``norm_rgb``, ...).
        modalities (dict): The suggested backbone modalities (channels).
        report (Report): Collects mapped / missing keys and notes.
        out (dict): Receives the converted tensors.
        dst (str): Key prefix of the decoder (``neck.<name>.``).

    Returns:
        set: The source keys used.
    """
    src = f'output_adapters.{name}.'
    sub = {k[len(src):]: k for k in state_dict if k.startswith(src)}
    used = set()

    def put(src_key, dst_key, value=None):
        out[dst + dst_key] = state_dict[sub[src_key]] if value is None \
            else value
        report.mapped.append((sub[src_key], dst + dst_key))
        used.add(sub[src_key])

    for key, ours in DECODER_KEYS.items():
        if key not in sub:
            report.missing.append(src + key)
            continue
        put(key, ours)
    context = []
    for key in sub:
        if key.startswith('task_embeddings.'):
            m = key[len('task_embeddings.'):]
            put(key, f'modality_embed.{m}')
            context.append(m)
    used |= convert_timm_blocks(
        {k: v for k, v in state_dict.items() if k.startswith(src)},
        src + 'decoder_transformer.', dst + 'layers.', out, report)
    task = DECODER_TASKS.get(name, name)
    if 'out_proj.weight' not in sub or 'out_proj.bias' not in sub:
        report.missing.append(src + 'out_proj.*')
    else:
        channels = _task_channels(task, modalities)
        weight = state_dict[sub['out_proj.weight']]  # (C*p*p, D)
        bias = state_dict[sub['out_proj.bias']]  # (C*p*p,)
        p = int(round((weight.shape[0] / channels)**0.5))
        if p * p * channels != weight.shape[0]:
            raise ConversionError(
                f'{src}out_proj has {weight.shape[0]} outputs, not '
                f'{channels} x p x p')
        # (C, p, p) -> (p, p, C): mmrgbd's patch layout (channel last)
        put('out_proj.weight', 'head.weight',
            weight.reshape(channels, p, p, -1).permute(1, 2, 0, 3).reshape(
                weight.shape))
        put('out_proj.bias', 'head.bias',
            bias.reshape(channels, p, p).permute(1, 2, 0).reshape(-1))
    if 'pos_emb' in sub:
        pos = state_dict[sub['pos_emb']]  # (1, D, h, w)
        _, dims, h, w = pos.shape
        flat = pos.flatten(2).transpose(1, 2)  # (1, h*w, D)
        if detect_pos_embed_order(flat, (h, w), 0) == 'hw':
            used.add(sub['pos_emb'])
            report.ignored.append(sub['pos_emb'])
        else:
            report.notes.append(
                f'{sub["pos_emb"]} is not the fixed row-first sin-cos the '
                f'decoder computes')
    hidden = state_dict.get(sub.get('proj_context.weight', ''))
    report.notes.append(
        f'decoder {name} -> {dst.rstrip(".")}: task={task!r}, '
        f'context_modalities={context}, embed_dims='
        f'{None if hidden is None else hidden.shape[0]}')
    return used


def convert_multimae(state_dict: Dict[str, torch.Tensor],
                     num_classes: Optional[int] = None,
                     with_decoders: bool = False
                     ) -> Tuple[Dict[str, torch.Tensor], Report, dict]:
    """MultiMAE keys -> MultiModalViT (and decoder) keys.

    Args:
        state_dict (dict): The official state dict.
        num_classes (int, optional): Semseg classes (see the module doc).
        with_decoders (bool): Also convert the output adapters; the keys are
            then those of the ``MultiMAE`` algorithm (``backbone.*``,
            ``neck.<name>.*``).

    Returns:
        tuple[dict, Report, dict]: converted state dict, report (not yet
        checked) and the suggested backbone config.
    """
    out, report, suggested, used = convert_encoder(state_dict, num_classes)
    if with_decoders:
        out = OrderedDict((f'backbone.{k}', v) for k, v in out.items())
        report.mapped = [(s, f'backbone.{d}') for s, d in report.mapped]
        names = []
        for k in state_dict:
            m = re.match(r'^output_adapters\.([^.]+)\.', k)
            if m and m.group(1) not in names:
                names.append(m.group(1))
        if not names:
            report.missing.append('output_adapters.<name>.*')
        for name in names:
            ours = DECODER_NAMES.get(name, name)
            used |= convert_decoder(state_dict, name,
                                    suggested['modalities'], report, out,
                                    f'neck.{ours}.')
    for k in state_dict:
        if k in used:
            continue
        if IGNORED.match(k) and not with_decoders:
            report.ignored.append(k)
        else:
            report.unexpected.append(k)
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
    parser.add_argument(
        '--num-classes', type=int, default=None,
        help='semseg classes; default: the rows of the class embedding '
        '(pre-training checkpoints); give it for a checkpoint that already '
        'has a padding row (num_classes + 1 rows)')
    parser.add_argument(
        '--with-decoders', action='store_true',
        help='also convert the output adapters: a full MultiMAE state dict '
        '(backbone.*, neck.<name>.*) for load_from')
    args = parser.parse_args(argv)
    if args.with_decoders and args.prefix:
        parser.error('--prefix and --with-decoders exclude each other (the '
                     'full model keys start with backbone. and neck.)')
    return args


def main(argv=None) -> int:
    """Run the conversion; returns 0 or raises ``SystemExit`` (code 1)."""
    args = parse_args(argv)
    try:
        state_dict = extract_state_dict(load_source(args.src))
        out, report, suggested = convert_multimae(
            state_dict, args.num_classes, args.with_decoders)
        print(report.summary())
        report.check()
    except (ConversionError, RuntimeError, FileNotFoundError) as e:
        print(f'ERROR: cannot convert {args.src}: {e}', file=sys.stderr)
        raise SystemExit(1)
    out = OrderedDict((args.prefix + k, v) for k, v in out.items())
    meta = dict(
        source='MultiMAE',
        src=str(args.src),
        layout='MultiMAE' if args.with_decoders else
        'MultiModalViT shared',
        prefix=args.prefix,
        pos_embed_order=suggested['pos_embed_order'],
        num_global_tokens=suggested['num_global_tokens'],
        ignored_keys=list(report.ignored))
    save_converted(out, meta, args.dst)
    print(f'saved {len(out)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    main()
