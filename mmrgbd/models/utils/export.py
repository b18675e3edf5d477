"""Export one modality encoder of ``MultiModalViT`` to mmpretrain / mmseg /
ViTDet (mmdet).

A pre-training checkpoint of mmrgbd (a runner checkpoint ``epoch_N.pth`` /
``iter_N.pth`` or a weights file) holds the backbone of an algorithm as
``backbone.encoders.<modality>.*`` (modality-specific encoders: Mask3D, M3 3D,
Progressive) or ``backbone.stems.<modality>.*`` + ``backbone.encoder.*``
(shared encoder: MultiMAE). :func:`export_vit` writes the encoder of one
modality as a plain ``{'state_dict': ..., 'meta': ...}`` file of tensors and
plain types (``torch.load(weights_only=True)``) in one of three layouts:

``target='mmpretrain'``
    mmpretrain ``VisionTransformer`` keys (what ``ViTEncoder`` already uses;
    the rename is :func:`~mmrgbd.models.backbones.multimodal_vit.
    mmrgbd_to_mmpretrain`) with the prefix ``backbone.``, for an unmodified
    ``ImageClassifier`` config with ``backbone.init_cfg=dict(type=
    'Pretrained', checkpoint=FILE, prefix='backbone.')``.

``target='mmseg'``
    mmseg ``VisionTransformer`` keys **without prefix**. mmseg's ViT loads its
    ``init_cfg=dict(type='Pretrained', checkpoint=FILE)`` in its own
    ``init_weights``: it takes ``checkpoint['state_dict']``, ignores any
    ``prefix`` of the ``init_cfg``, resizes ``pos_embed`` *assuming a square
    source grid* when the shape differs, and loads with ``strict=False``
    (missing keys are only logged). The file therefore holds exactly the
    keys of that module, at the target grid, so none of that code runs:

    ===============================  ========================================
    mmpretrain (ours)                mmseg
    ===============================  ========================================
    ``layers.i.attn.qkv.weight``     ``layers.i.attn.attn.in_proj_weight``
    ``layers.i.attn.qkv.bias``       ``layers.i.attn.attn.in_proj_bias``
    ``layers.i.attn.proj.*``         ``layers.i.attn.attn.out_proj.*``
    ``layers.i.ln1/ln2.*``,          unchanged
    ``layers.i.ffn.layers.*``
    ``patch_embed.projection.*``     unchanged (bias: see below)
    ``ln1.*`` (final norm)           ``ln1.*`` (needs ``final_norm=True``)
    ``pre_norm.*``                   ``ln_pre.*`` (needs ``pre_norm=True``)
    ===============================  ========================================

    Layer scale (``attn.gamma1`` / ``ffn.gamma2``, absent in mmseg's ViT) is
    folded exactly into ``out_proj`` / ``ffn.layers.1``; a missing qkv bias
    is written as zeros (mmseg's ``qkv_bias`` also switches the output
    projection bias).

    **Patch-projection bias**: mmseg's ViT defaults to ``patch_bias=False``
    (the unmodified ViT configs keep it). With ``patch_bias='fold'``
    (default) the bias ``b`` is added to every grid row of ``pos_embed``
    (``conv(x) + b + pos == conv_nobias(x) + (pos + b)``: exact, and kept by
    the bicubic resizing mmseg does for other input sizes up to
    interpolation round-off); ``patch_bias='keep'`` writes
    ``patch_embed.projection.bias`` for configs with ``patch_bias=True``.

``target='mmrgbd'``
    The encoders of **several** modalities (e.g. ``rgb`` and ``depth``) in
    ``MultiModalViT``'s own key layout without prefix (``stems.<m>.*`` +
    ``encoder.*`` for a shared encoder, ``encoders.<m>.*`` otherwise), the
    sin-cos ``pos_embed`` of every stem regenerated for the target grid, for
    :class:`~mmrgbd.models.backbones.DenseMultiModalViT` (RGB-D or depth
    fine-tuning in mmseg) with ``init_cfg=dict(type='Pretrained',
    checkpoint=FILE)``; see :func:`convert_multimodal`.

``target='vitdet'``
    mmpretrain ``ViTSAM`` keys with the prefix ``backbone.``: the plain-ViT
    backbone of ViTDet (window / global attention, relative position
    biases), for an unmodified mmdet detector config whose backbone is
    ``type='mmpretrain.ViTSAM'`` followed by
    :class:`~mmrgbd.models.necks.SimpleFeaturePyramid` (see
    :func:`to_vitdet`).

**Global (class) token.** Our encoders have ``num_global_tokens`` 0 or 1.
With 1 the learned ``cls_token`` is exported; its ``pos_embed`` row is zero
(ours adds no position to the global token, mmpretrain / mmseg add row 0),
so features are identical with ``with_cls_token=True``. With 0 (Mask3D):

* mmpretrain: no ``cls_token``, ``pos_embed`` (1, N, C): the config must set
  ``with_cls_token=False`` and an ``out_type`` other than ``'cls_token'``;
* mmseg: its ViT always owns ``cls_token`` and a (1, 1 + N, C)
  ``pos_embed``; a zero token and a zero row are written and the config must
  set ``with_cls_token=False`` (mmseg then drops the token before the first
  block, so the features equal ours).

**Position embedding.** Ours is the fixed 2D sin-cos of the pre-training grid
(possibly non-square, channel order ``'wh'`` or ``'hw'``). The grid and the
order are recovered from the stored values (every factorisation of N is
tried) and the embedding is **regenerated exactly** for the target grid
(``img_size // patch_size``) with :func:`build_sincos_pos_embed`; at the
pre-training grid it equals the stored one. A stored embedding that is not
a fixed sin-cos needs ``src_grid`` and is resized with
:func:`interpolate_pos_embed`. Note that our encoder *interpolates* its
stored embedding for other input sizes while the export regenerates it, so
features at other sizes differ slightly (the exported one is the exact
sin-cos of the new grid).

Every export is checked against the state dict of the target module built
(on the ``meta`` device) with the inferred architecture: a missing,
unexpected or wrongly shaped key raises :class:`ExportError`.
"""
import ast
import math
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .pos_embed import (PE_ORDERS, build_sincos_pos_embed,
                        interpolate_pos_embed)

TARGETS = ('mmpretrain', 'mmseg', 'vitdet')
#: the multi-modal export (several modalities, MultiModalViT keys)
MULTIMODAL_TARGET = 'mmrgbd'
PATCH_BIAS_MODES = ('fold', 'keep')

