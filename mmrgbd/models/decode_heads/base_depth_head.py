"""Common part of mmrgbd's depth heads for mmseg's ``DepthEstimator``."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from mmrgbd.registry import MODELS, build_in_scope

#: Output activations: raw value -> depth (metres).
ACTIVATIONS = ('linear', 'relu', 'sigmoid')


class BaseDepthHead(BaseDecodeHead):
    """A decode head that regresses one depth channel, for mmseg's
    ``DepthEstimator`` (like mmseg's ``VPDDepthHead``).

    Subclasses build their layers and implement ``forward(inputs)`` ending
    with :meth:`to_depth`. This base supplies what the estimator uses:
    ``loss_by_feat`` (prediction resized bilinearly to the ground truth,
    then every ``loss_decode``, summed per ``loss_name``), the inherited
    ``predict_by_feat`` (resize to the input / padded size), and
    ``num_classes = out_channels = 1``. mmseg's segmentation machinery of
    ``BaseDecodeHead`` (``conv_seg``, dropout, sampler, ignore index) is not
    built.

    Args:
        loss_decode (dict | Sequence[dict]): Loss config(s), called as
            ``loss(pred, gt)`` with (B, 1, H, W) maps in metres and holding
            a ``loss_name``: mmrgbd's ``BerHuLoss`` /
            ``ScaleInvariantLogLoss``, or mmseg's ``SiLogLoss`` written as
            ``type='mmseg.SiLogLoss'``.
        output_activation (str): ``'linear'`` (the raw value, MultiMAE's
            DPT), ``'relu'`` (``relu(x) + min_depth``) or ``'sigmoid'``
            (``sigmoid(x) * max_depth``). Defaults to ``'linear'``.
        min_depth (float): Offset of ``'relu'``. Defaults to 0.
        max_depth (float, optional): Scale of ``'sigmoid'`` (required
            there).
        align_corners (bool): Of the bilinear resizes. Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """

    num_classes = 1
    out_channels = 1
    input_transform = None

    def __init__(self,
                 loss_decode: Union[dict, Sequence[dict]],
                 output_activation: str = 'linear',
                 min_depth: float = 0.,
                 max_depth: Optional[float] = None,
                 align_corners: bool = False,
                 init_cfg: Optional[dict] = None):
        # BaseDecodeHead.__init__ builds segmentation parts; skip it
        BaseModule.__init__(self, init_cfg=init_cfg)
        if output_activation not in ACTIVATIONS:
            raise ValueError(f'output_activation must be one of '
                             f'{ACTIVATIONS}, got {output_activation!r}')
        if output_activation == 'sigmoid' and not (max_depth or 0) > 0:
            raise ValueError(f"output_activation='sigmoid' needs max_depth > "
                             f'0, got {max_depth}')
        self.output_activation = output_activation
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.align_corners = align_corners
        if isinstance(loss_decode, dict):
            self.loss_decode = build_in_scope(MODELS, loss_decode)
        elif isinstance(loss_decode, (list, tuple)):
            self.loss_decode = nn.ModuleList(
                build_in_scope(MODELS, cfg) for cfg in loss_decode)
        else:
            raise TypeError(f'loss_decode must be a dict or a sequence of '
                            f'dicts, got {type(loss_decode).__name__}')
        for loss in self._losses():
            if not hasattr(loss, 'loss_name'):
                raise TypeError(f'{type(loss).__name__} has no loss_name; '
                                f'depth heads need mmseg-style losses')

    def extra_repr(self) -> str:
        """Printed by ``repr`` (mmseg's refers to segmentation fields)."""
        return (f'output_activation={self.output_activation}, '
                f'align_corners={self.align_corners}')

    def _losses(self) -> List[nn.Module]:
        if isinstance(self.loss_decode, nn.ModuleList):
            return list(self.loss_decode)
        return [self.loss_decode]

    def to_depth(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the output activation to the raw (B, 1, H, W) map."""
        if self.output_activation == 'relu':
            return F.relu(x) + self.min_depth
        if self.output_activation == 'sigmoid':
            return torch.sigmoid(x) * self.max_depth
        return x

    def _stack_batch_gt(self, batch_data_samples) -> torch.Tensor:
        """(B, 1, H, W) ground-truth depth of the batch."""
        return torch.stack(
            [ds.gt_depth_map.data for ds in batch_data_samples], dim=0)

    def loss_by_feat(self, pred_depth: torch.Tensor,
                     batch_data_samples) -> dict:
        """Depth losses of the prediction against ``gt_depth_map``.

        Args:
            pred_depth (Tensor): (B, 1, h, w) output of ``forward``.
            batch_data_samples (list[SegDataSample]): With ``gt_depth_map``
                (1, H, W) in metres.

        Returns:
            dict[str, Tensor]: ``{loss_name: value}``.
        """
        gt = self._stack_batch_gt(batch_data_samples)  # (B, 1, H, W)
        pred = F.interpolate(
            pred_depth, size=gt.shape[2:], mode='bilinear',
            align_corners=self.align_corners)  # (B, 1, H, W)
        losses = dict()
        for loss in self._losses():
            value = loss(pred, gt)
            losses[loss.loss_name] = losses.get(loss.loss_name, 0) + value
        return losses
