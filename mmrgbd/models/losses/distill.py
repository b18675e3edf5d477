"""Global-feature distillation from a frozen teacher encoder."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmrgbd.registry import MODELS


def masked_max_pool(tokens: torch.Tensor,
                    visible: Optional[torch.Tensor]) -> torch.Tensor:
    """Max over the tokens an encoder saw, per channel.

    Args:
        tokens (Tensor): (B, N, C) full-layout tokens (zeros at hidden
            positions).
        visible (Tensor | None): (B, N) bool, True = seen; ``None`` = all.

    Returns:
        Tensor: (B, C). Rows of samples without any visible token are
        ``-inf``; callers must drop them.
    """
    if visible is None:
        return tokens.max(dim=1).values  # (B, C)
    hidden = ~visible.bool()[:, :, None]  # (B, N, 1)
    return tokens.masked_fill(hidden, float('-inf')).max(dim=1).values


@MODELS.register_module()
class GlobalFeatureDistillLoss(nn.Module):
    """Smooth-L1 between max-pooled student and teacher encoder features.

    For each modality ``m``, ``f_m = max over tokens`` (channel-wise) of the
    encoder output, taken over the tokens that encoder actually saw: the
    student's ``visible`` tokens, and the teacher's ``visible`` tokens
    (``ProgressiveStage2`` gives the teacher the student's masks by default,
    so both max-pools cover the same positions; with its
    ``teacher_view='full'`` the teacher sees every token; ``visible``
    missing / ``None`` = all). The loss is::

        loss = loss_weight * sum_m smooth_l1_loss(f_m^student, f_m^teacher,
                                                  beta=beta, reduction='mean')

    i.e. torch's ``smooth_l1_loss`` with ``beta = 2.0`` by default and
    **mean** reduction over the (B, C) elements, **summed** over the
    modalities. The teacher features are detached: no gradient reaches the
    teacher.

    Samples in which the student saw no token of a modality have no pooled
    feature; they are left out of that modality's mean. If no sample
    remains, that modality contributes 0 (still on the graph).

    Args:
        modalities (Sequence[str]): Modalities to sum over. Default
            ``('rgb', 'depth')``.
        beta (float): Smooth-L1 threshold. Default 2.0.
        loss_weight (float): Multiplies the loss. Default 1.0.
    """

    def __init__(self,
                 modalities: Sequence[str] = ('rgb', 'depth'),
                 beta: float = 2.0,
                 loss_weight: float = 1.0):
        super().__init__()
        self.modalities = tuple(modalities)
        self.beta = float(beta)
        self.loss_weight = float(loss_weight)

    def forward(self, student: dict, teacher: dict) -> torch.Tensor:
        """Compute the distillation loss.

        Args:
            student (dict): Student backbone output: ``tokens``
                ``{modality: (B, N, C)}`` and ``visible``
                ``{modality: (B, N) bool}``.
            teacher (dict): Teacher backbone output with the same keys
                (``visible`` optional).

        Returns:
            Tensor: Scalar loss.
        """
        s_vis = student.get('visible') or {}
        t_vis = teacher.get('visible') or {}
        total = 0.
        for mod in self.modalities:
            s_tok = student['tokens'][mod]
            t_tok = teacher['tokens'][mod].detach()
            if s_tok.shape[0] != t_tok.shape[0] or \
                    s_tok.shape[-1] != t_tok.shape[-1]:
                raise ValueError(
                    f'{mod}: student tokens {tuple(s_tok.shape)} and teacher '
                    f'tokens {tuple(t_tok.shape)} differ in batch or width')
            f_s = masked_max_pool(s_tok, s_vis.get(mod))  # (B, C)
            f_t = masked_max_pool(t_tok, t_vis.get(mod))  # (B, C)
            keep = self._seen_any(s_tok, s_vis.get(mod)) & self._seen_any(
                t_tok, t_vis.get(mod))  # (B,)
            if not bool(keep.any()):
                total = total + s_tok.sum() * 0.
                continue
            total = total + F.smooth_l1_loss(
                f_s[keep], f_t[keep], beta=self.beta, reduction='mean')
        return total * self.loss_weight

    @staticmethod
    def _seen_any(tokens, visible):
        """(B,) bool: the encoder saw at least one token of the sample."""
        if visible is None:
            return torch.full((tokens.shape[0], ), tokens.shape[1] > 0,
                              dtype=torch.bool, device=tokens.device)
        return visible.bool().any(dim=1)
