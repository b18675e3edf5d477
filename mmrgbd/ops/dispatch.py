"""Explicit CPU / CUDA dispatch for point operators.

mmcv 2.1.0 ships CUDA kernels only for the point operators used by PointNet++
and dynamic voxel encoders (furthest point sampling, ball query, grouping,
gathering, kNN, three-NN interpolation, dynamic scatter). Each of them is
wrapped here in a :class:`DispatchedOp`, a callable that

* calls **mmcv's original autograd Function** (resolved lazily from the class,
  e.g. ``mmcv.ops.furthest_point_sample:FurthestPointSampling.apply``) when any
  tensor argument lives on a CUDA device, and
* calls the **pure-torch implementation** of :mod:`mmrgbd.ops` otherwise.

The CUDA target is looked up on the mmcv ``Function`` class rather than on the
module attribute (``mmcv.ops.furthest_point_sample``), so the dispatch stays
correct after :func:`mmrgbd.ops.enable_cpu_point_ops` has replaced those module
attributes by dispatched ops.
"""
import importlib
from typing import Any, Callable, Dict, Optional

import torch


def any_on_cuda(*args: Any, **kwargs: Any) -> bool:
    """Whether any tensor among the (keyword) arguments is on a CUDA device.

    Args:
        *args: Positional arguments of an operator call.
        **kwargs: Keyword arguments of an operator call.

    Returns:
        bool: True if at least one argument is a CUDA tensor.
    """
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, torch.Tensor) and value.is_cuda:
            return True
    return False


def resolve(path: str) -> Any:
    """Import ``'package.module:Attr.sub'`` and return the attribute.

    Args:
        path (str): Module path and dotted attribute separated by ``':'``.

    Returns:
        Any: The resolved object.
    """
    module_name, _, attr_path = path.partition(':')
    obj = importlib.import_module(module_name)
    for attr in attr_path.split('.'):
        obj = getattr(obj, attr)
    return obj


class DispatchedOp:
    """A point operator that routes CUDA calls to mmcv and CPU calls to torch.

    Args:
        name (str): Name of the operator, e.g. ``'furthest_point_sample'``.
        torch_impl (Callable): The pure-torch implementation (any device).
        cuda_impl (str | Callable | None): mmcv's CUDA implementation, or an
            import path ``'module:Attr.apply'`` resolved on first CUDA call.
            ``None`` means the torch version is used on CUDA too.

    Example:
        >>> op = DispatchedOp('gather_points', gather_points_torch,
        ...                   'mmcv.ops.gather_points:GatherPoints.apply')
        >>> out = op(features, indices)  # torch on CPU, mmcv kernel on CUDA
    """

    def __init__(self,
                 name: str,
                 torch_impl: Callable,
                 cuda_impl: Optional[Any] = None) -> None:
        self.name = name
        self.__name__ = name
        self.__qualname__ = name
        self.__doc__ = torch_impl.__doc__
        self.__wrapped__ = torch_impl
        self.torch_impl = torch_impl
        self._cuda_impl = cuda_impl

    @property
    def cuda_impl(self) -> Callable:
        """Callable: mmcv's CUDA implementation (resolved on first use)."""
        if self._cuda_impl is None:
            return self.torch_impl
        if isinstance(self._cuda_impl, str):
            self._cuda_impl = resolve(self._cuda_impl)
        return self._cuda_impl

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if any_on_cuda(*args, **kwargs):
            return self.cuda_impl(*args, **kwargs)
        return self.torch_impl(*args, **kwargs)

    def __repr__(self) -> str:
        return (f'DispatchedOp({self.name}, cpu=torch:'
                f'{self.torch_impl.__module__}.{self.torch_impl.__name__}, '
                f'cuda={self._cuda_impl!r})')


#: Every dispatched op of :mod:`mmrgbd.ops`, keyed by its mmcv name.
DISPATCHED_OPS: Dict[str, DispatchedOp] = {}


def register_dispatched_op(name: str,
                           torch_impl: Callable,
                           cuda_impl: Optional[Any] = None) -> DispatchedOp:
    """Create a :class:`DispatchedOp` and record it in ``DISPATCHED_OPS``.

    Args:
        name (str): The mmcv name of the operator.
        torch_impl (Callable): Pure-torch implementation.
        cuda_impl (str | Callable | None): mmcv CUDA implementation or its
            import path.

    Returns:
        DispatchedOp: The dispatched operator.
    """
    if name in DISPATCHED_OPS:
        raise KeyError(f'dispatched op {name!r} is already registered')
    op = DispatchedOp(name, torch_impl, cuda_impl)
    DISPATCHED_OPS[name] = op
    return op
