# Train a model with an mmrgbd config (single process or torchrun).
import argparse
import os
import os.path as osp
import warnings

from mmengine.config import Config, DictAction

from mmrgbd.engine.optimizers import autocast_optim_wrapper_cfg
from mmrgbd.engine.runner import (build_runner, finish_distributed,
                                  setup_distributed_for_device)
from mmrgbd.engine.schedule import rescale_iter_schedule
from mmrgbd.utils import unsafe_checkpoint_loading


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (AutocastOptimWrapper): fp16 with '
        'dynamic loss scaling on CUDA, bf16 on CPU; set optim_wrapper.dtype '
        'to choose (e.g. --cfg-options optim_wrapper.dtype=bfloat16)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the LR linearly by (processes x batch size) / '
        'auto_scale_lr.base_batch_size; a config without a base takes its '
        'own train_dataloader.batch_size on one process as the base.')
    parser.add_argument(
        '--keep-schedule',
        action='store_true',
        help='with --cfg-options train_cfg.max_iters=N: keep the LR schedule '
        'and checkpoint interval as written instead of stretching them to N')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='unpickle checkpoints (--resume, load_from, init_cfg) fully: '
        'RUNS ANY CODE STORED IN THE FILES; only for legacy files you trust '
        'completely')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments into the config.

    Returns:
        tuple[Config, list[str]]: The config and the schedule entries that
        were stretched to an overridden ``train_cfg.max_iters``.
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        # autocast on any device: fp16 + dynamic loss scaling on CUDA,
        # bf16 on CPU (AutocastOptimWrapper's defaults)
        cfg.optim_wrapper = autocast_optim_wrapper_cfg(cfg.optim_wrapper)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    changes = []
    if args.cfg_options is not None:
        new_max_iters = args.cfg_options.get('train_cfg.max_iters')
        if new_max_iters is not None and not args.keep_schedule:
            # before merging, so that explicit schedule overrides win
            changes = rescale_iter_schedule(cfg, new_max_iters)
        cfg.merge_from_dict(args.cfg_options)
    return cfg, changes


def enable_auto_scale_lr(cfg):
    """Turn on ``auto_scale_lr``, choosing a base batch size if there is none.

    MMEngine scales the LR by ``world_size * batch_size / base_batch_size``.
    A config without ``auto_scale_lr.base_batch_size`` (the demos) is taken
    to have its LR set for its own ``train_dataloader.batch_size`` on one
    process (read before ``--cfg-options``).
    """
    scale = cfg.get('auto_scale_lr') or {}
    scale = dict(scale, enable=True)
    if scale.get('base_batch_size') is None:
        base = cfg.train_dataloader.batch_size
        warnings.warn(
            f'--auto-scale-lr: the config sets no auto_scale_lr.'
            f'base_batch_size; taking its train_dataloader.batch_size={base} '
            'on one process as the batch its learning rate was set for.')
        scale['base_batch_size'] = base
    cfg.auto_scale_lr = scale


def log_global_batch(runner, cfg):
    """Log the global batch size (per-process batch x processes)."""
    per_process = cfg.train_dataloader.get('batch_size')
    if per_process is None:
        return
    world = runner.world_size
    runner.logger.info(
        f'Global batch size: {per_process * world} ({per_process} per '
        f'process x {world} process{"es" if world > 1 else ""})')


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg, schedule_changes = merge_args(cfg, args)
    setup_distributed_for_device(cfg, args.launcher)
    with unsafe_checkpoint_loading(args.unsafe_load):
        runner = build_runner(cfg)
        log_global_batch(runner, cfg)
        if schedule_changes:
            runner.logger.info(
                f'train_cfg.max_iters={cfg.train_cfg.max_iters} differs from '
                'the config file: stretched the schedule to it '
                '(--keep-schedule keeps it): ' + '; '.join(schedule_changes))
        runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
