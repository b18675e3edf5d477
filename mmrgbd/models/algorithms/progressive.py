"""Progressive RGB-D pre-training: contrast, then masked denoising
reconstruction with feature distillation.

No public code exists; this file is the reference implementation of the
spec in ``projects/progressive/README.md``:

* stage 1 (:class:`ProgressiveStage1`): patch-level RGB <-> depth InfoNCE
  between modality-specific ViT encoders (the M3 3D stage-1 algorithm);
* stage 2 (:class:`ProgressiveStage2`): encoders from stage 1; 20 % of RGB
  and 20 % of depth visible; the depth is corrupted with Gaussian noise of a
  per-sample level sigma, a sigma embedding is added to the encoded depth
  tokens, and one depth head reconstructs the **clean** depth on hidden
  patches and the **noise** on visible ones; the global features are
  distilled from the frozen stage-1 encoders.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mmrgbd.registry import MODELS, build_in_scope
from ..utils import patchify
from .base import BaseRGBDSelfSupervisor
from .m3mae import M3MAEStage1, prune_zero_weight_terms
from .stage1_checkpoint import check_stage1_file, init_from_stage1


@MODELS.register_module()
class ProgressiveStage1(M3MAEStage1):
    """Progressive stage 1: patch-level InfoNCE between RGB and depth.

    The algorithm of :class:`M3MAEStage1` (modality-specific ViT-B encoders
    with Conv2d patch projections, unmasked inputs, content-only tokens by
    default, a :class:`PatchContrastHead` on the encoder features),
    registered under the method's name, with the **symmetric** InfoNCE of
    Progressive Eq. 1 (the average of RGB -> depth and depth -> RGB) as the
    default head. See :class:`M3MAEStage1` for the arguments. Trained on
    ImageNet with pseudo depth.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict = dict(
                     type='PatchContrastHead',
                     in_channels=768,
                     loss=dict(type='PatchInfoNCELoss', symmetric=True)),
                 **kwargs):
        super().__init__(backbone=backbone, head=head, **kwargs)


