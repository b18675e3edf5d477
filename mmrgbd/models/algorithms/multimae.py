"""MultiMAE: multi-modal multi-task masked autoencoders (Bachmann et al.,
ECCV 2022)."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F

from mmrgbd.registry import MODELS
from ..losses.reconstruction import MaskedSemsegLoss
from .base import BaseRGBDSelfSupervisor


@MODELS.register_module()
class MultiMAE(BaseRGBDSelfSupervisor):
    """MultiMAE pre-training.

    One shared ViT (``MultiModalViT`` with ``shared_encoder=True`` and one
    global token) encodes the visible tokens of all input modalities (rgb,
    depth, semseg), chosen by ``DirichletTokenBudgetMasker`` (alpha 1, 98
    visible tokens in total at 224 px). Each output has its own
    ``CrossAttentionTaskDecoder`` (``decoders``, keyed by output name, each
    naming the modality it reconstructs in ``task``) and a loss of the same
    name in ``losses``:

    * ``rgb``: MSE on the (normalised) RGB patches -> ``loss_rgb``;
    * ``rgb_normpix``: a second RGB decoder trained with a norm-pix MSE ->
      ``loss_rgb_normpix``;
    * ``depth``: L1 on the depth the pipeline robust-standardised
      (``NormalizeDepth(mode='robust')``), invalid pixels excluded ->
      ``loss_depth``;
    * ``semseg``: cross-entropy (``MaskedSemsegLoss``) -> ``loss_semseg``.

    All losses are computed on the masked tokens only (``on='masked'``).
    RGB-D-only or RGB-only variants only change the backbone ``modalities``
    and the ``decoders``/``losses`` dicts in the config.

    Args:
        backbone (dict): Shared-encoder ``MultiModalViT``.
        decoders (dict): ``{output name: CrossAttentionTaskDecoder config}``.
        losses (dict): ``{output name: loss config}``, same keys.
        masker (dict): Defaults to
            ``DirichletTokenBudgetMasker(num_visible=98, alpha=1.0)``.
        data_preprocessor (dict, optional): Defaults to
            ``RGBDDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Init config.
    """

    def __init__(self,
                 backbone: dict,
                 decoders: Dict[str, dict],
                 losses: Dict[str, dict],
                 masker: dict = dict(
                     type='DirichletTokenBudgetMasker',
                     num_visible=98,
                     alpha=1.0),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if set(decoders) != set(losses):
            raise ValueError(f'decoders {sorted(decoders)} and losses '
                             f'{sorted(losses)} must name the same outputs')
        super().__init__(
            backbone=backbone,
            masker=masker,
            neck=decoders,
            losses=losses,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)

    @property
    def decoders(self):
        """``{output name: decoder}`` (the ``neck`` ModuleDict)."""
        return self.neck

    def _decode(self, inputs: dict):
        visible = self.generate_mask(inputs)
        feats = self.extract_feat(inputs, visible)
        preds = {name: dec(feats) for name, dec in self.decoders.items()}
        return feats, preds  # {name: (B, N_task, out_channels)}

    def _visible_of(self, feats: dict, name: str) -> torch.Tensor:
        """Visible mask of an output's task (all False if not an input)."""
        task = self.decoders[name].task
        grid = self.decoders[name].task_grid(feats)
        if task in feats['visible']:
            return feats['visible'][task]
        ref = next(iter(feats['visible'].values()))
        return torch.zeros(
            ref.shape[0], grid[0] * grid[1], dtype=torch.bool,
            device=ref.device)  # (B, N_task)

    def _task_loss(self, inputs, feats, name, pred):
        dec, loss_fn = self.decoders[name], self.losses[name]
        grid = dec.task_grid(feats)
        visible = self._visible_of(feats, name)
        if isinstance(loss_fn, MaskedSemsegLoss):
            return loss_fn(pred, inputs[dec.task], visible, grid)
        p = self.patch_size_of(pred.shape[-1], inputs[dec.task].shape[1])
        target, valid = self.patch_target(inputs, dec.task, p, grid)
        return loss_fn(pred, target, visible, valid)

    def loss(self, inputs: dict,
             data_samples=None) -> Dict[str, torch.Tensor]:
        """One ``loss_<output name>`` per decoder."""
        feats, preds = self._decode(inputs)
        return {
            f'loss_{name}': self._task_loss(inputs, feats, name, pred)
            for name, pred in preds.items()
        }

    @torch.no_grad()
    def reconstruct(self, inputs: dict) -> dict:
        """Reconstructions in input units.

        Semseg is returned as class ids (B, 1, H, W), nearest-upsampled from
        the decoder's output resolution to the input size.
        """
        feats, preds = self._decode(inputs)
        out = {}
        for name, pred in preds.items():
            dec, loss_fn = self.decoders[name], self.losses[name]
            grid = dec.task_grid(feats)
            if isinstance(loss_fn, MaskedSemsegLoss):
                logits = loss_fn.logits_to_map(pred, grid)  # (B, K, H', W')
                ids = logits.argmax(1, keepdim=True).float()  # (B, 1, H', W')
                size = [g * self.backbone.patch_size for g in grid]
                out[name] = F.interpolate(
                    ids, size=size, mode='nearest').long()  # (B, 1, H, W)
                continue
            if dec.task not in inputs:
                continue
            p = self.patch_size_of(pred.shape[-1], inputs[dec.task].shape[1])
            target, valid = self.patch_target(inputs, dec.task, p, grid)
            pred = loss_fn.denormalize_pred(pred, target, valid)
            out[name] = self.to_image(pred, p, grid)  # (B, C, H, W)
        return dict(
            preds=out, visible=feats['visible'],
            grid_sizes=feats['grid_sizes'])
