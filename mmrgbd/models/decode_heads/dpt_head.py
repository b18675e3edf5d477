"""DPT depth head (Ranftl et al., ICCV 2021) as used by MultiMAE, M3 3D and
Progressive for NYUv2 depth."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.dpt_head import (FeatureFusionBlock,
                                                ReassembleBlocks)

from mmrgbd.registry import MODELS
from .base_depth_head import BaseDepthHead


@MODELS.register_module()
class DPTHead(BaseDepthHead):
    """Dense Prediction Transformer head regressing depth from four ViT
    layers.

    MultiMAE (App. B.3) decodes layers [3, 6, 9, 12] of a ViT-B/16 (the
    backbone's ``out_indices=(2, 5, 8, 11)``, without the final norm) into a
    depth map; M3 3D and Progressive follow it. The four maps (B, C, h, w)
    at stride ``p`` (the patch size) go through:

    1. **reassemble** (mmseg's ``ReassembleBlocks``, readout ``'ignore'``:
       the global token is dropped, as MultiMAE): a 1x1 conv to
       ``post_process_channels[i]``, then resampling to strides p/4, p/2, p
       and 2p (4x4 / 2x2 transposed convs, identity, 3x3 stride-2 conv);
    2. a 3x3 conv (no bias) of each to ``channels``;
    3. **fusion** (mmseg's ``FeatureFusionBlock``, RefineNet-style), from
       the coarsest map: ``path = up2(rcu2(path + rcu1(skip)))`` then a 1x1
       conv, with pre-activation residual conv units ``rcu`` and bilinear
       x2 upsampling (``align_corners=True``); the coarsest block has no
       ``rcu1``. The result is at stride p/8;
    4. the depth head of DPT's ``DPTDepthModel`` (MultiMAE's
       ``head_type='regression'``): 3x3 conv to ``channels // 2``, bilinear
       x2, 3x3 conv to 32, ReLU, 1x1 conv to 1 (full input resolution for
       p = 16), then ``output_activation`` (``'linear'`` in MultiMAE).

    Differences from DPT / MultiMAE's adapter: mmseg's residual units have
    no conv bias (DPT's have one when batch norm is off: 2 x 256 values per
    unit, 3.6k parameters in all), and the fusion blocks' skip input is
    resized to the running path when their sizes differ (inputs whose side
    is not a multiple of 32 px); for 256 x 256 inputs the sizes agree.

    Args:
        in_channels (int): Width of the ViT features. Defaults to 768.
        post_process_channels (Sequence[int]): Reassembled widths. Defaults
            to (96, 192, 384, 768) (DPT / MultiMAE for ViT-B).
        channels (int): Fusion width. Defaults to 256.
        in_index (Sequence[int]): Which backbone outputs to use, shallow to
            deep. Defaults to (0, 1, 2, 3).
        norm_cfg (dict, optional): Norm of the residual units; None (no
            norm) as DPT's depth model and MultiMAE. Defaults to None.
        act_cfg (dict): Activation of the residual units. Defaults to a
            non-inplace ReLU.
        loss_decode (dict | Sequence[dict]): Defaults to mmrgbd's
            ``BerHuLoss`` (MultiMAE).
        **kwargs: ``output_activation``, ``min_depth``, ``max_depth``,
            ``align_corners``, ``init_cfg`` of :class:`BaseDepthHead`.
    """

    def __init__(self,
                 in_channels: int = 768,
                 post_process_channels: Sequence[int] = (96, 192, 384, 768),
                 channels: int = 256,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = dict(type='ReLU', inplace=False),
                 loss_decode: Union[dict, Sequence[dict]] = dict(
                     type='BerHuLoss'),
                 **kwargs):
        super().__init__(loss_decode=loss_decode, **kwargs)
        post_process_channels = list(post_process_channels)
        if len(post_process_channels) != 4 or len(in_index) != 4:
            raise ValueError(f'DPTHead reassembles exactly 4 layers; got '
                             f'post_process_channels={post_process_channels}'
                             f' and in_index={tuple(in_index)}')
        self.in_channels = in_channels
        self.channels = channels
        self.in_index = tuple(in_index)
        self.reassemble_blocks = ReassembleBlocks(
            in_channels, post_process_channels, readout_type='ignore')
        self.convs = nn.ModuleList(
            ConvModule(c, channels, 3, padding=1, act_cfg=None, bias=False)
            for c in post_process_channels)
        self.fusion_blocks = nn.ModuleList(
            FeatureFusionBlock(channels, act_cfg, norm_cfg)
            for _ in post_process_channels)
        # the coarsest block fuses nothing: it has no skip unit
        self.fusion_blocks[0].res_conv_unit1 = None
        self.depth_head = nn.Sequential(
            nn.Conv2d(channels, channels // 2, 3, padding=1),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True),
            nn.Conv2d(channels // 2, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 1, 1),
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Depth from the ViT feature maps.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, each
                (B, in_channels, h, w) (a ViT with ``out_type='featmap'``).

        Returns:
            Tensor: (B, 1, 16 * h, 16 * w) depth (the input size for 16 px
            patches; metres with a linear output, the unit of the
            training target).
        """
        feats = [inputs[i] for i in self.in_index]
        for f in feats:
            if f.dim() != 4 or f.shape[1] != self.in_channels:
                raise ValueError(
                    f'DPTHead expects (B, {self.in_channels}, h, w) feature '
                    f'maps (a ViT with out_type="featmap"), got '
                    f'{tuple(f.shape)}')
        # readout 'ignore': no class token is passed
        # (B, C_i, 4h, 4w), (B, C_i, 2h, 2w), (B, C_i, h, w), (B, C_i, h/2,
        # w/2) with C_i = post_process_channels[i]
        feats = self.reassemble_blocks([(f, None) for f in feats])
        # (B, channels, ...) each, at the same strides
        feats = [conv(f) for conv, f in zip(self.convs, feats)]
        path = self.fusion_blocks[0](feats[-1])  # (B, channels, h, w)
        for i in range(1, len(self.fusion_blocks)):
            # (B, channels, 2h, 2w), then 4h x 4w, then 8h x 8w
            path = self.fusion_blocks[i](path, feats[-(i + 1)])
        return self.to_depth(self.depth_head(path))  # (B, 1, 16h, 16w)
