"""Masked reconstruction losses in patch layout (MAE / Mask3D / MultiMAE).

All losses work on the row-major patch layout of
:func:`mmrgbd.models.utils.patchify`: a prediction of ``(B, N, p*p*C)`` and a
target of the same shape, plus the per-token visibility of the backbone
(``True`` = the token was given to the encoder).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmrgbd.registry import MODELS
from ..utils import unpatchify
from .utils import global_count_mean

_ON_CHOICES = ('masked', 'visible', 'all')
_REDUCTIONS = ('global', 'per_sample')


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f'reduction must be one of {_REDUCTIONS}, got '
                         f'{reduction!r}')


def reduce_counted(err: torch.Tensor, counted: torch.Tensor,
                   reduction: str) -> torch.Tensor:
    """Mean of ``err`` over the ``counted`` entries, across DDP ranks.

    * ``'global'``: the sum of ``err`` over every counted entry of the batch
      divided by their number (samples with more counted entries weigh
      more).
    * ``'per_sample'``: the mean over each sample's counted entries, then the
      mean over the samples that have at least one (MultiMAE's official
      reduction: per-sample mean, then ``nanmean`` over the batch).

    Both divide by the count over all ranks (:func:`global_count_mean`):
    under DDP the trained loss is the single-process loss of the global
    batch.

    Args:
        err (Tensor): Per-entry losses (B, ...); uncounted entries hold 0.
        counted (Tensor): Bool of the same shape as ``err``.
        reduction (str): ``'global'`` or ``'per_sample'``.

    Returns:
        Tensor: Scalar; 0 with a finite gradient when nothing is counted.
    """
    if reduction == 'global':
        return global_count_mean(err.sum(), counted.sum())
    per_sum = err.flatten(1).sum(1)  # (B,)
    per_count = counted.flatten(1).sum(1)  # (B,)
    has = per_count > 0  # (B,)
    per_mean = per_sum / per_count.clamp(min=1).to(per_sum.dtype)  # (B,)
    per_mean = torch.where(has, per_mean, torch.zeros_like(per_mean))
    return global_count_mean(per_mean.sum(), has.sum())


def _select_tokens(visible: Optional[torch.Tensor], on: str, shape: Tuple,
                   device) -> torch.Tensor:
    """Bool (B, N) of the tokens a loss is computed on."""
    if on == 'all':
        return torch.ones(shape, dtype=torch.bool, device=device)
    if visible is None:
        raise ValueError(f"on='{on}' needs the visible mask, got None")
    if tuple(visible.shape) != tuple(shape):
        raise ValueError(f'visible has shape {tuple(visible.shape)}, '
                         f'expected {tuple(shape)} (B, N)')
    visible = visible.bool()
    return ~visible if on == 'masked' else visible


def masked_patch_stats(target: torch.Tensor,
                       valid: Optional[torch.Tensor] = None,
                       eps: float = 1e-6) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-patch mean and ``sqrt(var + eps)`` over the valid values.

    The variance is the population variance (``unbiased=False``: divided by
    the number of valid values of the patch). A patch without any valid value
    gets mean 0 and std ``sqrt(eps)``.

    Args:
        target (Tensor): Patches (B, N, D).
        valid (Tensor, optional): Bool (B, N, D); None means all valid.
        eps (float): Added to the variance. Defaults to 1e-6.

    Returns:
        tuple[Tensor, Tensor]: mean and std, each (B, N, 1).
    """
    if valid is None:
        valid = torch.ones_like(target, dtype=torch.bool)
    w = valid.to(target.dtype)
    t = torch.where(valid, target, torch.zeros_like(target))
    cnt = w.sum(-1, keepdim=True).clamp(min=1)  # (B, N, 1)
    mean = t.sum(-1, keepdim=True) / cnt  # (B, N, 1)
    var = (((t - mean) * w)**2).sum(-1, keepdim=True) / cnt  # (B, N, 1)
    return mean, (var + eps).sqrt()


