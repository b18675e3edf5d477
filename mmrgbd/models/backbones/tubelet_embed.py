"""Video tubelet patch embedding (Conv3d over t_p x p x p tubelets)."""
from typing import Optional, Sequence, Tuple

import torch
from mmcv.cnn.bricks.transformer import PatchEmbed

from mmrgbd.registry import MODELS
from .patch_embeds import _check_divisible, _xavier_as_linear


@MODELS.register_module()
class TubeletPatchEmbed(PatchEmbed):
    """Non-overlapping Conv3d projection of a clip into tubelet tokens.

    mmcv's ``PatchEmbed`` with ``conv_type='Conv3d'`` and kernel = stride =
    ``(tubelet_size, patch_size, patch_size)`` (e.g. 2x16x16 over a 16-frame
    clip gives an 8x(H/16)x(W/16) grid), no padding. Tokens are in time-major
    row-major order, the order of :func:`mmrgbd.models.utils.patchify` with
    ``t_p=tubelet_size`` and of the tube maskers; the position embedding of
    such a grid is :func:`mmrgbd.models.utils.get_3d_sincos_pos_embed`.
    Follows the patch-embedding interface of
    :mod:`mmrgbd.models.backbones.patch_embeds` (``forward`` returns tokens
    and the grid, ``get_grid_size``, ``projection``), so a modality of
    ``MultiModalViT`` can use it with ``type='TubeletPatchEmbed'``.

    Args:
        in_channels (int): Input channels (3 for RGB, 1 for depth).
            Defaults to 3.
        embed_dims (int): Token width. Defaults to 768.
        patch_size (int): Spatial patch side in pixels. Defaults to 16.
        tubelet_size (int): Frames per tubelet. Defaults to 2.
        num_frames (int): Configured clip length T, used by
            :meth:`get_grid_size` when it is given only ``(H, W)`` (as
            ``MultiModalViT`` does with its ``img_size``). Defaults to 16.
        bias (bool): Projection bias. Defaults to True.
        init_cfg (dict, optional): Init config; without one the projection
            is initialised like a linear layer (xavier uniform on the
            flattened kernel, as MAE / VideoMAE).
    """

    def __init__(self,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 num_frames: int = 16,
                 bias: bool = True,
                 init_cfg: Optional[dict] = None):
        kernel = (tubelet_size, patch_size, patch_size)
        super().__init__(
            in_channels=in_channels,
            embed_dims=embed_dims,
            conv_type='Conv3d',
            kernel_size=kernel,
            stride=kernel,
            padding=(0, 0, 0),
            dilation=(1, 1, 1),
            bias=bias,
            init_cfg=init_cfg)
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.num_frames = num_frames

    def get_grid_size(self,
                      spatial_shape: Sequence[int]) -> Tuple[int, int, int]:
        """Token grid ``(T / t_p, H / p, W / p)`` of a clip.

        Args:
            spatial_shape (Sequence[int]): ``(T, H, W)``, or ``(H, W)`` for
                a clip of the configured ``num_frames``.

        Returns:
            tuple[int, int, int]: ``(t, h, w)``.
        """
        if len(spatial_shape) == 2:
            spatial_shape = (self.num_frames, *spatial_shape)
        if len(spatial_shape) != 3:
            raise ValueError(f'{type(self).__name__}: expects a (T, H, W) '
                             f'or (H, W) shape, got {tuple(spatial_shape)}')
        T, H, W = (int(s) for s in spatial_shape)
        if T % self.tubelet_size:
            raise ValueError(f'{type(self).__name__}: {T} frames are not '
                             f'divisible into tubelets of '
                             f'{self.tubelet_size}')
        h, w = _check_divisible(type(self).__name__, (H, W), self.patch_size)
        return T // self.tubelet_size, h, w

    def init_weights(self) -> None:
        """MAE-style (xavier-as-linear) unless an init config is given."""
        if self.init_cfg:
            super().init_weights()
        else:
            _xavier_as_linear(self.projection)

    def forward(self, x: torch.Tensor):
        """Project tubelets.

        Args:
            x (Tensor): (B, C, T, H, W).

        Returns:
            tuple[Tensor, tuple[int, int, int]]: tokens (B, t*h*w, C_out)
            and ``(t, h, w)``.
        """
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects (B, '
                             f'{self.in_channels}, T, H, W), got '
                             f'{tuple(x.shape)}')
        grid = self.get_grid_size(x.shape[-3:])
        x, _ = super().forward(x)  # (B, t*h*w, C)
        return x, grid
