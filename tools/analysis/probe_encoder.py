# Linear-probe a pre-trained RGB encoder against its random-init twin on
# held-out synthetic RGB-D scenes (frozen features, per 16x16 patch: majority
# class by logistic regression, mean depth by ridge regression):
#   python tools/analysis/probe_encoder.py CONFIG CKPT [--seed 777]
#       [--init-seed 0] [--num-train 300 --num-test 200] [--cfg-options ...]
# Prints a table (pre-trained, random init, position only, trivial baseline)
# whose LAST line is the pre-trained minus random difference
# (acc, mIoU, RMSE, delta1). Deterministic for given seeds. Several seeds
# (--seed 777 778 779, random twins paired with --init-seed 0 1 2 by
# default) give mean +- sample sd and one difference line per run.
import argparse
import json
import os
import os.path as osp
import time

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmrgbd.evaluation.dense_probe import (PROBE_METRICS, dense_probe,
                                           fit_dense_probes,
                                           position_features,
                                           probe_input_spec,
                                           render_probe_split,
                                           trivial_baseline)
from mmrgbd.registry import MODELS

HEADERS = dict(acc='acc', miou='mIoU', rmse='RMSE (m)', delta1='delta1')
ROWS = ('pre-trained', 'random init', 'position only', 'trivial baseline')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Dense linear probe of a pre-trained RGB encoder vs its '
        'random-init twin on held-out SyntheticRGBDScenes')
    parser.add_argument('config', help='pre-training config')
    parser.add_argument('checkpoint', help='checkpoint of that config')
    parser.add_argument(
        '--seed', type=int, nargs='+', default=[777],
        help='seed(s) of the held-out scenes (not a training seed)')
    parser.add_argument(
        '--init-seed', type=int, nargs='+', default=None,
        help='torch seed(s) of the random-init twin, one per --seed '
        '(default 0, 1, ...)')
    parser.add_argument('--num-train', type=int, default=300,
                        help='probe-train images (indices 0..N-1)')
    parser.add_argument('--num-test', type=int, default=200,
                        help='probe-test images (the next M indices)')
    parser.add_argument('--input-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='encoder input size (default: from the config)')
    parser.add_argument('--render-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='render size (default: from the config)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--cache-dir', default=None,
                        help='cache of the rendered scenes')
    parser.add_argument('--out', default=None, help='also write JSON here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    args = parser.parse_args()
    if args.init_seed is None:
        args.init_seed = list(range(len(args.seed)))
    if len(args.init_seed) != len(args.seed):
        parser.error(f'give one --init-seed per --seed ({len(args.seed)}), '
                     f'got {len(args.init_seed)}')
    return args


def build_model(cfg, init_seed: int, checkpoint=None):
    """Build the config's model with ``init_seed``, ``init_weights()`` and,
    with ``checkpoint``, load it strictly (eval mode)."""
    torch.manual_seed(init_seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint is not None:
        # a runner checkpoint loads weights-only (mmrgbd's allow-list)
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.eval()


def probe_run(cfg, pretrained, spec, seed, init_seed, args):
    """The four rows of one (data seed, twin init seed) run."""
    train = render_probe_split(seed, 0, args.num_train, spec['input_size'],
                               spec['render_size'], spec['patch_size'],
                               args.cache_dir)
    test = render_probe_split(seed, args.num_train, args.num_test,
                              spec['input_size'], spec['render_size'],
                              spec['patch_size'], args.cache_dir)
    rows = {}
    rows['pre-trained'] = dense_probe(pretrained, train, test,
                                      batch_size=args.batch_size)
    twin = build_model(cfg, init_seed)
    rows['random init'] = dense_probe(twin, train, test,
                                      batch_size=args.batch_size)
    n = train.labels.shape[1]
    rows['position only'] = fit_dense_probes(
        position_features(len(train), n), train,
        position_features(len(test), n), test)
    rows['trivial baseline'] = trivial_baseline(train, test)
    return rows, train


def difference(rows):
    return {k: rows['pre-trained'][k] - rows['random init'][k]
            for k in PROBE_METRICS}


def mean_sd(values):
    values = np.asarray(values, dtype=np.float64)
    sd = values.std(ddof=1) if len(values) > 1 else 0.
    return values.mean(), sd


def format_table(runs):
    """Markdown table of the rows, mean +- sd over runs when several."""
    lines = ['| encoder | ' + ' | '.join(HEADERS[k] for k in PROBE_METRICS) +
             ' |', '|---|' + '---|' * len(PROBE_METRICS)]
    for name in ROWS:
        cells = []
        for k in PROBE_METRICS:
            mean, sd = mean_sd([r[name][k] for r in runs])
            cells.append(f'{mean:.4f}' if len(runs) == 1 else
                         f'{mean:.4f} ± {sd:.4f}')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_difference(diffs):
    if len(diffs) == 1:
        return ', '.join(f'{HEADERS[k]} {diffs[0][k]:+.4f}'
                         for k in PROBE_METRICS)
    cells = []
    for k in PROBE_METRICS:
        mean, sd = mean_sd([d[k] for d in diffs])
        cells.append(f'{HEADERS[k]} {mean:+.4f} ± {sd:.4f}')
    return ', '.join(cells)


def main():
    args = parse_args()
    # keep mmengine's per-parameter init report off stdout; warnings stay
    MMLogger.get_instance('probe_encoder', log_level='WARNING')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmrgbd'))
    if 'stage1_checkpoint' in cfg.model:
        # stage 2: the student (and teacher) come from CKPT; the random twin
        # must not load stage 1 either
        cfg.model.stage1_checkpoint = None
    spec = probe_input_spec(cfg)
    if args.input_size:
        spec['input_size'] = tuple(args.input_size)
    if args.render_size:
        spec['render_size'] = tuple(args.render_size)

    t0 = time.perf_counter()
    pretrained = build_model(cfg, 0, args.checkpoint)
    runs = []
    for seed, init_seed in zip(args.seed, args.init_seed):
        rows, train = probe_run(cfg, pretrained, spec, seed, init_seed, args)
        runs.append(rows)
    seconds = time.perf_counter() - t0
    diffs = [difference(rows) for rows in runs]

    h, w = spec['input_size']
    rh, rw = spec['render_size']
    pairs = ', '.join(f'{s}/{i}'
                      for s, i in zip(args.seed, args.init_seed))
    print(f'config: {args.config}')
    print(f'checkpoint: {args.checkpoint}')
    print(f'data: SyntheticRGBDScenes, images 0-{args.num_train - 1} fit, '
          f'{args.num_train}-{args.num_train + args.num_test - 1} scored; '
          f'rendered {rh}x{rw}, encoder input {h}x{w}, '
          f'{train.grid_size[0]}x{train.grid_size[1]} patches of '
          f'{spec["patch_size"]} px ({train.labels.numel()} patches fit); '
          f'runs (data seed/twin init seed): {pairs}')
    print(f'time: {seconds:.1f} s ({seconds / len(runs):.1f} s per run)')
    print(format_table(runs))
    if len(runs) > 1:
        for pair, diff in zip(pairs.split(', '), diffs):
            print(f'run {pair}: ' + format_difference([diff]))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           seeds=args.seed, init_seeds=args.init_seed,
                           num_train=args.num_train, num_test=args.num_test,
                           spec={k: list(v) if isinstance(v, tuple) else v
                                 for k, v in spec.items()},
                           runs=runs, diffs=diffs, seconds=seconds),
                      f, indent=1)
    label = 'pre-trained - random'
    if len(runs) > 1:
        label += f' (mean ± sd over {len(runs)} runs)'
    print(f'{label}: ' + format_difference(diffs))


if __name__ == '__main__':
    main()
