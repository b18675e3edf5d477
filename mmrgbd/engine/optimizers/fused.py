"""Fused optimiser kernels where torch has them, foreach elsewhere.

The pre-training schedules ask for ``fused=True`` (one multi-tensor kernel
per step instead of foreach's several passes over every parameter; the same
update up to float rounding). torch >= 2.4 has fused AdamW / Adam / SGD
kernels on CPU, CUDA, MPS, XPU..., older releases only on CUDA, and some
optimisers have none: :func:`fused_or_foreach` turns such a request into
``foreach=True`` with a warning, so the same config runs everywhere.
"""
import inspect
import warnings
from typing import List

import torch


def fused_devices() -> List[str]:
    """Device types with fused optimiser kernels in this torch."""
    try:
        from torch.utils._foreach_utils import \
            _get_fused_kernels_supported_devices
    except ImportError:  # torch < 2.2: fused kernels are CUDA-only
        return ['cuda']
    return list(_get_fused_kernels_supported_devices())


def supports_fused(optimizer_type: str, device_type: str) -> bool:
    """Whether ``torch.optim.<optimizer_type>(fused=True)`` runs on
    ``device_type`` (e.g. ``'cpu'``, ``'cuda'``)."""
    cls = getattr(torch.optim, optimizer_type, None)
    if cls is None or 'fused' not in inspect.signature(cls).parameters:
        return False
    return device_type in fused_devices()


def fused_or_foreach(optim_wrapper_cfg: dict, device_type: str) -> list:
    """Replace an unsupported ``fused=True`` by ``foreach=True`` (in place).

    Every optimiser config in ``optim_wrapper_cfg`` (also the nested ones of
    a multi-optimiser constructor) that asks for ``fused=True`` keeps it
    where :func:`supports_fused`, and gets ``fused=False, foreach=True``
    elsewhere.

    Args:
        optim_wrapper_cfg (dict): The config's ``optim_wrapper``.
        device_type (str): The device the model trains on.

    Returns:
        list[str]: The optimiser types that fell back to foreach.
    """
    fell_back = []

    def walk(node):
        if not isinstance(node, dict):
            return
        if node.get('fused') and isinstance(node.get('type'), str) and \
                not supports_fused(node['type'], device_type):
            node['fused'] = False
            node['foreach'] = True
            fell_back.append(node['type'])
        for value in node.values():
            walk(value)

    walk(optim_wrapper_cfg)
    if fell_back:
        warnings.warn(f'no fused kernel of {sorted(set(fell_back))} on '
                      f'{device_type!r} in torch {torch.__version__}: '
                      'using foreach=True instead')
    return fell_back
