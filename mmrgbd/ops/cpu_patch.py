"""Explicit switch letting unmodified mmcv / mmdet3d point modules run on CPU.

mmcv's point modules look their operators up by module-level names that were
bound at import time, e.g.

* ``mmcv.ops.points_sampler.furthest_point_sample`` and
  ``...furthest_point_sample_with_dist`` (``PointsSampler`` with D-FPS, F-FPS
  and FS samplers),
* ``mmcv.ops.group_points.ball_query``, ``...grouping_operation`` and
  ``...knn`` (``QueryAndGroup``),
* ``mmcv.ops.scatter_points.dynamic_scatter`` (``DynamicScatter``, used by
  mmdet3d's ``DynamicVFE``, ``DynamicSimpleVFE``,
  ``DynamicPillarFeatureNet``),
* ``mmdet3d.models.data_preprocessors.voxelize.dynamic_scatter_3d`` and
  ``...data_preprocessor.dynamic_scatter_3d`` (``point2voxel_map`` for
  cylindrical / minkunet voxelization, ``DynamicScatter3D``),
* ``mmdet3d.models.layers.pointnet_modules.point_sa_module.gather_points``
  (``PointSAModule`` / ``PointSAModuleMSG``),
* ``mmdet3d.models.layers.pointnet_modules.point_fp_module.three_nn`` and
  ``...three_interpolate`` (``PointFPModule``),
* the re-exports ``mmcv.ops.furthest_point_sample`` etc. (for code imported
  later with ``from mmcv.ops import ...``),
* sparse convolution (:mod:`mmrgbd.ops.sparse_conv`):
  ``mmcv.ops.sparse_ops.get_indice_pairs`` and ``...fused_indice_conv``
  (looked up by ``SparseConvolution.forward``), ``mmcv.ops.sparse_functional.
  indice_conv``, ``...indice_subm_conv``, ``...indice_inverse_conv`` and
  ``...indice_maxpool`` (the autograd ``Function.apply`` bindings used by
  ``SubMConv3d``, ``SparseConv3d``, ``SparseInverseConv3d``,
  ``SparseConvTranspose3d``), and ``mmcv.ops.sparse_pool.get_indice_pairs`` /
  ``...indice_maxpool`` (``SparseMaxPool3d``); so mmdet3d's
  ``SparseEncoder`` / ``SparseUNet`` run on CPU.

:func:`enable_cpu_point_ops` imports mmcv.ops (and mmdet3d.models when it is
installed), then replaces **every** module attribute under ``mmcv``,
``mmdet3d`` and ``mmrgbd`` (except :mod:`mmrgbd.ops`) that *is* one of
mmcv's original point-op callables by the matching
:class:`~mmrgbd.ops.dispatch.DispatchedOp`.
A dispatched op still calls mmcv's CUDA kernel for CUDA tensors, so enabling is
harmless on GPU machines. The patch is explicit: ``import mmrgbd`` or
``import mmrgbd.ops`` patches nothing. Turn it on with

* ``enable_cpu_point_ops()`` (idempotent; returns what is patched) and
  ``disable_cpu_point_ops()`` to restore mmcv's originals,
* ``with cpu_point_ops(): ...`` for a scoped patch, or
* in a config: ``custom_imports = dict(imports=['mmrgbd.ops.cpu_fallbacks'],
  allow_failed_imports=False)`` (see :mod:`mmrgbd.ops.cpu_fallbacks`).

mmcv's ``Voxelization`` / ``dynamic_voxelize`` (hard and dynamic) already has a
CPU kernel in mmcv 2.1.0 and is left alone.
"""
import importlib
import importlib.util
import sys
from contextlib import contextmanager
from typing import Dict, Iterator, Sequence, Tuple

from .dispatch import DISPATCHED_OPS

#: Module that defines each original point op (by its mmcv/mmdet3d name).
ORIGIN_MODULES: Dict[str, str] = {
    'furthest_point_sample': 'mmcv.ops.furthest_point_sample',
    'furthest_point_sample_with_dist': 'mmcv.ops.furthest_point_sample',
    'ball_query': 'mmcv.ops.ball_query',
    'grouping_operation': 'mmcv.ops.group_points',
    'gather_points': 'mmcv.ops.gather_points',
    'knn': 'mmcv.ops.knn',
    'three_nn': 'mmcv.ops.three_nn',
    'three_interpolate': 'mmcv.ops.three_interpolate',
    'dynamic_scatter': 'mmcv.ops.scatter_points',
    'dynamic_scatter_3d': 'mmdet3d.models.data_preprocessors.voxelize',
    # sparse convolution (mmrgbd.ops.sparse_conv); the low-level
    # ``sparse_ops.indice_conv`` / ``indice_maxpool`` (called by mmcv's
    # autograd Functions, i.e. on CUDA only) are different objects and stay
    'get_indice_pairs': 'mmcv.ops.sparse_ops',
    'fused_indice_conv': 'mmcv.ops.sparse_ops',
    'indice_conv': 'mmcv.ops.sparse_functional',
    'indice_subm_conv': 'mmcv.ops.sparse_functional',
    'indice_inverse_conv': 'mmcv.ops.sparse_functional',
    'indice_maxpool': 'mmcv.ops.sparse_functional',
}

