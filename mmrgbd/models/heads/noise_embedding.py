"""Embedding of a per-sample noise level sigma (diffusion-timestep style)."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmrgbd.models.utils import get_1d_sincos_pos_embed
from mmrgbd.registry import MODELS


def sinusoidal_embedding(values: torch.Tensor,
                         dims: int,
                         max_period: float = 10000.) -> torch.Tensor:
    """1-D sinusoidal embedding of scalars (as for diffusion timesteps).

    A thin device-aware wrapper of
    :func:`mmrgbd.models.utils.get_1d_sincos_pos_embed` (the project's one
    sin-cos formula): with ``half = dims // 2`` and log-spaced frequencies
    ``w_k = max_period ** (-k / half)``, ``k = 0..half-1`` (from 1 down to
    ``1 / max_period``), the embedding of ``v`` is ``[sin(v * w_0), ...,
    sin(v * w_{half-1}), cos(v * w_0), ..., cos(v * w_{half-1})]``. The
    table is computed in float64 on the device of ``values`` (no host
    synchronisation); gradients flow to ``values``.

    Args:
        values (Tensor): (B,) scalars (already scaled by the caller).
        dims (int): Output channels (even).
        max_period (float): Controls the lowest frequency.

    Returns:
        Tensor: (B, dims) float32 on the device of ``values``.
    """
    return get_1d_sincos_pos_embed(dims, values,
                                   temperature=max_period)  # (B, dims)


@MODELS.register_module()
class NoiseLevelEmbedding(BaseModule):
    """Embed the noise level sigma of each sample into the encoder width.

    ``sigma`` (B,) is multiplied by ``sigma_scale`` (default 1000, so that
    sigma in [0, 1] spans the same range as integer diffusion timesteps
    0..1000 and the high frequencies of the sinusoid are used), embedded by
    :func:`sinusoidal_embedding` into ``freq_dims`` channels (half sin,
    half cos, log-spaced frequencies), then passed through
    ``Linear(freq_dims, C) -> ReLU -> Linear(C, C)``.

    Args:
        embed_dims (int): Output width ``C`` (the encoder width).
        freq_dims (int): Channels of the sinusoidal embedding (even).
            Default 256.
        sigma_scale (float): Factor applied to sigma before the sinusoid.
            Default 1000. Use 1.0 to embed sigma directly.
        max_period (float): Lowest frequency is ``1 / max_period``.
            Default 10000.
        init_cfg (dict | list | None): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int,
                 freq_dims: int = 256,
                 sigma_scale: float = 1000.,
                 max_period: float = 10000.,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if freq_dims < 2 or freq_dims % 2:
            raise ValueError(
                f'freq_dims must be even and >= 2, got {freq_dims}')
        self.embed_dims = embed_dims
        self.freq_dims = freq_dims
        self.sigma_scale = float(sigma_scale)
        self.max_period = float(max_period)
        self.mlp = nn.Sequential(
            nn.Linear(freq_dims, embed_dims), nn.ReLU(inplace=True),
            nn.Linear(embed_dims, embed_dims))

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        """Embed noise levels.

        Args:
            sigma (Tensor): (B,) or (B, 1) noise levels.

        Returns:
            Tensor: (B, embed_dims).
        """
        if sigma.dim() == 2 and sigma.shape[1] == 1:
            sigma = sigma[:, 0]  # (B,)
        if sigma.dim() != 1:
            raise ValueError(
                f'sigma must be (B,) or (B, 1), got {tuple(sigma.shape)}')
        freq = sinusoidal_embedding(sigma * self.sigma_scale, self.freq_dims,
                                    self.max_period)  # (B, freq_dims)
        freq = freq.to(self.mlp[0].weight.dtype)
        return self.mlp(freq)  # (B, embed_dims)
