"""Importing this module turns on the CPU point-op fallbacks and logs it.

Meant for configs, so that an unmodified mmdet3d model (PointNet++ SA/FP
modules, ``DynamicVFE``...) trains or tests on a machine without CUDA::

    custom_imports = dict(
        imports=['mmrgbd.ops.cpu_fallbacks'], allow_failed_imports=False)

It calls :func:`mmrgbd.ops.enable_cpu_point_ops` (see
:mod:`mmrgbd.ops.cpu_patch` for exactly what is replaced) and logs the patched
names through MMEngine's current logger. CUDA tensors still go to mmcv's
kernels. ``import mmrgbd`` alone does not patch anything.
"""
from mmengine.logging import print_log

from .cpu_patch import enable_cpu_point_ops

PATCHED = enable_cpu_point_ops()

print_log(f'mmrgbd.ops.cpu_fallbacks: {len(PATCHED)} mmcv/mmdet3d point-op '
          'bindings now dispatch to pure-torch code on CPU (mmcv kernels on '
          'CUDA): ' + ', '.join(PATCHED),
          logger='current')
