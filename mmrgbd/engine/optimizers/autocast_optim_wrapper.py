"""Mixed-precision training on CPU and GPU alike (``--amp``).

MMEngine's ``AmpOptimWrapper`` refuses to be built without a GPU / NPU /
MLU, so bf16 training on a CPU cannot be chosen from a config.
:class:`AutocastOptimWrapper` is that wrapper for every device: the forward
(and loss) run under ``torch.autocast(device_type, dtype)``; the parameters,
their gradients and the optimiser state stay fp32. fp16 also scales the loss
with a ``GradScaler`` (MMEngine's AmpOptimWrapper logic); bf16 needs none.
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmrgbd.registry import OPTIM_WRAPPERS

_DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16}


def default_autocast_device() -> str:
    """``'cuda'`` when a GPU is available, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(AmpOptimWrapper):
    """``OptimWrapper`` that autocasts the forward on any device.

    Example::

        optim_wrapper = dict(
            type='AutocastOptimWrapper', dtype='bfloat16',
            optimizer=dict(type='AdamW', lr=1e-4, fused=True))

    ``tools/train.py --amp`` turns a config's wrapper into this one
    (:func:`autocast_optim_wrapper_cfg`).

    Args:
        dtype (str | torch.dtype, optional): ``'bfloat16'`` or
            ``'float16'``. None: ``'float16'`` on CUDA (MMEngine's
            ``--amp`` default, with dynamic loss scaling) and ``'bfloat16'``
            elsewhere (a CPU has no fast fp16 and bf16 needs no scaling).
        device_type (str, optional): Device type of ``torch.autocast``
            (``'cpu'``, ``'cuda'``...). None: ``'cuda'`` if available,
            else ``'cpu'``.
        loss_scale (str | float | dict): GradScaler setting for fp16, as
            MMEngine's ``AmpOptimWrapper``: ``'dynamic'``, a fixed initial
            scale, or GradScaler keyword arguments. Ignored for bf16.
            Defaults to ``'dynamic'``.
        use_fsdp (bool): Use FSDP's ``ShardedGradScaler`` for fp16.
            Defaults to False (FlexibleRunner's FSDPStrategy sets it).
        **kwargs: ``OptimWrapper`` arguments (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self,
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 device_type: Optional[str] = None,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 use_fsdp: bool = False,
                 **kwargs):
        # skip AmpOptimWrapper.__init__: it asserts a GPU
        OptimWrapper.__init__(self, **kwargs)
        self.device_type = device_type or default_autocast_device()
        if dtype is None:
            dtype = 'float16' if self.device_type == 'cuda' else 'bfloat16'
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise ValueError(f'dtype must be one of {sorted(_DTYPES)}, '
                                 f'got {dtype!r}')
            dtype = _DTYPES[dtype]
        if dtype not in _DTYPES.values():
            raise ValueError(f'dtype must be torch.bfloat16 or torch.float16, '
                             f'got {dtype}')
        self.cast_dtype = dtype
        self._scale_update_param = None
        self.loss_scaler = None
        if dtype == torch.float16:
            self.loss_scaler = self._build_scaler(loss_scale, use_fsdp)

    def _build_scaler(self, loss_scale, use_fsdp: bool):
        if use_fsdp:
            from torch.distributed.fsdp.sharded_grad_scaler import \
                ShardedGradScaler
            scaler_type = ShardedGradScaler
        else:
            scaler_type = torch.amp.GradScaler
        if loss_scale == 'dynamic':
            return scaler_type(self.device_type)
        if isinstance(loss_scale, float):
            self._scale_update_param = loss_scale
            return scaler_type(self.device_type, init_scale=loss_scale)
        if isinstance(loss_scale, dict):
            return scaler_type(self.device_type, **loss_scale)
        raise TypeError(f"loss_scale must be 'dynamic', a float or a dict, "
                        f'got {loss_scale!r}')

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Back-propagate (through the loss scaler for fp16)."""
        if self.loss_scaler is None:
            return OptimWrapper.backward(self, loss, **kwargs)
        return super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """Optimiser step (unscaling and skipping inf steps for fp16)."""
        if self.loss_scaler is None:
            return OptimWrapper.step(self, **kwargs)
        return super().step(**kwargs)

    def state_dict(self) -> dict:
        """Optimiser state (plus ``loss_scaler`` for fp16)."""
        if self.loss_scaler is None:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state saved by this wrapper, ``OptimWrapper`` or
        ``AmpOptimWrapper`` (a saved loss-scaler state is dropped for
        bf16)."""
        if self.loss_scaler is None:
            state_dict = dict(state_dict)
            state_dict.pop('loss_scaler', None)
            return OptimWrapper.load_state_dict(self, state_dict)
        return super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context plus ``torch.autocast``."""
        with OptimWrapper.optim_context(self, model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield


def autocast_optim_wrapper_cfg(optim_wrapper: dict,
                               dtype: Optional[str] = None) -> dict:
    """Turn an ``optim_wrapper`` config into an :class:`AutocastOptimWrapper`.

    Used by ``tools/train.py --amp`` and the benchmark's ``--dtype bf16``.
    The optimiser, constructor and other wrapper settings are kept; a
    ``dtype`` / ``loss_scale`` already in the config (e.g. of an
    ``AmpOptimWrapper``) is kept unless ``dtype`` is given.

    Args:
        optim_wrapper (dict): The config's ``optim_wrapper`` (not modified).
        dtype (str, optional): ``'bfloat16'`` or ``'float16'``; None keeps
            the config's or the device default.

    Returns:
        dict: The new ``optim_wrapper`` config.
    """
    cfg = dict(optim_wrapper)
    if cfg.get('type', 'OptimWrapper') not in ('OptimWrapper',
                                               'AmpOptimWrapper',
                                               'AutocastOptimWrapper'):
        raise ValueError(f"--amp replaces the optim wrapper; a config with "
                         f"type={cfg['type']!r} is not supported")
    cfg['type'] = 'AutocastOptimWrapper'
    if dtype is not None:
        cfg['dtype'] = dtype
    return cfg
