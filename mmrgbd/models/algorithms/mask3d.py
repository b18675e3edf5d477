"""Mask3D: pre-training 2D ViTs by masked 3D priors (Hou et al., CVPR 2023)."""
from typing import Dict, List, Optional, Union

import torch

from mmrgbd.registry import MODELS
from .base import BaseRGBDSelfSupervisor


@MODELS.register_module()
class Mask3D(BaseRGBDSelfSupervisor):
    """Mask3D: reconstruct dense depth from complementary RGB / depth patches.

    Separate RGB and depth ViT encoders (``MultiModalViT`` with
    ``shared_encoder=False``) see complementary patches chosen by
    ``ComplementaryMasker`` (by default 20 % of the positions show RGB and a
    disjoint 20 % show depth). An ``MAEStyleDecoder`` with the ``'fused'``
    layout puts both on one grid (mask tokens elsewhere) and reconstructs
    **dense depth**. The loss is an L2 with per-patch normalised targets
    (norm-pix) on the depth patches not given as input (``loss_on='masked'``)
    or on all of them (``loss_on='all'``); invalid depth pixels are excluded.
    ``with_rgb_loss=True`` adds RGB reconstruction on the hidden RGB patches
    (the paper's ablation; the decoder then needs an ``rgb`` head).

    Downstream only the **RGB encoder** (``backbone`` weights of the ``rgb``
    modality) is used (for fine-tuning, with the decoder dropped or reused as
    the paper describes); the depth encoder exists for pre-training only.

    Args:
        backbone (dict): ``MultiModalViT`` with rgb and depth encoders.
        neck (dict): ``MAEStyleDecoder`` with a ``depth`` head (and ``rgb``
            for ``with_rgb_loss``).
        masker (dict): Defaults to ``ComplementaryMasker`` keeping 20 % RGB
            and 20 % depth patches.
        loss (dict): Depth loss; its ``on`` is set from ``loss_on``. Defaults
            to L2 with norm-pix.
        loss_on (str): ``'masked'`` (depth patches not given as input) or
            ``'all'``. Defaults to ``'masked'``.
        with_rgb_loss (bool): Also reconstruct hidden RGB. Defaults to False.
        rgb_loss (dict, optional): RGB loss (``on`` from ``loss_on``);
            defaults to the depth loss config.
        data_preprocessor (dict, optional): Defaults to
            ``RGBDDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Init config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 masker: dict = dict(
                     type='ComplementaryMasker', rgb_keep=0.2,
                     depth_keep=0.2),
                 loss: dict = dict(
                     type='MaskedReconstructionLoss',
                     loss_type='mse',
                     norm_pix=True),
                 loss_on: str = 'masked',
                 with_rgb_loss: bool = False,
                 rgb_loss: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if loss_on not in ('masked', 'all'):
            raise ValueError(
                f"loss_on must be 'masked' or 'all', got {loss_on!r}")
        losses = dict(depth=dict(loss, on=loss_on))
        if with_rgb_loss:
            losses['rgb'] = dict(rgb_loss or loss, on=loss_on)
        super().__init__(
            backbone=backbone,
            masker=masker,
            neck=neck,
            losses=losses,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        missing = [m for m in losses if m not in self.neck.heads]
        if missing:
            raise ValueError(f'the decoder has no head for {missing}; give '
                             f'neck.heads entries for {list(losses)}')
        keep = dict(depth=getattr(self.masker, 'depth_keep', None),
                    rgb=getattr(self.masker, 'rgb_keep', None))
        full = [m for m in losses if keep[m] is not None and keep[m] >= 1.]
        if loss_on == 'masked' and full:
            raise ValueError(
                f"loss_on='masked' counts only hidden patches, but the masker "
                f'shows every {full[0]} patch ({full[0]}_keep=1.0): nothing '
                f"would be learned; use loss_on='all' for this ablation")
        self.with_rgb_loss = with_rgb_loss

    def _decode(self, inputs: dict):
        visible = self.generate_mask(inputs)
        feats = self.extract_feat(inputs, visible)
        preds = self.neck(feats)  # {mod: (B, N, p*p*C)}
        return feats, preds

    def _target(self, inputs, feats, preds, mod):
        grid = feats['grid_sizes']['depth']
        p = self.patch_size_of(preds[mod].shape[-1], inputs[mod].shape[1])
        target, valid = self.patch_target(inputs, mod, p, grid)
        return target, valid, p, grid

    def loss(self, inputs: dict,
             data_samples=None) -> Dict[str, torch.Tensor]:
        """``loss_depth`` (and ``loss_rgb`` with ``with_rgb_loss``)."""
        feats, preds = self._decode(inputs)
        losses = {}
        for mod, loss_fn in self.losses.items():
            target, valid, _, _ = self._target(inputs, feats, preds, mod)
            losses[f'loss_{mod}'] = loss_fn(preds[mod], target,
                                            feats['visible'][mod], valid)
        return losses

    @torch.no_grad()
    def reconstruct(self, inputs: dict) -> dict:
        """Depth (and RGB) reconstructions in input units.

        With norm-pix the per-patch statistics of the ground truth are put
        back (as MAE's visualisation does).
        """
        feats, preds = self._decode(inputs)
        out = {}
        for mod in preds:
            if mod not in inputs:
                continue
            target, valid, p, grid = self._target(inputs, feats, preds, mod)
            loss_fn = self.losses[mod] if mod in self.losses else None
            pred = preds[mod]
            if loss_fn is not None:
                pred = loss_fn.denormalize_pred(pred, target, valid)
            out[mod] = self.to_image(pred, p, grid)  # (B, C, H, W)
        return dict(
            preds=out, visible=feats['visible'],
            grid_sizes=feats['grid_sizes'])
