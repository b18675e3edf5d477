"""Packing of a pipeline sample into model inputs and an RGBDDataSample."""
from typing import Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms import to_tensor

from mmrgbd.registry import TRANSFORMS
from mmrgbd.structures import RGBDDataSample

__all__ = ['PackRGBDInputs', 'channels_first']


def channels_first(rgb: np.ndarray) -> np.ndarray:
    """``(..., H, W, 3)`` -> contiguous ``(3, ..., H, W)``.

    Equal to ``np.ascontiguousarray(np.moveaxis(rgb, -1, 0))``; the planes
    are split with ``cv2.split`` (several times faster than numpy's strided
    copy for uint8).

    Args:
        rgb (np.ndarray): ``(H, W, 3)`` or ``(T, H, W, 3)``.

    Returns:
        np.ndarray: ``(3, H, W)`` or ``(3, T, H, W)``.
    """
    lead, (w, c) = rgb.shape[:-2], rgb.shape[-2:]
    if rgb.size == 0 or c > 4 or rgb.dtype not in (np.uint8, np.float32):
        return np.ascontiguousarray(np.moveaxis(rgb, -1, 0))
    planes = cv2.split(np.ascontiguousarray(rgb).reshape(-1, w, c))
    return np.stack(planes).reshape((c, ) + lead + (w, ))


@TRANSFORMS.register_module()
class PackRGBDInputs(BaseTransform):
    """Pack a sample into ``inputs`` tensors and an ``RGBDDataSample``.

    The output is ``{'inputs': {modality: tensor}, 'data_samples':
    RGBDDataSample}`` (see CONTRIBUTING.md).

    Inputs (only the modalities present are packed):

    ======================  =======================  ===================
    key (tensor dtype)      frame                    clip
    ======================  =======================  ===================
    ``rgb`` (uint8)         (H, W, 3) -> (3, H, W)   -> (3, T, H, W)
    ``depth`` (float32)     (H, W) -> (1, H, W)      -> (1, T, H, W)
    ``depth_valid`` (bool)  (H, W) -> (1, H, W)      -> (1, T, H, W)
    ``semseg`` (int64)      (H, W) -> (1, H, W)      -> (1, T, H, W)
    ``points`` (float32)    (N, C) -> (N, C)
    ======================  =======================  ===================

    ``rgb`` must already be uint8 (the data preprocessor normalises it); the
    other modalities are cast to the listed dtypes. The ``meta_keys`` present
    in the sample are copied to the data sample's metainfo; missing ones are
    skipped.

    Args:
        meta_keys (Sequence[str]): Keys copied to the metainfo.
    """

    DEFAULT_META_KEYS = ('rgb_path', 'depth_path', 'semseg_path',
                         'points_path', 'depth_unit', 'depth_source',
                         'intrinsics', 'cam2world', 'lidar2img',
                         'img_aug_matrix', 'ori_shape', 'img_shape',
                         'scale_factor', 'crop_bbox', 'flip',
                         'flip_direction', 'depth_norm', 'sample_idx')

    #: pipeline key -> tensor dtype of the per-pixel (channel-less) modalities
    MAP_DTYPES = {
        'depth': torch.float32,
        'depth_valid': torch.bool,
        'semseg': torch.int64
    }

    def __init__(self,
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results (dict): The sample (see the sample contract).

        Returns:
            dict: ``{'inputs': {modality: tensor}, 'data_samples':
            RGBDDataSample}``.
        """
        inputs = {}
        rgb = results.get('rgb')
        if rgb is not None:
            if rgb.dtype != np.uint8:
                raise TypeError(f'rgb must be uint8 before packing, got '
                                f'{rgb.dtype}')
            if rgb.ndim not in (3, 4) or rgb.shape[-1] != 3:
                raise ValueError('rgb must be (H, W, 3) or (T, H, W, 3), got '
                                 f'{rgb.shape}')
            inputs['rgb'] = to_tensor(channels_first(rgb))
        for key, dtype in self.MAP_DTYPES.items():
            arr = results.get(key)
            if arr is None:
                continue
            arr = np.asarray(arr)
            if arr.ndim not in (2, 3):
                raise ValueError(f'{key} must be (H, W) or (T, H, W), got '
                                 f'{arr.shape}')
            tensor = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
            inputs[key] = tensor[None]  # (1, H, W) or (1, T, H, W)
        points = results.get('points')
        if points is not None:
            points = getattr(points, 'tensor', points)  # mmdet3d BasePoints
            points = torch.as_tensor(np.asarray(points), dtype=torch.float32)
            if points.ndim != 2 or points.shape[1] < 3:
                raise ValueError('points must be (N, C) with C >= 3, got '
                                 f'{tuple(points.shape)}')
            inputs['points'] = points  # (N, C)

        metainfo = {
            key: results[key]
            for key in self.meta_keys if key in results
        }
        data_sample = RGBDDataSample(metainfo=metainfo)
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