#: mmpretrain ViT layer sub-keys renamed for mmseg (others are unchanged)
MMSEG_LAYER_RENAMES = OrderedDict([
    ('attn.qkv.weight', 'attn.attn.in_proj_weight'),
    ('attn.qkv.bias', 'attn.attn.in_proj_bias'),
    ('attn.proj.weight', 'attn.attn.out_proj.weight'),
    ('attn.proj.bias', 'attn.attn.out_proj.bias'),
])
#: mmpretrain ViT top-level keys renamed for mmseg
MMSEG_TOP_RENAMES = OrderedDict([
    ('pre_norm.weight', 'ln_pre.weight'),
    ('pre_norm.bias', 'ln_pre.bias'),
])


class ExportError(RuntimeError):
    """The checkpoint cannot be exported to the requested layout."""


# ---------------------------------------------------------------------- #
# reading the pre-training checkpoint
# ---------------------------------------------------------------------- #
def load_pretrain_checkpoint(path: str) -> dict:
    """Read a pre-training checkpoint on CPU without running code from it.

    Weight files and runner checkpoints both load through
    :func:`mmrgbd.utils.safe_load` (``weights_only=True`` plus the
    allow-listed checkpoint bookkeeping classes); a file holding other
    pickled objects is refused, naming the file.

    Args:
        path (str): Weights file or runner checkpoint.

    Returns:
        dict: The loaded object.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file holds other pickled objects.
        CheckpointReadError: The file is truncated or not a torch file.
    """
    from mmrgbd.utils import safe_load
    return safe_load(path, map_location='cpu')


def get_state_dict(ckpt,
                   path: str = '<checkpoint>') -> Dict[str, torch.Tensor]:
    """The tensors of a loaded checkpoint (``state_dict`` / ``model`` / it).

    Args:
        ckpt (dict): Loaded checkpoint.
        path (str): File name for messages.

    Returns:
        dict: Name -> tensor (non-tensor entries dropped).
    """
    if not isinstance(ckpt, dict):
        raise ExportError(f'{path}: expected a dict, got '
                          f'{type(ckpt).__name__}')
    for key in ('state_dict', 'model'):
        if isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    return OrderedDict((k, v) for k, v in ckpt.items() if torch.is_tensor(v))


def find_encoder(state_dict: Dict[str, torch.Tensor],
                 modality: str = 'rgb',
                 src_prefix: Optional[str] = None,
                 path: str = '<checkpoint>') -> Tuple[str, bool]:
    """Locate a modality's encoder of ``MultiModalViT`` in a state dict.

    Args:
        state_dict (dict): Algorithm / backbone state dict.
        modality (str): Modality to export.
        src_prefix (str, optional): Prefix of the backbone (e.g.
            ``'backbone.'``); None to detect it.
        path (str): File name for messages.

    Returns:
        tuple[str, bool]: The prefix and whether the layout is shared.

    Raises:
        ExportError: The modality is not found, or several backbones hold it
            and ``src_prefix`` is not given.
    """
    found = OrderedDict()
    for key in state_dict:
        for marker, shared in ((f'encoders.{modality}.', False),
                               (f'stems.{modality}.', True)):
            i = key.find(marker)
            if i >= 0 and (i == 0 or key[i - 1] == '.'):
                found.setdefault(key[:i], shared)
    if src_prefix is not None:
        if src_prefix not in found:
            raise ExportError(
                f'{path}: no encoder of modality {modality!r} under '
                f'{src_prefix!r}; found it under {list(found) or "nothing"}')
        return src_prefix, found[src_prefix]
    if not found:
        mods = sorted({
            k.split(part, 1)[1].split('.', 1)[0]
            for k in state_dict for part in ('encoders.', 'stems.')
            if part in k
        })
        raise ExportError(
            f'{path}: no MultiModalViT encoder of modality {modality!r}; '
            f'modalities present: {mods or "none (not a MultiModalViT)"}')
    if len(found) > 1:
        raise ExportError(f'{path}: the modality {modality!r} is under '
                          f'several prefixes {list(found)}; choose one with '
                          f'src_prefix / --src-prefix')
    prefix, shared = next(iter(found.items()))
    return prefix, shared


