"""Independent uniform random masking per modality (MAE)."""
from typing import Dict, Optional, Tuple

import torch

from mmrgbd.registry import MODELS
from .base import BaseMasker, round_half_up


@MODELS.register_module()
class RandomPatchMasker(BaseMasker):
    """Keep a fixed fraction of the tokens of every modality, independently.

    Every sample keeps exactly ``round(keep_ratio * N)`` tokens (halves
    rounded up) of each modality, chosen uniformly without replacement; the
    modalities are masked independently of each other. Clip grids
    ``(t, h, w)`` are masked token-wise over all ``t*h*w`` tokens.

    Args:
        keep_ratios (dict[str, float]): ``{modality: fraction kept}`` in
            [0, 1], e.g. ``dict(rgb=0.25)``. Every modality of the grid sizes
            the masker is called with must be listed (extra entries are
            ignored, so one config serves modality subsets).
    """

    def __init__(self, keep_ratios: Dict[str, float] = dict(rgb=0.25)):
        super().__init__()
        if not keep_ratios:
            raise ValueError('keep_ratios is empty')
        for m, r in keep_ratios.items():
            if not 0. <= float(r) <= 1.:
                raise ValueError(f'keep ratio of {m} must be in [0, 1], got '
                                 f'{r}')
        self.keep_ratios = {m: float(r) for m, r in keep_ratios.items()}

    def num_keep(self, modality: str, num_tokens: int) -> int:
        """Visible count ``round(keep_ratio * N)`` of a modality."""
        if modality not in self.keep_ratios:
            raise KeyError(f'RandomPatchMasker has no keep ratio for '
                           f'{modality!r} (has {sorted(self.keep_ratios)})')
        return round_half_up(self.keep_ratios[modality] * num_tokens)

    def sample(self, batch_size: int, grid_sizes: Dict[str, Tuple[int, ...]],
               generator: Optional[torch.Generator]
               ) -> Dict[str, torch.Tensor]:
        """``{modality: (B, N) bool}`` with exact per-modality counts."""
        out = {}
        for m, grid in grid_sizes.items():
            n = self.num_tokens(grid)
            out[m] = self.keep_by_rank(batch_size, n, self.num_keep(m, n),
                                       generator)  # (B, N)
        return out