#: Module name prefixes whose bindings are scanned by default.
DEFAULT_PREFIXES: Tuple[str, ...] = ('mmcv', 'mmdet3d', 'mmrgbd')

_ORIGINALS: Dict[str, object] = {}  # op name -> mmcv's original callable
_PATCHED: Dict[Tuple[str, str], object] = {}  # (module, attr) -> original


def _load_originals() -> None:
    for name, module_name in ORIGIN_MODULES.items():
        if name in _ORIGINALS:
            continue
        if (module_name.startswith('mmdet3d')
                and importlib.util.find_spec('mmdet3d') is None):
            continue  # mmdet3d is optional
        obj = getattr(importlib.import_module(module_name), name)
        if obj is DISPATCHED_OPS[name]:
            raise RuntimeError(f'{module_name}.{name} is already patched but '
                               'its original was not recorded')
        _ORIGINALS[name] = obj


def _in_scope(module_name: str, prefixes: Sequence[str]) -> bool:
    if module_name == 'mmrgbd.ops' or module_name.startswith('mmrgbd.ops.'):
        return False
    return any(module_name == p or module_name.startswith(p + '.')
               for p in prefixes)


def patched_names() -> Dict[str, str]:
    """The currently patched bindings.

    Returns:
        dict[str, str]: ``'module.attr'`` -> name of the dispatched op.
    """
    by_id = {id(obj): name for name, obj in _ORIGINALS.items()}
    return {
        f'{mod}.{attr}': by_id[id(orig)]
        for (mod, attr), orig in sorted(_PATCHED.items())
    }


def enable_cpu_point_ops(
        import_mmdet3d: bool = True,
        prefixes: Sequence[str] = DEFAULT_PREFIXES) -> Dict[str, str]:
    """Replace mmcv's point ops by CPU-capable dispatched ops, everywhere.

    Idempotent: a second call patches only bindings that appeared since (e.g.
    modules imported in between) and returns the full current patch.

    Args:
        import_mmdet3d (bool): Import ``mmdet3d.models`` first (if mmdet3d is
            installed) so that its import-time bindings exist and get patched.
        prefixes (Sequence[str]): Module name prefixes to scan.

    Returns:
        dict[str, str]: ``'module.attr'`` -> dispatched op name, for every
        binding that is currently patched.
    """
    importlib.import_module('mmcv.ops')
    if import_mmdet3d and importlib.util.find_spec('mmdet3d') is not None:
        importlib.import_module('mmdet3d.models')
    _load_originals()
    originals = {id(obj): (name, obj) for name, obj in _ORIGINALS.items()}
    for module_name, module in list(sys.modules.items()):
        if module is None or not _in_scope(module_name, prefixes):
            continue
        namespace = getattr(module, '__dict__', None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            hit = originals.get(id(value))
            if hit is None or hit[1] is not value:
                continue
            setattr(module, attr, DISPATCHED_OPS[hit[0]])
            _PATCHED[(module_name, attr)] = value
    return patched_names()


def disable_cpu_point_ops() -> Dict[str, str]:
    """Restore mmcv's original point ops in every patched binding.

    Returns:
        dict[str, str]: The bindings that were restored.
    """
    restored = patched_names()
    for (module_name, attr), original in _PATCHED.items():
        module = sys.modules.get(module_name)
        if module is not None:
            setattr(module, attr, original)
    _PATCHED.clear()
    return restored


def is_cpu_point_ops_enabled() -> bool:
    """Whether :func:`enable_cpu_point_ops` is in effect."""
    return bool(_PATCHED)


@contextmanager
def cpu_point_ops(**kwargs) -> Iterator[Dict[str, str]]:
    """Context manager form of :func:`enable_cpu_point_ops`.

    On exit mmcv's originals are restored, unless the patch was already
    enabled when the block was entered.

    Args:
        **kwargs: Passed to :func:`enable_cpu_point_ops`.

    Yields:
        dict[str, str]: The patched bindings.
    """
    was_enabled = is_cpu_point_ops_enabled()
    patched = enable_cpu_point_ops(**kwargs)
    try:
        yield patched
    finally:
        if not was_enabled:
            disable_cpu_point_ops()
