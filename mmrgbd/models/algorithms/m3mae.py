"""M3 3D: multi-modal masked autoencoders learning 3D priors for 2D image
and video understanding (Jamal & Mohareri, 2023).

No public code exists; this file is the reference implementation of the
spec in ``projects/m3mae/README.md``:

* images, stage 1 (:class:`M3MAEStage1`): patch-level RGB <-> depth InfoNCE
  between the encoders (modality-specific or shared), nothing else;
* images, stage 2 (:class:`M3MAE`): encoders from stage 1, 20 % of the RGB
  and 20 % of the depth patches visible, a shared 'concat' MAE decoder,
  ``0.1 * L_rgb + 1.0 * L_depth`` (norm-pix MSE / L1 on the hidden patches),
  optionally ``+ gamma * L_contrast`` on the positions visible in both;
* video, one stage (:class:`M3MAEVideo`): Conv3d tubelets, ``alpha * L_rgb +
  beta * L_depth + gamma * L_contrast + eta * L_match``.

Deviations from the paper (content-only stage-1 tokens, the matching
fusion, shared video mask positions, ...) are listed with their reasons in
``projects/m3mae/README.md``.
"""
import copy
from typing import Dict, List, Optional, Union

import torch

from mmrgbd.registry import MODELS
from ..utils import patchify, unpatchify
from .base import BaseRGBDSelfSupervisor
from .stage1_checkpoint import check_stage1_file, init_from_stage1

#: loss-term names whose module is a reconstruction head of the decoder
RECON_TERMS = ('rgb', 'depth')


def prune_zero_weight_terms(loss_weights: Dict[str, float], neck,
                            heads: Optional[dict], losses: Optional[dict]):
    """Drop the decoder heads, heads and losses of zero-weight terms.

    A term whose weight is 0 is an ablation ("without the RGB task",
    "without contrast"): it is neither built nor computed, so no parameter
    is left without a gradient (DDP would need ``find_unused_parameters``).

    Args:
        loss_weights (dict): ``{term: weight}``.
        neck (dict | None): Decoder config with ``heads={modality: dim}``.
        heads (dict | None): ``{term: head config}``.
        losses (dict | None): ``{term: loss config}``.

    Returns:
        tuple: Pruned copies ``(neck, heads, losses)``.
    """
    off = {t for t, w in loss_weights.items() if float(w) == 0.}
    neck = copy.deepcopy(neck)
    if isinstance(neck, dict) and isinstance(neck.get('heads'), dict):
        neck['heads'] = {m: d for m, d in neck['heads'].items()
                         if m not in off and d is not None}
    heads = {t: c for t, c in (heads or {}).items()
             if t not in off and c is not None}
    losses = {t: c for t, c in (losses or {}).items()
              if t not in off and c is not None}
    return neck, heads or None, losses


