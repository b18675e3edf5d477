"""Multi-modal ViT encoder over visible tokens only (MultiMAE / Mask3D / ...).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleDict
from mmpretrain.models.backbones import VisionTransformer

from mmrgbd.registry import MODELS
from ..utils.checkpointing import run_blocks
from ..utils.init import xavier_init_linears
from ..utils.pos_embed import (PE_ORDERS, REGENERATED_ORDERS,
                               build_sincos_pos_embed, interpolate_pos_embed)
from .patch_embeds import _is_pretrained, build_patch_embed

#: keys of a mmpretrain ViT state dict that belong to a modality's stem
STEM_KEYS = ('patch_embed.', 'pos_embed')


class _StemMixin:
    """A patch embedding plus its fixed sin-cos position embedding.

    The embedding is stored as ``pos_embed`` (1, G + N, C) for the configured
    grid, with G zero rows for the global token(s) exactly like mmpretrain's
    ViT (and MAE) store the class-token slot, so the state-dict layout is
    mmpretrain's. It is a parameter with ``requires_grad=False``; loading a
    checkpoint never changes it (see :meth:`_prepare_pos_embed`).
    """

    def _init_stem(self, patch_embed: nn.Module, grid_size: Sequence[int],
                   embed_dims: int, num_extra_tokens: int,
                   pos_embed_order: str, interpolate_mode: str) -> None:
        self.patch_embed = patch_embed
        self.grid_size = tuple(grid_size)
        self.stem_dims = embed_dims
        self.stem_extra_tokens = num_extra_tokens
        self.pos_embed_order = pos_embed_order
        self.interpolate_mode = interpolate_mode
        self.pos_embed = nn.Parameter(
            self._sincos(pos_embed_order), requires_grad=False)

    def _sincos(self, order: str) -> torch.Tensor:
        pos = build_sincos_pos_embed(
            self.stem_dims, self.grid_size, order,
            num_extra_tokens=self.stem_extra_tokens)  # (G + N, C)
        return pos.unsqueeze(0)  # (1, G + N, C)

    def reset_pos_embed(self) -> None:
        """(Re)write the fixed sin-cos values."""
        with torch.no_grad():
            self.pos_embed.copy_(self._sincos(self.pos_embed_order))

    def embed(self, x: torch.Tensor, with_pos_embed: bool = True
              ) -> Tuple[torch.Tensor, Tuple[int, ...]]:
        """Patch tokens plus position embedding (interpolated if needed).

        Args:
            x (Tensor): The modality input, e.g. (B, C, H, W).
            with_pos_embed (bool): Add the position embedding. False gives
                content-only tokens (the stage-1 contrast of M3 3D /
                Progressive, see ``M3MAEStage1``).

        Returns:
            tuple[Tensor, tuple]: tokens (B, N, C) and their grid.
        """
        tokens, grid = self.patch_embed(x)  # (B, N, C)
        if not with_pos_embed:
            return tokens, tuple(grid)
        if self.pos_embed_order in REGENERATED_ORDERS and \
                tuple(grid) != self.grid_size:
            pos = build_sincos_pos_embed(
                self.stem_dims, grid, self.pos_embed_order,
                num_extra_tokens=self.stem_extra_tokens)[None]
            pos = pos.to(tokens.device)  # (1, G + N, C)
        else:
            pos = interpolate_pos_embed(
                self.pos_embed, self.grid_size, grid, self.interpolate_mode,
                self.stem_extra_tokens)  # (1, G + N, C)
        pos = pos[:, self.stem_extra_tokens:]  # (1, N, C)
        return tokens + pos.to(tokens.dtype), tuple(grid)  # (B, N, C)

    def _prepare_pos_embed(self, state_dict, prefix, *args, **kwargs):
        """Load hook: keep the fixed sin-cos ``pos_embed``.

        A checkpoint value that differs (another grid, another channel
        order, a learned embedding) is replaced by the fixed one with a
        warning, so that loading cannot fail on its shape nor change it.
        """
        name = prefix + 'pos_embed'
        if name not in state_dict or self.pos_embed is None:
            return
        theirs = state_dict[name]
        ours = self._sincos(self.pos_embed_order)
        if theirs.shape != ours.shape or not torch.allclose(
                theirs.float().cpu(), ours, atol=1e-4):
            hint = ''
            for order in PE_ORDERS:
                alt = self._sincos(order)
                if order != self.pos_embed_order and \
                        theirs.shape == alt.shape and torch.allclose(
                            theirs.float().cpu(), alt, atol=1e-4):
                    hint = (f' It matches pos_embed_order={order!r}: set '
                            f'that in the backbone config.')
            MMLogger.get_current_instance().warning(
                f'{name} of shape {tuple(theirs.shape)} in the checkpoint '
                f'differs from the fixed 2D sin-cos embedding (shape '
                f'{tuple(ours.shape)}, order {self.pos_embed_order!r}); the '
                f'fixed one is kept.{hint}')
        state_dict[name] = ours.to(theirs.dtype)


@MODELS.register_module()
class ModalityStem(_StemMixin, BaseModule):
    """Patch embedding and fixed position embedding of one modality.

    Used by the shared-encoder layout of :class:`MultiModalViT`; its keys
    (``patch_embed.*``, ``pos_embed``) are those of mmpretrain's ViT.

    Args:
        patch_embed (nn.Module): Built patch embedding.
        grid_size (Sequence[int]): Configured token grid.
        embed_dims (int): Token width.
        num_extra_tokens (int): Global tokens G (zero rows of ``pos_embed``).
        pos_embed_order (str): ``'wh'``, ``'hw'`` or ``'videomae'``.
        interpolate_mode (str): Mode to resize ``pos_embed`` to other grids.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 patch_embed: nn.Module,
                 grid_size: Sequence[int],
                 embed_dims: int,
                 num_extra_tokens: int = 0,
                 pos_embed_order: str = 'wh',
                 interpolate_mode: str = 'bicubic',
                 init_cfg: Optional[dict] = None):
        BaseModule.__init__(self, init_cfg=init_cfg)
        self._init_stem(patch_embed, grid_size, embed_dims, num_extra_tokens,
                        pos_embed_order, interpolate_mode)
        self._register_load_state_dict_pre_hook(self._prepare_pos_embed)

    def init_weights(self) -> None:
        """Initialise the patch embedding; write the fixed sin-cos."""
        super().init_weights()
        self.reset_pos_embed()

    def forward(self, x: torch.Tensor):
        """Alias of :meth:`embed`."""
        return self.embed(x)


