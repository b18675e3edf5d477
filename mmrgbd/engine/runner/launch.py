"""Distributed launch that also works on CPU-only machines."""
import os
import warnings

import torch
import torch.distributed as dist


def setup_distributed_for_device(cfg, launcher: str) -> None:
    """Prepare ``cfg`` (in place) for ``launcher`` on the available device.

    With CUDA nothing changes: MMEngine initialises NCCL as usual. Without
    CUDA and with ``launcher='pytorch'`` (torchrun), MMEngine's ``init_dist``
    would call ``torch.cuda.set_device`` and crash, so the gloo process group
    is created here first (MMEngine then sees an initialised group and skips
    its own), the backend in ``env_cfg.dist_cfg`` is set to gloo, and DDP is
    wrapped with ``device_ids=None`` as CPU DDP requires. Without CUDA a
    config's ``AmpOptimWrapper`` (which asserts a GPU) becomes a plain fp32
    ``OptimWrapper``, with a warning, for every launcher.

    Args:
        cfg (Config): The runner config.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    if torch.cuda.is_available():
        return
    if cfg.get('optim_wrapper', {}).get('type') == 'AmpOptimWrapper':
        # MMEngine's AmpOptimWrapper asserts a GPU (e.g. mmpretrain's
        # linear-probe recipe sets it): train in fp32 instead
        warnings.warn('AmpOptimWrapper needs CUDA; training in fp32.')
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
    if launcher == 'none':
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'launcher={launcher!r} without CUDA is not supported; use '
            'tools/dist_train.sh (torchrun, launcher=pytorch) for CPU runs.')
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def build_runner(cfg):
    """The runner of ``cfg``: ``cfg.runner_type`` if set, else RGBDRunner.

    An optimiser that asks for ``fused=True`` where torch has no fused kernel
    for it on this device gets ``foreach=True`` instead
    (:func:`mmrgbd.engine.optimizers.fused.fused_or_foreach`).

    Args:
        cfg (Config): The runner config (after
            :func:`setup_distributed_for_device`).
    """
    from mmengine.device import get_device

    from mmrgbd.engine.optimizers.fused import fused_or_foreach
    from mmrgbd.registry import RUNNERS
    from .rgbd_runner import RGBDRunner
    if cfg.get('optim_wrapper') is not None:
        fused_or_foreach(cfg.optim_wrapper, get_device())
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return RGBDRunner.from_cfg(cfg)


def finish_distributed() -> None:
    """Tear down the process group at the end of a run, once every rank got
    there.

    Without it each process exits with its gloo / NCCL threads still
    running; a rank whose peer had already exited could then abort at exit
    ("terminate called without an active exception", seen once in a
    2-process CPU run after its last checkpoint was saved), failing a run
    that had finished. A no-op without an initialised process group.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
