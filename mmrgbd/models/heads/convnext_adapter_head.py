"""MultiMAE's ConvNeXt segmentation head as an mmseg decode head."""
import math
from typing import Tuple

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.convnext import ConvNeXtBlock
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from mmrgbd.registry import MODELS

__all__ = ['ConvNeXtAdapterHead', 'tokens_to_subpixel_map']


def tokens_to_subpixel_map(x: torch.Tensor, grid_size: Tuple[int, int],
                           preds_per_patch: int) -> torch.Tensor:
    """Reshape each token into a ``s x s`` block of a feature map.

    Token ``(i, j)`` of the ``(h, w)`` grid (row-major) holds
    ``s * s * c`` values with ``s = sqrt(preds_per_patch)``; value
    ``(a * s + b) * c + k`` becomes channel ``k`` of pixel
    ``(i * s + a, j * s + b)``. This is the layout of MultiMAE's
    ``ConvNeXtAdapter`` (``b n (p c) -> b (n p) c`` then
    ``b (nh nw ph pw) c -> b c (nh ph) (nw pw)``).

    Args:
        x (Tensor): (B, h * w, s * s * c) tokens.
        grid_size (tuple[int, int]): The token grid (h, w).
        preds_per_patch (int): ``s * s``, a square number.

    Returns:
        Tensor: (B, c, h * s, w * s).
    """
    B, N, D = x.shape
    h, w = grid_size
    s = math.isqrt(preds_per_patch)
    if s * s != preds_per_patch or D % preds_per_patch or N != h * w:
        raise ValueError(f'cannot reshape tokens {tuple(x.shape)} of grid '
                         f'{grid_size} into {preds_per_patch} sub-pixels')
    c = D // preds_per_patch
    x = x.reshape(B, h, w, s, s, c)  # (B, h, w, s, s, c)
    x = x.permute(0, 5, 1, 3, 2, 4)  # (B, c, h, s, w, s)
    return x.reshape(B, c, h * s, w * s)  # (B, c, h*s, w*s)


@MODELS.register_module()
class ConvNeXtAdapterHead(BaseDecodeHead):
    """ConvNeXt segmentation head of MultiMAE (Bachmann et al., ECCV 2022).

    Paper App. B.2: "we increase the dimensionality D of the output tokens
    with a linear projection, and then reshape the tokens to form a feature
    map of size H/4 x W/4 ... We then apply 4 ConvNeXt blocks on this feature
    map before upsampling it to full resolution using bilinear
    interpolation". With the official defaults (``embed_dims=6144``,
    ``preds_per_patch=16``) a 16-px token becomes a 4x4 block of 384
    channels (stride 4)::

        feature map (B, C_in, H/16, W/16) -> tokens (B, N, C_in)
        -> Linear(C_in, embed_dims)                  (B, N, 6144)
        -> 4x4 sub-pixels per token                  (B, 384, H/4, W/4)
        -> num_blocks x ConvNeXtBlock(384)           (B, 384, H/4, W/4)
        -> conv_seg (1x1 conv, 384 -> num_classes)   (B, K, H/4, W/4)

    mmseg's ``BaseDecodeHead`` then upsamples the logits bilinearly to the
    label size for the loss and to the image size for prediction. The blocks
    are mmpretrain's ``ConvNeXtBlock`` (7x7 depthwise conv, LayerNorm eps
    1e-6, 4x MLP with GELU, residual) without layer scale, as the official
    adapter. Multi-modal inputs: the backbone chooses the tokens (MultiMAE
    uses one modality's tokens, the RGB ones by default), see
    :class:`~mmrgbd.models.backbones.DenseMultiModalViT`; tokens of several
    modalities concatenated along the channels work with ``in_channels``
    = their sum.

    Init (as the official adapter): the projection and the blocks' linear
    layers truncated normal std 0.02 with zero bias; ``conv_seg`` as mmseg
    (normal std 0.01).

    Args:
        in_channels (int): Channels of the token map. Defaults to 768.
        num_classes (int): Classes.
        embed_dims (int): Width of the token projection. Defaults to 6144.
        preds_per_patch (int): Sub-pixels per token, a square number.
            Defaults to 16 (4x4).
        num_blocks (int): ConvNeXt blocks. Defaults to 4.
        drop_path_rate (float): Stochastic depth of the blocks. Defaults to
            0 (official).
        **kwargs: Other ``BaseDecodeHead`` arguments (``num_classes``,
            ``dropout_ratio`` (default 0: no dropout before ``conv_seg``,
            as the official head), ``loss_decode``, ``align_corners``,
            ``in_index``). ``channels`` is ``embed_dims //
            preds_per_patch``.
    """

    def __init__(self,
                 in_channels: int = 768,
                 embed_dims: int = 6144,
                 preds_per_patch: int = 16,
                 num_blocks: int = 4,
                 drop_path_rate: float = 0.,
                 dropout_ratio: float = 0.,
                 **kwargs) -> None:
        s = math.isqrt(preds_per_patch)
        if s * s != preds_per_patch:
            raise ValueError(f'preds_per_patch must be a square number, got '
                             f'{preds_per_patch}')
        if embed_dims % preds_per_patch:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by '
                             f'preds_per_patch {preds_per_patch}')
        if 'channels' in kwargs:
            raise ValueError('channels is embed_dims // preds_per_patch; do '
                             'not set it')
        super().__init__(
            in_channels=in_channels,
            channels=embed_dims // preds_per_patch,
            dropout_ratio=dropout_ratio,
            **kwargs)
        self.embed_dims = embed_dims
        self.preds_per_patch = preds_per_patch
        self.proj = nn.Linear(in_channels, embed_dims)
        self.blocks = nn.Sequential(*[
            ConvNeXtBlock(
                self.channels,
                drop_path_rate=drop_path_rate,
                layer_scale_init_value=0.) for _ in range(num_blocks)
        ])

    def init_weights(self) -> None:
        """Official init of the projection and the blocks' linear layers."""
        super().init_weights()
        for m in [self.proj, *self.blocks.modules()]:
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias)

    def forward(self, inputs) -> torch.Tensor:
        """Logits at stride ``patch / sqrt(preds_per_patch)``.

        Args:
            inputs (tuple[Tensor]): Backbone feature maps; ``in_index``
                selects one (B, C_in, h, w).

        Returns:
            Tensor: (B, num_classes, h * s, w * s).
        """
        x = self._transform_inputs(inputs)  # (B, C_in, h, w)
        h, w = x.shape[2:]
        x = x.flatten(2).transpose(1, 2)  # (B, h*w, C_in)
        x = self.proj(x)  # (B, h*w, embed_dims)
        x = tokens_to_subpixel_map(x, (h, w),
                                   self.preds_per_patch)  # (B, c, h*s, w*s)
        x = self.blocks(x)  # (B, c, h*s, w*s)
        return self.cls_seg(x)  # (B, K, h*s, w*s)
