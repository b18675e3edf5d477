"""Complementary RGB / depth masking (Mask3D)."""
from typing import Dict, Optional, Sequence, Tuple

import torch

from mmrgbd.registry import MODELS
from .base import BaseMasker, round_half_up


@MODELS.register_module()
class ComplementaryMasker(BaseMasker):
    """Visible RGB and visible depth patches do not share a position
    (Mask3D), as far as the two fractions allow.

    With N positions (both modalities must have the same grid), each sample
    shows ``k_c = round(rgb_keep * N)`` RGB patches chosen uniformly and
    ``k_d = round(depth_keep * N)`` depth patches (halves rounded up), chosen
    uniformly among the ``N - k_c`` positions where RGB is **not** shown.

    * ``p_c + p_d <= 1``: the sets are disjoint (``k_d`` is capped at
      ``N - k_c``, which only matters when the fractions sum to exactly 1
      and both round up).
    * ``p_c + p_d > 1`` (the paper's ablations, e.g. 50 % / 80 % or 100 % /
      100 %): depth takes every non-RGB position and the remaining
      ``k_c + k_d - N`` depth patches at RGB positions chosen uniformly; only
      those overlap (the fused decoder averages overlapping tokens).

    ``p_d = 0`` shows no depth (the paper's pure depth prediction baseline
    100 % / 0 %); the depth encoder then runs on an empty sequence.
    Implementation: one random permutation rank ``r`` per position; RGB is
    visible where ``r < k_c`` and depth where ``(r - k_c) mod N < k_d``.

    Args:
        rgb_keep (float): Fraction p_c of the positions showing RGB.
            Defaults to 0.2.
        depth_keep (float): Fraction p_d of the positions showing depth.
            Defaults to 0.2.
        modalities (Sequence[str]): Names of the (colour, depth) modalities.
            Defaults to ``('rgb', 'depth')``.

    Raises:
        ValueError: If a fraction is outside [0, 1].
    """

    def __init__(self,
                 rgb_keep: float = 0.2,
                 depth_keep: float = 0.2,
                 modalities: Sequence[str] = ('rgb', 'depth')):
        super().__init__()
        rgb_keep, depth_keep = float(rgb_keep), float(depth_keep)
        if not (0. <= rgb_keep <= 1. and 0. <= depth_keep <= 1.):
            raise ValueError(f'rgb_keep and depth_keep must be in [0, 1], got '
                             f'{rgb_keep} and {depth_keep}')
        if len(modalities) != 2 or modalities[0] == modalities[1]:
            raise ValueError(f'modalities must name two different modalities, '
                             f'got {modalities}')
        self.rgb_keep = rgb_keep
        self.depth_keep = depth_keep
        self.modalities = tuple(modalities)

    def counts(self, num_tokens: int) -> Tuple[int, int]:
        """``(k_c, k_d)`` visible RGB and depth counts for N positions."""
        k_c = round_half_up(self.rgb_keep * num_tokens)
        k_d = round_half_up(self.depth_keep * num_tokens)
        if self.rgb_keep + self.depth_keep <= 1. + 1e-9:
            k_d = min(k_d, num_tokens - k_c)
        return k_c, k_d

    def sample(self, batch_size: int, grid_sizes: Dict[str, Tuple[int, ...]],
               generator: Optional[torch.Generator]
               ) -> Dict[str, torch.Tensor]:
        """``{rgb: (B, N) bool, depth: (B, N) bool}``; disjoint per row
        unless ``k_c + k_d > N``."""
        rgb, depth = self.modalities
        missing = [m for m in self.modalities if m not in grid_sizes]
        extra = [m for m in grid_sizes if m not in self.modalities]
        if missing or extra:
            raise ValueError(f'ComplementaryMasker masks exactly '
                             f'{list(self.modalities)}, got grids for '
                             f'{list(grid_sizes)}')
        if grid_sizes[rgb] != grid_sizes[depth]:
            raise ValueError(
                f'complementary masks need equal token grids, got {rgb} '
                f'{grid_sizes[rgb]} and {depth} {grid_sizes[depth]}')
        n = self.num_tokens(grid_sizes[rgb])
        k_c, k_d = self.counts(n)
        ranks = self.random_ranks(batch_size, n, generator)  # (B, N)
        return {
            rgb: ranks < k_c,  # (B, N)
            depth: (ranks - k_c) % n < k_d,  # (B, N)
        }