@MODELS.register_module()
class ViTEncoder(_StemMixin, VisionTransformer):
    """mmpretrain ``VisionTransformer`` that encodes a given token subset.

    The module *is* an mmpretrain ViT (``cls_token``, ``pos_embed``,
    ``patch_embed.projection.*``, ``layers.N.*``, ``ln1.*``), so its state
    dict loads into ``mmpretrain.models.VisionTransformer`` of the same arch
    (``out_type='raw'``, ``with_cls_token=num_global_tokens == 1``). The
    differences are documented: the position embedding is the fixed 2D
    sin-cos (``requires_grad=False``), the patch embedding is any
    :mod:`patch_embeds` module (for ``semseg`` its keys are
    ``patch_embed.class_embed.weight`` and ``patch_embed.projection.*``), and
    with ``patch_embed_cfg=None`` the encoder has no stem at all (the trunk
    of the shared layout: ``cls_token``, ``layers``, ``ln1`` only).

    :meth:`encode` runs the transformer on already embedded (visible)
    tokens; the global token (``cls_token``, learned) is prepended without a
    position embedding (its ``pos_embed`` row is zero, as in MAE).

    Args:
        arch (str | dict): mmpretrain arch name or dict with ``embed_dims``,
            ``num_layers``, ``num_heads``, ``feedforward_channels``.
        img_size (int | Sequence[int]): Configured input size (H, W).
        patch_size (int): Patch size.
        patch_embed_cfg (dict, optional): Modality config for
            :func:`build_patch_embed`; None for a trunk without stem.
        num_global_tokens (int): 0 or 1.
        pos_embed_order (str): ``'wh'`` (MAE), ``'hw'`` (MultiMAE) or
            ``'videomae'``.
        with_cp (bool): Activation checkpointing per block.
        init_cfg (dict, optional): Init config, e.g. ``Pretrained``.
        **kwargs: Other ``VisionTransformer`` arguments (``drop_rate``,
            ``drop_path_rate``, ``qkv_bias``, ``norm_cfg``, ``final_norm``,
            ``interpolate_mode``, ``layer_scale_init_value``,
            ``layer_cfgs``, ``pre_norm``).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 patch_embed_cfg: Optional[dict] = None,
                 num_global_tokens: int = 1,
                 pos_embed_order: str = 'wh',
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        if num_global_tokens not in (0, 1):
            raise ValueError(f'num_global_tokens must be 0 or 1, got '
                             f'{num_global_tokens}')
        if pos_embed_order not in PE_ORDERS:
            raise ValueError(f'pos_embed_order must be one of {PE_ORDERS}, '
                             f'got {pos_embed_order!r}')
        img_size = (img_size, img_size) if isinstance(img_size, int) \
            else tuple(img_size)
        VisionTransformer.__init__(
            self,
            arch=copy.deepcopy(arch),
            img_size=img_size,
            patch_size=patch_size,
            out_type='raw',
            with_cls_token=num_global_tokens == 1,
            init_cfg=init_cfg,
            **kwargs)
        self.with_cp = with_cp
        del self.patch_embed
        if patch_embed_cfg is None:
            self.pos_embed = None
        else:
            patch_embed = build_patch_embed(patch_embed_cfg, self.embed_dims,
                                            patch_size)
            self._init_stem(patch_embed, patch_embed.get_grid_size(img_size),
                            self.embed_dims, self.num_extra_tokens,
                            pos_embed_order, self.interpolate_mode)

    @property
    def has_stem(self) -> bool:
        """Whether the encoder owns a patch / position embedding."""
        return self.pos_embed is not None

    def init_weights(self) -> None:
        """Initialise as MAE / MultiMAE train a ViT from scratch.

        The sin-cos ``pos_embed`` is always (re)written. Without a
        ``Pretrained`` init config (which loads after the default init):
        every linear layer of the blocks is xavier-uniform with zero bias,
        the fused ``qkv`` split into its three matrices as the official
        MultiMAE does (:func:`~mmrgbd.models.utils.xavier_init_linears`:
        std 0.036 for ViT-B instead of PyTorch's default 0.0208), norms are
        (1, 0), the global token is drawn from N(0, 0.02) and the patch
        projection is xavier-as-linear (see :class:`ImagePatchEmbed`).
        """
        super().init_weights()
        if self.has_stem:
            self.reset_pos_embed()
        if _is_pretrained(self.init_cfg):
            return
        xavier_init_linears(self.layers)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=.02)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Run the transformer on embedded tokens.

        Args:
            x (Tensor): (B, n, C) tokens with position embedding added.

        Returns:
            Tensor: (B, G + n, C); the first G rows are the global tokens.
        """
        if self.cls_token is not None:
            cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, C)
            x = torch.cat([cls, x], dim=1)  # (B, 1 + n, C)
        x = self.drop_after_pos(x)
        x = self.pre_norm(x)
        x = run_blocks(self.layers, x,
                       self.with_cp and self.training)  # (B, G + n, C)
        if self.final_norm:
            x = self.ln1(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a whole input (every token): (B, G + N, C)."""
        if not self.has_stem:
            raise RuntimeError('this ViTEncoder has no patch embedding; '
                               'call encode() with embedded tokens')
        tokens, _ = self.embed(x)  # (B, N, C)
        return self.encode(tokens)  # (B, G + N, C)


def mmpretrain_to_mmrgbd(state_dict: Dict[str, torch.Tensor],
                         modality: str,
                         shared_encoder: bool,
                         prefix: str = '') -> Dict[str, torch.Tensor]:
    """Rename a mmpretrain-ViT state dict to a modality of MultiModalViT.

    Modality-specific layout: every key gets ``encoders.<modality>.``. Shared
    layout: ``patch_embed.*`` and ``pos_embed`` go to ``stems.<modality>.``,
    everything else to ``encoder.``. Prefix renames only.

    Args:
        state_dict (dict): mmpretrain ViT keys (``layers.0.ln1.weight``...).
        modality (str): Target modality.
        shared_encoder (bool): Target layout.
        prefix (str): Prepended to every output key (e.g. ``'backbone.'``).

    Returns:
        dict: Renamed state dict (same tensors).
    """
    out = {}
    for k, v in state_dict.items():
        if not shared_encoder:
            out[f'{prefix}encoders.{modality}.{k}'] = v
        elif k.startswith(STEM_KEYS[0]) or k == STEM_KEYS[1]:
            out[f'{prefix}stems.{modality}.{k}'] = v
        else:
            out[f'{prefix}encoder.{k}'] = v
    return out


def mmrgbd_to_mmpretrain(state_dict: Dict[str, torch.Tensor],
                         modality: str,
                         shared_encoder: bool,
                         prefix: str = '') -> Dict[str, torch.Tensor]:
    """Export one modality's encoder of MultiModalViT as a mmpretrain ViT.

    The inverse of :func:`mmpretrain_to_mmrgbd`; keys of other modalities
    (and outside ``prefix``) are dropped.

    Args:
        state_dict (dict): MultiModalViT (or algorithm) state dict.
        modality (str): Modality to export.
        shared_encoder (bool): Layout of the state dict.
        prefix (str): Prefix of the backbone keys (e.g. ``'backbone.'``).

    Returns:
        dict: mmpretrain ViT keys.
    """
    if shared_encoder:
        sources = [f'{prefix}stems.{modality}.', f'{prefix}encoder.']
    else:
        sources = [f'{prefix}encoders.{modality}.']
    out = {}
    for k, v in state_dict.items():
        for src in sources:
            if k.startswith(src):
                out[k[len(src):]] = v
    return out


@MODELS.register_module()
class MultiModalViT(BaseModule):
    """Multi-modal ViT that encodes only the visible tokens.

    Every modality has its own patch projection (:mod:`patch_embeds`: RGB
    and depth a conv, semseg a class embedding on the 4x nearest-downsampled
    map plus a 4x4 conv) and a fixed 2D sin-cos position embedding generated
    for the configured grid (non-square grids are generated directly, e.g.
    15x20 for 240x320 px with 16 px patches) and interpolated when an input
    has another grid. The tokens a mask marks visible are gathered **before**
    the transformer (the encoder never sees mask tokens), encoded, and
    scattered back to their positions.

    Layouts (``shared_encoder``):

    * ``True`` (MultiMAE): one ViT (``encoder``: ``cls_token``, ``layers``,
      ``ln1``) over the concatenated visible tokens of all modalities, in
      the order of ``modalities``; the stems live in ``stems.<modality>``.
      The number of visible tokens per modality may vary from sample to
      sample, the total may not.
    * ``False`` (Mask3D, M3 3D, Progressive): one ViT per modality
      (``encoders.<modality>``, each a :class:`ViTEncoder` =
      mmpretrain ViT with its stem). The visible count of a modality must be
      the same for every sample of the batch.

    Each encoder has mmpretrain's key layout (``patch_embed.projection.*``,
    ``layers.N.*``, ``ln1.*``, ``cls_token``, ``pos_embed``): exporting a
    modality is a prefix rename (:func:`mmrgbd_to_mmpretrain`).

    Args:
        arch (str | dict): mmpretrain ViT arch (``'b'``, ``'s'``, ``'l'``,
            ... or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads``, ``feedforward_channels``). Defaults to ``'b'``.
        modalities (dict): ``{name: config}``; a config has ``type``
            (``'image'`` default, ``'semseg'`` or a registered patch
            embedding), its arguments (``in_channels``; ``num_classes``,
            ``ignore_index``...) and optionally ``init_cfg`` (for the
            modality's encoder, or for its stem in the shared layout).
            Defaults to ``dict(rgb=dict(in_channels=3))``.
        img_size (int | Sequence[int]): Configured input size (H, W) (sets
            the stored position-embedding grid). Defaults to 224.
        patch_size (int): Patch size in input pixels. Defaults to 16.
        shared_encoder (bool): Layout, see above. Defaults to True.
        num_global_tokens (int): 0 or 1 learned global token(s) (MultiMAE
            uses 1). Defaults to 1.
        pos_embed_order (str): Sin-cos channel order, ``'wh'`` (MAE:
            column first) or ``'hw'`` (MultiMAE: row first), or
            ``'videomae'`` (VideoMAE's 1D table over the token index,
            regenerated per grid); must match imported weights. Defaults
            to ``'wh'``.
        interpolate_mode (str): Mode to resize position embeddings.
            Defaults to ``'bicubic'``.
        drop_rate (float): Dropout after the position embedding and in the
            blocks. Defaults to 0.
        drop_path_rate (float): Stochastic depth. Defaults to 0.
        qkv_bias (bool): Defaults to True.
        norm_cfg (dict): Defaults to ``dict(type='LN', eps=1e-6)``.
        final_norm (bool): LayerNorm after the last block (``ln1``);
            MultiMAE checkpoints have none. Defaults to True.
        layer_scale_init_value (float): Defaults to 0 (no layer scale).
        with_cp (bool): Activation checkpointing per block. Defaults to
            False.
        init_cfg (dict, optional): Init config of the whole backbone.

    Forward returns the dict of CONTRIBUTING.md: ``tokens={m: (B, N_m,
    C)}`` (zeros at hidden positions), ``visible={m: (B, N_m) bool}``,
    ``global_tokens`` (B, G, C) or None (modality-specific layout: the
    encoders' global tokens concatenated in modality order, (B, G * M,
    C)), ``grid_sizes={m: (h, w)}``, and ``ids_keep`` (shared layout: (B,
    n) indices of the encoded tokens in the concatenation of all used
    modalities; None otherwise) with ``encoded_tokens`` (B, n, C), the
    encoder's outputs of those tokens in that order (the ``tokens`` before
    they are scattered; None otherwise).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 modalities: Dict[str, dict] = dict(rgb=dict(in_channels=3)),
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 shared_encoder: bool = True,
                 num_global_tokens: int = 1,
                 pos_embed_order: str = 'wh',
                 interpolate_mode: str = 'bicubic',
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 final_norm: bool = True,
                 layer_scale_init_value: float = 0.,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if not modalities:
            raise ValueError('modalities is empty')
        self.modality_cfgs = {m: dict(c) for m, c in modalities.items()}
        self.modalities = tuple(self.modality_cfgs)
        self.shared_encoder = shared_encoder
        self.num_global_tokens = num_global_tokens
        self.patch_size = patch_size
        vit_cfg = dict(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            num_global_tokens=num_global_tokens,
            pos_embed_order=pos_embed_order,
            with_cp=with_cp,
            interpolate_mode=interpolate_mode,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            qkv_bias=qkv_bias,
            norm_cfg=norm_cfg,
            final_norm=final_norm,
            layer_scale_init_value=layer_scale_init_value)
        if shared_encoder:
            self.encoder = ViTEncoder(patch_embed_cfg=None, **vit_cfg)
            self.embed_dims = self.encoder.embed_dims
            img_size = self.encoder.img_size
            stems = {}
            for m, cfg in self.modality_cfgs.items():
                cfg = dict(cfg)
                stem_init = cfg.pop('init_cfg', None)
                patch_embed = build_patch_embed(cfg, self.embed_dims,
                                                patch_size)
                stems[m] = ModalityStem(
                    patch_embed, patch_embed.get_grid_size(img_size),
                    self.embed_dims, num_global_tokens, pos_embed_order,
                    interpolate_mode, init_cfg=stem_init)
            self.stems = ModuleDict(stems)
        else:
            encoders = {}
            for m, cfg in self.modality_cfgs.items():
                cfg = dict(cfg)
                enc_init = cfg.pop('init_cfg', None)
                encoders[m] = ViTEncoder(
                    patch_embed_cfg=cfg, init_cfg=enc_init, **vit_cfg)
            self.encoders = ModuleDict(encoders)
            self.embed_dims = next(iter(encoders.values())).embed_dims

    # ------------------------------------------------------------------ #
    # structure helpers
    # ------------------------------------------------------------------ #
    def stem(self, modality: str) -> _StemMixin:
        """The module holding ``patch_embed`` / ``pos_embed`` of a modality.
        """
        if self.shared_encoder:
            return self.stems[modality]
        return self.encoders[modality]

    def encoder_of(self, modality: str) -> ViTEncoder:
        """The transformer that encodes a modality."""
        return self.encoder if self.shared_encoder \
            else self.encoders[modality]

    def export_encoder_state_dict(self, modality: str
                                  ) -> Dict[str, torch.Tensor]:
        """One modality's encoder as a mmpretrain-ViT state dict."""
        return mmrgbd_to_mmpretrain(self.state_dict(), modality,
                                    self.shared_encoder)

    def used_modalities(self, inputs: Dict[str, torch.Tensor]) -> List[str]:
        """Configured modalities present in ``inputs`` (config order)."""
        mods = [m for m in self.modalities if m in inputs]
        if not mods:
            raise ValueError(f'inputs {sorted(inputs)} contain none of the '
                             f'modalities {list(self.modalities)}')
        return mods

    def grid_sizes(self, inputs: Dict[str, torch.Tensor]
                   ) -> Dict[str, Tuple[int, ...]]:
        """Token grid of every used modality (without running the model).

        Args:
            inputs (dict): ``{modality: (B, C, H, W)}`` (other keys ignored).

        Returns:
            dict: ``{modality: (h, w)}``.
        """
        return {
            m: tuple(self.stem(m).patch_embed.get_grid_size(
                inputs[m].shape[2:]))
            for m in self.used_modalities(inputs)
        }

    # ------------------------------------------------------------------ #
    # forward
    # ------------------------------------------------------------------ #
    @staticmethod
    def _visible_ids(visible: torch.Tensor, what: str,
                     hint: str) -> torch.Tensor:
        """Sorted indices (B, n) of the True entries; n must be constant."""
        counts = visible.sum(dim=1)  # (B,)
        if bool((counts != counts[0]).any()):
            raise ValueError(f'{what}: the number of visible tokens differs '
                             f'between samples ({counts.tolist()}); {hint}')
        n = int(counts[0])
        order = torch.argsort((~visible).int(), dim=1, stable=True)
        return order[:, :n]  # (B, n)

    @staticmethod
    def _gather(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        index = ids.unsqueeze(-1).expand(-1, -1, x.shape[-1])  # (B, n, C)
        return torch.gather(x, 1, index)  # (B, n, C)

    @staticmethod
    def _scatter(x: torch.Tensor, ids: torch.Tensor,
                 num_tokens: int) -> torch.Tensor:
        B, _, C = x.shape
        index = ids.unsqueeze(-1).expand(-1, -1, C)  # (B, n, C)
        full = x.new_zeros(B, num_tokens, C)  # (B, N, C)
        return full.scatter(1, index, x)  # (B, N, C)

    def _check_visible(self, mods, tokens, visible):
        B = next(iter(tokens.values())).shape[0]
        if visible is None:
            return {
                m: torch.ones(B, tokens[m].shape[1], dtype=torch.bool,
                              device=tokens[m].device)
                for m in mods
            }
        missing = [m for m in mods if m not in visible]
        extra = [m for m in visible if m not in mods]
        if missing or extra:
            raise ValueError(f'visible masks are for {sorted(visible)} but '
                             f'the encoded modalities are {mods}')
        out = {}
        for m in mods:
            vis = visible[m]
            expected = (B, tokens[m].shape[1])
            if tuple(vis.shape) != expected:
                raise ValueError(f'visible[{m!r}] has shape '
                                 f'{tuple(vis.shape)}, expected {expected}')
            out[m] = vis.to(device=tokens[m].device, dtype=torch.bool)
        return out

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                visible: Optional[Dict[str, torch.Tensor]] = None,
                with_pos_embed: bool = True) -> dict:
        """Encode the visible tokens.

        Args:
            inputs (dict): ``{modality: tensor}`` as given by
                ``RGBDDataPreprocessor`` (``rgb`` (B, 3, H, W), ``depth``
                (B, 1, H, W), ``semseg`` (B, 1, H, W) int); keys that are not
                configured modalities are ignored, configured modalities may
                be absent.
            visible (dict, optional): ``{modality: (B, N) bool}`` for every
                used modality, True = encode. None: every token is visible.
            with_pos_embed (bool): Add the position embeddings (default).
                False encodes content-only tokens: the transformer is then
                permutation-equivariant and no output can depend on where a
                token is (used by the stage-1 contrast of M3 3D /
                Progressive; the stored embeddings are kept for stage 2).

        Returns:
            dict: ``tokens``, ``visible``, ``global_tokens``, ``grid_sizes``,
            ``ids_keep`` (see the class docstring).
        """
        mods = self.used_modalities(inputs)
        tokens, grids = {}, {}
        for m in mods:
            tokens[m], grids[m] = self.stem(m).embed(
                inputs[m], with_pos_embed)  # (B, N, C)
        batch = {m: t.shape[0] for m, t in tokens.items()}
        if len(set(batch.values())) != 1:
            raise ValueError(f'batch sizes differ between modalities: '
                             f'{batch}')
        vis = self._check_visible(mods, tokens, visible)
        G = self.num_global_tokens
        if self.shared_encoder:
            x = torch.cat([tokens[m] for m in mods], dim=1)  # (B, N_all, C)
            vis_all = torch.cat([vis[m] for m in mods], dim=1)  # (B, N_all)
            ids = self._visible_ids(
                vis_all, 'shared encoder',
                'the shared encoder needs the same total per sample')
            # no visible token (and no global token): the encoder runs on an
            # empty sequence, its outputs are all zeros
            y = self.encoder.encode(self._gather(x, ids))  # (B, G + n, C)
            full = self._scatter(y[:, G:], ids, x.shape[1])  # (B, N_all, C)
            sizes = [tokens[m].shape[1] for m in mods]
            out_tokens = dict(zip(mods, full.split(sizes, dim=1)))
            global_tokens = y[:, :G] if G else None  # (B, G, C)
            ids_keep = ids
            encoded = y[:, G:]  # (B, n, C)
        else:
            out_tokens, globals_ = {}, []
            for m in mods:
                ids = self._visible_ids(
                    vis[m], m, 'modality-specific encoders need the same '
                    'visible count in every sample (use shared_encoder=True '
                    'for varying per-modality counts)')
                # 0 visible tokens (e.g. Mask3D's 0 % depth ablation): the
                # encoder runs on an empty sequence, so its parameters stay
                # in the graph (zero gradients, DDP needs no unused-parameter
                # search) and the scattered tokens are zeros
                y = self.encoders[m].encode(
                    self._gather(tokens[m], ids))  # (B, G + n, C)
                out_tokens[m] = self._scatter(y[:, G:], ids,
                                              tokens[m].shape[1])  # (B, N, C)
                globals_.append(y[:, :G])  # (B, G, C)
            global_tokens = torch.cat(globals_, dim=1) if G else None
            ids_keep = encoded = None
        return dict(
            tokens=out_tokens,
            visible=vis,
            global_tokens=global_tokens,
            grid_sizes=grids,
            ids_keep=ids_keep,
            encoded_tokens=encoded)
