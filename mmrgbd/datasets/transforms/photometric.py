"""Photometric transforms that act on ``rgb`` only.

They wrap the OpenMMLab implementations (mmpretrain ``ColorJitter`` and
``GaussianBlur``, mmcv ``RandomGrayscale``) instead of re-implementing them:
:class:`RGBOnlyWrapper` hands the wrapped transform a fresh dict
``{'img': frame}`` holding nothing but one RGB frame, so ``depth``,
``depth_valid``, ``semseg`` and every other key cannot be touched.

For a clip ``(T, H, W, 3)`` the wrapped transform is run once per frame inside
``mmcv.transforms.utils.cache_random_params``, so every frame gets the **same**
random parameters (the wrapped transforms draw them in methods decorated with
``cache_randomness``).
"""
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_random_params, cache_randomness

from mmrgbd.registry import TRANSFORMS, build_in_scope

__all__ = [
    'RGBOnlyWrapper', 'RGBColorJitter', 'RGBGaussianBlur', 'RandomGrayscale'
]


@TRANSFORMS.register_module()
class RGBOnlyWrapper(BaseTransform):
    """Apply an ``img``-keyed OpenMMLab transform to ``results['rgb']``.

    The wrapped transform only ever sees ``{'img': frame}``; its output image
    replaces ``rgb`` and must keep the frame's shape. A clip is processed
    frame by frame with shared random parameters (``cache_random_params``;
    randomness outside ``cache_randomness`` methods is not shared). With
    probability ``1 - prob`` nothing is done.

    Example:
        >>> dict(type='RGBOnlyWrapper',
        ...      impl=dict(type='mmpretrain.Solarize', thr=128, prob=0.2))

    Args:
        impl (BaseTransform | dict): The wrapped transform (or its config,
            built in the mmrgbd scope; prefix e.g. ``mmpretrain.``), reading
            and writing ``results['img']`` (uint8, RGB, ``(H, W, 3)``).
        prob (float): Probability to apply it. Defaults to 1.0.
    """

    def __init__(self, impl: Union[BaseTransform, dict],
                 prob: float = 1.0) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.impl = build_in_scope(TRANSFORMS, impl)
        self.prob = prob

    @cache_randomness
    def _do_apply(self) -> bool:
        return self.prob >= 1 or bool(np.random.rand() < self.prob)

    def _apply_frame(self, frame: np.ndarray) -> np.ndarray:
        out = self.impl.transform({'img': frame})['img']
        if out.shape != frame.shape:
            raise RuntimeError(f'{self.impl!r} changed the rgb frame shape '
                               f'from {frame.shape} to {out.shape}')
        return out.astype(frame.dtype, copy=False)

    def transform(self, results: dict) -> dict:
        """Transform ``results['rgb']`` (frame or clip) in place.

        Args:
            results (dict): The sample; only ``rgb`` is read and replaced.

        Returns:
            dict: The sample.
        """
        rgb = results.get('rgb')
        if rgb is None or not self._do_apply():
            return results
        if rgb.ndim == 3:
            results['rgb'] = self._apply_frame(rgb)
        elif rgb.ndim == 4:
            with cache_random_params(self.impl):
                frames = [self._apply_frame(frame) for frame in rgb]
            results['rgb'] = np.stack(frames)  # (T, H, W, 3)
        else:
            raise ValueError('rgb must be (H, W, 3) or (T, H, W, 3), got '
                             f'{rgb.shape}')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(impl={self.impl!r}, '
                f'prob={self.prob})')


@TRANSFORMS.register_module()
class RGBColorJitter(RGBOnlyWrapper):
    """Random brightness / contrast / saturation / hue of ``rgb`` only.

    Delegates to ``mmpretrain.datasets.transforms.ColorJitter`` (torchvision
    semantics, random order of the four adjustments; the ``pillow`` backend
    treats the image as RGB). Applied with probability ``prob`` (like
    ``RandomApply([ColorJitter], p)`` in SimCLR-style pipelines).

    Args:
        brightness (float | tuple[float, float]): Brightness jitter.
        contrast (float | tuple[float, float]): Contrast jitter.
        saturation (float | tuple[float, float]): Saturation jitter.
        hue (float | tuple[float, float]): Hue jitter, within [-0.5, 0.5].
        prob (float): Probability to jitter at all. Defaults to 1.0.
        backend (str): ``'pillow'`` (default, RGB-aware) or ``'cv2'``.
    """

    def __init__(self,
                 brightness: Union[float, Sequence[float]] = 0.,
                 contrast: Union[float, Sequence[float]] = 0.,
                 saturation: Union[float, Sequence[float]] = 0.,
                 hue: Union[float, Sequence[float]] = 0.,
                 prob: float = 1.0,
                 backend: str = 'pillow') -> None:
        from mmpretrain.datasets.transforms import ColorJitter
        super().__init__(
            ColorJitter(
                brightness=brightness,
                contrast=contrast,
                saturation=saturation,
                hue=hue,
                backend=backend),
            prob=prob)


@TRANSFORMS.register_module()
class RGBGaussianBlur(RGBOnlyWrapper):
    """Gaussian blur of ``rgb`` only, with a random sigma.

    Delegates to ``mmpretrain.datasets.transforms.GaussianBlur`` (PIL
    ``ImageFilter.GaussianBlur``, whose radius is the standard deviation)
    with the sigma drawn uniformly from ``sigma`` (SimCLR / MoCo v2 style).

    Args:
        sigma (tuple[float, float]): Range of the standard deviation in
            pixels. Defaults to ``(0.1, 2.0)``.
        prob (float): Probability to blur. Defaults to 0.5.
    """

    def __init__(self,
                 sigma: Tuple[float, float] = (0.1, 2.0),
                 prob: float = 0.5) -> None:
        from mmpretrain.datasets.transforms import GaussianBlur
        if not 0 < sigma[0] <= sigma[1]:
            raise ValueError(f'sigma must satisfy 0 < min <= max, got {sigma}')
        # mmpretrain's transform draws the radius uniformly in
        # ``magnitude_range`` when ``magnitude_std='inf'``; our probability
        # decides, so it always applies once called.
        super().__init__(
            GaussianBlur(
                magnitude_range=tuple(sigma), magnitude_std='inf', prob=1.0),
            prob=prob)
        self.sigma = tuple(sigma)


@TRANSFORMS.register_module(name=['RandomGrayscale', 'RGBRandomGrayscale'])
class RandomGrayscale(RGBOnlyWrapper):
    """Convert ``rgb`` to grey (kept as 3 equal channels) with probability.

    Delegates to ``mmcv.transforms.RandomGrayscale`` with
    ``color_format='rgb'`` and ``keep_channels=True``, so the packed input
    stays ``(3, H, W)``. Registered as ``RandomGrayscale`` (shadowing mmcv's
    ``img``-keyed one inside the mmrgbd scope) and ``RGBRandomGrayscale``.

    Args:
        prob (float): Probability to convert. Defaults to 0.1.
        channel_weights (tuple[float, float, float]): Weights of R, G, B.
            Defaults to ITU-R 601 luma ``(0.299, 0.587, 0.114)``.
    """

    def __init__(self,
                 prob: float = 0.1,
                 channel_weights: Sequence[float] = (0.299, 0.587,
                                                     0.114)) -> None:
        from mmcv.transforms import RandomGrayscale as MMCVRandomGrayscale
        super().__init__(
            MMCVRandomGrayscale(
                prob=1.0,
                keep_channels=True,
                channel_weights=tuple(channel_weights),
                color_format='rgb'),
            prob=prob)
