"""Export a tubelet (Conv3d) encoder of ``MultiModalViT`` to mmaction2.

The video encoders of M3 3D (``TubeletPatchEmbed`` stems, 2x16x16 Conv3d
tubelets) are mmpretrain-layout ViTs (see :mod:`mmrgbd.models.utils.export`).
:func:`export_mmaction2` writes one modality's encoder as the ``backbone.*``
keys of mmaction2's VideoMAE ``VisionTransformer``
(``mmaction/models/backbones/vit_mae.py``), for an unmodified
``Recognizer3D`` config with ``backbone.init_cfg=dict(type='Pretrained',
checkpoint=FILE, prefix='backbone.')``:

==================================  ======================================
mmrgbd (mmpretrain layout)          mmaction2 ``VisionTransformer``
==================================  ======================================
``patch_embed.projection.*``        unchanged (Conv3d; a missing bias is
                                    written as zeros: mmaction's has one)
``pos_embed`` (1, N, C)             ``pos_embed`` buffer (1, N', C), see
                                    below
``layers.i.ln1/ln2.*``              ``blocks.i.norm1/norm2.*``
``layers.i.attn.qkv.weight``        ``blocks.i.attn.qkv.weight``
``layers.i.attn.qkv.bias`` (3C)     ``blocks.i.attn.q_bias`` (first C),
                                    ``blocks.i.attn.v_bias`` (last C)
``layers.i.attn.proj.*``            ``blocks.i.attn.proj.*``
``layers.i.ffn.layers.*``           ``blocks.i.mlp.layers.*``
``layers.i.attn.gamma1.weight``,    ``blocks.i.gamma_1``, ``gamma_2``
``layers.i.ffn.gamma2.weight``      (needs ``init_values > 0``)
``ln1.*`` (final norm)              ``fc_norm.*`` (``pooling='mean'``) or
                                    ``norm.*`` (``pooling='none'``)
==================================  ======================================

**Key bias.** mmaction's (VideoMAE's) attention has learned q and v biases
and a zero k bias. The k part of our fused bias is dropped *exactly*: it adds
``q . b_k`` to every logit of a query's row, which the softmax cancels, so
the attention output does not change (``meta['max_abs_k_bias']`` records
what was dropped).

**Pooling.** mmaction's ViT either averages the tokens and normalises the
average (``use_mean_pooling=True``, its default and VideoMAE's fine-tuning:
``fc_norm(mean(x))``), or normalises every token (``use_mean_pooling=False``:
``norm(x)``, with ``return_feat_map=True`` the whole (B, C, t, h, w) map).
Our encoder's final LayerNorm becomes that norm. With ``'mean'`` the pooled
feature is therefore ``LN(mean(x))`` with the pre-trained affine (VideoMAE
re-initialises ``fc_norm`` to the identity affine instead; documented in
``projects/m3mae/README.md``); with ``'none'`` the feature map equals our
encoder's output tokens.

**Position embedding.** mmaction stores a fixed table as a buffer of the
configured grid ``(num_frames / t_p) x (img_size / p)^2`` and loads it from
the checkpoint. Ours is VideoMAE's 1D token table (``pos_embed_order=
'videomae'``, the M3 3D video configs) or a 3D sin-cos of a ``(t, h, w)``
grid; the stored one is recognised and **regenerated exactly** for the
target grid (the 1D table depends only on the token count; a 3D grid is
detected among the factorisations of N). An unrecognised (e.g. learned)
table is copied when the token count is unchanged and refused otherwise.

The target defaults are mmaction's defaults and VideoMAE's fine-tuning
input, 16 frames of 224x224. mmaction's ViT has no class token and no
pre-norm: encoders with either are refused. The export is checked against
the state dict of the target module: a missing, unexpected or wrongly
shaped key raises :class:`ExportError`.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .export import (ExportError, _plain, check_keys, count_layers,
                     find_encoder, get_state_dict, load_pretrain_checkpoint,
                     num_heads_from_checkpoint, raise_on_key_problems)
from .pos_embed import (GRID_ORDERS, build_sincos_pos_embed,
                        get_token_sincos_pos_embed)

POOLINGS = ('mean', 'none')

#: mmpretrain block sub-keys -> mmaction ``Block`` sub-keys (bias: see above)
BLOCK_RENAMES = OrderedDict([
    ('ln1.weight', 'norm1.weight'),
    ('ln1.bias', 'norm1.bias'),
    ('ln2.weight', 'norm2.weight'),
    ('ln2.bias', 'norm2.bias'),
    ('attn.qkv.weight', 'attn.qkv.weight'),
    ('attn.proj.weight', 'attn.proj.weight'),
    ('attn.proj.bias', 'attn.proj.bias'),
    ('ffn.layers.0.0.weight', 'mlp.layers.0.0.weight'),
    ('ffn.layers.0.0.bias', 'mlp.layers.0.0.bias'),
    ('ffn.layers.1.weight', 'mlp.layers.1.weight'),
    ('ffn.layers.1.bias', 'mlp.layers.1.bias'),
    ('attn.gamma1.weight', 'gamma_1'),
    ('ffn.gamma2.weight', 'gamma_2'),
])


def infer_tubelet_spec(sd: Dict[str, torch.Tensor]) -> dict:
    """Architecture of a mmpretrain-layout ViT with a Conv3d stem.

    Args:
        sd (dict): Encoder keys in mmpretrain layout.

    Returns:
        dict: ``embed_dims``, ``in_channels``, ``tubelet_size``,
        ``patch_size``, ``num_layers``, ``feedforward_channels``,
        ``qkv_bias``, ``layer_scale``.

    Raises:
        ExportError: An image (Conv2d) encoder, a class token, a pre-norm,
            no final norm, non-square patches or missing blocks.
    """
    w = sd.get('patch_embed.projection.weight')
    if w is None or w.dim() != 5:
        shape = None if w is None else tuple(w.shape)
        raise ExportError(
            f'the encoder has no Conv3d tubelet projection (patch_embed.'
            f'projection.weight of shape {shape}); image encoders export '
            f'with --target mmpretrain or mmseg')
    if w.shape[3] != w.shape[4]:
        raise ExportError(f'non-square patches {tuple(w.shape[3:])}')
    if 'cls_token' in sd:
        raise ExportError('the encoder has a global (class) token; '
                          "mmaction2's VisionTransformer has none")
    if 'pre_norm.weight' in sd:
        raise ExportError("the encoder has a pre-norm; mmaction2's "
                          'VisionTransformer has none')
    if 'ln1.weight' not in sd:
        raise ExportError('the encoder has no final LayerNorm (ln1); '
                          "mmaction2's VisionTransformer always has one")
    return dict(
        embed_dims=int(w.shape[0]),
        in_channels=int(w.shape[1]),
        tubelet_size=int(w.shape[2]),
        patch_size=int(w.shape[3]),
        num_layers=count_layers(sd),
        feedforward_channels=int(
            sd['layers.0.ffn.layers.0.0.weight'].shape[0]),
        qkv_bias='layers.0.attn.qkv.bias' in sd,
        layer_scale='layers.0.attn.gamma1.weight' in sd)


def _factor_grids3(n: int) -> List[Tuple[int, int, int]]:
    """All ``(t, h, w)`` with ``t * h * w == n``, square-ish spatial first.
    """
    grids = []
    for t in range(1, n + 1):
        if n % t:
            continue
        m = n // t
        grids += [(t, h, m // h) for h in range(1, m + 1) if m % h == 0]
    return sorted(grids, key=lambda g: (abs(g[1] - g[2]), g))


def detect_video_pos_embed(pos_embed: torch.Tensor
                           ) -> Optional[Tuple[Optional[tuple], str]]:
    """Which fixed table a stored (1, N, C) video ``pos_embed`` is.

    Returns:
        tuple | None: ``(None, 'videomae')`` for VideoMAE's 1D token table,
        ``((t, h, w), order)`` for the unique matching 3D sin-cos, or None.
    """
    C = pos_embed.shape[-1]
    rows = pos_embed.detach().float().cpu().reshape(-1, C)  # (N, C)
    n = rows.shape[0]
    if C % 2 == 0 and torch.allclose(
            rows, get_token_sincos_pos_embed(C, n), atol=1e-4):
        return None, 'videomae'
    matches = []
    for grid in _factor_grids3(n):
        for order in GRID_ORDERS:
            try:
                ref = build_sincos_pos_embed(C, grid, order)  # (N, C)
            except ValueError:  # channels not divisible for this split
                continue
            if torch.allclose(rows, ref, atol=1e-4):
                matches.append((grid, order))
    return matches[0] if len(matches) == 1 else None


def target_video_pos_embed(pos_embed: torch.Tensor,
                           dst_grid: Sequence[int]
                           ) -> Tuple[torch.Tensor, dict]:
    """The position table of the target ``(t, h, w)`` grid.

    Args:
        pos_embed (Tensor): Stored (1, N, C) (no global rows).
        dst_grid (Sequence[int]): Target ``(t, h, w)``.

    Returns:
        tuple[Tensor, dict]: (1, t*h*w, C) and ``info`` (``src_grid``,
        ``dst_grid``, ``pos_embed_order``, ``pos_embed_mode``).

    Raises:
        ExportError: An unrecognised table whose token count differs from
            the target's.
    """
    C = pos_embed.shape[-1]
    n = pos_embed.shape[1]
    dst_grid = tuple(int(g) for g in dst_grid)
    detected = detect_video_pos_embed(pos_embed)
    if detected is None:
        if n != dst_grid[0] * dst_grid[1] * dst_grid[2]:
            raise ExportError(
                f'pos_embed ({n} tokens) is neither VideoMAE\'s 1D table nor '
                f'a 3D sin-cos, so it cannot be regenerated for the target '
                f'grid {dst_grid}; export at the pre-training size')
        pos, order, mode, src = pos_embed, '', 'copied', None
    else:
        src, order = detected
        pos = build_sincos_pos_embed(C, dst_grid, order)[None]  # (1, N', C)
        mode = 'sincos'
    info = dict(src_grid=list(src) if src else None,
                dst_grid=list(dst_grid), pos_embed_order=order,
                pos_embed_mode=mode, src_num_tokens=int(n))
    return pos.to(pos_embed.dtype), info


def to_mmaction2(sd: Dict[str, torch.Tensor], spec: dict, pos: torch.Tensor,
                 pooling: str = 'mean'
                 ) -> Tuple['OrderedDict[str, torch.Tensor]', float]:
    """mmaction2 ``VisionTransformer`` keys (no prefix).

    Args:
        sd (dict): Our encoder in mmpretrain layout (without ``pos_embed``).
        spec (dict): :func:`infer_tubelet_spec` of it.
        pos (Tensor): (1, N', C) target position table.
        pooling (str): ``'mean'`` (final norm -> ``fc_norm``) or ``'none'``
            (-> ``norm``).

    Returns:
        tuple[OrderedDict, float]: The keys and the largest dropped
        ``|k bias|``.
    """
    if pooling not in POOLINGS:
        raise ExportError(f'pooling must be one of {POOLINGS}, got '
                          f'{pooling!r}')
    C = spec['embed_dims']
    out = OrderedDict()
    w = sd['patch_embed.projection.weight']
    out['patch_embed.projection.weight'] = w
    out['patch_embed.projection.bias'] = sd.get(
        'patch_embed.projection.bias', w.new_zeros(C))
    out['pos_embed'] = pos
    norm = 'fc_norm' if pooling == 'mean' else 'norm'
    max_k_bias = 0.
    for k, v in sd.items():
        if k.startswith('patch_embed.'):
            continue
        if k in ('ln1.weight', 'ln1.bias'):
            out[f'{norm}.{k.split(".")[1]}'] = v
            continue
        if not k.startswith('layers.'):
            raise ExportError(f'unexpected encoder key {k!r}')
        _, idx, sub = k.split('.', 2)
        p = f'blocks.{idx}.'
        if sub == 'attn.qkv.bias':
            q, kb, vb = v.split(C)  # 3 x (C,)
            out[p + 'attn.q_bias'] = q
            out[p + 'attn.v_bias'] = vb
            max_k_bias = max(max_k_bias, float(kb.abs().max()))
            continue
        if sub not in BLOCK_RENAMES:
            raise ExportError(f'encoder key {k!r} has no counterpart in '
                              "mmaction2's VisionTransformer")
        out[p + BLOCK_RENAMES[sub]] = v
    return out, max_k_bias


def target_config(spec: dict, img_size: int, num_frames: int,
                  pooling: str = 'mean',
                  num_heads: Optional[int] = None) -> dict:
    """mmaction2 backbone arguments the export needs.

    ``num_heads`` (not in the weights) is included when known; drop rates
    are the fine-tuning's own.
    """
    C = spec['embed_dims']
    cfg = dict(
        type='VisionTransformer', img_size=int(img_size),
        patch_size=spec['patch_size'], in_channels=spec['in_channels'],
        embed_dims=C, depth=spec['num_layers'],
        mlp_ratio=spec['feedforward_channels'] / C,
        qkv_bias=spec['qkv_bias'], num_frames=int(num_frames),
        tubelet_size=spec['tubelet_size'],
        use_mean_pooling=pooling == 'mean',
        norm_cfg=dict(type='LN', eps=1e-6))
    if spec['layer_scale']:
        cfg['init_values'] = 1e-5  # any value > 0 creates gamma_1 / gamma_2
    if pooling == 'none':
        cfg['return_feat_map'] = True
    if num_heads is not None:
        cfg['num_heads'] = int(num_heads)
    return cfg


def build_target(cfg: dict) -> torch.nn.Module:
    """mmaction2's ``VisionTransformer`` (one head), to check the keys.

    Built on the CPU: its constructor calls ``Tensor.item()``, which the
    ``meta`` device does not allow.
    """
    from mmaction.models.backbones import VisionTransformer
    cfg = dict(cfg)
    cfg.pop('type')
    cfg['num_heads'] = 1
    return VisionTransformer(**cfg)


def convert_encoder_mmaction2(state_dict: Dict[str, torch.Tensor],
                              modality: str = 'rgb',
                              img_size: int = 224,
                              num_frames: int = 16,
                              pooling: str = 'mean',
                              src_prefix: Optional[str] = None,
                              path: str = '<checkpoint>',
                              num_heads: Optional[int] = None
                              ) -> Tuple['OrderedDict[str, torch.Tensor]',
                                         dict]:
    """Convert one tubelet encoder of a state dict to mmaction2 keys.

    Args:
        state_dict (dict): Algorithm or ``MultiModalViT`` state dict.
        modality (str): Modality to export. Defaults to ``'rgb'``.
        img_size (int): Target (square) input size. Defaults to 224.
        num_frames (int): Target clip length. Defaults to 16.
        pooling (str): ``'mean'`` or ``'none'`` (see the module doc).
        src_prefix (str, optional): Backbone prefix; detected if None.
        path (str): Source name for messages and meta.
        num_heads (int, optional): Pre-training heads, for the printed
            config.

    Returns:
        tuple[OrderedDict, dict]: ``backbone.``-prefixed keys and ``meta``
        (plain types).

    Raises:
        ExportError: Anything that prevents an exact export.
    """
    from mmrgbd.models.backbones.multimodal_vit import mmrgbd_to_mmpretrain
    prefix, shared = find_encoder(state_dict, modality, src_prefix, path)
    sd = mmrgbd_to_mmpretrain(state_dict, modality, shared, prefix)
    sd = OrderedDict((k, v.detach().cpu().clone(
        memory_format=torch.contiguous_format)) for k, v in sd.items())
    spec = infer_tubelet_spec(sd)
    p, tp = spec['patch_size'], spec['tubelet_size']
    if img_size % p or num_frames % tp:
        raise ExportError(f'img_size {img_size} / num_frames {num_frames} '
                          f'are not multiples of the patch {p} / tubelet '
                          f'{tp}')
    if 'pos_embed' not in sd:
        raise ExportError(f'{path}: the {modality!r} encoder has no '
                          f'pos_embed')
    grid = (num_frames // tp, img_size // p, img_size // p)
    pos, pos_info = target_video_pos_embed(sd.pop('pos_embed'), grid)
    out, max_k_bias = to_mmaction2(sd, spec, pos, pooling)
    cfg = target_config(spec, img_size, num_frames, pooling, num_heads)
    raise_on_key_problems(
        check_keys(out, build_target(cfg)), path,
        f'the mmaction2 export does not match the mmaction2 '
        f'VisionTransformer {cfg}')
    out = OrderedDict(('backbone.' + k, v) for k, v in out.items())
    meta = dict(
        target='mmaction2',
        modality=modality,
        source=str(path),
        source_prefix=prefix,
        source_layout='shared' if shared else 'modality-specific',
        prefix='backbone.',
        num_tensors=len(out),
        pooling=pooling,
        max_abs_k_bias=max_k_bias,
        img_size=int(img_size),
        num_frames=int(num_frames),
        backbone_cfg=_plain(cfg),
        spec=_plain(spec),
        converter='mmrgbd.models.utils.export_mmaction',
        **pos_info)
    return out, meta


def summary_mmaction2(meta: dict, checkpoint: str = 'FILE') -> str:
    """What was exported and the backbone block to paste into a config."""
    from mmengine.config import Config
    cfg = dict(meta['backbone_cfg'])
    cfg.pop('type')
    cfg.setdefault('num_heads', None)
    backbone = dict(
        **cfg,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                      prefix='backbone.'))
    lines = [
        f'exported {meta["modality"]!r} tubelet encoder '
        f'({meta["source_layout"]} layout under {meta["source_prefix"]!r}) '
        f'of {meta["source"]} as mmaction2 VisionTransformer: '
        f'{meta["num_tensors"]} tensors, key prefix "backbone."',
        f'pos_embed: {meta["pos_embed_mode"]} (order '
        f'{meta["pos_embed_order"] or "-"}) {meta["src_num_tokens"]} tokens '
        f'-> grid {tuple(meta["dst_grid"])}; pooling {meta["pooling"]}; '
        f'dropped k bias (exact) max |b_k| = {meta["max_abs_k_bias"]:.3g}',
        'paste into your mmaction2 config (drop rates are the '
        "fine-tuning's own):",
        Config(dict(model=dict(backbone=backbone))).pretty_text,
    ]
    if cfg['num_heads'] is None:
        lines.append('NOTE: num_heads is unknown (the source holds no '
                     'runner config); pass --num-heads N (the pre-training '
                     'value) or replace None above')
    return '\n'.join(lines)


def export_mmaction2(src: str,
                     dst: str,
                     modality: str = 'rgb',
                     img_size: int = 224,
                     num_frames: int = 16,
                     pooling: str = 'mean',
                     src_prefix: Optional[str] = None,
                     num_heads: Optional[int] = None) -> dict:
    """Read a pre-training checkpoint and write the mmaction2 export.

    Args:
        src (str): Runner checkpoint or weights file (read weights-only).
        dst (str): Output ``.pth``; its folder must exist.
        modality (str): Modality to export. Defaults to ``'rgb'``.
        img_size (int): Target input size. Defaults to 224.
        num_frames (int): Target clip length. Defaults to 16.
        pooling (str): ``'mean'`` or ``'none'``.
        src_prefix (str, optional): Backbone prefix in ``src``.
        num_heads (int, optional): Read from the runner checkpoint when
            None.

    Returns:
        dict: The ``meta`` written with the weights.
    """
    ckpt = load_pretrain_checkpoint(src)
    state_dict = get_state_dict(ckpt, src)
    if num_heads is None:
        num_heads = num_heads_from_checkpoint(ckpt)
    out, meta = convert_encoder_mmaction2(state_dict, modality, img_size,
                                          num_frames, pooling, src_prefix,
                                          src, num_heads)
    out_dir = osp.dirname(osp.abspath(dst))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output folder {out_dir} does not exist')
    torch.save(dict(state_dict=out, meta=meta), dst)
    return meta