@MODELS.register_module()
class ProgressiveStage2(BaseRGBDSelfSupervisor):
    """Progressive stage 2: masked denoising reconstruction + distillation.

    For a batch with normalised ``depth`` ``x_d``:

    1. visible masks from ``masker`` (20 % RGB, 20 % depth, independent);
    2. ``sigma ~ U[0, sigma_max]`` per sample, ``e ~ N(0, I)`` and
       ``x_noisy = x_d + sigma * e`` (every pixel);
    3. the student encoders see the visible RGB and the visible **noisy**
       depth patches;
    4. ``NoiseLevelEmbedding(sigma)`` (B, C) is added to every encoded depth
       token (the decoder replaces the hidden ones by mask tokens), then the
       shared ``'concat'`` :class:`MAEStyleDecoder` predicts depth patches
       with one linear head;
    5. terms (weights ``loss_weights``)::

        loss = depth * L_depth + denoise * L_denoise + distill * L_distill
               (+ rgb * L_rgb)

       ``L_depth``: MSE between the prediction and the norm-pix **clean**
       depth on the **hidden** depth patches (invalid pixels excluded);
       ``L_denoise``: MSE between the prediction and ``sigma * e`` in patch
       layout on the **visible** depth patches; ``L_distill``:
       :class:`GlobalFeatureDistillLoss` between the student output and the
       frozen stage-1 encoders (``teacher``) run on the **clean** input
       (``teacher_view``, below); ``L_rgb`` (ablation "RGB+depth
       reconstruction", needs ``neck.heads.rgb``): norm-pix MSE on hidden
       RGB patches.

    Returned keys ``loss_depth``, ``loss_denoise``, ``loss_distill``,
    ``loss_rgb`` are already weighted (mmengine sums them).

    Ablations (``noise_mode``, ``loss_weights``): ``'none'`` (no noise, no
    embedding, no ``L_denoise``); ``'input'`` (noise on the input only: no
    embedding, no ``L_denoise``); ``'full'`` (default); ``distill=0`` (no
    distillation: no teacher is built); ``rgb>0`` (RGB+depth
    reconstruction). A zero-weight term is neither built nor computed; in
    the ``'none'``/``'input'`` modes the ``denoise`` weight is ignored.

    **sigma_max** is in the units of the depth the pipeline gives the model.
    The configs normalise depth per image with ``NormalizeDepth('robust')``
    (as the stage-1 pseudo depth, which is only defined up to an affine
    map): 0 mean and unit std over the valid pixels. The default
    ``sigma_max=0.5`` therefore means noise of up to half the image's depth
    spread per pixel (mean 0.25): at the top of the range the fine depth
    structure inside a 16-pixel patch (much smaller than the whole-image
    spread) is drowned while the coarse layout survives, and small sigmas
    give almost clean inputs -- a range from easy to hard denoising. With
    metric depth (``d / 10 m``) scale it to the data (e.g. 0.05).

    **Teacher**: a copy of the backbone, loaded from the same stage-1
    checkpoint, frozen (``requires_grad=False``, always in eval mode, run
    under ``no_grad``). It is a submodule, so its weights are saved in the
    stage-2 checkpoints and a resumed run restores them without the stage-1
    file (pass ``model.stage1_checkpoint=None`` when resuming if that file is
    gone). Its parameters never get a gradient, so the optimiser never
    changes them (AdamW skips parameters without gradient, including the
    weight decay).

    **What the teacher sees** (``teacher_view``; the paper does not say):
    ``'visible'`` (default) encodes the clean input at exactly the patches
    the student sees (same masks, no noise), so both max-pools run over the
    same positions; ``'full'`` encodes the whole clean input and max-pools
    over all positions -- a target biased upwards (a max over 100 % of the
    tokens exceeds the max over the student's 20 %) that the student cannot
    reach from its view. The teacher encodes like the stage-1 model did:
    with ``stage1_with_pos_embed=False`` (the default, matching
    ``M3MAEStage1(with_pos_embed=False)``) without position embeddings.

    Args:
        backbone (dict): ``MultiModalViT`` (modality-specific encoders).
        neck (dict): ``MAEStyleDecoder`` (``'concat'``) with a ``depth`` head.
        noise_embed (dict): ``NoiseLevelEmbedding`` config; ``embed_dims``
            defaults to the encoder width and ``sigma_scale`` to ``1000 /
            sigma_max`` (sigma_max maps to "timestep" 1000).
        masker (dict): Defaults to ``RandomPatchMasker`` keeping 0.2/0.2.
        losses (dict): ``depth``, ``denoise``, ``rgb`` reconstruction losses
            (their ``on`` is forced to masked / visible / masked) and
            ``distill`` (``GlobalFeatureDistillLoss``).
        loss_weights (dict): ``depth``, ``denoise``, ``distill``, ``rgb``.
            Defaults to 1, 0.01 (ScanNet; 0.1 for SUN RGB-D), 1, 0.
        sigma_max (float): Upper bound of sigma. Defaults to 0.5.
        noise_mode (str): ``'full'``, ``'input'`` or ``'none'``.
        stage1_checkpoint (str, optional): Stage-1 runner checkpoint loaded
            into the student backbone and the teacher when the model is
            built. None: random student and teacher (only for resuming).
        stage1_prefix (str): Keys of the stage-1 encoders.
        teacher_view (str): ``'visible'`` (the student's patches of the
            clean input) or ``'full'`` (the whole clean input).
        stage1_with_pos_embed (bool): Whether stage 1 added position
            embeddings (``M3MAEStage1.with_pos_embed``); the teacher encodes
            the same way. Defaults to False.
        data_preprocessor (dict, optional): Defaults to
            ``RGBDDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Init config.
    """

    TERMS = ('depth', 'denoise', 'distill', 'rgb')
    TEACHER_VIEWS = ('visible', 'full')
    NOISE_MODES = ('full', 'input', 'none')
    LOSS_ON = dict(depth='masked', denoise='visible', rgb='masked')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 noise_embed: dict = dict(type='NoiseLevelEmbedding'),
                 masker: dict = dict(
                     type='RandomPatchMasker',
                     keep_ratios=dict(rgb=0.2, depth=0.2)),
                 losses: Dict[str, dict] = dict(
                     depth=dict(
                         type='MaskedReconstructionLoss',
                         loss_type='mse',
                         norm_pix=True),
                     denoise=dict(
                         type='MaskedReconstructionLoss',
                         loss_type='mse',
                         norm_pix=False),
                     rgb=dict(
                         type='MaskedReconstructionLoss',
                         loss_type='mse',
                         norm_pix=True),
                     distill=dict(type='GlobalFeatureDistillLoss')),
                 loss_weights: Dict[str, float] = dict(
                     depth=1.0, denoise=0.01, distill=1.0, rgb=0.),
                 sigma_max: float = 0.5,
                 noise_mode: str = 'full',
                 stage1_checkpoint: Optional[str] = None,
                 stage1_prefix: str = 'backbone.',
                 teacher_view: str = 'visible',
                 stage1_with_pos_embed: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if teacher_view not in self.TEACHER_VIEWS:
            raise ValueError(f'teacher_view must be one of '
                             f'{self.TEACHER_VIEWS}, got {teacher_view!r}')
        if noise_mode not in self.NOISE_MODES:
            raise ValueError(f'noise_mode must be one of {self.NOISE_MODES}, '
                             f'got {noise_mode!r}')
        if not sigma_max >= 0:
            raise ValueError(f'sigma_max must be >= 0, got {sigma_max}')
        if stage1_checkpoint is not None:
            check_stage1_file(stage1_checkpoint)  # before building ViTs
        unknown = set(loss_weights) - set(self.TERMS)
        if unknown:
            raise ValueError(f'loss_weights has unknown terms '
                             f'{sorted(unknown)}; known: {self.TERMS}')
        weights = {t: float(loss_weights.get(t, 0.)) for t in self.TERMS}
        if noise_mode != 'full':
            weights['denoise'] = 0.
        if weights['depth'] == 0.:
            raise ValueError("loss_weights['depth'] must be > 0 (the depth "
                             'head also predicts the noise)')
        losses = {
            t: (dict(c, on=self.LOSS_ON[t]) if t in self.LOSS_ON else c)
            for t, c in (losses or {}).items() if c is not None
        }
        neck, _, losses = prune_zero_weight_terms(weights, neck, None, losses)
        missing = [t for t, w in weights.items() if w and t not in losses]
        if missing:
            raise ValueError(f'losses has no config for the active terms '
                             f'{missing}')
        super().__init__(
            backbone=backbone,
            masker=masker,
            neck=neck,
            losses=losses,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        for t in ('depth', 'rgb'):
            if weights[t] and t not in self.neck.heads:
                raise ValueError(f"loss_weights['{t}'] > 0 needs "
                                 f"neck.heads['{t}']")
        self.loss_weights = weights
        self.sigma_max = float(sigma_max)
        self.noise_mode = noise_mode
        self.noise_embed = None
        if noise_mode == 'full':
            cfg = dict(noise_embed)
            cfg.setdefault('embed_dims', self.backbone.embed_dims)
            if self.sigma_max > 0:
                cfg.setdefault('sigma_scale', 1000. / self.sigma_max)
            self.noise_embed = build_in_scope(MODELS, cfg)
        self.teacher_view = teacher_view
        self.stage1_with_pos_embed = bool(stage1_with_pos_embed)
        self.teacher = None
        if weights['distill']:
            self.teacher = build_in_scope(MODELS, copy.deepcopy(backbone))
            self.teacher.requires_grad_(False)
            self.teacher.eval()
        self.stage1_checkpoint = stage1_checkpoint
        if stage1_checkpoint is not None:
            targets = {'student backbone': self.backbone}
            if self.teacher is not None:
                targets['teacher'] = self.teacher
            init_from_stage1(stage1_checkpoint, targets, stage1_prefix)
        elif self.teacher is not None:
            print_log(
                'ProgressiveStage2: stage1_checkpoint is None, so the '
                'distillation teacher has random weights; this is only '
                'meant for resuming (the teacher is then restored from the '
                'stage-2 checkpoint)', logger='current', level=30)

    @property
    def active_terms(self) -> List[str]:
        """Terms with a non-zero weight, in :attr:`TERMS` order."""
        return [t for t in self.TERMS if self.loss_weights[t] != 0.]

    def train(self, mode: bool = True) -> nn.Module:
        """Set the training mode; the teacher always stays in eval mode."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    # ------------------------------------------------------------------ #
    def sample_noise(self, depth: torch.Tensor,
                     generator: Optional[torch.Generator] = None):
        """``sigma ~ U[0, sigma_max]`` per sample and the noise ``sigma * e``.

        Drawn on the generator's device (CPU by default) and moved to the
        depth's device, as the maskers do.

        Args:
            depth (Tensor): (B, 1, H, W) (or (B, 1, T, H, W)) clean depth.
            generator (torch.Generator, optional): Random generator.

        Returns:
            tuple[Tensor, Tensor]: ``sigma`` (B,) and ``noise`` of the
            depth's shape.
        """
        B = depth.shape[0]
        dev = torch.device('cpu') if generator is None else generator.device
        sigma = torch.rand(B, generator=generator, device=dev) * \
            self.sigma_max  # (B,)
        e = torch.randn(depth.shape, generator=generator, device=dev)
        view = (B, ) + (1, ) * (depth.dim() - 1)
        noise = sigma.view(view) * e  # (B, 1, H, W)
        return (sigma.to(device=depth.device, dtype=depth.dtype),
                noise.to(device=depth.device, dtype=depth.dtype))

    def add_noise_embedding(self, feats: dict,
                            sigma: Optional[torch.Tensor]) -> dict:
        """The decoder input: ``feats`` with ``NoiseLevelEmbedding(sigma)``
        added to the depth tokens (unchanged without the embedding)."""
        if self.noise_embed is None:
            return feats
        depth = feats['tokens']['depth']
        emb = self.noise_embed(sigma).to(depth.dtype)  # (B, C)
        tokens = dict(feats['tokens'])
        tokens['depth'] = depth + emb[:, None, :]  # (B, N, C)
        return dict(feats, tokens=tokens)

    def forward_train(self,
                      inputs: dict,
                      visible: Optional[Dict[str, torch.Tensor]] = None,
                      sigma: Optional[torch.Tensor] = None,
                      noise: Optional[torch.Tensor] = None) -> dict:
        """Mask, corrupt, encode and decode.

        Args:
            inputs (dict): Preprocessed inputs (clean ``depth``).
            visible (dict, optional): Masks; drawn by ``masker`` if None.
            sigma (Tensor, optional): (B,) noise levels; with ``noise``
                given they are used instead of sampling.
            noise (Tensor, optional): ``sigma * e`` of the depth's shape.

        Returns:
            dict: ``feats`` (student backbone output), ``decoder_feats``
            (with the sigma embedding), ``preds`` ``{modality: (B, N, D)}``,
            ``sigma``, ``noise`` and ``depth_in`` (the depth encoded).
        """
        if visible is None:
            visible = self.generate_mask(inputs)
        x = self.encoder_inputs(inputs)
        clean = x['depth']
        if self.noise_mode == 'none':
            sigma = noise = None
            depth_in = clean
        else:
            if sigma is None or noise is None:
                sigma, noise = self.sample_noise(clean)
            depth_in = clean + noise  # (B, 1, H, W)
        feats = self.backbone(dict(x, depth=depth_in), visible)
        dec_feats = self.add_noise_embedding(feats, sigma)
        preds = self.neck(dec_feats)  # {modality: (B, N, D)}
        return dict(
            feats=feats,
            decoder_feats=dec_feats,
            preds=preds,
            sigma=sigma,
            noise=noise,
            depth_in=depth_in)

    def teacher_feats(self, inputs: dict,
                      visible: Optional[Dict[str, torch.Tensor]] = None
                      ) -> dict:
        """Frozen teacher on the clean input (no gradient).

        Args:
            inputs (dict): Preprocessed (clean) inputs.
            visible (dict, optional): The student's masks; used with
                ``teacher_view='visible'``.
        """
        view = visible if self.teacher_view == 'visible' else None
        with torch.no_grad():
            return self.teacher(self.encoder_inputs(inputs), view,
                                self.stage1_with_pos_embed)

    def loss_terms(self, inputs: dict, **kwargs) -> Dict[str, torch.Tensor]:
        """The **unweighted** active terms ``{term: scalar}``.

        Args:
            inputs (dict): Preprocessed inputs.
            **kwargs: ``visible``, ``sigma``, ``noise`` for
                :meth:`forward_train`.
        """
        out = self.forward_train(inputs, **kwargs)
        feats, preds = out['feats'], out['preds']
        p = self.backbone.patch_size
        terms = {}
        for t in self.active_terms:
            if t in ('depth', 'rgb'):
                grid = feats['grid_sizes'][t]
                target, valid = self.patch_target(inputs, t, p, grid)
                terms[t] = self.losses[t](preds[t], target,
                                          feats['visible'][t], valid)
            elif t == 'denoise':
                target = patchify(out['noise'].float(), p)  # (B, N, p*p)
                terms[t] = self.losses[t](preds['depth'], target,
                                          feats['visible']['depth'])
            else:
                terms[t] = self.losses[t](
                    feats, self.teacher_feats(inputs, feats['visible']))
        return terms

    def loss(self, inputs: dict,
             data_samples=None) -> Dict[str, torch.Tensor]:
        """Weighted ``loss_<term>`` for the active terms."""
        return {
            f'loss_{t}': self.loss_weights[t] * v
            for t, v in self.loss_terms(inputs).items()
        }

    @torch.no_grad()
    def reconstruct(self, inputs: dict) -> dict:
        """Depth (and RGB) in input units for visualisation.

        Hidden depth patches: the clean-depth prediction with the ground
        truth's per-patch statistics put back (norm-pix). Visible patches:
        the encoded (noisy) depth minus the predicted noise in the
        ``'full'`` mode, the encoded depth otherwise.
        """
        out = self.forward_train(inputs)
        feats, preds = out['feats'], out['preds']
        p = self.backbone.patch_size
        recon = {}
        for mod, pred in preds.items():
            grid = feats['grid_sizes'][mod]
            target, valid = self.patch_target(inputs, mod, p, grid)
            pred = self.losses[mod].denormalize_pred(pred, target, valid)
            if mod == 'depth':
                given = patchify(out['depth_in'].float(), p)  # (B, N, p*p)
                if self.noise_mode == 'full':
                    given = given - preds['depth']
                vis = feats['visible']['depth'][..., None]  # (B, N, 1)
                pred = torch.where(vis, given, pred)  # (B, N, p*p)
            recon[mod] = self.to_image(pred, p, grid)  # (B, C, H, W)
        return dict(
            preds=recon, visible=feats['visible'],
            grid_sizes=feats['grid_sizes'])
