"""Supervised depth losses for fine-tuning (mmseg ``DepthEstimator`` heads).

Both losses take ``(pred, target)`` of the same shape, e.g. (B, 1, H, W) in
metres, as mmseg's depth heads call their ``loss_decode``; pixels whose
target is not finite or not above ``min_depth`` are ignored (0 = invalid in
every official depth encoding). They are drop-in replacements for mmseg's
``SiLogLoss`` in any mmseg depth head (``loss_name`` included).

Under DDP both are the loss of the **global** batch (1 process x batch 8 and
2 processes x batch 4 train identically), as every masked loss of mmrgbd
(:mod:`mmrgbd.models.losses.utils`).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmengine import dist

from mmrgbd.registry import MODELS
from .utils import global_count_mean


def valid_depth_mask(target: torch.Tensor,
                     min_depth: float = 0.) -> torch.Tensor:
    """Pixels with a real depth measurement: finite and ``> min_depth``.

    Args:
        target (Tensor): Ground-truth depth of any shape.
        min_depth (float): Values at or below it are invalid.

    Returns:
        Tensor: bool, same shape as ``target``.
    """
    return torch.isfinite(target) & (target > min_depth)


def _all_reduce(value: torch.Tensor, op: str) -> torch.Tensor:
    """All-reduce a detached copy over the default group (no-op without
    one)."""
    value = value.detach().clone()
    if dist.get_world_size() > 1:
        dist.all_reduce(value, op=op)
    return value


class _ValidDepthLoss(nn.Module):
    """Shared part of the depth losses: ``loss_name`` (mmseg), ``min_depth``
    and ``loss_weight``, and the valid-pixel mask."""

    def __init__(self, min_depth: float, loss_weight: float, loss_name: str):
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_" (it is '
                             f'then trained), got {loss_name!r}')
        self.min_depth = min_depth
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict (mmseg convention)."""
        return self._loss_name

    def _valid(self, pred: torch.Tensor, target: torch.Tensor,
               valid_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Check the shapes; bool mask of the pixels the loss uses."""
        if pred.shape != target.shape:
            raise ValueError(
                f'{type(self).__name__}: prediction {tuple(pred.shape)} and '
                f'target {tuple(target.shape)} differ in shape; resize the '
                f'prediction to the target first')
        valid = valid_depth_mask(target, self.min_depth)
        if valid_mask is not None:
            valid = valid & valid_mask.bool()
        return valid


@MODELS.register_module()
class BerHuLoss(_ValidDepthLoss):
    """Reverse Huber (berHu) loss of Laina et al. (3DV 2016), MultiMAE's NYUv2
    depth loss.

    With ``d = pred - target`` at the valid pixels::

        B(d) = |d|                    if |d| <  c
               (d^2 + c^2) / (2 c)    if |d| >= c
        c    = max(threshold * max |d|, min_c)    (no gradient through c)
        loss = loss_weight * mean over valid pixels of B(d)

    ``max |d|`` is taken over every valid pixel of the global batch (all
    DDP ranks); MultiMAE's official script takes it per GPU (its batch of
    128 is 2 GPUs x 64), i.e. the same rule for an undivided batch. B is
    continuous at ``|d| = c`` and positively homogeneous
    (``B(s d) = s B(d)`` for ``s > 0``, ``c`` scaling with ``d``), so the
    official loss on depth standardised by a constant std ``s`` equals this
    loss on metres divided by ``s`` (``loss_weight = 1 / s`` reproduces its
    value).

    Args:
        threshold (float): Fraction of the largest absolute error at which
            the loss turns quadratic. Defaults to 0.2.
        min_c (float): Lower bound of ``c``. Defaults to 1e-5 (official).
        min_depth (float): Targets at or below it are invalid. Defaults
            to 0.
        loss_weight (float): Factor of the loss. Defaults to 1.
        loss_name (str): Key in the loss dict. Defaults to
            ``'loss_berhu'``.
    """

    def __init__(self,
                 threshold: float = 0.2,
                 min_c: float = 1e-5,
                 min_depth: float = 0.,
                 loss_weight: float = 1.,
                 loss_name: str = 'loss_berhu'):
        super().__init__(min_depth, loss_weight, loss_name)
        if not 0 < threshold <= 1:
            raise ValueError(f'threshold must be in (0, 1], got {threshold}')
        self.threshold = threshold
        self.min_c = min_c

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """berHu loss over the valid pixels.

        Args:
            pred (Tensor): Predicted depth, e.g. (B, 1, H, W).
            target (Tensor): Ground truth of the same shape; invalid pixels
                are not finite or ``<= min_depth``.
            valid_mask (Tensor, optional): Extra bool mask of pixels to use.

        Returns:
            Tensor: Scalar; 0 with a finite gradient without valid pixels.
        """
        valid = self._valid(pred, target, valid_mask)
        diff = torch.where(valid, pred - target.nan_to_num(0.),
                           torch.zeros_like(pred))  # same shape as pred
        abs_diff = diff.abs()
        max_abs = _all_reduce(abs_diff.max() if abs_diff.numel() else
                              abs_diff.new_zeros(()), 'max')
        c = torch.clamp(self.threshold * max_abs, min=self.min_c)  # ()
        quadratic = (diff**2 + c**2) / (2 * c)
        per_pixel = torch.where(abs_diff < c, abs_diff, quadratic)
        per_pixel = torch.where(valid, per_pixel, torch.zeros_like(per_pixel))
        return self.loss_weight * global_count_mean(per_pixel.sum(),
                                                    valid.sum())


@MODELS.register_module()
class ScaleInvariantLogLoss(_ValidDepthLoss):
    """Scale-invariant log loss (Eigen et al. 2014), SimIPU's depth loss.

    With ``g = log(pred + eps) - log(target + eps)`` over the ``T`` valid
    pixels::

        loss = alpha * sqrt(mean(g^2) - lambda_ * mean(g)^2)

    as in AdaBins (``lambda_ = 0.85``, ``alpha = 10``; SimIPU App. C
    Eq. 9, whose ``+ lambda / T (sum g)^2`` is a typo for
    ``- lambda / T^2 (sum g)^2``: with ``+`` the loss would not be scale
    invariant). The population mean is used (AdaBins' ``torch.var`` is the
    unbiased one, a factor ``T / (T - 1)`` on the variance part).

    ``reduction='batch'`` pools every valid pixel of the batch into one
    value (AdaBins, SimIPU's released depth toolbox); ``'image'`` computes
    the value per image and averages over the images with valid pixels
    (mmseg's ``SiLogLoss``, which is this loss with ``lambda_=0.5,
    alpha=1, eps=0, reduction='image'``). Both are over the global batch
    under DDP: for ``'batch'`` the sums are all-reduced and each rank's loss
    carries exactly its share of the global gradient.

    Args:
        lambda_ (float): Weight of the squared mean, in [0, 1]. Defaults to
            0.85.
        alpha (float): Factor of the square root. Defaults to 10.
        eps (float): Added to prediction and target inside the logs;
            SimIPU's released code uses 1e-3, the paper's formula 0.
            Defaults to 1e-3. Predictions are clamped to at least 1e-6
            first (no gradient below): use a positive output activation.
        reduction (str): ``'batch'`` or ``'image'``. Defaults to ``'batch'``.
        min_depth (float): Targets at or below it are invalid. Defaults
            to 0.
        loss_weight (float): Extra factor. Defaults to 1.
        loss_name (str): Key in the loss dict. Defaults to
            ``'loss_silog'``.
    """

    REDUCTIONS = ('batch', 'image')

    def __init__(self,
                 lambda_: float = 0.85,
                 alpha: float = 10.,
                 eps: float = 1e-3,
                 reduction: str = 'batch',
                 min_depth: float = 0.,
                 loss_weight: float = 1.,
                 loss_name: str = 'loss_silog'):
        super().__init__(min_depth, loss_weight, loss_name)
        if not 0 <= lambda_ <= 1:
            raise ValueError(f'lambda_ must be in [0, 1] (the loss is a '
                             f'square root of a variance-like term), got '
                             f'{lambda_}')
        if reduction not in self.REDUCTIONS:
            raise ValueError(f'reduction must be one of {self.REDUCTIONS}, '
                             f'got {reduction!r}')
        self.lambda_ = lambda_
        self.alpha = alpha
        self.eps = eps
        self.reduction = reduction

    def _value(self, s0, s1, s2):
        """``alpha * sqrt(s2 / s0 - lambda_ (s1 / s0)^2)`` (clamped >= 0)."""
        n = s0.clamp(min=1.)
        var = (s2 / n - self.lambda_ * (s1 / n)**2).clamp(min=1e-12)
        return self.alpha * var.sqrt()

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Scale-invariant log loss over the valid pixels.

        Args:
            pred (Tensor): Predicted depth (B, ...), positive.
            target (Tensor): Ground truth of the same shape.
            valid_mask (Tensor, optional): Extra bool mask of pixels to use.

        Returns:
            Tensor: Scalar; 0 with a finite gradient without valid pixels.
        """
        valid = self._valid(pred, target, valid_mask)
        safe_target = torch.where(valid, target, torch.ones_like(target))
        g = torch.log(pred.clamp(min=1e-6) + self.eps) - torch.log(
            safe_target + self.eps)
        g = torch.where(valid, g, torch.zeros_like(g))  # same shape as pred
        validf = valid.to(g.dtype)
        if self.reduction == 'image':
            s0 = validf.flatten(1).sum(1)  # (B,)
            s1 = g.flatten(1).sum(1)  # (B,)
            s2 = (g**2).flatten(1).sum(1)  # (B,)
            has = s0 > 0  # (B,)
            per_image = torch.where(has, self._value(s0, s1, s2),
                                    torch.zeros_like(s1))  # (B,)
            return self.loss_weight * global_count_mean(
                per_image.sum(), has.sum())
        s0, s1, s2 = validf.sum(), g.sum(), (g**2).sum()
        if dist.get_world_size() == 1:
            if s0 == 0:
                return 0. * pred.sum()
            return self.loss_weight * self._value(s0, s1, s2)
        return self.loss_weight * self._ddp_batch_loss(s0, s1, s2, pred)

    def _ddp_batch_loss(self, s0, s1, s2, pred) -> torch.Tensor:
        """The pooled loss of the global batch on one of ``W`` DDP ranks.

        The value is the global loss ``L`` on every rank; the gradient is
        ``W`` times this rank's share of ``dL`` (DDP averages gradients over
        the ranks): with the global sums ``S0, S1, S2`` and
        ``V = S2 / S0 - lambda (S1 / S0)^2``,
        ``dL = alpha / (2 sqrt(V)) (dS2 / S0 - 2 lambda S1 / S0^2 dS1)``
        and this rank's ``dS1, dS2`` are the gradients of its own sums.
        """
        world_size = dist.get_world_size()
        S0, S1, S2 = (_all_reduce(s, 'sum') for s in (s0, s1, s2))
        if S0 == 0:
            return 0. * pred.sum()
        value = self._value(S0, S1, S2)  # () global, detached
        V = (value / self.alpha)**2
        share = self.alpha / (2 * V.sqrt()) * (
            s2 / S0 - 2 * self.lambda_ * S1 / S0**2 * s1)
        return value + world_size * (share - share.detach())
