"""MAE-style decoder over the multi-modal backbone output."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer

from mmrgbd.registry import MODELS
from ..utils import build_sincos_pos_embed, run_blocks, xavier_init_linears


def sincos_grid_embed(grid_size: Sequence[int],
                      dims: int,
                      ref: torch.Tensor,
                      order: str = 'wh') -> torch.Tensor:
    """Fixed sin-cos embedding of an (h, w) grid (or a (t, h, w) clip grid)
    as a (1, N, dims) tensor.

    Thin wrapper of :func:`mmrgbd.models.utils.build_sincos_pos_embed` (2D
    for (h, w), space-time 3D for (t, h, w)) that puts the result on
    ``ref``'s device and dtype. ``order`` is the channel order (``'wh'``
    MAE, ``'hw'`` MultiMAE).
    """
    pos = build_sincos_pos_embed(dims, tuple(grid_size), order)
    pos = torch.as_tensor(pos).to(device=ref.device, dtype=ref.dtype)
    return pos.reshape(1, -1, dims)  # (1, h*w, dims)


@MODELS.register_module()
class MAEStyleDecoder(BaseModule):
    """Transformer decoder that reconstructs patches from visible tokens.

    Takes the backbone output dict of :class:`MultiModalViT` (``tokens``,
    ``visible``, ``grid_sizes``; see CONTRIBUTING.md), projects each input
    modality's tokens to the decoder width (one linear per modality, because
    modality-specific encoders live in different spaces), fills hidden
    positions with one learned mask token, adds fixed 2D sin-cos position
    embeddings and learned modality embeddings, runs mmpretrain
    :class:`TransformerEncoderLayer` blocks (as mmpretrain's
    ``MAEPretrainDecoder``) and maps the tokens to patch pixels with one linear
    head per reconstructed modality.

    Token layouts:

    * ``'fused'`` (Mask3D): one grid of N positions shared by all input
      modalities. At a position the visible token of the modality that shows
      it is used, plus that modality's embedding; positions visible in no
      modality get the mask token. Where several modalities are visible at
      the same position (Mask3D's ablations with p_c + p_d > 1, e.g. 100 %
      RGB + 100 % depth), the token is the **mean** of their (projected +
      modality-embedded) tokens. Every head predicts over this single grid.
    * ``'concat'`` (M3 3D / Progressive): one grid per input modality (each
      with mask tokens at its hidden positions, its position embedding and its
      modality embedding), concatenated along the sequence; a head ``m``
      predicts over modality ``m``'s grid.

    The algorithm may modify ``feats['tokens']`` before calling the decoder
    (e.g. Progressive adds a noise-level embedding to the depth tokens).
    Global tokens of the backbone are not used.

    Args:
        in_channels (int): Encoder width. Defaults to 768.
        embed_dims (int): Decoder width. Defaults to 512.
        num_layers (int): Number of blocks. Defaults to 8.
        num_heads (int): Attention heads. Defaults to 16.
        mlp_ratio (float): FFN width / embed_dims. Defaults to 4.
        modalities (Sequence[str]): Input modalities read from the backbone
            output, in this order. Defaults to ('rgb', 'depth').
        layout (str): ``'fused'`` or ``'concat'``. Defaults to ``'fused'``.
        heads (dict): ``{modality: output dim}`` (``p*p*C``), e.g.
            ``dict(depth=256)``. Defaults to ``dict(depth=256)``.
        norm_cfg (dict): Norm config. Defaults to LN with eps 1e-6.
        with_cp (bool): Activation checkpointing of the transformer blocks
            in training (less memory, one more block forward; the same
            gradients). Defaults to False.
        init_cfg (dict | list[dict], optional): Init config.
    """

    def __init__(self,
                 in_channels: int = 768,
                 embed_dims: int = 512,
                 num_layers: int = 8,
                 num_heads: int = 16,
                 mlp_ratio: float = 4.,
                 modalities: Sequence[str] = ('rgb', 'depth'),
                 layout: str = 'fused',
                 heads: Dict[str, int] = dict(depth=256),
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        if layout not in ('fused', 'concat'):
            raise ValueError(
                f"layout must be 'fused' or 'concat', got {layout!r}")
        if not heads:
            raise ValueError('heads must name at least one modality')
        if layout == 'concat':
            missing = [m for m in heads if m not in modalities]
            if missing:
                raise ValueError(f"layout='concat' predicts over each input "
                                 f'grid; heads {missing} are not in '
                                 f'modalities {list(modalities)}')
        self.modalities = list(modalities)
        self.layout = layout
        self.embed_dims = embed_dims
        self.decoder_embed = nn.ModuleDict({
            m: nn.Linear(in_channels, embed_dims)
            for m in self.modalities
        })
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.modality_embed = nn.ParameterDict({
            m: nn.Parameter(torch.zeros(1, 1, embed_dims))
            for m in self.modalities
        })
        self.layers = nn.ModuleList([
            TransformerEncoderLayer(
                embed_dims,
                num_heads,
                int(mlp_ratio * embed_dims),
                qkv_bias=True,
                norm_cfg=norm_cfg) for _ in range(num_layers)
        ])
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.heads = nn.ModuleDict(
            {m: nn.Linear(embed_dims, int(d))
             for m, d in heads.items()})

    def init_weights(self) -> None:
        """MAE-style init: truncated-normal (std 0.02) mask and modality
        tokens, xavier-uniform weights and zero biases for every linear layer
        (blocks included; fused ``qkv`` split per matrix as MultiMAE, see
        :func:`~mmrgbd.models.utils.xavier_init_linears`); norms stay at
        (1, 0)."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        trunc_normal_(self.mask_token, std=.02)
        for p in self.modality_embed.values():
            trunc_normal_(p, std=.02)
        xavier_init_linears(self)

    def _embed_modality(self, feats: dict, mod: str) -> torch.Tensor:
        """Projected tokens of ``mod``; mask tokens at its hidden positions.

        Only the visible tokens are projected (as MAE's decoder embeds the
        encoder output before adding mask tokens); hidden positions never
        reach the linear layer.
        """
        tokens = feats['tokens'][mod]  # (B, N, C)
        vis = feats['visible'][mod].bool()  # (B, N)
        B, N = vis.shape
        proj = self.decoder_embed[mod](tokens[vis])  # (n_vis, D)
        vis = vis[..., None]  # (B, N, 1)
        full = proj.new_zeros(B, N, proj.shape[-1]).masked_scatter(
            vis, proj)  # (B, N, D)
        return torch.where(vis, full + self.modality_embed[mod],
                           self.mask_token.to(proj.dtype))  # (B, N, D)

    def build_sequence(self, feats: dict):
        """The decoder input sequence and each modality's slice of it.

        Returns:
            tuple[Tensor, dict]: (B, L, D) sequence and ``{modality: slice}``
            (for ``'fused'`` every modality maps to the whole sequence).
        """
        mods = [m for m in self.modalities if m in feats['tokens']]
        if not mods:
            raise ValueError(f'none of {self.modalities} in the backbone '
                             f"output ({list(feats['tokens'])})")
        grids = {m: tuple(feats['grid_sizes'][m]) for m in mods}
        if self.layout == 'fused':
            grid = grids[mods[0]]
            if any(g != grid for g in grids.values()):
                raise ValueError(f"layout='fused' needs one grid for all "
                                 f'modalities, got {grids}')
            ref = feats['tokens'][mods[0]]
            total = 0.  # sum of the visible modality tokens per position
            count = torch.zeros(ref.shape[:2], device=ref.device)  # (B, N)
            for m in mods:
                vis = feats['visible'][m].bool()  # (B, N)
                tok = self._embed_modality(feats, m)  # (B, N, D)
                total = total + torch.where(vis[..., None], tok,
                                            torch.zeros_like(tok))
                count = count + vis.to(count.dtype)
            mean = total / count.clamp(min=1)[..., None].to(
                tok.dtype)  # (B, N, D)
            x = torch.where((count > 0)[..., None], mean,
                            self.mask_token.to(tok.dtype))  # (B, N, D)
            x = x + sincos_grid_embed(grid, self.embed_dims, x)  # (B, N, D)
            return x, {m: slice(0, x.shape[1]) for m in self.heads}
        seq, slices, start = [], {}, 0
        for m in mods:
            xm = self._embed_modality(feats, m)  # (B, N_m, D)
            xm = xm + sincos_grid_embed(grids[m], self.embed_dims, xm)
            # mask tokens carry their grid's modality embedding too
            hidden = ~feats['visible'][m].bool()[..., None]  # (B, N_m, 1)
            xm = xm + hidden.to(xm.dtype) * self.modality_embed[m]
            seq.append(xm)
            slices[m] = slice(start, start + xm.shape[1])
            start += xm.shape[1]
        missing = [m for m in self.heads if m not in slices]
        if missing:
            raise ValueError(f'heads {missing} have no input tokens in the '
                             f"backbone output ({list(feats['tokens'])})")
        return torch.cat(seq, dim=1), slices  # (B, sum N_m, D)

    def forward(self, feats: dict) -> Dict[str, torch.Tensor]:
        """Decode.

        Args:
            feats (dict): The backbone output (``tokens``, ``visible``,
                ``grid_sizes``), tokens possibly modified by the algorithm.

        Returns:
            dict[str, Tensor]: ``{modality: (B, N, p*p*C_mod)}`` per head.
        """
        x, slices = self.build_sequence(feats)  # (B, L, D)
        x = run_blocks(self.layers, x, self.with_cp and self.training)
        x = self.norm(x)
        return {m: head(x[:, slices[m]]) for m, head in self.heads.items()}
