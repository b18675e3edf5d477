"""RGB-D matching head: does this depth belong to this RGB clip?"""
import warnings
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmrgbd.registry import MODELS


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


@MODELS.register_module()
class RGBDMatchingHead(BaseModule):
    """Binary RGB-D matching on mean-pooled encoder features.

    For each sample ``b`` the visible tokens of the RGB and depth encoder
    outputs are mean-pooled to ``f_rgb[b]``, ``f_depth[b]`` (B, C). The batch
    gives ``B`` positives ``[f_rgb[b], f_depth[b]]`` (label 1) and ``B``
    negatives ``[f_rgb[b], f_depth[perm[b]]]`` (label 0) where ``perm`` is a
    random **derangement** (no sample is paired with its own depth). A
    linear layer maps the ``2C`` concatenation to 2 logits (softmax over
    {mismatch, match}); the loss is the cross-entropy averaged over the
    ``2B`` pairs.

    Batch size 1 cannot form a negative: the head then warns and returns
    ``loss_match = 0`` (connected to the graph of the classifier, so DDP
    sees every parameter) and does **not** log ``acc_match``.

    Args:
        in_channels (int): Encoder width ``C``.
        modalities (Sequence[str]): ``(rgb_key, depth_key)``. Default
            ``('rgb', 'depth')``.
        loss_weight (float): Multiplies the loss. Default 1.0.
        seed (int | None): Seed of the head's own generator for the
            derangements (used when ``loss`` gets no ``generator``);
            ``None`` = torch's global RNG.
        init_cfg (dict | list | None): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 modalities: Sequence[str] = ('rgb', 'depth'),
                 loss_weight: float = 1.0,
                 seed: Optional[int] = None,
                 init_cfg=dict(type='Normal', layer='Linear', std=0.01,
                               bias=0.)):
        super().__init__(init_cfg=init_cfg)
        if len(modalities) != 2:
            raise ValueError(
                f'modalities must name exactly two, got {modalities}')
        self.modalities = tuple(modalities)
        self.loss_weight = float(loss_weight)
        self.fc = nn.Linear(2 * in_channels, 2)
        self._generator = None
        if seed is not None:
            self._generator = torch.Generator()
            self._generator.manual_seed(int(seed))

    def forward(self, f_a: torch.Tensor, f_b: torch.Tensor) -> torch.Tensor:
        """Match logits of pooled feature pairs.

        Args:
            f_a (Tensor): (P, C) pooled RGB features.
            f_b (Tensor): (P, C) pooled depth features.

        Returns:
            Tensor: (P, 2) logits; index 1 = "match".
        """
        return self.fc(torch.cat([f_a, f_b], dim=-1))  # (P, 2)

    def pool(self, feats: dict) -> Dict[str, torch.Tensor]:
        """Mean-pool each modality over its visible tokens.

        Args:
            feats (dict): Backbone output with ``tokens`` and ``visible``.

        Returns:
            dict[str, Tensor]: ``{modality: (B, C)}``.
        """
        visible = feats.get('visible') or {}
        return {
            mod: masked_mean_pool(feats['tokens'][mod], visible.get(mod))
            for mod in self.modalities
        }

    def make_pairs(self,
                   f_a: torch.Tensor,
                   f_b: torch.Tensor,
                   generator: Optional[torch.Generator] = None):
        """B positives followed by B deranged negatives.

        Args:
            f_a (Tensor): (B, C) pooled RGB features, B >= 2.
            f_b (Tensor): (B, C) pooled depth features.
            generator (torch.Generator | None): CPU generator; falls back to
                the head's seeded generator, then to torch's global RNG.

        Returns:
            tuple: ``pair_a`` (2B, C), ``pair_b`` (2B, C), ``labels`` (2B,)
            int64 (1 = match) and ``perm`` (B,): negative ``b`` pairs
            ``f_a[b]`` with ``f_b[perm[b]]``, ``perm[b] != b``.
        """
        B = f_a.shape[0]
        gen = generator if generator is not None else self._generator
        perm = random_derangement(B, gen).to(f_b.device)  # (B,)
        pair_a = torch.cat([f_a, f_a], dim=0)  # (2B, C)
        pair_b = torch.cat([f_b, f_b[perm]], dim=0)  # (2B, C)
        labels = torch.cat([
            torch.ones(B, dtype=torch.long),
            torch.zeros(B, dtype=torch.long)
        ]).to(f_a.device)  # (2B,)
        return pair_a, pair_b, labels, perm

    def loss(self,
             feats: dict,
             generator: Optional[torch.Generator] = None
             ) -> Dict[str, torch.Tensor]:
        """Build positives and deranged negatives and compute the loss.

        Args:
            feats (dict): Backbone output dict (``tokens``, ``visible``).
            generator (torch.Generator | None): CPU generator for the
                derangement; falls back to the head's seeded generator.

        Returns:
            dict[str, Tensor]: ``loss_match`` and (for B >= 2) ``acc_match``
            (fraction of the 2B pairs classified correctly).
        """
        mod_a, mod_b = self.modalities
        pooled = self.pool(feats)
        f_a, f_b = pooled[mod_a], pooled[mod_b]  # (B, C) each
        B = f_a.shape[0]
        if B < 2:
            warnings.warn('RGBDMatchingHead: batch size 1 cannot form a '
                          'negative pair; loss_match is 0 for this batch')
            logits = self(f_a, f_b)  # (1, 2)
            return dict(loss_match=logits.sum() * 0.)
        pair_a, pair_b, labels, _ = self.make_pairs(f_a, f_b, generator)
        logits = self(pair_a, pair_b)  # (2B, 2)
        loss = F.cross_entropy(logits, labels) * self.loss_weight
        with torch.no_grad():
            acc = (logits.argmax(dim=-1) == labels).float().mean()
        return dict(loss_match=loss, acc_match=acc)
