# Test (benchmark) a checkpoint with an mmrgbd config.
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from mmrgbd.engine.runner import (build_runner, finish_distributed,
                                  setup_distributed_for_device)
from mmrgbd.utils import unsafe_checkpoint_loading


def parse_args():
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out', help='dump the raw results of the metrics to this pickle')
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
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='unpickle CHECKPOINT fully: RUNS ANY CODE STORED IN THE FILE; '
        'only for legacy files you trust completely')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if cfg.get('test_dataloader') is None:
        raise SystemExit(f'{args.config} defines no test_dataloader; a '
                         'pre-training config is benchmarked through its '
                         'downstream configs (configs/downstream).')
    if args.out is not None:
        cfg.test_evaluator = cfg.test_evaluator if isinstance(
            cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator.append(
            dict(type='DumpResults', out_file_path=args.out))
    setup_distributed_for_device(cfg, args.launcher)
    with unsafe_checkpoint_loading(args.unsafe_load):
        runner = build_runner(cfg)
        metrics = runner.test()
    finish_distributed()
    print(metrics)


if __name__ == '__main__':
    main()
