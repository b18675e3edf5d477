"""ViTDet's simple feature pyramid: multi-scale maps from one ViT map."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.utils import LayerNorm2d

from mmrgbd.registry import MODELS


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Simple feature pyramid of ViTDet (Li et al., ECCV 2022, Fig. 2c).

    A plain ViT gives one map at stride ``s`` (16 for 16 px patches). Each
    pyramid level is made from that last map alone, without a top-down path:

    * ``4``: ConvTranspose 2x2/2 (C -> C/2), LayerNorm, GELU, ConvTranspose
      2x2/2 (C/2 -> C/4): stride s/4;
    * ``2``: ConvTranspose 2x2/2 (C -> C/2): stride s/2;
    * ``1``: the map itself: stride s;
    * ``0.5``: MaxPool 2x2/2: stride 2s;

    then per level a 1x1 conv to ``out_channels`` and a 3x3 conv, each
    without bias and followed by LayerNorm (channels). With
    ``num_outs = len(scale_factors) + 1`` the last level is max-pooled once
    more (kernel 1, stride 2; ViTDet's ``LastLevelMaxPool``, mmdet FPN's
    ``add_extra_convs=False``), giving the strides 4, 8, 16, 32, 64 that
    mmdet's RPN anchors and RoI extractors of Mask R-CNN expect.

    The convolutions are initialised as ViTDet (detectron2's
    ``c2_xavier_fill``: Kaiming-uniform with ``a=1``, zero bias).

    Args:
        in_channels (int): Channels C of the ViT map.
        out_channels (int): Channels of every output level.
        scale_factors (Sequence[float]): Levels to build, each one of
            ``4, 2, 1, 0.5``, from fine to coarse. Defaults to ViTDet's
            ``(4, 2, 1, 0.5)``.
        num_outs (int): ``len(scale_factors)`` or one more (extra max-pool
            level). Defaults to 5.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 num_outs: int = 5,
                 norm_eps: float = 1e-6,
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming',
                     layer='Conv2d',
                     a=1,
                     mode='fan_in',
                     nonlinearity='leaky_relu',
                     distribution='uniform')):
        super().__init__(init_cfg)
        if not scale_factors or any(s not in (4, 2, 1, 0.5)
                                    for s in scale_factors):
            raise ValueError(f'scale_factors must be a non-empty subset of '
                             f'(4, 2, 1, 0.5), got {tuple(scale_factors)}')
        if list(scale_factors) != sorted(scale_factors, reverse=True):
            raise ValueError(f'scale_factors must go from fine to coarse, '
                             f'got {tuple(scale_factors)}')
        if num_outs not in (len(scale_factors), len(scale_factors) + 1):
            raise ValueError(f'num_outs must be {len(scale_factors)} or '
                             f'{len(scale_factors) + 1}, got {num_outs}')
        if scale_factors[0] == 4 and in_channels % 4:
            raise ValueError(f'in_channels {in_channels} must be divisible '
                             f'by 4 for the 4x level')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale_factors = tuple(float(s) for s in scale_factors)
        self.num_outs = num_outs
        C = in_channels
        self.rescales = nn.ModuleList()
        self.lateral_convs = nn.ModuleList()
        self.output_convs = nn.ModuleList()
        for scale in self.scale_factors:
            if scale == 4:
                rescale = nn.Sequential(
                    nn.ConvTranspose2d(C, C // 2, 2, stride=2),
                    LayerNorm2d(C // 2, eps=norm_eps), nn.GELU(),
                    nn.ConvTranspose2d(C // 2, C // 4, 2, stride=2))
                dims = C // 4
            elif scale == 2:
                rescale = nn.ConvTranspose2d(C, C // 2, 2, stride=2)
                dims = C // 2
            elif scale == 1:
                rescale = nn.Identity()
                dims = C
            else:
                rescale = nn.MaxPool2d(kernel_size=2, stride=2)
                dims = C
            self.rescales.append(rescale)
            self.lateral_convs.append(
                nn.Sequential(
                    nn.Conv2d(dims, out_channels, 1, bias=False),
                    LayerNorm2d(out_channels, eps=norm_eps)))
            self.output_convs.append(
                nn.Sequential(
                    nn.Conv2d(out_channels, out_channels, 3, padding=1,
                              bias=False),
                    LayerNorm2d(out_channels, eps=norm_eps)))

    def forward(self, inputs: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, ...]:
        """Build the pyramid from the last backbone map.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs; only the last,
                (B, C, h, w), is used.

        Returns:
            tuple[Tensor]: ``num_outs`` maps (B, out_channels, h_i, w_i),
            from the finest (4h, 4w) to the coarsest.
        """
        x = inputs[-1]  # (B, C, h, w)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'expected a (B, {self.in_channels}, h, w) map, '
                             f'got {tuple(x.shape)}')
        outs = []
        for rescale, lateral, output in zip(self.rescales,
                                            self.lateral_convs,
                                            self.output_convs):
            y = rescale(x)  # (B, C_s, h * s, w * s)
            outs.append(output(lateral(y)))  # (B, out, h * s, w * s)
        if self.num_outs > len(outs):
            outs.append(F.max_pool2d(outs[-1], kernel_size=1,
                                     stride=2))  # (B, out, ceil(h'/2), ..)
        return tuple(outs)
