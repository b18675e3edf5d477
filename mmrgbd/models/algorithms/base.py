"""Base class of the RGB-D self-supervised algorithms."""
import contextlib
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel, ModuleDict

from mmrgbd.registry import MODELS, build_in_scope
from mmrgbd.structures import RGBDDataSample
from ..utils import patchify, unpatchify


def _build_modules(cfg) -> Optional[nn.Module]:
    """Build one module (a config with ``type``) or a ModuleDict of them.

    MMEngine's ``ModuleDict`` (not torch's) so that ``init_weights`` reaches
    every member.
    """
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    if 'type' in cfg:
        return build_in_scope(MODELS, cfg)
    return ModuleDict(
        {name: build_in_scope(MODELS, c)
         for name, c in cfg.items()})


def sample_mask_seed(base_seed: int, iteration: int, sample_idx: int) -> int:
    """Seed of one sample's mask: a hash of (seed, iteration, sample).

    ``numpy.random.SeedSequence`` mixes the three numbers into a 63-bit seed
    (well spread, unlike ``seed + idx``: neighbouring samples and steps get
    unrelated masks).
    """
    seq = np.random.SeedSequence(
        [int(base_seed) & 0xFFFFFFFF, int(iteration), int(sample_idx)])
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


@MODELS.register_module()
class BaseRGBDSelfSupervisor(BaseModel):
    """Base of the masked RGB-D pre-training algorithms.

    In the spirit of mmpretrain's ``BaseSelfSupervisor``: it builds the data
    preprocessor, backbone, masker, neck(s), head(s) and losses (each a config
    or a dict of configs, giving an ``nn.ModuleDict``) through
    :func:`mmrgbd.registry.build_in_scope`, and dispatches
    ``forward(inputs, data_samples, mode)`` to :meth:`extract_feat`
    (``'tensor'``), :meth:`loss` (``'loss'``) or :meth:`predict`
    (``'predict'``). Subclasses implement :meth:`loss` (one ``loss_<term>``
    key per term) and :meth:`reconstruct` (used by :meth:`predict`).

    Args:
        backbone (dict): Backbone config (e.g. ``MultiModalViT``).
        masker (dict, optional): Masker config.
        neck (dict, optional): A neck config or ``{name: config}``.
        head (dict, optional): A head config or ``{name: config}``.
        losses (dict, optional): ``{term: loss config}``.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='RGBDDataPreprocessor')``.
        init_cfg (dict | list[dict], optional): Init config.
    """

    def __init__(self,
                 backbone: dict,
                 masker: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 losses: Optional[Dict[str, dict]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='RGBDDataPreprocessor')
        data_preprocessor = build_in_scope(MODELS, data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_in_scope(MODELS, backbone)
        self.masker = build_in_scope(MODELS, masker)
        self.neck = _build_modules(neck)
        self.head = _build_modules(head)
        self.losses = nn.ModuleDict({
            name: build_in_scope(MODELS, cfg)
            for name, cfg in (losses or {}).items()
        })

    # ------------------------------------------------------------------ #
    # helpers shared by the algorithms
    # ------------------------------------------------------------------ #
    @property
    def modalities(self) -> List[str]:
        """The token modalities the backbone encodes."""
        return list(self.backbone.modalities)

    def encoder_inputs(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """The backbone's modalities picked from the preprocessed inputs."""
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise KeyError(f'inputs lack modalities {missing} needed by the '
                           f'backbone (got {list(inputs)})')
        return {m: inputs[m] for m in self.modalities}

    def grid_sizes(self, inputs: dict) -> Dict[str, Tuple[int, ...]]:
        """Token grid ``(h, w)`` of every backbone modality for ``inputs``."""
        return self.backbone.grid_sizes(self.encoder_inputs(inputs))

    def generate_mask(self,
                      inputs: dict,
                      generator: Optional[torch.Generator] = None
                      ) -> Dict[str, torch.Tensor]:
        """Visible masks ``{modality: (B, N) bool}`` from the masker.

        With an explicit ``generator`` the whole batch is drawn from it.
        Otherwise, inside :meth:`forward` on samples from a dataset
        (``sample_idx`` in their metainfo) under a runner that publishes
        ``base_seed`` (:class:`~mmrgbd.engine.RGBDRunner`), every sample's
        mask is drawn from its own generator seeded by
        :func:`sample_mask_seed` ``(base_seed, iteration, sample_idx)``: a
        pure function of the sample and the training step. Masks are then
        the same whatever the world size, the rank, the per-process batch
        size or a resume (1 process x batch 8 and 2 processes x batch 4 see
        the same masks), and differ between ranks because their samples
        differ. Without that context (direct calls, tools) the global torch
        generator is used.
        """
        x = self.encoder_inputs(inputs)
        batch_size = next(iter(x.values())).shape[0]
        grids = self.grid_sizes(inputs)
        seeds = None if generator is not None else self._sample_seeds()
        if seeds is None or len(seeds) != batch_size:
            return self._draw_masks(x, grids, generator)
        per_sample = [
            self._draw_masks({m: v[i:i + 1] for m, v in x.items()}, grids,
                             torch.Generator().manual_seed(seed))
            for i, seed in enumerate(seeds)
        ]
        return {
            m: torch.cat([v[m] for v in per_sample])  # (B, N_m)
            for m in per_sample[0]
        }

    def _draw_masks(self, x: Dict[str, torch.Tensor], grids: dict,
                    generator: Optional[torch.Generator]
                    ) -> Dict[str, torch.Tensor]:
        """The masker's masks for the batch ``x``; a content-aware masker
        (``needs_inputs``, e.g. ``InformationWeightedMasker``) is
        conditioned on ``x`` itself, so a per-sample draw sees that
        sample's content only."""
        batch_size = next(iter(x.values())).shape[0]
        device = next(iter(x.values())).device
        if not getattr(self.masker, 'needs_inputs', False):
            return self.masker(
                batch_size, grids, generator=generator, device=device)
        with self.masker.conditioned_on(x):
            return self.masker(
                batch_size, grids, generator=generator, device=device)

    def _sample_seeds(self) -> Optional[List[int]]:
        """Per-sample mask seeds of the current forward, or None."""
        indices = getattr(self, '_mask_sample_indices', None)
        if indices is None:
            return None
        hub = MessageHub.get_current_instance()
        base_seed = hub.get_info('base_seed')
        if base_seed is None:
            return None
        iteration = hub.get_info('iter') or 0
        return [sample_mask_seed(base_seed, iteration, i) for i in indices]

    @contextlib.contextmanager
    def _mask_context(self, data_samples: Optional[Sequence]):
        """Remember the samples' dataset indices during one forward."""
        indices = None
        if data_samples:
            found = [getattr(ds, 'metainfo', {}).get('sample_idx')
                     for ds in data_samples]
            if all(i is not None for i in found):
                indices = [int(i) for i in found]
        self._mask_sample_indices = indices
        try:
            yield
        finally:
            self._mask_sample_indices = None

    def extract_feat(self,
                     inputs: dict,
                     visible: Optional[Dict[str, torch.Tensor]] = None):
        """Backbone output dict (``visible=None``: every token visible)."""
        return self.backbone(self.encoder_inputs(inputs), visible)

    @staticmethod
    def patch_target(inputs: dict, modality: str, patch_size: int,
                     grid_size: Tuple[int, int]):
        """Target patches of ``modality`` and their per-value valid mask.

        Args:
            inputs (dict): Preprocessed inputs.
            modality (str): ``'rgb'`` or ``'depth'`` (any (B, C, H, W) key).
            patch_size (int): Target patch size p.
            grid_size (tuple[int, int]): Expected token grid (h, w).

        Returns:
            tuple[Tensor, Tensor | None]: target (B, N, p*p*C) and, for
            depth with ``depth_valid`` in the inputs, a bool mask of the same
            shape; else None.
        """
        img = inputs[modality]
        h, w = grid_size
        if img.shape[-2:] != (h * patch_size, w * patch_size):
            raise ValueError(
                f'{modality} of size {tuple(img.shape[-2:])} does not match '
                f'the {h}x{w} grid of {patch_size}-pixel patches')
        target = patchify(img.float(), patch_size)  # (B, N, p*p*C)
        valid = None
        if modality == 'depth' and 'depth_valid' in inputs:
            v = inputs['depth_valid'].bool().expand_as(img)  # (B, C, H, W)
            valid = patchify(v.to(target.dtype), patch_size) > 0.5
        return target, valid

    @staticmethod
    def patch_size_of(out_channels: int, channels: int) -> int:
        """p such that ``out_channels == p * p * channels``."""
        p = int(round((out_channels / channels)**0.5))
        if p * p * channels != out_channels:
            raise ValueError(f'{out_channels} outputs per token are not '
                             f'p*p*{channels}')
        return p

    # ------------------------------------------------------------------ #
    # mmengine interface
    # ------------------------------------------------------------------ #
    def forward(self,
                inputs: dict,
                data_samples: Optional[List[RGBDDataSample]] = None,
                mode: str = 'tensor'):
        """Dispatch to ``extract_feat``, ``loss`` or ``predict``.

        Args:
            inputs (dict): Preprocessed ``{modality: tensor}``.
            data_samples (list[RGBDDataSample], optional): Data samples.
            mode (str): ``'tensor'``, ``'loss'`` or ``'predict'``.
        """
        if mode == 'tensor':
            return self.extract_feat(inputs)
        with self._mask_context(data_samples):
            if mode == 'loss':
                return self.loss(inputs, data_samples)
            if mode == 'predict':
                return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def parse_losses(self, losses: Dict[str, torch.Tensor]
                     ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """MMEngine's loss parsing; logged values are means over ranks.

        The returned loss (the one back-propagated) stays this rank's own;
        DDP averages its gradients. The logged values are detached and
        averaged over all ranks with one ``all_reduce``, so the log shows
        the loss of the global batch (as far as every rank's loss is a mean
        over the same number of elements), not rank 0's.
        """
        loss, log_vars = super().parse_losses(losses)
        log_vars = OrderedDict(
            (k, v.detach()) for k, v in log_vars.items())  # scalars
        if dist.is_available() and dist.is_initialized() and \
                dist.get_world_size() > 1 and log_vars:
            values = torch.stack(
                [v.float() for v in log_vars.values()])  # (K, )
            dist.all_reduce(values)
            values = values / dist.get_world_size()
            log_vars = OrderedDict(zip(log_vars, values.unbind(0)))
        return loss, log_vars

    def loss(self, inputs: dict,
             data_samples: Optional[List[RGBDDataSample]] = None
             ) -> Dict[str, torch.Tensor]:
        """Losses, one ``loss_<term>`` key per term."""
        raise NotImplementedError

    def reconstruct(self, inputs: dict) -> dict:
        """Mask, encode and decode a batch for visualisation.

        Returns:
            dict: ``preds={name: (B, C, H, W)}`` in input units (attached as
            ``pred_<name>``), ``visible={modality: (B, N) bool}`` and
            ``grid_sizes``.
        """
        raise NotImplementedError

    @torch.no_grad()
    def predict(self,
                inputs: dict,
                data_samples: Optional[List[RGBDDataSample]] = None
                ) -> List[RGBDDataSample]:
        """Data samples with reconstructions attached for visualisation.

        Attaches ``pred_<name>`` (C, H, W) for each reconstruction (e.g.
        ``pred_depth`` (1, H, W) in the units of the model input,
        ``pred_rgb`` (3, H, W) in the normalised input space),
        ``visible_<modality>`` (h, w) bool masks (True = given to the encoder)
        and ``gt_depth`` (1, H, W) when depth is an input.
        """
        out = self.reconstruct(inputs)
        batch_size = next(iter(out['visible'].values())).shape[0]
        if data_samples is None:
            data_samples = [RGBDDataSample() for _ in range(batch_size)]
        for i, ds in enumerate(data_samples):
            for name, pred in out['preds'].items():
                ds.set_field(pred[i], f'pred_{name}')
            for mod, vis in out['visible'].items():
                grid = out['grid_sizes'][mod]
                ds.set_field(vis[i].reshape(grid), f'visible_{mod}')
            if 'depth' in inputs:
                ds.set_field(inputs['depth'][i], 'gt_depth')
        return data_samples

    @staticmethod
    def to_image(patches: torch.Tensor, patch_size: int,
                 grid_size: Tuple[int, int]) -> torch.Tensor:
        """(B, N, p*p*C) patches to a (B, C, h*p, w*p) image."""
        return unpatchify(patches, patch_size, tuple(grid_size))
