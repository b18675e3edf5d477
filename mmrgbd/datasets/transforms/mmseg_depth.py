"""Transforms for mmseg-format depth samples (``img`` + ``gt_depth_map``).

mmseg's ``DepthEstimator`` pipelines keep the image under ``img`` (BGR, as
``LoadImageFromFile`` reads it) and the depth under ``gt_depth_map`` (listed
in ``seg_fields``). These two fill gaps of mmseg for the KITTI monocular
depth protocol of BTS / AdaBins / SimIPU.
"""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmrgbd.registry import TRANSFORMS
from ..errors import BadSampleError


@TRANSFORMS.register_module()
class KBCrop(BaseTransform):
    """The KITTI benchmark crop: the bottom-centre 352 x 1216 window.

    ``top = H - height``, ``left = (W - width) // 2`` (BTS, AdaBins, SimIPU's
    depth toolbox). KITTI raw images are about 1242 x 375 (sizes vary by
    drive); the crop makes them one size and removes the top rows, where
    the LiDAR has no returns. The image and every map in ``seg_fields``
    (the depth) are cropped with the same window.

    The crop defines the frame the model predicts and is evaluated in:
    ``ori_shape`` becomes the crop size, so mmseg's ``DepthEstimator``
    returns the prediction at the size of the cropped ground truth (the
    toolbox evaluates on the KB-cropped ground truth, too). Put it right
    after the loading transforms, in training and testing.

    Args:
        height (int): Crop height. Defaults to 352.
        width (int): Crop width. Defaults to 1216.
    """

    def __init__(self, height: int = 352, width: int = 1216):
        self.height = int(height)
        self.width = int(width)

    def transform(self, results: dict) -> dict:
        """Crop ``img`` and ``seg_fields``; set the shapes to the crop."""
        img = results['img']
        H, W = img.shape[:2]
        if H < self.height or W < self.width:
            raise BadSampleError(
                results.get('img_path', '<image>'),
                f'image {W}x{H} is smaller than the KITTI benchmark crop '
                f'{self.width}x{self.height}')
        top, left = H - self.height, (W - self.width) // 2
        rows = slice(top, top + self.height)
        cols = slice(left, left + self.width)
        results['img'] = img[rows, cols]
        for key in results.get('seg_fields', []):
            if results[key].shape[:2] != (H, W):
                raise BadSampleError(
                    results.get('depth_map_path', key),
                    f'{key} is {results[key].shape[:2]}, the image '
                    f'{(H, W)}')
            results[key] = results[key][rows, cols]
        results['img_shape'] = (self.height, self.width)
        results['ori_shape'] = (self.height, self.width)
        results['kb_crop'] = (top, left)
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(height={self.height}, '
                f'width={self.width})')


@TRANSFORMS.register_module()
class RandomGammaBrightnessColor(BaseTransform):
    """The colour augmentation of BTS / AdaBins / SimIPU's depth baseline.

    With probability ``prob``, on the image scaled to [0, 1]::

        img = clip((img ** gamma) * brightness * colour[c], 0, 1)

    ``gamma``, ``brightness`` uniform in their ranges, one ``colour`` factor
    per channel, then back to [0, 255] (float32, no rounding). SimIPU's
    released depth toolbox applies the same formula to the 0-255 values
    (so ``gamma`` there acts as a strong brightness change with clipping);
    this follows BTS's [0, 1] form.

    Args:
        prob (float): Probability of applying it. Defaults to 0.5.
        gamma_range (Sequence[float]): Defaults to (0.9, 1.1).
        brightness_range (Sequence[float]): Defaults to (0.9, 1.1)
            (KITTI; BTS uses (0.75, 1.25) on NYUv2).
        color_range (Sequence[float]): Defaults to (0.9, 1.1).
    """

    def __init__(self,
                 prob: float = 0.5,
                 gamma_range: Sequence[float] = (0.9, 1.1),
                 brightness_range: Sequence[float] = (0.9, 1.1),
                 color_range: Sequence[float] = (0.9, 1.1)):
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.gamma_range = self._range(gamma_range, 'gamma_range')
        self.brightness_range = self._range(brightness_range,
                                            'brightness_range')
        self.color_range = self._range(color_range, 'color_range')

    @staticmethod
    def _range(value, name) -> Tuple[float, float]:
        lo, hi = (float(v) for v in value)
        if not 0 < lo <= hi:
            raise ValueError(f'{name} must be (low, high) with 0 < low <= '
                             f'high, got {tuple(value)}')
        return lo, hi

    @cache_randomness
    def _params(self):
        """``None`` (skip) or ``(gamma, brightness, colour (3,))``."""
        if np.random.rand() >= self.prob:
            return None
        return (np.random.uniform(*self.gamma_range),
                np.random.uniform(*self.brightness_range),
                np.random.uniform(*self.color_range, size=3))

    def transform(self, results: dict) -> dict:
        """Augment ``img`` (H, W, 3) in place of the dict."""
        params = self._params()
        if params is None:
            return results
        gamma, brightness, colour = params
        img = results['img'].astype(np.float32) / 255.  # (H, W, 3) in [0, 1]
        img = img**gamma * brightness * colour.astype(np.float32)
        results['img'] = np.clip(img, 0., 1.) * 255.
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, gamma_range='
                f'{self.gamma_range}, brightness_range='
                f'{self.brightness_range}, color_range={self.color_range})')
