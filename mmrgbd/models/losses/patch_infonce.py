"""Patch-level InfoNCE between two modalities (RGB <-> depth)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmrgbd.registry import MODELS


def both_visible(visible_a: Optional[torch.Tensor],
                 visible_b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Positions visible in both modalities.

    Args:
        visible_a (Tensor | None): (B, N) bool, True = seen by the encoder;
            ``None`` = all.
        visible_b (Tensor | None): Same for the other modality.

    Returns:
        Tensor | None: (B, N) bool, or ``None`` if both are ``None``.
    """
    if visible_a is None:
        return None if visible_b is None else visible_b.bool()
    if visible_b is None:
        return visible_a.bool()
    return visible_a.bool() & visible_b.bool()


@MODELS.register_module()
class PatchInfoNCELoss(nn.Module):
    r"""Patch-level InfoNCE between two aligned token maps.

    ``z_a[b, i]`` and ``z_b[b, i]`` are the features of the same patch
    position ``i`` of image ``b`` in two modalities (e.g. RGB and depth).
    Both are L2-normalised here and ``s_ij = <z_a_i, z_b_j>``. For one image
    with the set ``V`` of valid positions (``|V| = n``)::

        L_a2b = -1/n sum_{i in V} log( exp(s_ii / tau)
                                       / sum_{k in K_i} exp(s_ik / tau) )

    and ``L_b2a`` is the same with ``s`` transposed (anchors in modality b).
    The image's loss is ``L_a2b`` with ``symmetric=False`` (M3 3D Eq. 3:
    RGB anchors, depth candidates) and ``(L_a2b + L_b2a) / 2`` with
    ``symmetric=True`` (Progressive Eq. 1: "we apply the InfoNCE loss
    between z_rgb, z_depth and z_depth, z_rgb and take the average").

    Negatives ``K_i``:

    * ``negatives='image'`` (default): the valid positions of the **same**
      image's other-modality map.
    * ``negatives='batch'``: the valid positions of **all** images of the
      batch (the positive is still the same position of the same image). This
      builds an ``(M, M)`` similarity matrix with ``M`` the number of valid
      patches in the batch, so its memory grows quadratically with batch size.
    * ``negatives='position'``: the **same position** ``i`` in the other
      images of the batch (where valid). Every candidate shares the anchor's
      position, so position embeddings carry no information about which one
      is the positive: only the content can tell (with constant inputs the
      loss is exactly ``ln(#candidates)``). An ``(N, B, B)`` similarity per
      batch.

    Combination over the batch: the per-image losses are averaged over the
    images that have at least one valid position (an image with an empty
    set contributes nothing). If no image has a valid position the loss is
    ``0`` (a finite value that is still connected to the inputs' graph, so
    ``backward()`` works and gives zero gradients).

    Valid positions: ``valid`` (B, N) bool, normally the positions visible to
    the encoder in **both** modalities (see :func:`both_visible`); ``None``
    means all positions.

    Args:
        temperature (float): The fixed temperature ``tau``. Default 0.07:
            the papers this loss follows (M3 3D-style patch contrast) do not
            state the value, so the common CLIP/MoCo default is used. It is
            a constant, not a learned parameter.
        negatives (str): ``'image'`` or ``'batch'``, see above.
        symmetric (bool): Average both directions (True, default) or use
            only ``a -> b`` (anchors in modality a).
        loss_weight (float): Multiplies the loss. Default 1.0.
    """

    NEGATIVES = ('image', 'batch', 'position')

    def __init__(self,
                 temperature: float = 0.07,
                 negatives: str = 'image',
                 symmetric: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        if negatives not in self.NEGATIVES:
            raise ValueError(f'negatives must be one of {self.NEGATIVES}, '
                             f'got {negatives!r}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.negatives = negatives
        self.symmetric = bool(symmetric)
        self.loss_weight = float(loss_weight)

    def forward(self,
                z_a: torch.Tensor,
                z_b: torch.Tensor,
                valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            z_a (Tensor): (B, N, D) features of modality a (e.g. RGB).
            z_b (Tensor): (B, N, D) features of modality b at the same
                positions (e.g. depth).
            valid (Tensor | None): (B, N) bool positions to use.

        Returns:
            Tensor: The scalar loss (times ``loss_weight``).
        """
        if z_a.dim() != 3 or z_a.shape != z_b.shape:
            raise ValueError('z_a and z_b must both be (B, N, D) with the '
                             f'same shape, got {tuple(z_a.shape)} and '
                             f'{tuple(z_b.shape)}')
        B, N, _ = z_a.shape
        if valid is None:
            valid = z_a.new_ones((B, N), dtype=torch.bool)
        valid = valid.bool()
        if valid.shape != (B, N):
            raise ValueError(f'valid must be (B, N) = {(B, N)}, '
                             f'got {tuple(valid.shape)}')

        z_a = F.normalize(z_a, dim=-1)
        z_b = F.normalize(z_b, dim=-1)
        if self.negatives == 'image':
            per_image = self._per_image_image_negatives(z_a, z_b, valid)
        elif self.negatives == 'position':
            per_image = self._per_image_position_negatives(z_a, z_b, valid)
        else:
            per_image = self._per_image_batch_negatives(z_a, z_b, valid)

        counts = valid.sum(dim=1)  # (B,)
        nonempty = counts > 0  # (B,)
        if not bool(nonempty.any()):
            # Empty set: 0, finite, still on the graph of both inputs.
            return (z_a.sum() + z_b.sum()) * 0.
        loss = per_image[nonempty].mean()
        return loss * self.loss_weight

    def _per_image_image_negatives(self, z_a, z_b, valid):
        """Per-image loss with negatives from the same image only.

        Returns:
            Tensor: (B,) per-image losses (garbage-free 0 for empty images).
        """
        logits = torch.einsum('bnd,bmd->bnm', z_a, z_b)  # (B, N, N)
        logits = logits / self.temperature
        pair_valid = valid[:, :, None] & valid[:, None, :]  # (B, N, N)
        per_pos = self._anchor_nll(logits, valid, pair_valid)  # (B, N)
        if self.symmetric:
            l_b2a = self._anchor_nll(
                logits.transpose(1, 2), valid,
                pair_valid.transpose(1, 2))  # (B, N)
            per_pos = 0.5 * (per_pos + l_b2a)  # (B, N)
        return self._image_mean(per_pos, valid)  # (B,)

    def _per_image_position_negatives(self, z_a, z_b, valid):
        """Per-image loss with the same position of the other images as
        negatives.

        Returns:
            Tensor: (B,) per-image losses.
        """
        logits = torch.einsum('bnd,cnd->nbc', z_a, z_b)  # (N, B, B)
        logits = logits / self.temperature
        valid_t = valid.t()  # (N, B)
        pair_valid = valid_t[:, :, None] & valid_t[:, None, :]  # (N, B, B)
        per_pos = self._anchor_nll(logits, valid_t, pair_valid)  # (N, B)
        if self.symmetric:
            per_pos = 0.5 * (per_pos + self._anchor_nll(
                logits.transpose(1, 2), valid_t,
                pair_valid.transpose(1, 2)))  # (N, B)
        return self._image_mean(per_pos.t(), valid)  # (B,)

    def _per_image_batch_negatives(self, z_a, z_b, valid):
        """Per-image loss with all valid patches of the batch as negatives.

        Returns:
            Tensor: (B,) per-image losses.
        """
        B, N, D = z_a.shape
        flat_valid = valid.reshape(B * N)  # (B*N,)
        za = z_a.reshape(B * N, D)[flat_valid]  # (M, D)
        zb = z_b.reshape(B * N, D)[flat_valid]  # (M, D)
        logits = za @ zb.t() / self.temperature  # (M, M)
        target = torch.arange(za.shape[0], device=za.device)  # (M,)
        nll = F.cross_entropy(logits, target, reduction='none')  # (M,)
        if self.symmetric:
            nll = 0.5 * (nll + F.cross_entropy(
                logits.t(), target, reduction='none'))  # (M,)
        # scatter the anchors' losses back to their images
        per_pos = z_a.new_zeros(B * N)  # (B*N,)
        per_pos = per_pos.masked_scatter(flat_valid, nll)
        return self._image_mean(per_pos.reshape(B, N), valid)  # (B,)

    @staticmethod
    def _anchor_nll(logits, valid, pair_valid):
        """-log softmax of the diagonal over valid columns, per anchor row.

        Invalid columns are excluded with ``-inf``; invalid rows are zeroed
        before the softmax so that they stay finite (they are dropped later).

        Returns:
            Tensor: (B, N) loss per anchor, 0 at invalid anchors.
        """
        logits = logits.masked_fill(~pair_valid, float('-inf'))
        logits = logits.masked_fill(~valid[:, :, None], 0.)
        log_prob = logits.diagonal(dim1=1, dim2=2) - torch.logsumexp(
            logits, dim=-1)  # (B, N)
        return torch.where(valid, -log_prob, torch.zeros_like(log_prob))

    @staticmethod
    def _image_mean(per_pos, valid):
        """Mean of per-position losses over each image's valid positions.

        Returns:
            Tensor: (B,), 0 for images without a valid position.
        """
        counts = valid.sum(dim=1).clamp(min=1)  # (B,)
        return (per_pos * valid).sum(dim=1) / counts  # (B,)
