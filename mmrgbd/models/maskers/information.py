"""Content-aware video masking: keep tokens with much spatio-temporal
information more often (SurgMAE-style)."""
import contextlib
from typing import Dict, Optional, Tuple

import torch

from mmrgbd.registry import MODELS
from .base import BaseMasker
from .tube import _check_mask_ratios, num_hidden


def frame_difference_energy(clip: torch.Tensor, patch_size: int,
                            tubelet_size: int) -> torch.Tensor:
    """Per-tubelet temporal information score of a clip.

    For every tubelet of ``tubelet_size`` frames and ``patch_size`` x
    ``patch_size`` pixels, the mean over its pixels and channels of the
    squared difference between consecutive frames **inside** the tubelet::

        s = mean_{c, y, x, j} (x[c, t_j + 1, y, x] - x[c, t_j, y, x]) ** 2

    over the ``tubelet_size - 1`` frame pairs of the tubelet (a 2-frame
    tubelet has one pair). Static background scores ~0, moving regions
    (hands, instruments, actors) score high.

    Args:
        clip (Tensor): (B, C, T, H, W), e.g. the normalised RGB clip.
        patch_size (int): Spatial patch side p.
        tubelet_size (int): Frames per tubelet t_p (>= 2).

    Returns:
        Tensor: (B, (T / t_p) * (H / p) * (W / p)) float scores >= 0, in
        the time-major token order of :func:`mmrgbd.models.utils.patchify`.
    """
    if clip.dim() != 5:
        raise ValueError(f'expects a (B, C, T, H, W) clip, got '
                         f'{tuple(clip.shape)}')
    if tubelet_size < 2:
        raise ValueError('frame differences need tubelets of >= 2 frames, '
                         f'got tubelet_size={tubelet_size}')
    B, _, T, H, W = clip.shape
    p, tp = patch_size, tubelet_size
    if T % tp or H % p or W % p:
        raise ValueError(f'clip {tuple(clip.shape[2:])} is not divisible '
                         f'into {tp}x{p}x{p} tubelets')
    x = clip.float().reshape(B, -1, T // tp, tp, H, W)  # (B, C, t, t_p, H, W)
    diff = (x[:, :, :, 1:] - x[:, :, :, :-1])**2  # (B, C, t, t_p-1, H, W)
    energy = diff.mean(dim=(1, 3))  # (B, t, H, W)
    energy = energy.reshape(B, T // tp, H // p, p, W // p, p)
    return energy.mean(dim=(3, 5)).flatten(1)  # (B, t*h*w)


@MODELS.register_module()
class InformationWeightedMasker(BaseMasker):
    """Keep tokens with probability weighted by their information score.

    SurgMAE-style masking (M3 3D Table 11, UCF-101 RGB): instead of keeping
    tokens uniformly, tokens with much spatio-temporal information are kept
    more often. The score of a token is the frame-difference energy inside
    its tubelet (:func:`frame_difference_energy`). Each sample keeps exactly
    ``N - round_half_up(mask_ratio * N)`` tokens, drawn **without
    replacement** with probabilities ::

        p_i = (1 - uniform_weight) * s_i / sum_j s_j + uniform_weight / N

    (successive sampling, implemented with the Gumbel-top-k trick:
    ``keep = top_k(log p_i + g_i)``, ``g_i ~ Gumbel(0, 1)`` drawn with the
    masker's generator). ``uniform_weight`` keeps every token possible and
    makes a static clip (all scores 0) fall back to uniform random masking.

    The masker needs the clip: algorithms call it inside
    ``with masker.conditioned_on(inputs):`` (``BaseRGBDSelfSupervisor.
    generate_mask`` does, with each sample's own clip when masks are drawn
    per sample), where ``inputs`` holds each listed modality's preprocessed
    clip (B, C, T, H, W). Without that context it raises.

    Args:
        mask_ratios (dict[str, float]): Fraction of tokens to **hide** per
            modality, e.g. ``dict(rgb=0.9)``.
        patch_size (int): Spatial patch side of the tokens. Default 16.
        tubelet_size (int): Frames per tubelet. Default 2.
        uniform_weight (float): Share of the uniform distribution in
            ``p``, in (0, 1]. Default 0.1.
    """

    needs_inputs = True

    def __init__(self,
                 mask_ratios: Dict[str, float] = dict(rgb=0.9),
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 uniform_weight: float = 0.1):
        super().__init__()
        self.mask_ratios = _check_mask_ratios(mask_ratios)
        if not 0. < uniform_weight <= 1.:
            raise ValueError(f'uniform_weight must be in (0, 1], got '
                             f'{uniform_weight}')
        self.patch_size = int(patch_size)
        self.tubelet_size = int(tubelet_size)
        self.uniform_weight = float(uniform_weight)
        self._scores: Optional[Dict[str, torch.Tensor]] = None

    @contextlib.contextmanager
    def conditioned_on(self, inputs: Dict[str, torch.Tensor]):
        """Score the clips of ``inputs`` for the masks drawn inside."""
        self._scores = {
            m: frame_difference_energy(inputs[m], self.patch_size,
                                       self.tubelet_size)
            for m in self.mask_ratios if m in inputs
        }
        try:
            yield self
        finally:
            self._scores = None

    def keep_probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """``p`` (B, N) of the docstring for scores (B, N)."""
        n = scores.shape[1]
        total = scores.sum(dim=1, keepdim=True)  # (B, 1)
        share = torch.where(total > 0, scores / total.clamp(min=1e-12),
                            torch.full_like(scores, 1. / n))  # (B, N)
        return (1. - self.uniform_weight) * share + \
            self.uniform_weight / n  # (B, N)

    def sample(self, batch_size: int, grid_sizes: Dict[str, Tuple[int, ...]],
               generator: Optional[torch.Generator]
               ) -> Dict[str, torch.Tensor]:
        """``{modality: (B, N) bool}`` weighted by the information score."""
        if self._scores is None:
            raise RuntimeError(
                'InformationWeightedMasker needs the clip: call it inside '
                '`with masker.conditioned_on(inputs):` (M3MAE does)')
        dev = self.generator_device(generator)
        out = {}
        for m, grid in grid_sizes.items():
            if m not in self.mask_ratios:
                raise KeyError(f'{type(self).__name__} has no mask ratio for '
                               f'{m!r} (has {sorted(self.mask_ratios)})')
            n = self.num_tokens(grid)
            scores = self._scores[m].to(dev)  # (B, N)
            if tuple(scores.shape) != (batch_size, n):
                raise ValueError(f'{m}: scores {tuple(scores.shape)} do not '
                                 f'fit the {grid} grid of {batch_size} '
                                 'samples')
            keep = n - num_hidden(self.mask_ratios[m], n)
            u = torch.rand(batch_size, n, generator=generator, device=dev)
            gumbel = -torch.log(-torch.log(u.clamp(1e-12, 1. - 1e-7)))
            keys = self.keep_probabilities(scores).log() + gumbel  # (B, N)
            ids = keys.topk(keep, dim=1).indices  # (B, keep)
            vis = torch.zeros(batch_size, n, dtype=torch.bool, device=dev)
            out[m] = vis.scatter(1, ids, True)  # (B, N)
        return out