@MODELS.register_module()
class M3MAEStage1(BaseRGBDSelfSupervisor):
    """Stage 1 of M3 3D (and of Progressive): patch-level RGB-D contrast.

    The RGB and depth encoders (``MultiModalViT``; modality-specific
    encoders, or one shared encoder with ``shared_encoder=True``) encode
    their modality and a :class:`PatchContrastHead` contrasts the two token
    maps position by position with :class:`PatchInfoNCELoss` (positive: the
    depth token at the same patch position of the same image; negatives: the
    other depth patches of that image). By default the loss uses the
    L2-normalised encoder features themselves (no projection MLP) and only
    RGB anchors (M3 3D Eq. 3); Progressive averages both directions. The
    only loss is ``loss_patch_nce``.

    **No position shortcut** (``with_pos_embed=False``, the default): both
    encoders would add the same fixed sin-cos position embedding, and with
    the other positions of the same image as negatives the task is then
    solved by position alone (a trained model reaches ~0 loss on constant
    RGB and depth). By default the stage-1 encoders therefore encode
    **content-only** tokens (patch projection, no position embedding): a
    transformer without position input is permutation-equivariant, so two
    patches with the same content get the same feature and only content
    (and its context) can single out the positive. With constant inputs the
    loss is exactly ``ln N`` (chance). The position embeddings stay in the
    model (fixed sin-cos, same keys) and are added again in stage 2, which
    loads this checkpoint unchanged. ``with_pos_embed=True`` is the papers'
    literal form.

    With a shared encoder each modality is encoded **in its own pass**
    (same weights, no attention between modalities): a joint pass would let
    every depth token attend to the RGB token at its position and make the
    contrast trivial.

    By default the encoders see every patch (``masker=None``); a masker
    (e.g. ``RandomPatchMasker``) makes the contrast use only the positions
    visible in both modalities.

    Args:
        backbone (dict): ``MultiModalViT`` with ``rgb`` and ``depth``.
        head (dict): ``PatchContrastHead`` config (``in_channels`` = encoder
            width). Defaults to no projection and one-directional InfoNCE.
        masker (dict, optional): Masker config; None = no masking.
        with_pos_embed (bool): Add the position embeddings before the
            stage-1 encoders (the papers' literal form). Defaults to False
            (content-only tokens; see above).
        data_preprocessor (dict, optional): Defaults to
            ``RGBDDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Init config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict = dict(
                     type='PatchContrastHead',
                     in_channels=768,
                     loss=dict(type='PatchInfoNCELoss', symmetric=False)),
                 masker: Optional[dict] = None,
                 with_pos_embed: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(
            backbone=backbone,
            masker=masker,
            head=head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.with_pos_embed = bool(with_pos_embed)

    def encode(self, inputs: dict,
               visible: Optional[Dict[str, torch.Tensor]] = None) -> dict:
        """Backbone output; one pass per modality with a shared encoder."""
        x = self.encoder_inputs(inputs)
        if not getattr(self.backbone, 'shared_encoder', False):
            return self.backbone(x, visible, self.with_pos_embed)
        outs = [
            self.backbone({m: x[m]},
                          None if visible is None else {m: visible[m]},
                          self.with_pos_embed)
            for m in self.modalities
        ]
        return dict(
            tokens={m: o['tokens'][m]
                    for m, o in zip(self.modalities, outs)},  # (B, N, C)
            visible={m: o['visible'][m]
                     for m, o in zip(self.modalities, outs)},
            global_tokens=None,
            grid_sizes={m: o['grid_sizes'][m]
                        for m, o in zip(self.modalities, outs)})

    def loss(self, inputs: dict,
             data_samples=None) -> Dict[str, torch.Tensor]:
        """``loss_patch_nce``."""
        visible = None if self.masker is None else self.generate_mask(inputs)
        return self.head.loss(self.encode(inputs, visible))


@MODELS.register_module()
class M3MAE(BaseRGBDSelfSupervisor):
    """M3 3D masked multi-modal autoencoder (images: stage 2; clips).

    Both modalities are masked (``masker``; images: ``RandomPatchMasker``
    keeping 20 % of RGB and 20 % of depth, independently), the visible
    tokens are encoded (``MultiModalViT``), and a shared
    :class:`MAEStyleDecoder` with the ``'concat'`` layout reconstructs each
    modality over its own grid with one linear head per modality. Terms and
    weights (``loss_weights``)::

        loss = rgb * L_rgb + depth * L_depth
               + contrast * L_contrast + match * L_match

    * ``L_rgb`` = ``losses['rgb']`` (default MSE on norm-pix RGB patches,
      hidden patches only) -> ``loss_rgb``;
    * ``L_depth`` = ``losses['depth']`` (default L1 on hidden depth patches,
      invalid pixels excluded) -> ``loss_depth``;
    * ``L_contrast`` = ``head['contrast']`` (:class:`PatchContrastHead`) on
      the positions visible in **both** modalities -> ``loss_patch_nce``;
    * ``L_match`` = ``head['match']`` (:class:`RGBDMatchingHead`, paired vs
      deranged depth; fused by the head's transformer block, or encoded
      jointly by a shared encoder, see :meth:`match_loss`) -> ``loss_match``
      (and ``acc_match``).

    Every returned ``loss_*`` is already multiplied by its weight, so the
    total mmengine sums is the weighted sum above. A term with weight 0 is
    not built nor computed (its decoder head / head / loss config is dropped)
    -- the ablations "without the RGB task" (``rgb=0``) and "without
    contrast" (``contrast=0``, plus no stage-1 initialisation).

    Clips (``(B, C, T, H, W)`` inputs, ``TubeletPatchEmbed`` stems) use
    tubelet targets ``patchify(x, p, t_p)``; see :class:`M3MAEVideo`.

    Stage-1 initialisation: ``stage1_checkpoint`` names the stage-1 runner
    checkpoint; its ``backbone.*`` weights are loaded into the backbone when
    the model is **built** (missing keys raise
    :class:`Stage1CheckpointError`), and ``init_weights()`` keeps them.
    ``None`` (the default) trains the encoders from scratch (and is what to
    pass when resuming a stage-2 run: the weights then come from the
    stage-2 checkpoint).

    Args:
        backbone (dict): ``MultiModalViT`` with ``rgb`` and ``depth``.
        neck (dict): ``MAEStyleDecoder`` (``layout='concat'``) with a head
            per reconstructed modality.
        masker (dict): Defaults to ``RandomPatchMasker`` keeping 0.2/0.2.
        losses (dict): ``{'rgb': cfg, 'depth': cfg}`` reconstruction losses.
        head (dict, optional): ``{'contrast': cfg, 'match': cfg}``.
        loss_weights (dict): ``{'rgb', 'depth', 'contrast', 'match'}``
            weights. Defaults to the image stage 2: 0.1, 1.0, 0, 0.
        stage1_checkpoint (str, optional): Stage-1 checkpoint.
        stage1_prefix (str): Its keys to load. Defaults to ``'backbone.'``.
        data_preprocessor (dict, optional): Defaults to
            ``RGBDDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Init config.
    """

    TERMS = ('rgb', 'depth', 'contrast', 'match')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 masker: dict = dict(
                     type='RandomPatchMasker',
                     keep_ratios=dict(rgb=0.2, depth=0.2)),
                 losses: Dict[str, dict] = dict(
                     rgb=dict(
                         type='MaskedReconstructionLoss',
                         loss_type='mse',
                         norm_pix=True,
                         on='masked'),
                     depth=dict(
                         type='MaskedReconstructionLoss',
                         loss_type='l1',
                         norm_pix=False,
                         on='masked')),
                 head: Optional[Dict[str, dict]] = None,
                 loss_weights: Dict[str, float] = dict(
                     rgb=0.1, depth=1.0, contrast=0., match=0.),
                 stage1_checkpoint: Optional[str] = None,
                 stage1_prefix: str = 'backbone.',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        unknown = set(loss_weights) - set(self.TERMS)
        if unknown:
            raise ValueError(f'loss_weights has unknown terms '
                             f'{sorted(unknown)}; known: {self.TERMS}')
        if stage1_checkpoint is not None:
            check_stage1_file(stage1_checkpoint)  # before building ViTs
        weights = {t: float(loss_weights.get(t, 0.)) for t in self.TERMS}
        neck, head, losses = prune_zero_weight_terms(weights, neck, head,
                                                     losses)
        super().__init__(
            backbone=backbone,
            masker=masker,
            neck=neck,
            head=head,
            losses=losses,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.loss_weights = weights
        heads = self.head if self.head is not None else {}
        for t in self.active_terms:
            if t in RECON_TERMS and (t not in self.neck.heads
                                     or t not in self.losses):
                raise ValueError(
                    f"loss_weights['{t}'] > 0 needs neck.heads['{t}'] and "
                    f"losses['{t}']")
            if t not in RECON_TERMS and t not in heads:
                kind = 'PatchContrastHead' if t == 'contrast' \
                    else 'RGBDMatchingHead'
                raise ValueError(f"loss_weights['{t}'] > 0 needs "
                                 f"head['{t}'] (a {kind} config)")
        if 'match' in heads and getattr(self.backbone, 'shared_encoder',
                                        False):
            # the shared encoder itself fuses each RGB-D pair
            heads['match'].use_joint_encoding()
        self.stage1_checkpoint = stage1_checkpoint
        if stage1_checkpoint is not None:
            init_from_stage1(stage1_checkpoint,
                             {'student backbone': self.backbone},
                             stage1_prefix)

    @property
    def active_terms(self) -> List[str]:
        """Terms with a non-zero weight, in :attr:`TERMS` order."""
        return [t for t in self.TERMS if self.loss_weights[t] != 0.]

    # ------------------------------------------------------------------ #
    def target_of(self, inputs: dict, modality: str, grid):
        """Target patches (and depth valid mask) of a modality.

        Images use :meth:`patch_target`; clips ``(B, C, T, H, W)`` are cut
        into the tubelets of the modality's stem (``patchify(x, p, t_p)``).

        Returns:
            tuple[Tensor, Tensor | None]: (B, N, D) target and bool valid.
        """
        p = self.backbone.patch_size
        if len(grid) == 2:
            return self.patch_target(inputs, modality, p, grid)
        t_p = self.backbone.stem(modality).patch_embed.tubelet_size
        img = inputs[modality].float()  # (B, C, T, H, W)
        target = patchify(img, p, t_p)  # (B, N, t_p*p*p*C)
        valid = None
        if modality == 'depth' and 'depth_valid' in inputs:
            v = inputs['depth_valid'].bool().expand_as(img)
            valid = patchify(v.to(target.dtype), p, t_p) > 0.5
        return target, valid

    def to_input_layout(self, patches: torch.Tensor, modality: str,
                        grid) -> torch.Tensor:
        """(B, N, D) patches back to an image (B, C, H, W) or clip."""
        p = self.backbone.patch_size
        if len(grid) == 2:
            return self.to_image(patches, p, grid)  # (B, C, H, W)
        t_p = self.backbone.stem(modality).patch_embed.tubelet_size
        return unpatchify(patches, p, tuple(grid), t_p)  # (B, C, T, H, W)

    def forward_train(self, inputs: dict,
                      visible: Optional[Dict[str, torch.Tensor]] = None):
        """Mask, encode and decode.

        Returns:
            tuple[dict, dict]: backbone output and ``{modality: (B, N, D)}``
            decoder predictions.
        """
        if visible is None:
            visible = self.generate_mask(inputs)
        feats = self.extract_feat(inputs, visible)
        preds = self.neck(feats)  # {modality: (B, N, D)}
        return feats, preds

    def loss_terms(self, inputs: dict,
                   visible: Optional[Dict[str, torch.Tensor]] = None
                   ) -> Dict[str, torch.Tensor]:
        """The **unweighted** terms (and logged accuracies).

        Returns:
            dict: ``rgb``, ``depth``, ``contrast``, ``match`` for the active
            terms, plus ``acc_match`` when the match term gives it.
        """
        feats, preds = self.forward_train(inputs, visible)
        terms = {}
        for t in self.active_terms:
            if t in RECON_TERMS:
                grid = feats['grid_sizes'][t]
                target, valid = self.target_of(inputs, t, grid)
                terms[t] = self.losses[t](preds[t], target,
                                          feats['visible'][t], valid)
            elif t == 'contrast':
                terms[t] = self.head['contrast'].loss(feats)['loss_patch_nce']
            else:
                out = self.match_loss(inputs, feats)
                terms[t] = out['loss_match']
                if 'acc_match' in out:
                    terms['acc_match'] = out['acc_match']
        return terms

    def match_loss(self, inputs: dict, feats: dict) -> Dict[str, torch.Tensor]:
        """``L_match`` of the batch (and ``acc_match``).

        Negative ``b`` pairs RGB ``b`` with the depth of sample ``perm[b]``
        (a derangement). Modality-specific encoders: the head's fusion block
        joins the two token sets of every pair. Shared encoder: each
        negative pair is encoded **jointly** by a second pass of the shared
        encoder (RGB ``b`` and depth ``perm[b]`` with their own visible
        masks); the positives are the training pass itself.
        """
        head = self.head['match']
        B = feats['tokens'][head.modalities[0]].shape[0]
        if not head.joint or B < 2:
            return head.loss(feats)
        perm = head.derangement(B)  # (B,)
        x = self.encoder_inputs(inputs)
        vis = feats['visible']
        mod_a, mod_b = head.modalities
        dev = x[mod_b].device
        negative = self.backbone(
            dict(x, **{mod_b: x[mod_b][perm.to(dev)]}),
            dict(vis, **{mod_b: vis[mod_b][perm.to(vis[mod_b].device)]}))
        return head.loss(feats, perm, negative_feats=negative)

    #: output key of each term
    LOSS_KEYS = dict(
        rgb='loss_rgb',
        depth='loss_depth',
        contrast='loss_patch_nce',
        match='loss_match')

    def loss(self, inputs: dict,
             data_samples=None) -> Dict[str, torch.Tensor]:
        """Weighted terms: ``loss_rgb``, ``loss_depth``, ``loss_patch_nce``,
        ``loss_match`` (active ones) and ``acc_match``."""
        terms = self.loss_terms(inputs)
        out = {}
        for t, value in terms.items():
            if t in self.LOSS_KEYS:
                out[self.LOSS_KEYS[t]] = self.loss_weights[t] * value
            else:
                out[t] = value
        return out

    @torch.no_grad()
    def reconstruct(self, inputs: dict) -> dict:
        """Reconstructions in input units (norm-pix statistics put back
        from the ground truth, as MAE's visualisation)."""
        feats, preds = self.forward_train(inputs)
        out = {}
        for mod, pred in preds.items():
            grid = feats['grid_sizes'][mod]
            target, valid = self.target_of(inputs, mod, grid)
            if mod in self.losses:
                pred = self.losses[mod].denormalize_pred(pred, target, valid)
            out[mod] = self.to_input_layout(pred, mod, grid)
        return dict(
            preds=out, visible=feats['visible'],
            grid_sizes=feats['grid_sizes'])


@MODELS.register_module()
class M3MAEVideo(M3MAE):
    """M3 3D for RGB-D clips (one stage).

    :class:`M3MAE` with the video defaults: tubelet stems
    (``TubeletPatchEmbed``, 2x16x16 over 16 frames) in the backbone config,
    90 % of the tokens of each modality hidden (class default:
    ``RandomTokenMasker``; the UCF-101 config hides RGB with the SurgMAE-style
    ``InformationWeightedMasker`` and OR-AR with ``TubeMasker``, both inside
    a ``SharedPositionsMasker`` that gives depth RGB's visible positions),
    MSE for RGB (norm-pix) **and** depth (plain), a patch contrast head on
    the tokens visible in both modalities and an RGB-D matching head whose
    pair tokens interact (:class:`RGBDMatchingHead`), weighted ``1 * L_rgb +
    0.1 * L_depth + 0.01 * L_contrast + 0.01 * L_match`` (UCF-101 setting).
    Content-aware maskers get the preprocessed clip (:meth:`generate_mask`).

    Args:
        backbone (dict): ``MultiModalViT`` with tubelet stems.
        neck (dict): ``MAEStyleDecoder`` (``'concat'``; 4 blocks, 384-d, 6
            heads in the paper) with ``rgb``/``depth`` heads of
            ``t_p*p*p*C`` outputs.
        head (dict): ``{'contrast': PatchContrastHead, 'match':
            RGBDMatchingHead}``.
        masker (dict): Defaults to ``RandomTokenMasker`` (0.9 / 0.9).
        losses (dict): Defaults to norm-pix MSE (rgb) and MSE (depth).
        loss_weights (dict): Defaults to 1, 0.1, 0.01, 0.01.
        **kwargs: Other :class:`M3MAE` arguments.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: Dict[str, dict],
                 masker: dict = dict(
                     type='RandomTokenMasker',
                     mask_ratios=dict(rgb=0.9, depth=0.9)),
                 losses: Dict[str, dict] = dict(
                     rgb=dict(
                         type='MaskedReconstructionLoss',
                         loss_type='mse',
                         norm_pix=True,
                         on='masked'),
                     depth=dict(
                         type='MaskedReconstructionLoss',
                         loss_type='mse',
                         norm_pix=False,
                         on='masked')),
                 loss_weights: Dict[str, float] = dict(
                     rgb=1.0, depth=0.1, contrast=0.01, match=0.01),
                 **kwargs):
        super().__init__(
            backbone=backbone,
            neck=neck,
            masker=masker,
            losses=losses,
            head=head,
            loss_weights=loss_weights,
            **kwargs)