# ---------------------------------------------------------------------- #
# architecture of the exported encoder
# ---------------------------------------------------------------------- #
def _factor_grids(n: int) -> List[Tuple[int, int]]:
    """All ``(h, w)`` with ``h * w == n``, squarest first."""
    grids = [(h, n // h) for h in range(1, n + 1) if n % h == 0]
    return sorted(grids, key=lambda g: (abs(g[0] - g[1]), g))


def detect_sincos_grid(pos_embed: torch.Tensor, num_extra_tokens: int
                       ) -> Optional[Tuple[Tuple[int, int], str]]:
    """Grid and channel order of a fixed 2D sin-cos ``pos_embed``.

    Args:
        pos_embed (Tensor): (1, G + N, C).
        num_extra_tokens (int): G, the leading rows (must be zero).

    Returns:
        tuple | None: ``((h, w), order)`` of the unique match, or None.
    """
    C = pos_embed.shape[-1]
    rows = pos_embed.detach().float().cpu().reshape(-1, C)  # (G + N, C)
    n = rows.shape[0] - num_extra_tokens
    if n <= 0 or C % 4:
        return None
    matches = []
    for grid in _factor_grids(n):
        for order in PE_ORDERS:
            ref = build_sincos_pos_embed(C, grid, order,
                                         num_extra_tokens=num_extra_tokens)
            if torch.allclose(rows, ref, atol=1e-4):
                matches.append((grid, order))
    return matches[0] if len(matches) == 1 else None


def count_layers(sd: Dict[str, torch.Tensor]) -> int:
    """Number of blocks ``layers.0 .. layers.L-1`` of a mmpretrain-layout ViT.

    Raises:
        ExportError: No blocks, or the indices are not 0..L-1.
    """
    layer_ids = sorted({int(k.split('.')[1]) for k in sd
                        if k.startswith('layers.')})
    if not layer_ids or layer_ids != list(range(len(layer_ids))):
        raise ExportError(f'transformer blocks are not 0..L-1: {layer_ids}')
    return len(layer_ids)


def infer_vit_spec(sd: Dict[str, torch.Tensor]) -> dict:
    """Architecture of a mmpretrain-layout ViT state dict.

    Args:
        sd (dict): mmpretrain ``VisionTransformer`` keys.

    Returns:
        dict: ``embed_dims``, ``num_layers``, ``feedforward_channels``,
        ``patch_size``, ``in_channels``, ``num_global_tokens``,
        ``final_norm``, ``pre_norm``, ``qkv_bias``, ``layer_scale``,
        ``patch_bias``.

    Raises:
        ExportError: Not a conv-patch ViT (e.g. the ``semseg`` modality's
            class-embedding stem), or blocks are missing.
    """
    w = sd.get('patch_embed.projection.weight')
    if w is None or w.dim() != 4:
        stem = sorted(k for k in sd if k.startswith('patch_embed.'))
        raise ExportError(
            f'the encoder has no conv patch projection '
            f'(patch_embed.projection.weight); its stem keys are {stem}. '
            f'Only image-like modalities (rgb, depth) export to a '
            f'mmpretrain / mmseg VisionTransformer')
    other = [k for k in sd if k.startswith('patch_embed.') and
             k not in ('patch_embed.projection.weight',
                       'patch_embed.projection.bias')]
    if other:
        raise ExportError(f'the patch embedding has keys {other} that a '
                          f'VisionTransformer PatchEmbed does not have; '
                          f'only image-like modalities (rgb, depth) export '
                          f'to a mmpretrain / mmseg VisionTransformer')
    if w.shape[2] != w.shape[3]:
        raise ExportError(f'non-square patches {tuple(w.shape[2:])}')
    return dict(
        embed_dims=int(w.shape[0]),
        in_channels=int(w.shape[1]),
        patch_size=int(w.shape[2]),
        num_layers=count_layers(sd),
        feedforward_channels=int(
            sd['layers.0.ffn.layers.0.0.weight'].shape[0]),
        num_global_tokens=1 if 'cls_token' in sd else 0,
        final_norm='ln1.weight' in sd,
        pre_norm='pre_norm.weight' in sd,
        qkv_bias='layers.0.attn.qkv.bias' in sd,
        layer_scale='layers.0.attn.gamma1.weight' in sd,
        patch_bias='patch_embed.projection.bias' in sd)


def _as_pair(size) -> Tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return (size[0], size[0])
    if len(size) != 2:
        raise ExportError(f'img_size must be H or (H, W), got {size}')
    return size


def target_pos_embed(pos_embed: torch.Tensor,
                     num_global_tokens: int,
                     patch_size: int,
                     img_size=None,
                     src_grid: Optional[Sequence[int]] = None,
                     pos_embed_order: Optional[str] = None
                     ) -> Tuple[torch.Tensor, dict]:
    """The grid part of ``pos_embed`` at the target image size.

    Args:
        pos_embed (Tensor): Stored (1, G + N, C).
        num_global_tokens (int): G.
        patch_size (int): Patch size.
        img_size (int | Sequence[int], optional): Target (H, W); None keeps
            the stored grid.
        src_grid (Sequence[int], optional): Stored grid if it cannot be
            detected (non-sin-cos embeddings).
        pos_embed_order (str, optional): Force the sin-cos channel order.

    Returns:
        tuple[Tensor, dict]: (1, h * w, C) without the global rows, and
        ``info`` (``src_grid``, ``dst_grid``, ``img_size``,
        ``pos_embed_order``, ``pos_embed_mode``: ``'sincos'`` or
        ``'interpolated'``).
    """
    C = pos_embed.shape[-1]
    G = num_global_tokens
    n = pos_embed.shape[1] - G
    detected = detect_sincos_grid(pos_embed, G)
    if detected is not None:
        grid, order = detected
        if src_grid is not None and tuple(src_grid) != grid:
            raise ExportError(f'src_grid {tuple(src_grid)} contradicts the '
                              f'stored sin-cos embedding of grid {grid}')
        if pos_embed_order is not None and pos_embed_order != order:
            raise ExportError(f'pos_embed_order {pos_embed_order!r} '
                              f'contradicts the stored embedding ({order!r})')
    else:
        if src_grid is None:
            side = int(round(math.sqrt(n)))
            if side * side != n:
                raise ExportError(
                    f'pos_embed has {n} grid rows and is not a fixed 2D '
                    f'sin-cos, so its grid is unknown: give src_grid '
                    f'(--src-grid H W)')
            src_grid = (side, side)
        grid, order = tuple(int(g) for g in src_grid), None
        if grid[0] * grid[1] != n:
            raise ExportError(f'src_grid {grid} does not match {n} rows')
    dst = grid if img_size is None else tuple(
        s // patch_size for s in _as_pair(img_size))
    if img_size is not None and any(s % patch_size
                                    for s in _as_pair(img_size)):
        raise ExportError(f'img_size {_as_pair(img_size)} is not a multiple '
                          f'of the patch size {patch_size}')
    if order is not None:
        pos = build_sincos_pos_embed(C, dst, order).unsqueeze(0)  # (1, N', C)
        mode = 'sincos'
    else:
        pos = interpolate_pos_embed(pos_embed.float(), grid, dst, 'bicubic',
                                    G)[:, G:]  # (1, N', C)
        mode = 'interpolated' if dst != grid else 'copied'
    info = dict(src_grid=list(grid), dst_grid=list(dst),
                img_size=[d * patch_size for d in dst],
                pos_embed_order=order or '', pos_embed_mode=mode)
    return pos.to(pos_embed.dtype), info


# ---------------------------------------------------------------------- #
# the two layouts
# ---------------------------------------------------------------------- #
def to_mmpretrain(sd: Dict[str, torch.Tensor], spec: dict,
                  pos: torch.Tensor) -> 'OrderedDict[str, torch.Tensor]':
    """mmpretrain ``VisionTransformer`` state dict at the target grid.

    Args:
        sd (dict): Our encoder in mmpretrain layout.
        spec (dict): :func:`infer_vit_spec` of it.
        pos (Tensor): (1, N', C) grid position embedding (target grid).

    Returns:
        OrderedDict: Keys without prefix.
    """
    out = OrderedDict()
    for k, v in sd.items():
        out[k] = v
    if spec['num_global_tokens']:
        pos = torch.cat([pos.new_zeros(1, 1, pos.shape[-1]), pos],
                        dim=1)  # (1, 1 + N', C)
    out['pos_embed'] = pos
    return out


def to_mmseg(sd: Dict[str, torch.Tensor], spec: dict, pos: torch.Tensor,
             patch_bias: str = 'fold') -> 'OrderedDict[str, torch.Tensor]':
    """mmseg ``VisionTransformer`` state dict at the target grid.

    Args:
        sd (dict): Our encoder in mmpretrain layout.
        spec (dict): :func:`infer_vit_spec` of it.
        pos (Tensor): (1, N', C) grid position embedding (target grid).
        patch_bias (str): ``'fold'`` (into ``pos_embed``, for mmseg's
            default ``patch_bias=False``) or ``'keep'`` (for
            ``patch_bias=True``).

    Returns:
        OrderedDict: mmseg keys (no prefix), see the module docstring.
    """
    if patch_bias not in PATCH_BIAS_MODES:
        raise ExportError(f'patch_bias must be one of {PATCH_BIAS_MODES}, '
                          f'got {patch_bias!r}')
    C = spec['embed_dims']
    out = OrderedDict()
    bias = sd.get('patch_embed.projection.bias')
    grid_pos = pos
    if bias is not None and patch_bias == 'fold':
        grid_pos = pos + bias.to(pos.dtype).view(1, 1, C)  # (1, N', C)
    cls = sd.get('cls_token')
    out['cls_token'] = cls if cls is not None else pos.new_zeros(1, 1, C)
    out['pos_embed'] = torch.cat([pos.new_zeros(1, 1, C), grid_pos],
                                 dim=1)  # (1, 1 + N', C)
    out['patch_embed.projection.weight'] = sd['patch_embed.projection.weight']
    if patch_bias == 'keep':
        out['patch_embed.projection.bias'] = bias if bias is not None else \
            sd['patch_embed.projection.weight'].new_zeros(C)
    for k, v in sd.items():
        if k in ('cls_token', 'pos_embed') or k.startswith('patch_embed.'):
            continue
        if k in MMSEG_TOP_RENAMES:
            out[MMSEG_TOP_RENAMES[k]] = v
            continue
        if not k.startswith('layers.'):
            out[k] = v  # ln1.* (final norm)
            continue
        _, idx, sub = k.split('.', 2)
        if sub in ('attn.gamma1.weight', 'ffn.gamma2.weight'):
            continue  # folded below
        new = MMSEG_LAYER_RENAMES.get(sub, sub)
        out[f'layers.{idx}.{new}'] = v
    for i in range(spec['num_layers']):
        p = f'layers.{i}.'
        if not spec['qkv_bias']:
            out[p + 'attn.attn.in_proj_bias'] = sd[
                p + 'attn.qkv.weight'].new_zeros(3 * C)
        if p + 'attn.proj.bias' not in sd:
            out[p + 'attn.attn.out_proj.bias'] = sd[
                p + 'attn.proj.weight'].new_zeros(C)
    fold_layer_scale(out, sd, spec['num_layers'], 'attn.attn.out_proj')
    return out


def fold_layer_scale(out: Dict[str, torch.Tensor],
                     sd: Dict[str, torch.Tensor], num_layers: int,
                     attn_out: str) -> None:
    """Fold layer scale (``gamma1`` / ``gamma2``) into the output layers.

    ``x + gamma * (W h + b) == x + (gamma[:, None] * W) h + gamma * b``, so
    a target block without layer scale computes the same with scaled
    weights. Modifies ``out`` in place (its output projections must be
    present).

    Args:
        out (dict): Target state dict (weights of block ``i`` under
            ``layers.i.<attn_out>`` and ``layers.i.ffn.layers.1``).
        sd (dict): Source mmpretrain keys (``layers.i.attn.gamma1.weight``,
            ``layers.i.ffn.gamma2.weight``).
        num_layers (int): Number of blocks.
        attn_out (str): Name of the attention output projection in the
            target (``'attn.attn.out_proj'`` mmseg, ``'attn.proj'``
            ViTDet).
    """
    for i in range(num_layers):
        p = f'layers.{i}.'
        for gamma, w in (('attn.gamma1.weight', attn_out),
                         ('ffn.gamma2.weight', 'ffn.layers.1')):
            if p + gamma in sd:
                g = sd[p + gamma]
                out[f'{p}{w}.weight'] = out[f'{p}{w}.weight'] * g[:, None]
                out[f'{p}{w}.bias'] = out[f'{p}{w}.bias'] * g


def vitdet_global_blocks(num_layers: int) -> List[int]:
    """Blocks with global attention in ViTDet: the last of each quarter.

    ``[2, 5, 8, 11]`` for 12 blocks (ViTDet-B), ``[5, 11, 17, 23]`` for 24;
    every block of a ViT with fewer than 4 blocks.
    """
    if num_layers < 4:
        return list(range(num_layers))
    return [(q + 1) * num_layers // 4 - 1 for q in range(4)]


def to_vitdet(sd: Dict[str, torch.Tensor], spec: dict, pos: torch.Tensor,
              grid: Sequence[int]) -> 'OrderedDict[str, torch.Tensor]':
    """mmpretrain ``ViTSAM`` (ViTDet backbone) state dict at the target grid.

    mmpretrain's ``ViTSAM`` is the plain ViT of ViTDet (window attention in
    most blocks, global attention in :func:`vitdet_global_blocks`, relative
    position biases, an absolute ``pos_embed`` of shape (1, h, w, C), no
    global token, no final norm). Its block keys equal mmpretrain's
    ``VisionTransformer`` ones; what differs:

    * ``pos_embed`` is reshaped to (1, h, w, C);
    * ``cls_token`` and the final norm ``ln1.*`` are not written (ViTDet
      uses neither; the simple feature pyramid normalises each level);
    * a missing patch-projection / attention-output bias is written as
      zeros (``ViTSAM`` always has them), layer scale is folded into the
      output layers (:func:`fold_layer_scale`);
    * the relative position biases ``layers.i.attn.rel_pos_h/w`` are new
      parameters of the detector (zero-initialised, as ViTDet does for MAE
      weights); :func:`convert_encoder` adds them as zeros when the head
      count is known.

    Args:
        sd (dict): Our encoder in mmpretrain layout.
        spec (dict): :func:`infer_vit_spec` of it.
        pos (Tensor): (1, h * w, C) grid position embedding (target grid).
        grid (Sequence[int]): Target token grid (h, w).

    Returns:
        OrderedDict: ``ViTSAM`` keys (no prefix).

    Raises:
        ExportError: The encoder has a pre-norm (``ViTSAM`` has none).
    """
    if spec['pre_norm']:
        raise ExportError('the encoder has a pre-norm (pre_norm.*), which '
                          'mmpretrain ViTSAM (the ViTDet backbone) lacks')
    C = spec['embed_dims']
    out = OrderedDict()
    out['pos_embed'] = pos.reshape(1, grid[0], grid[1], C)  # (1, h, w, C)
    weight = sd['patch_embed.projection.weight']
    out['patch_embed.projection.weight'] = weight
    out['patch_embed.projection.bias'] = sd.get(
        'patch_embed.projection.bias', weight.new_zeros(C))
    for k, v in sd.items():
        if not k.startswith('layers.'):
            continue  # cls_token, ln1.* (final norm): not used by ViTDet
        if k.endswith(('attn.gamma1.weight', 'ffn.gamma2.weight')):
            continue  # folded below
        out[k] = v
    for i in range(spec['num_layers']):
        p = f'layers.{i}.'
        if p + 'attn.proj.bias' not in out:
            out[p + 'attn.proj.bias'] = sd[p + 'attn.proj.weight'].new_zeros(C)
    fold_layer_scale(out, sd, spec['num_layers'], 'attn.proj')
    return out


def target_config(target: str,
                  spec: dict,
                  img_size: Sequence[int],
                  patch_bias: str = 'fold',
                  num_heads: Optional[int] = None) -> dict:
    """Backbone arguments the target config must use with the export.

    ``num_heads`` cannot be read from weights: it is included when given
    (:func:`num_heads_from_checkpoint` reads it from a runner checkpoint's
    config) and must be the pre-training one (``drop_*`` and ``norm_cfg``
    eps likewise).
    """
    C = spec['embed_dims']
    with_cls = bool(spec['num_global_tokens'])
    if target == 'mmpretrain':
        cfg = dict(
            type='VisionTransformer',
            arch=dict(embed_dims=C, num_layers=spec['num_layers'],
                      feedforward_channels=spec['feedforward_channels']),
            img_size=tuple(img_size), patch_size=spec['patch_size'],
            in_channels=spec['in_channels'], with_cls_token=with_cls,
            final_norm=spec['final_norm'], pre_norm=spec['pre_norm'],
            qkv_bias=spec['qkv_bias'],
            layer_scale_init_value=1e-5 if spec['layer_scale'] else 0.)
        if num_heads is not None:
            cfg['arch']['num_heads'] = int(num_heads)
        if not with_cls:
            # any out_type but 'cls_token'; 'avg_featmap' adds a new ln2
            cfg['out_type'] = 'featmap'
        return cfg
    if target == 'vitdet':
        arch = dict(embed_dims=C, num_layers=spec['num_layers'],
                    feedforward_channels=spec['feedforward_channels'],
                    global_attn_indexes=vitdet_global_blocks(
                        spec['num_layers']))
        if num_heads is not None:
            arch['num_heads'] = int(num_heads)
        # ViTDet-B: window 14 elsewhere, relative position biases, no
        # channel reduction (the simple feature pyramid follows)
        return dict(type='mmpretrain.ViTSAM', arch=arch,
                    img_size=tuple(img_size), patch_size=spec['patch_size'],
                    in_channels=spec['in_channels'],
                    qkv_bias=spec['qkv_bias'], out_channels=0,
                    use_abs_pos=True, use_rel_pos=True, window_size=14)
    if spec['feedforward_channels'] % C:
        raise ExportError(f'feedforward_channels '
                          f'{spec["feedforward_channels"]} is not a multiple '
                          f'of embed_dims {C} (mmseg uses an integer '
                          f'mlp_ratio)')
    cfg = dict(
        type='VisionTransformer', img_size=tuple(img_size),
        patch_size=spec['patch_size'], in_channels=spec['in_channels'],
        embed_dims=C, num_layers=spec['num_layers'],
        mlp_ratio=spec['feedforward_channels'] // C, with_cls_token=with_cls,
        final_norm=spec['final_norm'], pre_norm=spec['pre_norm'],
        qkv_bias=True, patch_bias=patch_bias == 'keep')
    if num_heads is not None:
        cfg['num_heads'] = int(num_heads)
    return cfg


def build_target(target: str, cfg: dict,
                 num_heads: Optional[int] = None) -> torch.nn.Module:
    """Build the target ViT (one head) to check keys and shapes.

    mmpretrain's ViT is built on the ``meta`` device (no memory); mmseg's
    calls ``Tensor.item()`` in its constructor and is built on the CPU.
    ``num_heads`` is used for ``'vitdet'`` (its relative position biases
    have one row per head channel); 1 otherwise or when unknown.
    """
    cfg = dict(cfg)
    cfg.pop('type')
    if target == 'vitdet':
        from mmpretrain.models.backbones import ViTSAM
        cfg['arch'] = dict(cfg['arch'], num_heads=int(num_heads or 1))
        with torch.device('meta'):
            return ViTSAM(**cfg)
    if target == 'mmpretrain':
        from mmpretrain.models.backbones import VisionTransformer
        cfg['arch'] = dict(cfg['arch'], num_heads=1)
        with torch.device('meta'):
            return VisionTransformer(**cfg)
    from mmseg.models.backbones import VisionTransformer
    cfg['num_heads'] = 1
    return VisionTransformer(**cfg)


def check_keys(state_dict: Dict[str, torch.Tensor],
               model: torch.nn.Module) -> Dict[str, list]:
    """Missing / unexpected / wrongly shaped keys against ``model``."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return dict(
        missing=sorted(k for k in expected if k not in state_dict),
        unexpected=sorted(k for k in state_dict if k not in expected),
        shape=sorted(f'{k}: {tuple(v.shape)} vs {expected[k]}'
                     for k, v in state_dict.items()
                     if k in expected and tuple(v.shape) != expected[k]))


def raise_on_key_problems(problems: Dict[str, list], path: str,
                          mismatch: str) -> None:
    """Raise :class:`ExportError` if :func:`check_keys` found anything.

    Args:
        problems (dict): ``check_keys`` output (possibly filtered).
        path (str): The source checkpoint, named first in the message.
        mismatch (str): What does not match, e.g. ``'the export does not
            match MultiModalViT {cfg}'``.
    """
    if any(problems.values()):
        raise ExportError(f'{path}: {mismatch}: ' + '; '.join(
            f'{k} {v}' for k, v in problems.items() if v))


# ---------------------------------------------------------------------- #
# the whole export
# ---------------------------------------------------------------------- #
def convert_encoder(state_dict: Dict[str, torch.Tensor],
                    target: str,
                    modality: str = 'rgb',
                    img_size=None,
                    src_prefix: Optional[str] = None,
                    src_grid: Optional[Sequence[int]] = None,
                    patch_bias: str = 'fold',
                    path: str = '<checkpoint>',
                    num_heads: Optional[int] = None
                    ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Convert one modality's encoder of a state dict to a target layout.

    Args:
        state_dict (dict): Algorithm or ``MultiModalViT`` state dict.
        target (str): ``'mmpretrain'`` or ``'mmseg'``.
        modality (str): Modality to export. Defaults to ``'rgb'``.
        img_size (int | Sequence[int], optional): Target input size; None
            keeps the pre-training size.
        src_prefix (str, optional): Backbone prefix; detected if None.
        src_grid (Sequence[int], optional): Stored grid, only needed when
            ``pos_embed`` is not a fixed sin-cos.
        patch_bias (str): mmseg only, ``'fold'`` or ``'keep'``.
        path (str): Source name for messages and meta.
        num_heads (int, optional): The pre-training number of heads, put
            into the printed target config.

    Returns:
        tuple[OrderedDict, dict]: The exported keys (``backbone.``-prefixed
        for mmpretrain, bare for mmseg) and ``meta`` (plain types: layout,
        grids, the backbone arguments the target config needs, ...).

    Raises:
        ExportError: Anything that prevents an exact export.
    """
    from mmrgbd.models.backbones.multimodal_vit import mmrgbd_to_mmpretrain
    if target not in TARGETS:
        raise ExportError(f'target must be one of {TARGETS}, got {target!r}')
    prefix, shared = find_encoder(state_dict, modality, src_prefix, path)
    sd = mmrgbd_to_mmpretrain(state_dict, modality, shared, prefix)
    sd = OrderedDict((k, v.detach().cpu().clone(
        memory_format=torch.contiguous_format)) for k, v in sd.items())
    spec = infer_vit_spec(sd)
    if 'pos_embed' not in sd:
        raise ExportError(f'{path}: the {modality!r} encoder has no pos_embed')
    pos, pos_info = target_pos_embed(sd.pop('pos_embed'),
                                     spec['num_global_tokens'],
                                     spec['patch_size'], img_size, src_grid)
    if target == 'mmpretrain':
        out = to_mmpretrain(sd, spec, pos)
    elif target == 'mmseg':
        out = to_mmseg(sd, spec, pos, patch_bias)
    else:
        out = to_vitdet(sd, spec, pos, pos_info['dst_grid'])
    cfg = target_config(target, spec, pos_info['img_size'], patch_bias,
                        num_heads)
    model = build_target(target, cfg, num_heads)
    zero_keys, new_keys = [], []
    if target == 'vitdet':
        # ViTDet's relative position biases are new: ViTDet starts them at
        # zero for MAE weights. With the head count known they are written
        # as those zeros (the file then fills every backbone key; ViTSAM
        # interpolates them to other window / input sizes); without it
        # their shape is unknown and the detector initialises them.
        expected = model.state_dict()
        rel = [k for k in expected if '.attn.rel_pos_' in k]
        if num_heads is not None:
            for k in rel:
                out[k] = torch.zeros(expected[k].shape)
            zero_keys = rel
        else:
            new_keys = rel
    problems = check_keys(out, model)
    problems['missing'] = [k for k in problems['missing']
                           if k not in new_keys]
    raise_on_key_problems(
        problems, path,
        f'the {target} export does not match the {target} '
        f'VisionTransformer {cfg}')
    out_prefix = '' if target == 'mmseg' else 'backbone.'
    out = OrderedDict((out_prefix + k, v) for k, v in out.items())
    meta = dict(
        target=target,
        modality=modality,
        source=str(path),
        source_prefix=prefix,
        source_layout='shared' if shared else 'modality-specific',
        prefix=out_prefix,
        num_tensors=len(out),
        patch_bias=(patch_bias if target == 'mmseg' else 'keep'),
        not_exported=sorted(k for k in sd if k == 'cls_token' or
                            k.startswith('ln1.')) if target == 'vitdet'
        else [],
        zero_in_file=zero_keys,
        new_in_target=new_keys,
        backbone_cfg=_plain(cfg),
        spec=_plain(spec),
        converter='mmrgbd.models.utils.export',
        **pos_info)
    return out, meta


def convert_multimodal(state_dict: Dict[str, torch.Tensor],
                       modalities: Sequence[str] = ('rgb', 'depth'),
                       img_size=None,
                       src_prefix: Optional[str] = None,
                       path: str = '<checkpoint>',
                       num_heads: Optional[int] = None
                       ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Export the encoders of several modalities for DenseMultiModalViT.

    The keys are ``MultiModalViT``'s without prefix; only the listed
    modalities are kept (e.g. a MultiMAE checkpoint's ``semseg`` stem is
    dropped), and every stem's fixed sin-cos ``pos_embed`` is regenerated for
    ``img_size`` (:func:`target_pos_embed`), so loading it into a backbone of
    that size changes nothing. The result is checked key by key and shape by
    shape against a ``MultiModalViT`` built from the inferred architecture.

    Args:
        state_dict (dict): Algorithm or ``MultiModalViT`` state dict.
        modalities (Sequence[str]): Image-like modalities to export, in the
            channel order of the fine-tuning input.
        img_size (int | Sequence[int], optional): Target input size; None
            keeps the pre-training grid.
        src_prefix (str, optional): Backbone prefix; detected if None.
        path (str): Source name for messages and meta.
        num_heads (int, optional): Pre-training heads, for the printed
            config.

    Returns:
        tuple[OrderedDict, dict]: The weights and ``meta`` (with
        ``backbone_cfg``, the ``DenseMultiModalViT`` arguments).

    Raises:
        ExportError: A modality is missing, not image-like, or the
            modalities disagree on layout or architecture.
    """
    from mmrgbd.models.backbones.multimodal_vit import (
        MultiModalViT, mmrgbd_to_mmpretrain)
    modalities = list(modalities)
    if not modalities or len(set(modalities)) != len(modalities):
        raise ExportError(f'modalities must be distinct names, got '
                          f'{modalities}')
    found = {m: find_encoder(state_dict, m, src_prefix, path)
             for m in modalities}
    if len(set(found.values())) != 1:
        raise ExportError(f'{path}: the modalities sit in different '
                          f'backbones / layouts: {found}')
    prefix, shared = found[modalities[0]]
    out, specs, infos = OrderedDict(), {}, {}
    for m in modalities:
        try:
            sd = mmrgbd_to_mmpretrain(state_dict, m, shared, prefix)
            spec = infer_vit_spec(sd)
        except ExportError as e:
            raise ExportError(f'{path}: cannot export the {m!r} encoder: '
                              f'{e}') from e
        if 'pos_embed' not in sd:
            raise ExportError(f'{path}: the {m!r} encoder has no pos_embed')
        pos, info = target_pos_embed(sd.pop('pos_embed'),
                                     spec['num_global_tokens'],
                                     spec['patch_size'], img_size)
        if info['pos_embed_mode'] != 'sincos':
            raise ExportError(f'{path}: the {m!r} pos_embed is not a fixed '
                              '2D sin-cos (MultiModalViT regenerates it)')
        G = spec['num_global_tokens']
        pos = torch.cat([pos.new_zeros(1, G, pos.shape[-1]), pos],
                        dim=1)  # (1, G + N', C)
        stem = f'stems.{m}.' if shared else f'encoders.{m}.'
        for k, v in sd.items():
            v = v.detach().cpu().clone(memory_format=torch.contiguous_format)
            if shared and not k.startswith('patch_embed.'):
                out[f'encoder.{k}'] = v
            else:
                out[stem + k] = v
        out[stem + 'pos_embed'] = pos
        specs[m], infos[m] = spec, info
    ref = specs[modalities[0]]
    arch_keys = ('embed_dims', 'num_layers', 'feedforward_channels',
                 'patch_size', 'num_global_tokens', 'final_norm', 'pre_norm',
                 'qkv_bias', 'layer_scale')
    for m in modalities[1:]:
        diff = [k for k in arch_keys if specs[m][k] != ref[k]]
        if diff:
            raise ExportError(f'{path}: {m!r} and {modalities[0]!r} encoders '
                              f'differ in {diff}')
    if ref['pre_norm']:
        raise ExportError(f'{path}: pre_norm encoders are not supported by '
                          'MultiModalViT')
    orders = {infos[m]['pos_embed_order'] for m in modalities}
    grids = {tuple(infos[m]['dst_grid']) for m in modalities}
    if len(orders) != 1 or len(grids) != 1:
        raise ExportError(f'{path}: the stems disagree on the sin-cos order '
                          f'{orders} or grid {grids}')
    arch = dict(embed_dims=ref['embed_dims'], num_layers=ref['num_layers'],
                feedforward_channels=ref['feedforward_channels'])
    if num_heads is not None:
        arch['num_heads'] = int(num_heads)
    cfg = dict(
        type='mmrgbd.DenseMultiModalViT',
        arch=arch,
        modalities={m: dict(in_channels=specs[m]['in_channels'])
                    for m in modalities},
        in_modalities=list(modalities),
        img_size=tuple(infos[modalities[0]]['img_size']),
        patch_size=ref['patch_size'],
        shared_encoder=shared,
        num_global_tokens=ref['num_global_tokens'],
        pos_embed_order=orders.pop(),
        final_norm=ref['final_norm'],
        qkv_bias=ref['qkv_bias'],
        layer_scale_init_value=1e-5 if ref['layer_scale'] else 0.)
    check_cfg = {k: v for k, v in cfg.items()
                 if k not in ('type', 'in_modalities')}
    check_cfg['arch'] = dict(arch, num_heads=1)
    with torch.device('meta'):
        target = MultiModalViT(**check_cfg)
    raise_on_key_problems(check_keys(out, target), path,
                          f'the export does not match MultiModalViT {cfg}')
    info = infos[modalities[0]]
    meta = dict(
        target=MULTIMODAL_TARGET,
        modality=modalities,
        source=str(path),
        source_prefix=prefix,
        source_layout='shared' if shared else 'modality-specific',
        prefix='',
        num_tensors=len(out),
        backbone_cfg=_plain(cfg),
        spec=_plain(ref),
        converter='mmrgbd.models.utils.export',
        **info)
    return out, meta


def _plain(obj):
    """Tuples to lists, recursively (plain, weights-only-safe types)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _config_literal(node):
    """A config expression of literals and ``dict(...)`` calls as data.

    Only literals, lists, tuples, dicts and ``dict(k=v)`` calls are read
    (nothing is executed); anything else gives None.
    """
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id == 'dict' and not node.args:
        return {kw.arg: _config_literal(kw.value)
                for kw in node.keywords if kw.arg}
    if isinstance(node, ast.Dict):
        return {_config_literal(k): _config_literal(v)
                for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_config_literal(e) for e in node.elts]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return None


def num_heads_from_checkpoint(ckpt) -> Optional[int]:
    """The backbone's ``num_heads`` from a runner checkpoint's config text.

    MMEngine stores the config as text in ``meta['cfg']``. It is parsed with
    :mod:`ast` (never executed: the file may come from anywhere) and
    ``model.backbone.arch`` is read; an arch name is looked up in
    mmpretrain's ``VisionTransformer.arch_zoo``.

    Returns:
        int | None: None when the file has no such config (a weights file).
    """
    text = ckpt.get('meta', {}).get('cfg') if isinstance(ckpt, dict) else None
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    model = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'model'
                for t in stmt.targets):
            model = _config_literal(stmt.value)
    backbone = model.get('backbone') if isinstance(model, dict) else None
    arch = backbone.get('arch', 'b') if isinstance(backbone, dict) else None
    if isinstance(arch, dict):
        heads = arch.get('num_heads')
        return int(heads) if isinstance(heads, int) else None
    if isinstance(arch, str):
        from mmpretrain.models.backbones import VisionTransformer
        zoo = VisionTransformer.arch_zoo.get(arch.lower())
        return None if zoo is None else int(zoo['num_heads'])
    return None


def target_snippet(meta: dict, checkpoint: str) -> str:
    """A config block to paste into the target config, as printed.

    mmpretrain: ``arch`` is a complete dict with ``_delete_=True``, so it
    replaces an ``arch='base'`` (or dict) of the ``_base_`` config; the head
    gets ``in_channels``. mmseg: the backbone arguments and
    ``pretrained=None``. A ``num_heads`` that is unknown (weights file
    without config) is printed as ``None`` with a note.
    """
    from mmengine.config import Config
    cfg = dict(meta['backbone_cfg'])
    if meta['target'] == MULTIMODAL_TARGET:
        cfg['img_size'] = tuple(cfg['img_size'])
        cfg['arch'] = dict(cfg['arch'])
        cfg['arch'].setdefault('num_heads', None)
        return Config(dict(model=dict(backbone=dict(
            **cfg,
            init_cfg=dict(type='Pretrained',
                          checkpoint=checkpoint))))).pretty_text
    cfg.pop('type')
    cfg['img_size'] = tuple(cfg['img_size'])
    if meta['target'] == 'vitdet':
        cfg['arch'].setdefault('num_heads', None)
        backbone = dict(
            _delete_=True, type=meta['backbone_cfg']['type'], **cfg,
            init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                          prefix='backbone.'))
        return Config(dict(model=dict(backbone=backbone))).pretty_text
    if meta['target'] == 'mmpretrain':
        arch = dict(_delete_=True, **cfg.pop('arch'))
        arch.setdefault('num_heads', None)
        backbone = dict(
            arch=arch,
            **cfg,
            init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                          prefix='backbone.'))
        model = dict(backbone=backbone,
                     head=dict(in_channels=arch['embed_dims']))
    else:
        cfg.setdefault('num_heads', None)
        model = dict(
            pretrained=None,
            backbone=dict(
                **cfg,
                init_cfg=dict(type='Pretrained', checkpoint=checkpoint)))
    return Config(dict(model=model)).pretty_text


def summary(meta: dict, checkpoint: str = 'FILE') -> str:
    """Human-readable summary of an export and the config block to paste.

    Args:
        meta (dict): The export's ``meta``.
        checkpoint (str): The exported file, put into ``init_cfg``.
    """
    lines = [
        f'exported {meta["modality"]!r} encoder ({meta["source_layout"]} '
        f'layout under {meta["source_prefix"]!r}) of {meta["source"]} as '
        f'{meta["target"]} ViT: {meta["num_tensors"]} tensors, key prefix '
        f'{meta["prefix"]!r}',
        f'pos_embed: {meta["pos_embed_mode"]} '
        f'(order {meta["pos_embed_order"] or "-"}) grid '
        f'{tuple(meta["src_grid"])} -> {tuple(meta["dst_grid"])}',
    ]
    if meta['target'] == 'mmseg':
        lines.append(f'patch bias: {meta["patch_bias"]}' + (
            ' (added to the pos_embed grid rows; keep patch_bias=False)'
            if meta['patch_bias'] == 'fold' else
            ' (set patch_bias=True)'))
    if meta['target'] == 'vitdet':
        if meta['not_exported']:
            lines.append('not used by ViTDet (not written): ' +
                         ', '.join(meta['not_exported']))
        if meta['zero_in_file']:
            lines.append(f'{len(meta["zero_in_file"])} relative position '
                         'biases (attn.rel_pos_h/w, new in ViTDet) are '
                         'written as zeros (ViTDet\'s start for MAE '
                         'weights)')
        if meta['new_in_target']:
            lines.append(f'{len(meta["new_in_target"])} relative position '
                         'biases (attn.rel_pos_h/w) are not in the file '
                         '(num_heads unknown: pass --num-heads); the '
                         'detector initialises them')
    lines.append(f'paste into your {meta["target"]} config (drop_* rates '
                 'and norm eps as in pre-training):')
    lines.append(target_snippet(meta, checkpoint))
    cfg = meta['backbone_cfg']
    if cfg.get('num_heads', cfg.get('arch', {}).get('num_heads')) is None:
        lines.append('NOTE: num_heads is unknown (the source holds no '
                     'runner config); pass --num-heads N (the pre-training '
                     'value) or replace None above')
    return '\n'.join(lines)


def export_vit(src: str,
               dst: str,
               target: str,
               modality: Union[str, Sequence[str]] = 'rgb',
               img_size=None,
               src_prefix: Optional[str] = None,
               src_grid: Optional[Sequence[int]] = None,
               patch_bias: str = 'fold',
               num_heads: Optional[int] = None) -> dict:
    """Read a pre-training checkpoint and write one exported encoder.

    Args:
        src (str): Runner checkpoint or weights file.
        dst (str): Output ``.pth``; its folder must exist.
        target (str): ``'mmpretrain'``, ``'mmseg'`` or ``'mmrgbd'``
            (:func:`convert_multimodal`).
        modality (str | Sequence[str]): Modality to export (one for
            ``mmpretrain`` / ``mmseg``; one or more for ``mmrgbd``).
            Defaults to ``'rgb'``.
        img_size (int | Sequence[int], optional): Target input size.
        src_prefix (str, optional): Backbone prefix in ``src``.
        src_grid (Sequence[int], optional): See :func:`convert_encoder`.
        patch_bias (str): See :func:`to_mmseg`.
        num_heads (int, optional): Pre-training heads; read from the runner
            checkpoint's config when None.

    Returns:
        dict: The ``meta`` written with the weights.
    """
    ckpt = load_pretrain_checkpoint(src)
    state_dict = get_state_dict(ckpt, src)
    if num_heads is None:
        num_heads = num_heads_from_checkpoint(ckpt)
    if target == MULTIMODAL_TARGET:
        mods = [modality] if isinstance(modality, str) else list(modality)
        out, meta = convert_multimodal(state_dict, mods, img_size,
                                       src_prefix, src, num_heads)
    else:
        if not isinstance(modality, str):
            if len(modality) != 1:
                raise ExportError(f'target {target!r} exports one modality, '
                                  f'got {list(modality)} (use --target '
                                  f'{MULTIMODAL_TARGET} for several)')
            modality = modality[0]
        out, meta = convert_encoder(state_dict, target, modality, img_size,
                                    src_prefix, src_grid, patch_bias, src,
                                    num_heads)
    out_dir = osp.dirname(osp.abspath(dst))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output folder {out_dir} does not exist')
    torch.save(dict(state_dict=out, meta=meta), dst)
    return meta


def read_img_size(values: Optional[Sequence[int]]
                  ) -> Optional[Union[int, Tuple[int, int]]]:
    """``--img-size`` values (none, H, or H W) to an ``img_size``."""
    if not values:
        return None
    return _as_pair(values)
