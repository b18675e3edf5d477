"""Per-step multi-label classifier with a binary cross-entropy loss."""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmrgbd.registry import MODELS
from ..data_preprocessors.clip_sequence_data_preprocessor import valid_steps


@MODELS.register_module()
class MultiLabelSequenceHead(BaseModule):
    """Dropout + linear layer at every step; sigmoid BCE over the classes.

    The loss is the mean of the per-class binary cross-entropy with logits
    over every valid (step, class) pair of the batch (padded steps excluded),
    logged as ``loss_cls``; :meth:`predict` gives each sample the sigmoid
    scores of its own steps.

    Args:
        in_channels (int): Input width D.
        num_classes (int): Number of classes K.
        dropout_ratio (float): Dropout before the linear layer. Defaults to
            0.
        loss_weight (float): Multiplies the loss. Defaults to 1.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 dropout_ratio: float = 0.,
                 loss_weight: float = 1.,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.loss_weight = loss_weight
        self.dropout = nn.Dropout(dropout_ratio)
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, K) of features (B, T, D)."""
        return self.fc_cls(self.dropout(x))  # (B, T, K)

    @staticmethod
    def _targets(data_samples, shape) -> torch.Tensor:
        B, T, K = shape
        target = torch.zeros(shape)  # (B, T, K)
        for i, sample in enumerate(data_samples):
            gt = sample.gt_score  # (T_i, K)
            if gt.dim() != 2 or gt.shape[1] != K:
                raise ValueError(f'gt_score of {sample.metainfo.get("video")}'
                                 f' has shape {tuple(gt.shape)}, expected '
                                 f'(T, {K})')
            target[i, :gt.shape[0]] = gt
        return target

    def loss(self, x: torch.Tensor, lengths: torch.Tensor,
             data_samples: List) -> dict:
        """``loss_cls``: masked mean BCE of the logits of ``x``.

        Args:
            x (Tensor): (B, T_max, D) features.
            lengths (Tensor): (B,) valid steps.
            data_samples (list): Samples with ``gt_score`` (T_i, K).
        """
        logits = self(x)  # (B, T_max, K)
        target = self._targets(data_samples, logits.shape).to(logits)
        for sample, n in zip(data_samples, lengths.tolist()):
            if sample.gt_score.shape[0] != n:
                raise ValueError(f'{sample.metainfo.get("video")}: '
                                 f'{sample.gt_score.shape[0]} labels for '
                                 f'{n} clips')
        mask = valid_steps(lengths, logits.shape[1])  # (B, T_max)
        bce = F.binary_cross_entropy_with_logits(
            logits, target, reduction='none')  # (B, T_max, K)
        loss = bce[mask].mean()  # mean over valid steps and classes
        return dict(loss_cls=self.loss_weight * loss)

    def predict(self, x: torch.Tensor, lengths: torch.Tensor,
                data_samples: List) -> List:
        """Set ``pred_score`` (T_i, K) sigmoid scores on every sample."""
        scores = self(x).sigmoid()  # (B, T_max, K)
        for sample, score, n in zip(data_samples, scores, lengths.tolist()):
            sample.pred_score = score[:n].detach()  # (T_i, K)
        return data_samples
