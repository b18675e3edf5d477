"""Patch-level cross-modal contrastive head (InfoNCE on encoder features,
optionally after projection MLPs)."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule

from mmrgbd.models.losses.patch_infonce import both_visible
from mmrgbd.registry import MODELS, build_in_scope


def _projection_mlp(in_channels: int, hidden_channels: int,
                    out_channels: int, num_layers: int,
                    act_cfg: dict) -> nn.Module:
    """Token-wise MLP ``Linear -> act -> ... -> Linear`` (no norm layers).

    Args:
        in_channels (int): Input width.
        hidden_channels (int): Width of the hidden layers.
        out_channels (int): Output width.
        num_layers (int): Number of linear layers; 0 = identity (the
            encoder features themselves).
        act_cfg (dict): Activation config for mmcv's
            ``build_activation_layer``.

    Returns:
        nn.Module: The MLP (or ``nn.Identity``), applied to the last axis.
    """
    if num_layers < 0:
        raise ValueError(f'num_layers must be >= 0, got {num_layers}')
    if num_layers == 0:
        return nn.Identity()
    layers = []
    width = in_channels
    for _ in range(num_layers - 1):
        layers += [nn.Linear(width, hidden_channels),
                   build_activation_layer(act_cfg)]
        width = hidden_channels
    layers.append(nn.Linear(width, out_channels))
    return nn.Sequential(*layers)


@MODELS.register_module()
class PatchContrastHead(BaseModule):
    """Patch-level RGB <-> depth contrast on the backbone output.

    By default (``num_layers=0``) the loss (:class:`PatchInfoNCELoss`)
    L2-normalises the **encoder features** themselves and contrasts the two
    maps position by position, as both papers define ``s_ij`` (M3 3D Eq. 3,
    Progressive Eq. 1). With ``num_layers >= 1`` each modality's tokens first
    go through their own projection MLP (``in_channels -> hidden_channels ->
    out_channels``, SimCLR style) -- an option the papers do not describe.
    Only positions visible in **both** modalities are used. The two
    modalities must share the same token grid (same ``N``).

    Args:
        in_channels (int): Encoder width ``C``.
        out_channels (int): Projection output width (``num_layers >= 1``).
            Default 128.
        hidden_channels (int | None): Hidden width; ``None`` = ``in_channels``.
        num_layers (int): Linear layers per projection MLP; 0 (default) = no
            projection.
        modalities (Sequence[str]): The two modalities ``(a, b)`` to contrast.
            Default ``('rgb', 'depth')``.
        act_cfg (dict): Activation. Default ``dict(type='ReLU')``.
        loss (dict): Loss config. Default ``dict(type='PatchInfoNCELoss')``.
        init_cfg (dict | list | None): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 128,
                 hidden_channels: Optional[int] = None,
                 num_layers: int = 0,
                 modalities: Sequence[str] = ('rgb', 'depth'),
                 act_cfg: dict = dict(type='ReLU'),
                 loss: dict = dict(type='PatchInfoNCELoss'),
                 init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02,
                               bias=0.)):
        super().__init__(init_cfg=init_cfg)
        if len(modalities) != 2:
            raise ValueError(
                f'modalities must name exactly two, got {modalities}')
        self.modalities = tuple(modalities)
        hidden_channels = hidden_channels or in_channels
        self.projections = nn.ModuleDict({
            mod: _projection_mlp(in_channels, hidden_channels, out_channels,
                                 num_layers, act_cfg)
            for mod in self.modalities
        })
        self.loss_module = build_in_scope(MODELS, loss)

    def forward(self, tokens: Dict[str, torch.Tensor]
                ) -> Dict[str, torch.Tensor]:
        """Project each modality's tokens (identity without projection).

        Args:
            tokens (dict[str, Tensor]): ``{modality: (B, N, C)}``.

        Returns:
            dict[str, Tensor]: ``{modality: (B, N, D)}`` (``D = C`` without
            projection, else ``out_channels``), not normalised.
        """
        return {mod: self.projections[mod](tokens[mod])  # (B, N, D)
                for mod in self.modalities}

    def loss(self, feats: dict) -> Dict[str, torch.Tensor]:
        """Compute the contrastive loss.

        Args:
            feats (dict): The backbone output dict with ``tokens``
                ``{modality: (B, N, C)}`` and ``visible``
                ``{modality: (B, N) bool}`` (missing / ``None`` = all).

        Returns:
            dict[str, Tensor]: ``{'loss_patch_nce': scalar}``.
        """
        mod_a, mod_b = self.modalities
        tokens = feats['tokens']
        if tokens[mod_a].shape[:2] != tokens[mod_b].shape[:2]:
            raise ValueError(
                f'{mod_a} and {mod_b} tokens must share (B, N) for a '
                f'patch-level contrast, got {tuple(tokens[mod_a].shape)} and '
                f'{tuple(tokens[mod_b].shape)}')
        visible = feats.get('visible') or {}
        valid = both_visible(
            visible.get(mod_a), visible.get(mod_b))  # (B, N) or None
        proj = self(tokens)
        return dict(
            loss_patch_nce=self.loss_module(proj[mod_a], proj[mod_b], valid))
