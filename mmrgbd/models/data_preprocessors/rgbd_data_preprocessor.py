"""Data preprocessor turning packed RGB-D samples into batched model inputs."""
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from mmrgbd.registry import MODELS

__all__ = ['RGBDDataPreprocessor']


@MODELS.register_module()
class RGBDDataPreprocessor(BaseDataPreprocessor):
    """Batch, cast, normalise and move packed RGB-D inputs to the device.

    Accepts the output of ``mmengine.dataset.pseudo_collate`` (``inputs`` a
    dict of per-sample lists) or ``default_collate`` (``inputs`` a dict of
    already stacked tensors), or a list of per-sample input dicts. Returns
    ``{'inputs': {modality: tensor | list}, 'data_samples': list}`` with

    * ``rgb`` float32 ``(B, 3, H, W)`` [video ``(B, 3, T, H, W)``],
      ``(x - mean) / std`` with ``mean``/``std`` on the 0-255 scale;
    * ``depth`` float32 ``(B, 1, H, W)``; if ``depth_mean``/``depth_std`` are
      set, ``(d - depth_mean) / depth_std`` at valid pixels (0 elsewhere,
      when ``depth_valid`` is present);
    * ``depth_valid`` bool ``(B, 1, H, W)``, ``semseg`` int64 ``(B, 1, H, W)``;
    * ``points`` a list of float32 ``(N_i, C)``;
    * any other tensor modality stacked as it is.

    Each data sample gets ``batch_input_shape`` (the (H, W) of the batch).

    Args:
        mean (Sequence[float]): RGB mean, 0-255 scale. Defaults to ImageNet.
        std (Sequence[float]): RGB std, 0-255 scale. Defaults to ImageNet.
        depth_mean (float, optional): Depth shift. Defaults to None.
        depth_std (float, optional): Depth scale. Defaults to None.
        non_blocking (bool): Non-blocking device copies.

    Raises:
        ValueError: (in ``forward``) naming the modality when the samples of
            a batch have different shapes, or when ``rgb`` does not have 3
            channels.
    """

    LIST_KEYS = ('points', )

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 depth_mean: Optional[float] = None,
                 depth_std: Optional[float] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError('mean and std must have 3 values (R, G, B), got '
                             f'{mean} and {std}')
        if min(std) <= 0 or (depth_std is not None and depth_std <= 0):
            raise ValueError('std values must be positive')
        self.register_buffer('mean',
                             torch.tensor(mean, dtype=torch.float32),
                             False)  # (3, )
        self.register_buffer('std',
                             torch.tensor(std, dtype=torch.float32),
                             False)  # (3, )
        self.depth_mean = depth_mean
        self.depth_std = depth_std

    @staticmethod
    def _stack(key: str, value: Union[torch.Tensor, Sequence[torch.Tensor]]
               ) -> torch.Tensor:
        """Stack a list of per-sample tensors, checking their shapes."""
        if isinstance(value, torch.Tensor):
            return value
        shapes = [tuple(v.shape) for v in value]
        if len(set(shapes)) != 1:
            raise ValueError(f"RGBDDataPreprocessor: the '{key}' inputs of a "
                             f'batch differ in shape: {shapes}; resize or '
                             'crop them to one size in the pipeline')
        return torch.stack(list(value))  # (B, ...)

    @staticmethod
    def _to_dict_of_lists(inputs) -> Dict[str, list]:
        if isinstance(inputs, dict):
            return dict(inputs)
        if isinstance(inputs, (list, tuple)) and all(
                isinstance(i, dict) for i in inputs):
            keys = list(dict.fromkeys(k for i in inputs for k in i))
            missing = [k for k in keys if any(k not in i for i in inputs)]
            if missing:
                raise ValueError('RGBDDataPreprocessor: modalities '
                                 f'{missing} are missing in some samples')
            return {k: [i[k] for i in inputs] for k in keys}
        raise TypeError('inputs must be a dict {modality: tensors} or a list '
                        f'of such dicts, got {type(inputs)}')

    def forward(self, data: dict, training: bool = False) -> dict:
        """Batch and normalise the inputs.

        Args:
            data (dict): ``{'inputs': ..., 'data_samples': ...}`` from the
                data loader.
            training (bool): Unused (no batch augmentation).

        Returns:
            dict: ``{'inputs': dict, 'data_samples': list | None}``.
        """
        inputs = self._to_dict_of_lists(data['inputs'])
        batch = {}
        for key, value in inputs.items():
            if key in self.LIST_KEYS:
                if isinstance(value, torch.Tensor):  # default_collate, equal N
                    value = list(value.unbind(0))
                batch[key] = [v.float() for v in value]  # [(N_i, C)]
            elif isinstance(value, torch.Tensor) or (
                    isinstance(value, (list, tuple)) and value
                    and isinstance(value[0], torch.Tensor)):
                batch[key] = self._stack(key, value)
            else:
                batch[key] = value
        batch = self.cast_data(batch)

        if 'rgb' in batch:
            rgb = batch['rgb'].float()  # (B, 3, H, W) or (B, 3, T, H, W)
            if rgb.ndim not in (4, 5) or rgb.shape[1] != 3:
                raise ValueError("RGBDDataPreprocessor: 'rgb' must be "
                                 '(B, 3, H, W) or (B, 3, T, H, W), got '
                                 f'{tuple(rgb.shape)}')
            view = (1, 3) + (1, ) * (rgb.ndim - 2)
            batch['rgb'] = (rgb - self.mean.view(view)) / self.std.view(view)
        if 'depth_valid' in batch:
            batch['depth_valid'] = batch['depth_valid'].bool()
        if 'semseg' in batch:
            batch['semseg'] = batch['semseg'].long()
        if 'depth' in batch:
            depth = batch['depth'].float()  # (B, 1, H, W)
            if self.depth_mean is not None or self.depth_std is not None:
                mean = self.depth_mean or 0.0
                std = self.depth_std or 1.0
                depth = (depth - mean) / std
                if 'depth_valid' in batch:
                    depth = depth.masked_fill(~batch['depth_valid'], 0.0)
            batch['depth'] = depth

        data_samples = self.cast_data(data.get('data_samples'))
        spatial = next((batch[k] for k in ('rgb', 'depth', 'depth_valid',
                                           'semseg') if k in batch), None)
        if data_samples is not None and spatial is not None:
            shape = tuple(spatial.shape[-2:])
            for sample in data_samples:
                sample.set_metainfo(dict(batch_input_shape=shape))
        return dict(inputs=batch, data_samples=data_samples)
