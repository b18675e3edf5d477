"""Data preprocessor for batches of images of different sizes (padding)."""
from typing import Sequence

import torch

from mmrgbd.registry import MODELS
from .rgbd_data_preprocessor import RGBDDataPreprocessor

__all__ = ['PadRGBDDataPreprocessor']


@MODELS.register_module()
class PadRGBDDataPreprocessor(RGBDDataPreprocessor):
    """:class:`RGBDDataPreprocessor` that pads ``rgb`` to one batch size.

    Multi-scale pipelines (e.g. SimIPU's keep-ratio resize between
    ``(640, 192)`` and ``(2400, 720)``) give every sample its own image size.
    As mmdet's ``Pad(size_divisor=32)`` plus its collate function, each
    image is padded at the right and bottom to the largest height and width
    of the batch, rounded up to a multiple of ``pad_size_divisor``. The
    padding holds the mean colour, i.e. exactly 0 after the normalisation
    (mmdet pads the normalised image with 0). Pixels keep their coordinates,
    so ``lidar2img`` and ``intrinsics`` stay exact; every data sample keeps
    its own ``img_shape`` (the unpadded size) and gets ``pad_shape`` and
    ``batch_input_shape`` (the padded size).

    Only ``rgb`` may vary in size; other image-aligned inputs (depth, ...)
    of different sizes still raise the base class's error.

    Args:
        pad_size_divisor (int): Round the padded height and width up to a
            multiple of this (32 for a stride-32 ResNet, so its feature map
            covers the padded image exactly). Defaults to 32.
        mean (Sequence[float]): RGB mean, 0-255 scale.
        std (Sequence[float]): RGB std, 0-255 scale.
        **kwargs: Passed to :class:`RGBDDataPreprocessor`.
    """

    def __init__(self,
                 pad_size_divisor: int = 32,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 **kwargs) -> None:
        super().__init__(mean=mean, std=std, **kwargs)
        if pad_size_divisor < 1:
            raise ValueError(
                f'pad_size_divisor must be >= 1, got {pad_size_divisor}')
        self.pad_size_divisor = int(pad_size_divisor)

    def pad_rgb(self, images: Sequence[torch.Tensor]) -> torch.Tensor:
        """Pad (3, H_i, W_i) images with the mean colour and stack them.

        Args:
            images (Sequence[Tensor]): Per-sample (3, H_i, W_i) images on the
                0-255 scale.

        Returns:
            Tensor: float32 (B, 3, H, W), ``H`` / ``W`` the largest height /
            width rounded up to a multiple of ``pad_size_divisor``.
        """
        div = self.pad_size_divisor
        for img in images:
            if img.ndim != 3 or img.shape[0] != 3:
                raise ValueError("PadRGBDDataPreprocessor: 'rgb' samples must "
                                 f'be (3, H, W), got {tuple(img.shape)}')
        h = max(int(img.shape[-2]) for img in images)
        w = max(int(img.shape[-1]) for img in images)
        h, w = -(-h // div) * div, -(-w // div) * div
        out = self.mean.view(1, 3, 1, 1).to(images[0].device).repeat(
            len(images), 1, h, w)  # (B, 3, H, W)
        for i, img in enumerate(images):
            out[i, :, :img.shape[-2], :img.shape[-1]] = img.float()
        return out

    def forward(self, data: dict, training: bool = False) -> dict:
        """Pad ``rgb`` to one size, then batch and normalise as the base.

        Args:
            data (dict): ``{'inputs': ..., 'data_samples': ...}`` from the
                data loader.
            training (bool): Unused.

        Returns:
            dict: ``{'inputs': dict, 'data_samples': list | None}``.
        """
        inputs = self._to_dict_of_lists(data['inputs'])
        rgb = inputs.get('rgb')
        if rgb is not None and not isinstance(rgb, torch.Tensor):
            inputs['rgb'] = self.pad_rgb(list(rgb))  # (B, 3, H, W)
        elif isinstance(rgb, torch.Tensor) and rgb.ndim == 4:
            inputs['rgb'] = self.pad_rgb(list(rgb.unbind(0)))
        out = super().forward(dict(data, inputs=inputs), training)
        samples = out['data_samples']
        if samples is not None and 'rgb' in out['inputs']:
            shape = tuple(out['inputs']['rgb'].shape[-2:])
            for sample in samples:
                sample.set_metainfo(dict(pad_shape=shape))
        return out
