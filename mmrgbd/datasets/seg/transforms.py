"""Depth in mmseg pipelines: load it, carry it, feed it to the network.

mmseg's geometric transforms (``Resize``, ``RandomResize``, ``RandomCrop``,
``RandomFlip``, ``RandomRotate`` ...) apply to ``results['img']`` and to every
key listed in ``results['seg_fields']``, the latter with **nearest**
interpolation. :class:`LoadDepthMap` puts the metric depth there, so it follows
every geometric augmentation of an unmodified mmseg pipeline without being
blurred across depth edges; photometric transforms only touch ``img``. After
the augmentations :class:`StackInputModalities` builds the network input from
the modalities a model was fine-tuned with (RGB, RGB-D or depth alone, as
MultiMAE's Table 2), normalising the depth with
:class:`~mmrgbd.datasets.transforms.NormalizeDepth`.

Padding: transforms that pad ``seg_fields`` (mmseg's ``Pad``,
``RandomRotate``) pad with ``seg_pad_val`` (255 m for depth); pad in the data
preprocessor instead (``SegDataPreProcessor(size=...)``), which pads the
normalised input with 0 (= "no depth" after :class:`StackInputModalities`).
"""
from typing import Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmrgbd.registry import TRANSFORMS, build_in_scope
from ..depth_io import check_encoding, read_depth

__all__ = ['LoadDepthMap', 'StackInputModalities']

MODALITIES = ('rgb', 'depth')


@TRANSFORMS.register_module()
class LoadDepthMap(BaseTransform):
    """Load ``depth_path`` as metric depth and register it in ``seg_fields``.

    The file is decoded with :func:`mmrgbd.datasets.depth_io.read_depth` in
    the entry's ``depth_unit`` (metres, 0 where invalid). A depth map of
    another size than the loaded image (ScanNet: 640x480 depth, 1296x968
    colour of exported frames) is resized to the image with nearest
    neighbours (colour and depth of these sensors are registered up to the
    resize). Place it after ``LoadImageFromFile`` and before any geometric
    transform.

    Required keys: ``depth_path``, ``depth_unit``, ``img`` (optional).
    Added keys: ``depth`` float32 (H, W) metres; ``'depth'`` in
    ``seg_fields``.

    Args:
        max_depth (float, optional): Depths above it (metres) are invalid.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self,
                 max_depth: Optional[float] = None,
                 backend_args: Optional[dict] = None) -> None:
        self.max_depth = max_depth
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        """Read the depth map (see the class docstring)."""
        depth, _ = read_depth(
            results['depth_path'],
            check_encoding(results.get('depth_unit')),
            max_depth=self.max_depth,
            backend_args=self.backend_args)  # (H_d, W_d) metres, 0 invalid
        img = results.get('img')
        if img is not None and depth.shape != img.shape[:2]:
            h, w = img.shape[:2]
            depth = cv2.resize(
                depth, (w, h), interpolation=cv2.INTER_NEAREST)  # (H, W)
        results['depth'] = depth
        fields = results.setdefault('seg_fields', [])
        if 'depth' not in fields:
            fields.append('depth')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(max_depth={self.max_depth})'


@TRANSFORMS.register_module()
class StackInputModalities(BaseTransform):
    """Make ``img`` the stack of the input modalities, in a fixed order.

    ``'rgb'`` contributes the three colour channels in **RGB** order (the
    ``img`` of ``LoadImageFromFile`` is BGR, so the data preprocessor must not
    convert again: mmseg's ``SegDataPreProcessor`` only swaps 3-channel
    inputs, and ``bgr_to_rgb=False`` is set in the configs), ``'depth'``
    the normalised depth: ``NormalizeDepth`` (default MultiMAE's robust
    per-image standardisation) over the valid (> 0) pixels, 0 elsewhere.
    Place it after all augmentations, before ``PackSegInputs``; give the
    data preprocessor one mean / std per output channel (depth: 0 / 1).

    Required keys: ``img`` (BGR uint8), ``depth`` (for ``'depth'``).
    Modified keys: ``img`` float32 (H, W, C) with C = 3 per ``'rgb'`` + 1 per
    ``'depth'``. Added keys: ``input_modalities``, ``depth_norm``.

    Args:
        modalities (Sequence[str]): Subset of ``('rgb', 'depth')`` in channel
            order, e.g. ``('rgb', 'depth')`` or ``('depth',)``.
        depth_norm (dict): Config of the depth normalisation (built in the
            mmrgbd scope). Defaults to ``NormalizeDepth(mode='robust',
            trunc=0.1)``.
    """

    def __init__(self,
                 modalities: Sequence[str] = ('rgb', 'depth'),
                 depth_norm: dict = dict(
                     type='NormalizeDepth', mode='robust', trunc=0.1)
                 ) -> None:
        modalities = tuple(modalities)
        if not modalities or any(m not in MODALITIES for m in modalities) \
                or len(set(modalities)) != len(modalities):
            raise ValueError(f'modalities must be distinct entries of '
                             f'{MODALITIES}, got {modalities}')
        self.modalities = modalities
        self.depth_norm = build_in_scope(TRANSFORMS, depth_norm)

    def transform(self, results: dict) -> dict:
        """Stack the modalities into ``results['img']``."""
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'{results.get("img_path", "<sample>")}: img '
                             f'must be (H, W, 3) BGR, got {img.shape}')
        channels = []
        for m in self.modalities:
            if m == 'rgb':
                channels.append(img[..., ::-1].astype(np.float32))  # (H,W,3)
                continue
            if results.get('depth') is None:
                raise KeyError(f'{results.get("img_path", "<sample>")}: no '
                               "'depth' to stack; add LoadDepthMap to the "
                               'pipeline')
            depth = results['depth']
            normed = self.depth_norm.transform(
                dict(depth=depth, depth_valid=depth > 0,
                     depth_path=results.get('depth_path')))
            results['depth_norm'] = normed['depth_norm']
            channels.append(normed['depth'][..., None])  # (H, W, 1)
        results['img'] = np.ascontiguousarray(
            np.concatenate(channels, axis=2))  # (H, W, C)
        results['input_modalities'] = self.modalities
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'depth_norm={self.depth_norm!r})')