@MODELS.register_module()
class MaskedReconstructionLoss(nn.Module):
    """Pixel reconstruction loss on selected patches, with invalid pixels out.

    For each pixel value ``e = |pred - t|`` (``'l1'``) or ``(pred - t)**2``
    (``'mse'``). The counted pixels are those of the selected tokens (``on``)
    that are valid (``valid``). With ``reduction='global'`` the loss is::

        loss_weight * sum(e over counted pixels) / number of counted pixels

    i.e. the mean over all counted pixel values of the batch (with equally
    sized, fully valid patches this equals MAE's mean over each patch then
    mean over the masked patches). With ``reduction='per_sample'`` it is the
    mean over each sample's counted values, then the mean over the samples
    that count any (official MultiMAE; samples with more hidden tokens do not
    weigh more). Counts are taken over all DDP ranks
    (:func:`reduce_counted`). A patch without a valid pixel contributes
    nothing; if no pixel is counted the loss is zero with a finite gradient,
    never NaN.

    ``norm_pix`` normalises the **target only**, per patch, as MAE does:
    ``(t - mean) / sqrt(var + 1e-6)`` where mean and var are taken over the
    valid values of the patch (all ``p*p*C`` values of a fully valid patch) and
    var is the population variance (``unbiased=False``; MAE's code uses
    torch's default unbiased estimate, which differs by a factor
    ``D/(D-1)``).

    ``norm_pred`` also normalises the **prediction** per patch with the same
    formula (statistics of the predicted patch over the valid positions,
    with gradient), the literal reading of Mask3D's "we normalize the output
    patches as well as the target patches". The loss then only measures
    the per-patch shape of the prediction, not its offset or scale.

    Args:
        loss_type (str): ``'l1'`` or ``'mse'``. Defaults to ``'mse'``.
        norm_pix (bool): Per-patch target normalisation. Defaults to False.
        on (str): Which tokens count: ``'masked'`` (not given to the
            encoder), ``'visible'`` or ``'all'``. Defaults to ``'masked'``.
        loss_weight (float): Multiplies the loss. Defaults to 1.0.
        eps (float): Added to the per-patch variance. Defaults to 1e-6.
        norm_pred (bool): Per-patch normalisation of the prediction too.
            Defaults to False.
        reduction (str): ``'global'`` or ``'per_sample'`` (see above).
            Defaults to ``'global'``.
    """

    def __init__(self,
                 loss_type: str = 'mse',
                 norm_pix: bool = False,
                 on: str = 'masked',
                 loss_weight: float = 1.0,
                 eps: float = 1e-6,
                 norm_pred: bool = False,
                 reduction: str = 'global'):
        super().__init__()
        if loss_type not in ('l1', 'mse'):
            raise ValueError(
                f"loss_type must be 'l1' or 'mse', got {loss_type!r}")
        if on not in _ON_CHOICES:
            raise ValueError(f'on must be one of {_ON_CHOICES}, got {on!r}')
        _check_reduction(reduction)
        self.loss_type = loss_type
        self.norm_pix = norm_pix
        self.norm_pred = norm_pred
        self.on = on
        self.loss_weight = loss_weight
        self.eps = eps
        self.reduction = reduction

    def normalize_pred(self, pred: torch.Tensor,
                       valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The prediction as compared (per-patch normalised if
        ``norm_pred``)."""
        if not self.norm_pred:
            return pred
        mean, std = masked_patch_stats(pred, valid, self.eps)
        return (pred - mean) / std  # (B, N, D)

    def normalize_target(self, target: torch.Tensor,
                         valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The target the prediction is compared to (norm-pix if enabled)."""
        if not self.norm_pix:
            return target
        mean, std = masked_patch_stats(target, valid, self.eps)
        return (target - mean) / std  # (B, N, D)

    def denormalize_pred(self, pred: torch.Tensor, target: torch.Tensor,
                         valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Map a norm-pix prediction back to target units (for display).

        Uses the per-patch statistics of the ground truth, as MAE's
        visualisation does (after normalising the prediction itself with
        ``norm_pred``). Identity when ``norm_pix`` is False.
        """
        if valid is not None and valid.dim() == 2:
            valid = valid[..., None].expand_as(target)  # (B, N, D)
        pred = self.normalize_pred(pred, valid)
        if not self.norm_pix:
            return pred
        mean, std = masked_patch_stats(target, valid, self.eps)
        return pred * std + mean  # (B, N, D)

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                visible: Optional[torch.Tensor] = None,
                valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predicted patches (B, N, D), D = p*p*C.
            target (Tensor): Target patches (B, N, D) (patchified image).
            visible (Tensor, optional): Bool (B, N), True = the token was
                given to the encoder. Needed unless ``on='all'``.
            valid (Tensor, optional): Bool per value, (B, N, D) (e.g. the
                patchified ``depth_valid`` expanded to C channels), or (B, N)
                per token. None means all valid.

        Returns:
            Tensor: Scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'pred {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        if valid is None:
            valid = torch.ones_like(target, dtype=torch.bool)
        else:
            valid = valid.bool()
            if valid.dim() == 2:
                valid = valid[..., None]  # (B, N, 1)
            valid = valid.expand_as(target)  # (B, N, D)
        # invalid values never reach the arithmetic (NaN/inf-safe)
        target = torch.where(valid, target, torch.zeros_like(target))
        target = self.normalize_target(target, valid).detach()
        selected = _select_tokens(visible, self.on, pred.shape[:2],
                                  pred.device)
        counted = valid & selected[..., None]  # (B, N, D)
        diff = self.normalize_pred(pred, valid) - target
        err = diff.abs() if self.loss_type == 'l1' else diff**2
        err = torch.where(counted, err, torch.zeros_like(err))
        return self.loss_weight * reduce_counted(err, counted, self.reduction)


@MODELS.register_module()
class MaskedSemsegLoss(nn.Module):
    """Per-pixel cross-entropy of semantic logits on selected patches.

    The prediction holds ``q*q*K`` logits per token (a ``q x q`` block of
    pixels, K classes) in the layout of :func:`patchify`; it is unpatchified to
    a ``(B, K, h*q, w*q)`` logit map. The label map is resized by nearest
    neighbour to that size if it differs (e.g. MultiMAE's stride-4 semseg
    output: ``q = 4`` on a 16-pixel patch grid). Pixels equal to
    ``ignore_index`` and pixels of unselected tokens are not counted. Loss =
    ``loss_weight`` times the mean CE over the counted pixels, reduced as
    :func:`reduce_counted` (``'global'``: over all counted pixels of the
    batch; ``'per_sample'``: per sample, then over the samples, as official
    MultiMAE), with counts over all DDP ranks; 0 (finite gradient) when
    nothing is counted.

    Args:
        num_classes (int): Number of classes K.
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.
        on (str): ``'masked'``, ``'visible'`` or ``'all'``. Defaults to
            ``'masked'``.
        loss_weight (float): Multiplies the loss. Defaults to 1.0.
        reduction (str): ``'global'`` or ``'per_sample'``. Defaults to
            ``'global'``.
    """

    def __init__(self,
                 num_classes: int,
                 ignore_index: int = 255,
                 on: str = 'masked',
                 loss_weight: float = 1.0,
                 reduction: str = 'global'):
        super().__init__()
        if on not in _ON_CHOICES:
            raise ValueError(f'on must be one of {_ON_CHOICES}, got {on!r}')
        _check_reduction(reduction)
        self.reduction = reduction
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.on = on
        self.loss_weight = loss_weight

    def logits_to_map(self, pred: torch.Tensor,
                      grid_size: Sequence[int]) -> torch.Tensor:
        """Unpatchify (B, N, q*q*K) logits into a (B, K, h*q, w*q) map."""
        num_classes = self.num_classes
        q2 = pred.shape[-1] // num_classes
        q = int(round(q2**0.5))
        if q * q * num_classes != pred.shape[-1]:
            raise ValueError(f'last dim {pred.shape[-1]} is not q*q*K with '
                             f'K={num_classes}')
        return unpatchify(pred, q, tuple(grid_size))  # (B, K, h*q, w*q)

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                visible: Optional[torch.Tensor],
                grid_size: Sequence[int]) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits (B, N, q*q*K), N = h*w.
            target (Tensor): Labels (B, 1, H, W) or (B, H, W), int.
            visible (Tensor | None): Bool (B, N), True = given to the encoder.
            grid_size (tuple[int, int]): The token grid (h, w).

        Returns:
            Tensor: Scalar loss.
        """
        h, w = grid_size
        logits = self.logits_to_map(pred, grid_size)
        out_h, out_w = logits.shape[-2:]
        if target.dim() == 4:
            target = target[:, 0]  # (B, H, W)
        if tuple(target.shape[-2:]) != (out_h, out_w):
            target = F.interpolate(
                target[:, None].float(), size=(out_h, out_w),
                mode='nearest')[:, 0].long()  # (B, h*q, w*q)
        target = target.long()
        ce = F.cross_entropy(
            logits, target, ignore_index=self.ignore_index,
            reduction='none')  # (B, h*q, w*q)
        selected = _select_tokens(visible, self.on, (pred.shape[0], h * w),
                                  pred.device)
        q = out_h // h
        sel_px = selected.view(-1, h, w).repeat_interleave(
            q, dim=1).repeat_interleave(q, dim=2)  # (B, h*q, w*q)
        counted = sel_px & (target != self.ignore_index)
        ce = torch.where(counted, ce, torch.zeros_like(ce))
        return self.loss_weight * reduce_counted(ce, counted, self.reduction)
