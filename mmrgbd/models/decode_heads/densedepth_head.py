"""U-shaped upsampling depth decoder with skip connections (SimIPU's KITTI
monocular-depth baseline)."""
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from mmrgbd.registry import MODELS
from .base_depth_head import BaseDepthHead


class SkipUpsampleBlock(nn.Module):
    """Upsample to the skip map, concatenate, two 3x3 conv-norm-act.

    The ``UpSampleBN`` block of AdaBins' decoder: ``x`` is resized
    bilinearly (``align_corners=True``) to the size of ``skip``, the two
    are concatenated along channels and pass two ``ConvModule`` 3x3.

    Args:
        in_channels (int): Channels of ``x`` plus those of ``skip``.
        out_channels (int): Output channels.
        norm_cfg (dict, optional): Norm of both convs.
        act_cfg (dict, optional): Activation of both convs.
    """

    def __init__(self, in_channels: int, out_channels: int, norm_cfg,
                 act_cfg):
        super().__init__()
        self.conv1 = ConvModule(in_channels, out_channels, 3, padding=1,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(out_channels, out_channels, 3, padding=1,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """``(B, C_x, h, w), (B, C_s, H, W) -> (B, out_channels, H, W)``."""
        x = F.interpolate(x, size=skip.shape[2:], mode='bilinear',
                          align_corners=True)  # (B, C_x, H, W)
        x = torch.cat([x, skip], dim=1)  # (B, C_x + C_s, H, W)
        return self.conv2(self.conv1(x))


@MODELS.register_module()
class DenseDepthHead(BaseDepthHead):
    """The U-shaped decoder of SimIPU's monocular depth baseline (App. C).

    "A standard ResNet-50 encoder and an upsampling decoder (AdaBins).
    Skip connections are applied to consolidate feature maps from higher
    resolutions. Therefore, it outputs depth maps with half the spatial
    resolution." With the five maps of a ResNet-50 at strides 2 (the stem,
    64 ch: see :class:`~mmrgbd.models.backbones.StemOutputResNet`), 4, 8,
    16, 32 (256 ... 2048 ch), shallow to deep::

        x = conv1x1(c32)                              # up_channels[-1]
        x = up(x, c16) -> up(x, c8) -> up(x, c4) -> up(x, c2)
        depth = activation(conv3x3(x))                # stride 2

    with ``up`` a :class:`SkipUpsampleBlock` to ``up_channels[i]`` (AdaBins'
    ``DecoderBN``: 2048 -> 1024, 512, 256, 128 for ResNet-50). The depth is
    upsampled to the input size by the loss and at inference (the paper:
    "after upsampling the prediction depth maps to the same resolution as
    the input images"). The defaults follow AdaBins' decoder (batch norm,
    LeakyReLU 0.01); SimIPU's released depth toolbox builds the same
    channels with ``norm_cfg=None`` and ReLU. The output activation (not
    stated in the paper) is that toolbox's ``sigmoid * max_depth``.
    (AdaBins' 1x1 bottleneck conv also pads by 1 pixel, which the following
    resize undoes; it is a plain 1x1 conv here.)

    Args:
        in_channels (Sequence[int]): Channels of the backbone maps, shallow
            to deep. Defaults to ResNet-50's (64, 256, 512, 1024, 2048).
        up_channels (Sequence[int]): Output channels per level, shallow to
            deep; the last is the bottleneck conv's. Defaults to
            (128, 256, 512, 1024, 2048).
        norm_cfg (dict, optional): Norm of the upsampling convs. Defaults
            to BN.
        act_cfg (dict, optional): Their activation. Defaults to
            LeakyReLU(0.01).
        loss_decode (dict | Sequence[dict]): Defaults to
            ``ScaleInvariantLogLoss`` (lambda 0.85, alpha 10).
        output_activation (str): Defaults to ``'sigmoid'``.
        max_depth (float): Defaults to 80 (KITTI).
        **kwargs: ``min_depth``, ``align_corners``, ``init_cfg`` of
            :class:`BaseDepthHead`.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 256, 512, 1024, 2048),
                 up_channels: Sequence[int] = (128, 256, 512, 1024, 2048),
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='LeakyReLU', negative_slope=0.01),
                 loss_decode: Union[dict, Sequence[dict]] = dict(
                     type='ScaleInvariantLogLoss'),
                 output_activation: str = 'sigmoid',
                 max_depth: float = 80.,
                 **kwargs):
        super().__init__(loss_decode=loss_decode,
                         output_activation=output_activation,
                         max_depth=max_depth, **kwargs)
        in_channels, up_channels = list(in_channels), list(up_channels)
        if len(in_channels) != len(up_channels) or len(in_channels) < 2:
            raise ValueError(f'in_channels {in_channels} and up_channels '
                             f'{up_channels} must have the same length >= 2')
        self.in_channels = in_channels
        self.channels = up_channels[0]
        self.bottleneck = nn.Conv2d(in_channels[-1], up_channels[-1], 1)
        # from deep to shallow: level i fuses the running map with skip i
        self.up_blocks = nn.ModuleList(
            SkipUpsampleBlock(up_channels[i + 1] + in_channels[i],
                              up_channels[i], norm_cfg, act_cfg)
            for i in reversed(range(len(in_channels) - 1)))
        self.conv_depth = nn.Conv2d(up_channels[0], 1, 3, padding=1)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Depth from the backbone maps.

        Args:
            inputs (Sequence[Tensor]): ``len(in_channels)`` maps, shallow
                (stride 2) to deep (stride 32), (B, in_channels[i], ...).

        Returns:
            Tensor: (B, 1, h_0, w_0) depth at the size of the shallowest
            map (half the input size).
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'DenseDepthHead expects {len(self.in_channels)}'
                             f' backbone maps (stem and stages, shallow to '
                             f'deep), got {len(inputs)}')
        x = self.bottleneck(inputs[-1])  # (B, up[-1], H/32, W/32)
        skips = list(inputs[:-1])[::-1]  # deep to shallow
        for block, skip in zip(self.up_blocks, skips):
            x = block(x, skip)  # (B, up[i], size of skip i)
        return self.to_depth(self.conv_depth(x))  # (B, 1, H/2, W/2)
