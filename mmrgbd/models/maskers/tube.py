"""Video maskers on (t, h, w) token grids, parameterised by MASK ratios.

The image maskers take **keep** ratios (fraction given to the encoder);
video pre-training is usually described by **mask** ratios (e.g. 90%
hidden), so these classes take ``mask_ratios`` and say so in their names'
arguments. Hidden counts are ``round_half_up(mask_ratio * n)``.
"""
from typing import Dict, Optional, Tuple

import torch

from mmrgbd.registry import MODELS
from .base import BaseMasker, round_half_up
from .random_patch import RandomPatchMasker


def _check_mask_ratios(mask_ratios: Dict[str, float]) -> Dict[str, float]:
    """Validate ``{modality: mask ratio in [0, 1]}``."""
    if not mask_ratios:
        raise ValueError('mask_ratios is empty')
    for m, r in mask_ratios.items():
        if not 0. <= float(r) <= 1.:
            raise ValueError(f'mask ratio of {m} must be in [0, 1], got {r}')
    return {m: float(r) for m, r in mask_ratios.items()}


def num_hidden(mask_ratio: float, num_tokens: int) -> int:
    """Hidden count ``round_half_up(mask_ratio * num_tokens)``.

    Args:
        mask_ratio (float): Fraction hidden, in [0, 1].
        num_tokens (int): Tokens to choose from.

    Returns:
        int: In ``[0, num_tokens]``.
    """
    return round_half_up(mask_ratio * num_tokens)


@MODELS.register_module()
class TubeMasker(BaseMasker):
    """Tube masking: one random spatial mask repeated over all time steps.

    For each sample and modality, ``round_half_up(mask_ratio * h * w)``
    positions of the ``h x w`` spatial grid are hidden, chosen uniformly at
    random, and the same positions are hidden in every one of the ``t``
    temporal slices (a "tube" through time). Every modality draws its own
    mask with its own ratio (independently of the other modalities).

    Called as ``masker(batch_size, grid_sizes, generator=None, device=None)``
    with ``grid_sizes = {modality: (t, h, w)}``; returns ``{modality:
    visible}`` with ``visible`` bool (B, t*h*w) in the time-major token
    order of :func:`mmrgbd.models.utils.patchify` (index
    ``(ti * h + hi) * w + wi``), True = the token is given to the encoder.
    An image grid ``(h, w)`` is treated as ``t = 1``.

    Args:
        mask_ratios (dict[str, float]): Fraction of spatial positions to
            **hide** per modality, e.g. ``dict(rgb=0.9, depth=0.9)``. Every
            modality the masker is called with must be listed (extra entries
            are ignored).
    """

    def __init__(self, mask_ratios: Dict[str, float] = dict(rgb=0.9,
                                                             depth=0.9)):
        super().__init__()
        self.mask_ratios = _check_mask_ratios(mask_ratios)

    def _ratio(self, modality: str) -> float:
        if modality not in self.mask_ratios:
            raise KeyError(f'{type(self).__name__} has no mask ratio for '
                           f'{modality!r} (has {sorted(self.mask_ratios)})')
        return self.mask_ratios[modality]

    def sample(self, batch_size: int, grid_sizes: Dict[str, Tuple[int, ...]],
               generator: Optional[torch.Generator]
               ) -> Dict[str, torch.Tensor]:
        """``{modality: (B, t*h*w) bool}``, constant along time."""
        out = {}
        for m, grid in grid_sizes.items():
            t = grid[0] if len(grid) == 3 else 1
            hw = self.num_tokens(self.spatial_grid(grid))
            keep = hw - num_hidden(self._ratio(m), hw)
            visible_hw = self.keep_by_rank(batch_size, hw, keep,
                                           generator)  # (B, h*w)
            out[m] = self.tile_over_time(visible_hw, t)  # (B, t*h*w)
        return out


@MODELS.register_module()
class RandomTokenMasker(RandomPatchMasker):
    """Token-wise random masking of clips, parameterised by mask ratios.

    The alternative to :class:`TubeMasker`: :class:`RandomPatchMasker`
    (uniform over all ``t*h*w`` space-time tokens, no structure over time,
    independent per modality), configured with the fraction to **hide**.
    Exactly ``round_half_up(mask_ratio * N)`` tokens are hidden per sample,
    the same count rule as :class:`TubeMasker`.

    Args:
        mask_ratios (dict[str, float]): Fraction of tokens to **hide** per
            modality, e.g. ``dict(rgb=0.9, depth=0.9)``.
    """

    def __init__(self, mask_ratios: Dict[str, float] = dict(rgb=0.9,
                                                             depth=0.9)):
        mask_ratios = _check_mask_ratios(mask_ratios)
        super().__init__(
            keep_ratios={m: 1. - r
                         for m, r in mask_ratios.items()})
        self.mask_ratios = mask_ratios

    def num_keep(self, modality: str, num_tokens: int) -> int:
        """Visible count ``N - round_half_up(mask_ratio * N)``."""
        if modality not in self.mask_ratios:
            raise KeyError(f'{type(self).__name__} has no mask ratio for '
                           f'{modality!r} (has {sorted(self.mask_ratios)})')
        return num_tokens - num_hidden(self.mask_ratios[modality], num_tokens)
