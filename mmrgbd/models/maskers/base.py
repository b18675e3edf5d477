"""Base class of the token maskers."""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

GridSizes = Dict[str, Sequence[int]]


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (``round(2.5) == 3``)."""
    return int(math.floor(x + 0.5))


class BaseMasker(nn.Module):
    """Base of the maskers: pure functions of (batch, grids, generator).

    A masker is called as ``masker(batch_size, grid_sizes, generator=None,
    device=None)`` with ``grid_sizes = {modality: (h, w)}`` (images) or
    ``{modality: (t, h, w)}`` (clips) and returns ``{modality: visible}`` with
    ``visible`` a bool (B, N_modality) tensor, ``N = prod(grid)``, **True =
    the token is given to the encoder**. Tokens are in row-major grid order
    (time-major for clips), as :func:`mmrgbd.models.utils.patchify`.

    All random numbers are drawn with ``generator`` (or the global CPU
    generator when None) on the generator's device and the masks are moved to
    ``device`` afterwards, so the same seed gives the same mask on any device.

    A masker is an ``nn.Module`` without parameters (so it prints with the
    model); subclasses implement :meth:`sample`. Helpers for tube masks of
    clips (:meth:`spatial_grid`, :meth:`tile_over_time`) and exact-count
    random selection (:meth:`keep_by_rank`) are provided.
    """

    def forward(self,
                batch_size: int,
                grid_sizes: GridSizes,
                generator: Optional[torch.Generator] = None,
                device: Optional[Union[str, torch.device]] = None
                ) -> Dict[str, torch.Tensor]:
        """Sample visible masks.

        Args:
            batch_size (int): B.
            grid_sizes (dict): ``{modality: (h, w) or (t, h, w)}``.
            generator (torch.Generator, optional): Random generator.
            device (str | torch.device, optional): Device of the masks.
                Defaults to the generator's device (CPU).

        Returns:
            dict[str, Tensor]: ``{modality: (B, N_modality) bool}``.
        """
        if int(batch_size) < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if not grid_sizes:
            raise ValueError('grid_sizes is empty')
        grids = {m: self.check_grid(m, g) for m, g in grid_sizes.items()}
        masks = self.sample(int(batch_size), grids, generator)
        for m, vis in masks.items():
            expected = (int(batch_size), self.num_tokens(grids[m]))
            assert vis.dtype == torch.bool and tuple(vis.shape) == expected, \
                f'{type(self).__name__} returned {vis.dtype} ' \
                f'{tuple(vis.shape)} for {m}, expected bool {expected}'
        if device is not None:
            masks = {m: v.to(device) for m, v in masks.items()}
        return masks

    def sample(self, batch_size: int, grid_sizes: Dict[str, Tuple[int, ...]],
               generator: Optional[torch.Generator]
               ) -> Dict[str, torch.Tensor]:
        """Return ``{modality: (B, N) bool}`` on the generator's device."""
        raise NotImplementedError

    # ------------------------------------------------------------------ #
    # helpers
    # ------------------------------------------------------------------ #
    @staticmethod
    def check_grid(modality: str, grid: Sequence[int]) -> Tuple[int, ...]:
        """Validate an ``(h, w)`` / ``(t, h, w)`` grid and return it."""
        grid = tuple(int(g) for g in grid)
        if len(grid) not in (2, 3) or min(grid) < 1:
            raise ValueError(f'grid of {modality} must be (h, w) or (t, h, '
                             f'w) of positive ints, got {grid}')
        return grid

    @staticmethod
    def num_tokens(grid: Sequence[int]) -> int:
        """Number of tokens ``prod(grid)``."""
        return int(math.prod(grid))

    @staticmethod
    def spatial_grid(grid: Sequence[int]) -> Tuple[int, int]:
        """The ``(h, w)`` part of an image or clip grid."""
        return tuple(grid[-2:])

    @staticmethod
    def tile_over_time(visible_hw: torch.Tensor, t: int) -> torch.Tensor:
        """Repeat a per-frame mask over ``t`` frames (tube masking).

        Args:
            visible_hw (Tensor): (B, h*w) bool.
            t (int): Number of temporal token slices.

        Returns:
            Tensor: (B, t*h*w) bool in time-major order.
        """
        return visible_hw.repeat(1, t)  # (B, t*h*w)

    @staticmethod
    def generator_device(generator: Optional[torch.Generator]
                         ) -> torch.device:
        """Device random numbers are drawn on."""
        return torch.device('cpu') if generator is None else generator.device

    @classmethod
    def random_ranks(cls, batch_size: int, num_tokens: int,
                     generator: Optional[torch.Generator]) -> torch.Tensor:
        """A uniformly random permutation rank of every token.

        Returns:
            Tensor: long (B, N); each row is a permutation of ``0..N-1``.
        """
        noise = torch.rand(
            batch_size, num_tokens, generator=generator,
            device=cls.generator_device(generator))  # (B, N)
        return noise.argsort(dim=1).argsort(dim=1)  # (B, N)

    @classmethod
    def keep_by_rank(cls, batch_size: int, num_tokens: int,
                     num_keep: Union[int, torch.Tensor],
                     generator: Optional[torch.Generator]) -> torch.Tensor:
        """Keep exactly ``num_keep`` uniformly chosen tokens per sample.

        Args:
            batch_size (int): B.
            num_tokens (int): N.
            num_keep (int | Tensor): One count, or (B,) counts in [0, N].
            generator (torch.Generator, optional): Random generator.

        Returns:
            Tensor: bool (B, N) with ``num_keep`` True per row.
        """
        ranks = cls.random_ranks(batch_size, num_tokens, generator)
        if isinstance(num_keep, torch.Tensor):
            num_keep = num_keep.to(ranks.device).reshape(-1, 1)  # (B, 1)
        return ranks < num_keep  # (B, N)
