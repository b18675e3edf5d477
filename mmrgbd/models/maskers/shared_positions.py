"""Give some modalities exactly the visible positions of another."""
import contextlib
from typing import Dict, Optional, Tuple

import torch

from mmrgbd.registry import MODELS, build_in_scope
from .base import BaseMasker


@MODELS.register_module()
class SharedPositionsMasker(BaseMasker):
    """Wrap a masker; listed modalities copy a source modality's mask.

    The wrapped ``masker`` draws the masks of the modalities that are not
    in ``shared``; each ``shared`` modality then gets **the same visible
    positions** as its source (``shared=dict(depth='rgb')``: depth shows
    exactly the RGB-visible tokens). Both modalities must have the same
    token grid.

    Why (M3 3D video): the patch contrast and a fused matching pair can only
    use positions visible in both modalities. With two independent 90 %
    masks about 1 % of the positions are visible in both (~16 of 1568
    tokens), and with two independent tube masks 10.5 % of the clips have
    **no** such position. Sharing the positions makes every visible
    position a contrast pair (157 of 1568 at 90 %).

    Content-aware inner maskers (``needs_inputs``) are supported: the
    wrapper forwards :meth:`conditioned_on`.

    Args:
        masker (dict): The wrapped masker's config.
        shared (dict[str, str]): ``{modality: source modality}``.
    """

    def __init__(self, masker: dict, shared: Dict[str, str] = dict(
            depth='rgb')):
        super().__init__()
        if not shared:
            raise ValueError('shared is empty')
        for m, src in shared.items():
            if src in shared:
                raise ValueError(f'{m} copies {src}, which itself copies '
                                 f'{shared[src]}; name the original source')
            if m == src:
                raise ValueError(f'{m} cannot copy itself')
        self.masker = build_in_scope(MODELS, masker)
        self.shared = dict(shared)

    @property
    def needs_inputs(self) -> bool:
        """Whether the wrapped masker reads the inputs."""
        return bool(getattr(self.masker, 'needs_inputs', False))

    @contextlib.contextmanager
    def conditioned_on(self, inputs: Dict[str, torch.Tensor]):
        """Forward the inputs to a content-aware wrapped masker."""
        if not self.needs_inputs:
            yield self
            return
        with self.masker.conditioned_on(inputs):
            yield self

    def sample(self, batch_size: int, grid_sizes: Dict[str, Tuple[int, ...]],
               generator: Optional[torch.Generator]
               ) -> Dict[str, torch.Tensor]:
        """Masks of the sources from the wrapped masker, copied to the
        shared modalities."""
        own = {m: g for m, g in grid_sizes.items() if m not in self.shared}
        for m, src in self.shared.items():
            if m not in grid_sizes:
                continue
            if src not in own:
                raise KeyError(f'{m} copies the mask of {src!r}, which is '
                               f'not masked (modalities {sorted(grid_sizes)})')
            if tuple(grid_sizes[m]) != tuple(own[src]):
                raise ValueError(f'{m} grid {tuple(grid_sizes[m])} differs '
                                 f'from the {src} grid {tuple(own[src])}')
        out = self.masker(batch_size, own, generator=generator)
        for m, src in self.shared.items():
            if m in grid_sizes:
                out[m] = out[src].clone()  # (B, N)
        return out
