"""Per-modality patch projections of :class:`MultiModalViT`.

A patch-embedding module maps one modality's input to tokens and exposes:

* ``forward(x) -> (tokens (B, N, C), grid)`` with ``grid`` the token grid
  ``(h, w)`` (``(t, h, w)`` for clips) in row-major token order, as
  :class:`mmcv.cnn.bricks.transformer.PatchEmbed` returns;
* ``get_grid_size(spatial_shape) -> grid`` for an input of spatial shape
  ``(H, W)`` (``(T, H, W)``), so maskers can run before the forward pass;
* its learned projection as ``projection`` (the key mmpretrain's ViT uses).

Modules are built with :func:`build_patch_embed` from a modality config;
``type`` may be ``'image'`` (default), ``'semseg'`` or any registered model
(e.g. a video tubelet embedding).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmrgbd.registry import MODELS, build_in_scope

TYPE_ALIASES = {'image': 'ImagePatchEmbed', 'semseg': 'SemsegPatchEmbed'}


def _is_pretrained(init_cfg) -> bool:
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    return any(isinstance(c, dict) and c.get('type') == 'Pretrained'
               for c in cfgs)


def _xavier_as_linear(conv: nn.Conv2d) -> None:
    """Initialise a patch projection like an ``nn.Linear`` (as MAE)."""
    w = conv.weight.data
    nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def project_patches(conv: nn.Conv2d, x: torch.Tensor,
                    channels_last: bool = False
                    ) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """A non-overlapping patch conv (kernel = stride, no padding) as one
    matmul over the flattened patches.

    The same result as ``conv(x).flatten(2).transpose(1, 2)`` (the weight
    ``(D, C, k, k)`` flattened in the patches' ``(C, k, k)`` order), but one
    GEMM forward and two backward instead of the CPU convolution kernels,
    which ran its backward at a tenth of the GEMM rate in the ViT-B
    profile (``tools/analysis/benchmark_pretrain.py --profile``).

    Args:
        conv (nn.Conv2d): The projection (its weight and bias are used).
        x (Tensor): (B, C, H, W), or (B, H, W, C) with ``channels_last``.
        channels_last (bool): Layout of ``x``. Defaults to False.

    Returns:
        tuple[Tensor, tuple[int, int]]: tokens (B, h*w, D) and ``(h, w)``.
    """
    k = conv.kernel_size[0]
    if channels_last:
        B, H, W, C = x.shape
        h, w = H // k, W // k
        x = x.reshape(B, h, k, w, k, C).permute(0, 1, 3, 5, 2,
                                                4)  # (B, h, w, C, k, k)
    else:
        B, C, H, W = x.shape
        h, w = H // k, W // k
        x = x.reshape(B, C, h, k, w, k).permute(0, 2, 4, 1, 3,
                                                5)  # (B, h, w, C, k, k)
    patches = x.reshape(B, h * w, C * k * k)  # (B, N, C*k*k)
    weight = conv.weight.reshape(conv.out_channels, -1)  # (D, C*k*k)
    return F.linear(patches, weight, conv.bias), (h, w)  # (B, N, D)


def _check_divisible(name: str, spatial_shape: Sequence[int],
                     patch_size: int) -> Tuple[int, ...]:
    if any(s % patch_size for s in spatial_shape):
        raise ValueError(f'{name}: input of size {tuple(spatial_shape)} is '
                         f'not divisible into {patch_size}x{patch_size} '
                         f'patches')
    return tuple(int(s) // patch_size for s in spatial_shape)


@MODELS.register_module()
class ImagePatchEmbed(PatchEmbed):
    """Non-overlapping conv patch projection of a C-channel image.

    mmcv's ``PatchEmbed`` (the module mmpretrain's ``VisionTransformer``
    uses, so the keys are ``projection.weight`` / ``projection.bias``) with
    kernel = stride = ``patch_size`` and no padding: inputs must be
    divisible into whole patches. Used for RGB (3 channels) and depth
    (1 channel).

    Args:
        in_channels (int): Input channels. Defaults to 3.
        embed_dims (int): Token width. Defaults to 768.
        patch_size (int): Patch side in pixels. Defaults to 16.
        bias (bool): Projection bias. Defaults to True.
        init_cfg (dict, optional): Init config; without one the projection
            is initialised like a linear layer (xavier uniform, as MAE).
    """

    def __init__(self,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 patch_size: int = 16,
                 bias: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            in_channels=in_channels,
            embed_dims=embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size,
            padding=0,
            bias=bias,
            init_cfg=init_cfg)
        self.in_channels = in_channels
        self.patch_size = patch_size

    def get_grid_size(self, spatial_shape: Sequence[int]) -> Tuple[int, int]:
        """Token grid ``(H / p, W / p)`` of an ``(H, W)`` input."""
        return _check_divisible(type(self).__name__, spatial_shape,
                                self.patch_size)

    def init_weights(self) -> None:
        """MAE-style (xavier-as-linear) unless an init config is given."""
        if self.init_cfg:
            super().init_weights()
        else:
            _xavier_as_linear(self.projection)

    def forward(self, x: torch.Tensor):
        """Project patches.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            tuple[Tensor, tuple[int, int]]: tokens (B, h*w, C_out) and
            ``(h, w)``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'ImagePatchEmbed expects (B, {self.in_channels}'
                             f', H, W), got {tuple(x.shape)}')
        self.get_grid_size(x.shape[-2:])
        # no adaptive padding and no norm (padding=0, norm_cfg=None): the
        # conv of mmcv's PatchEmbed, as one matmul
        return project_patches(self.projection, x)  # (B, N, C)


