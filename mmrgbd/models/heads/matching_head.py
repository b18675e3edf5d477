"""RGB-D matching head: does this depth belong to this RGB clip?"""
import warnings
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer

from mmrgbd.registry import MODELS
from ..backbones.multimodal_vit import MultiModalViT


def masked_mean_pool(tokens: torch.Tensor,
                     visible: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean over the visible tokens of each sample.

    Args:
        tokens (Tensor): (B, N, C) full-layout tokens.
        visible (Tensor | None): (B, N) bool, True = seen by the encoder;
            ``None`` = all tokens.

    Returns:
        Tensor: (B, C). A sample without visible tokens pools to zeros.
    """
    if visible is None:
        return tokens.mean(dim=1)  # (B, C)
    weight = visible.to(tokens.dtype).unsqueeze(-1)  # (B, N, 1)
    count = weight.sum(dim=1).clamp(min=1.)  # (B, 1)
    return (tokens * weight).sum(dim=1) / count  # (B, C)


def visible_tokens(tokens: torch.Tensor,
                   visible: Optional[torch.Tensor]) -> torch.Tensor:
    """The visible tokens of every sample, in grid order.

    Args:
        tokens (Tensor): (B, N, C) full-layout tokens.
        visible (Tensor | None): (B, N) bool with the same count in every
            sample (as modality-specific encoders require); None = all.

    Returns:
        Tensor: (B, n, C).
    """
    if visible is None:
        return tokens
    ids = MultiModalViT._visible_ids(
        visible.bool(), 'matching head',
        'pair fusion needs the same visible count in every sample')
    return MultiModalViT._gather(tokens, ids)  # (B, n, C)


def random_derangement(n: int,
                       generator: Optional[torch.Generator] = None,
                       max_tries: int = 100) -> torch.Tensor:
    """A uniformly random derangement of ``range(n)`` (no fixed point).

    Rejection sampling of ``torch.randperm`` (on average e ~ 2.7 draws); if
    ``max_tries`` draws all had a fixed point (probability < 1e-19 for
    any ``n >= 2``) a random single cycle is returned instead.

    Args:
        n (int): Length, must be >= 2.
        generator (torch.Generator | None): A CPU generator for
            reproducibility; ``None`` = torch's global RNG.
        max_tries (int): Rejection-sampling budget.

    Returns:
        Tensor: (n,) int64 on CPU with ``perm[i] != i`` for all ``i``.
    """
    if n < 2:
        raise ValueError(f'a derangement needs n >= 2, got {n}')
    idx = torch.arange(n)
    for _ in range(max_tries):
        perm = torch.randperm(n, generator=generator)
        if not bool((perm == idx).any()):
            return perm
    order = torch.randperm(n, generator=generator)
    perm = torch.empty_like(order)
    perm[order] = order.roll(-1)  # each element maps to the next in a cycle
    return perm


class CrossModalFusion(BaseModule):
    """One transformer block over the tokens of an RGB-D pair.

    The input sequence is ``[match token; RGB tokens + e_rgb; depth tokens +
    e_depth]`` (a learned ``[MATCH]`` token and a learned embedding per
    modality; the tokens already carry their position embeddings from the
    encoders). One mmpretrain :class:`TransformerEncoderLayer` (pre-norm
    self-attention + MLP) lets every RGB token attend to every depth token
    of the pair and vice versa; a final LayerNorm of the ``[MATCH]`` token is
    the pair feature.

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP width / C.
        norm_cfg (dict): Norm config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6)):
        super().__init__()
        self.match_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.modality_embed = nn.Parameter(torch.zeros(2, embed_dims))
        self.block = TransformerEncoderLayer(
            embed_dims,
            num_heads,
            int(mlp_ratio * embed_dims),
            qkv_bias=True,
            norm_cfg=norm_cfg)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def init_weights(self) -> None:
        """N(0, 0.02) tokens and embeddings, the block's own init."""
        super().init_weights()
        trunc_normal_(self.match_token, std=.02)
        trunc_normal_(self.modality_embed, std=.02)

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Fuse P pairs.

        Args:
            rgb (Tensor): (P, n_rgb, C) RGB tokens.
            depth (Tensor): (P, n_depth, C) depth tokens.

        Returns:
            Tensor: (P, C) pair features.
        """
        P = rgb.shape[0]
        x = torch.cat([
            self.match_token.expand(P, -1, -1),
            rgb + self.modality_embed[0],
            depth + self.modality_embed[1],
        ], dim=1)  # (P, 1 + n_rgb + n_depth, C)
        x = self.block(x)  # (P, 1 + n_rgb + n_depth, C)
        return self.norm(x[:, 0])  # (P, C)


@MODELS.register_module()
class RGBDMatchingHead(BaseModule):
    """RGB-D matching (M3 3D Sec. 3.2, in the style of video-text matching).

    The batch gives ``B`` positives, RGB ``b`` with its own depth (label 1),
    and ``B`` negatives, RGB ``b`` with the depth of sample ``perm[b]``
    (label 0), where ``perm`` is a random **derangement** (no sample is
    paired with its own depth): the negatives are the other samples' depth
    in the batch. A linear layer maps each pair's feature to 2 logits
    (softmax over {mismatch, match}); the loss is the cross-entropy averaged
    over the ``2B`` pairs (Eq. 4), ``acc_match`` the fraction classified
    correctly.

    **The RGB and depth tokens of a pair interact before the classifier**
    (a linear layer on separately pooled features gives a score additive in
    the two features, whose loss can never fall below ln 2):

    * modality-specific encoders (``fusion`` set, default): the visible
      encoder tokens of the pair's RGB and depth go through a small
      cross-modal fusion block (:class:`CrossModalFusion`: one transformer
      block over both token sets plus a ``[MATCH]`` token); its ``[MATCH]``
      output is the pair feature;
    * a shared encoder (``fusion=None``, set automatically by ``M3MAE``
      when ``shared_encoder=True``): the pair is encoded **jointly** by the
      shared encoder (RGB and depth tokens attend to each other there); the
      algorithm encodes each negative pair in a second joint pass and passes
      it as ``negative_feats``. The pair feature is the mean of the joint
      pass's visible tokens of both modalities (its global token when the
      backbone has one).

    Batch size 1 cannot form a negative: the head then warns and returns
    ``loss_match = 0`` (connected to the graph of the classifier, so DDP
    sees every parameter) and does **not** log ``acc_match``.

    Args:
        in_channels (int): Encoder width ``C``.
        fusion (dict | None): :class:`CrossModalFusion` arguments
            (``num_heads``, ``mlp_ratio``); None = pairs encoded jointly.
        modalities (Sequence[str]): ``(rgb_key, depth_key)``. Default
            ``('rgb', 'depth')``.
        loss_weight (float): Multiplies the loss. Default 1.0.
        seed (int | None): Seed of the head's own generator for the
            derangements (used when no ``generator`` is given); ``None`` =
            torch's global RNG.
        init_cfg (dict | list | None): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 fusion: Optional[dict] = dict(num_heads=8, mlp_ratio=4.),
                 modalities: Sequence[str] = ('rgb', 'depth'),
                 loss_weight: float = 1.0,
                 seed: Optional[int] = None,
                 init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02,
                               bias=0.)):
        super().__init__(init_cfg=init_cfg)
        if len(modalities) != 2:
            raise ValueError(
                f'modalities must name exactly two, got {modalities}')
        self.modalities = tuple(modalities)
        self.loss_weight = float(loss_weight)
        self.in_channels = in_channels
        self.fusion = None if fusion is None else CrossModalFusion(
            in_channels, **fusion)
        # LayerNorm of the pooled joint pass (fusion normalises its own)
        self.joint_norm = self._joint_norm() if fusion is None else None
        self.fc = nn.Linear(in_channels, 2)
        self._generator = None
        if seed is not None:
            self._generator = torch.Generator()
            self._generator.manual_seed(int(seed))

    @property
    def joint(self) -> bool:
        """True if the pairs must be encoded jointly (no fusion block)."""
        return self.fusion is None

    def _joint_norm(self) -> nn.Module:
        return build_norm_layer(dict(type='LN', eps=1e-6),
                                self.in_channels)[1]

    def use_joint_encoding(self) -> None:
        """Drop the fusion block: a shared encoder fuses the pairs.

        Called by ``M3MAE`` (before the optimiser is built) when the backbone
        is a shared encoder, so no parameter is left without a gradient.
        """
        if self.fusion is not None:
            self.fusion = None
            self.joint_norm = self._joint_norm()

    def derangement(self, batch_size: int,
                    generator: Optional[torch.Generator] = None
                    ) -> torch.Tensor:
        """``perm`` of the negatives (CPU); the given generator, else the
        head's seeded one, else torch's global RNG."""
        gen = generator if generator is not None else self._generator
        return random_derangement(batch_size, gen)

    def joint_feature(self, feats: dict) -> torch.Tensor:
        """Pair feature of a joint pass: (B, C).

        The global token(s) when the backbone has them, else the mean over
        the visible tokens of both modalities.
        """
        if feats.get('global_tokens') is not None:
            pooled = feats['global_tokens'].mean(dim=1)  # (B, C)
        else:
            visible = feats.get('visible') or {}
            tokens = torch.cat([feats['tokens'][m] for m in self.modalities],
                               dim=1)  # (B, N_rgb + N_depth, C)
            vis = None
            if any(visible.get(m) is not None for m in self.modalities):
                vis = torch.cat([
                    visible[m] if visible.get(m) is not None else
                    torch.ones(feats['tokens'][m].shape[:2], dtype=torch.bool,
                               device=tokens.device)
                    for m in self.modalities
                ], dim=1)  # (B, N_rgb + N_depth)
            pooled = masked_mean_pool(tokens, vis)  # (B, C)
        return self.joint_norm(pooled)  # (B, C)

    def pair_features(self, feats: dict, perm: torch.Tensor,
                      negative_feats: Optional[dict] = None
                      ) -> torch.Tensor:
        """Features of the B positives followed by the B negatives.

        Args:
            feats (dict): Backbone output of the batch (``tokens``,
                ``visible``; a joint pass for ``joint`` heads).
            perm (Tensor): (B,) derangement; negative ``b`` pairs RGB ``b``
                with depth ``perm[b]``.
            negative_feats (dict, optional): Joint pass of the negative
                pairs (required iff :attr:`joint`).

        Returns:
            Tensor: (2B, C).
        """
        mod_a, mod_b = self.modalities
        if self.joint:
            if negative_feats is None:
                raise ValueError(
                    'RGBDMatchingHead without a fusion block classifies '
                    'jointly encoded pairs: pass negative_feats (the '
                    'shared encoder on RGB b + depth perm[b])')
            return torch.cat([self.joint_feature(feats),
                              self.joint_feature(negative_feats)])  # (2B, C)
        if negative_feats is not None:
            raise ValueError('negative_feats is only used without a fusion '
                             'block (shared encoder)')
        visible = feats.get('visible') or {}
        rgb = visible_tokens(feats['tokens'][mod_a],
                             visible.get(mod_a))  # (B, n_a, C)
        depth = visible_tokens(feats['tokens'][mod_b],
                               visible.get(mod_b))  # (B, n_b, C)
        perm = perm.to(depth.device)
        pair_rgb = torch.cat([rgb, rgb])  # (2B, n_a, C)
        pair_depth = torch.cat([depth, depth[perm]])  # (2B, n_b, C)
        return self.fusion(pair_rgb, pair_depth)  # (2B, C)

    def forward(self, pair_feats: torch.Tensor) -> torch.Tensor:
        """Match logits of pair features: (P, C) -> (P, 2); 1 = "match"."""
        return self.fc(pair_feats)  # (P, 2)

    def loss(self,
             feats: dict,
             perm: Optional[torch.Tensor] = None,
             negative_feats: Optional[dict] = None,
             generator: Optional[torch.Generator] = None
             ) -> Dict[str, torch.Tensor]:
        """Classify positives and deranged negatives.

        Args:
            feats (dict): Backbone output dict (``tokens``, ``visible``).
            perm (Tensor, optional): (B,) derangement of the negatives;
                drawn with :meth:`derangement` if None (a joint head needs
                the one its ``negative_feats`` were encoded with).
            negative_feats (dict, optional): Joint pass of the negatives.
            generator (torch.Generator | None): For drawing ``perm``.

        Returns:
            dict[str, Tensor]: ``loss_match`` and (for B >= 2) ``acc_match``.
        """
        tokens = feats['tokens'][self.modalities[0]]
        B = tokens.shape[0]
        if B < 2:
            warnings.warn('RGBDMatchingHead: batch size 1 cannot form a '
                          'negative pair; loss_match is 0 for this batch')
            zero = sum(p.sum() for p in self.parameters()) * 0.
            return dict(loss_match=zero + tokens.sum() * 0.)
        if perm is None:
            if self.joint:
                raise ValueError('a joint matching head needs the perm its '
                                 'negative pairs were encoded with')
            perm = self.derangement(B, generator)
        logits = self(self.pair_features(feats, perm,
                                         negative_feats))  # (2B, 2)
        labels = torch.cat([
            torch.ones(B, dtype=torch.long),
            torch.zeros(B, dtype=torch.long)
        ]).to(logits.device)  # (2B,)
        loss = F.cross_entropy(logits, labels) * self.loss_weight
        with torch.no_grad():
            acc = (logits.argmax(dim=-1) == labels).float().mean()
        return dict(loss_match=loss, acc_match=acc)