@MODELS.register_module()
class SemsegPatchEmbed(BaseModule):
    """Tokens from a semantic label map (MultiMAE-style semseg input).

    The full-resolution label map is downsampled ``downsample`` times with
    nearest-neighbour sampling (pixel ``(s*i, s*j)``, what
    ``F.interpolate(mode='nearest')`` picks for an integer factor ``s``),
    every label is replaced by a learned ``class_embed_dims``-d class
    embedding and a conv with kernel = stride = ``patch_size / downsample``
    projects the embedding map to tokens, so the token grid equals the
    ``patch_size`` grid of the image. Pixels equal to ``ignore_index`` use
    an extra learned embedding (row ``num_classes``).

    Args:
        num_classes (int): Number of classes K (ids ``0..K-1``).
        embed_dims (int): Token width. Defaults to 768.
        patch_size (int): Patch side in full-resolution pixels. Defaults
            to 16.
        downsample (int): Nearest downsampling factor before the
            embedding. Defaults to 4.
        class_embed_dims (int): Class embedding width. Defaults to 64.
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.
        init_cfg (dict, optional): Init config; by default the class
            embedding is truncated-normal (std 0.02) and the projection
            xavier-as-linear.
    """

    def __init__(self,
                 num_classes: int,
                 embed_dims: int = 768,
                 patch_size: int = 16,
                 downsample: int = 4,
                 class_embed_dims: int = 64,
                 ignore_index: int = 255,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if patch_size % downsample:
            raise ValueError(f'patch_size {patch_size} must be a multiple of '
                             f'downsample {downsample}')
        self.num_classes = num_classes
        self.patch_size = patch_size
        self.downsample = downsample
        self.ignore_index = ignore_index
        self.class_embed = nn.Embedding(num_classes + 1, class_embed_dims)
        kernel = patch_size // downsample
        self.projection = nn.Conv2d(
            class_embed_dims, embed_dims, kernel_size=kernel, stride=kernel)

    def get_grid_size(self, spatial_shape: Sequence[int]) -> Tuple[int, int]:
        """Token grid ``(H / p, W / p)`` of a full-resolution label map."""
        return _check_divisible(type(self).__name__, spatial_shape,
                                self.patch_size)

    def init_weights(self) -> None:
        """Truncated-normal class embedding, xavier projection."""
        if self.init_cfg:
            super().init_weights()
            if _is_pretrained(self.init_cfg):
                return
        trunc_normal_(self.class_embed.weight, std=0.02)
        _xavier_as_linear(self.projection)

    def forward(self, x: torch.Tensor):
        """Embed a label map.

        Args:
            x (Tensor): Integer labels (B, 1, H, W) or (B, H, W).

        Returns:
            tuple[Tensor, tuple[int, int]]: tokens (B, h*w, C) and ``(h, w)``.
        """
        if x.dim() == 4:
            if x.shape[1] != 1:
                raise ValueError(f'SemsegPatchEmbed expects (B, 1, H, W), '
                                 f'got {tuple(x.shape)}')
            x = x[:, 0]  # (B, H, W)
        if x.dim() != 3 or x.is_floating_point():
            raise ValueError(f'SemsegPatchEmbed expects integer labels (B, '
                             f'H, W), got {x.dtype} {tuple(x.shape)}')
        grid = self.get_grid_size(x.shape[-2:])
        s = self.downsample
        x = x[:, ::s, ::s].long()  # (B, H/s, W/s)
        out_of_range = (x != self.ignore_index) & ((x < 0) |
                                                   (x >= self.num_classes))
        if bool(out_of_range.any()):
            bad = torch.unique(x[out_of_range])
            raise ValueError(
                f'semseg labels {bad.tolist()[:10]} are outside [0, '
                f'{self.num_classes}) and not ignore_index='
                f'{self.ignore_index}')
        x = torch.where(x == self.ignore_index,
                        torch.full_like(x, self.num_classes), x)
        emb = self.class_embed(x)  # (B, H/s, W/s, E)
        tokens, _ = project_patches(self.projection, emb,
                                    channels_last=True)  # (B, h*w, C)
        return tokens, grid


def build_patch_embed(cfg: dict, embed_dims: int,
                      patch_size: int) -> nn.Module:
    """Build a modality's patch embedding.

    Args:
        cfg (dict): Modality config without ``init_cfg``; ``type`` is
            ``'image'`` (default), ``'semseg'`` or a registered model name.
            The other keys go to the module (e.g. ``in_channels``,
            ``num_classes``).
        embed_dims (int): Token width (set unless ``cfg`` gives it).
        patch_size (int): Patch size (set unless ``cfg`` gives it).

    Returns:
        nn.Module: The patch embedding.
    """
    cfg = dict(cfg)
    cfg['type'] = TYPE_ALIASES.get(cfg.get('type', 'image'),
                                   cfg.get('type', 'image'))
    cfg.setdefault('embed_dims', embed_dims)
    cfg.setdefault('patch_size', patch_size)
    return build_in_scope(MODELS, cfg)
