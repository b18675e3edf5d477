"""Time SimIPU's point matching and its share of a SimIPU training step.

The costs are realistic: a LiDAR scan (a real KITTI ``velodyne/*.bin`` when
given, else a scan of the procedural scenes of ``SyntheticRGBDScenes``) is
seen in two views, ``p_b = T(p_a)`` with a random similarity ``T``
(:class:`mmrgbd.datasets.transforms.SimIPUTwoView`); each view is shuffled
and down-sampled with D-FPS to ``--num-points`` locations, and the cost is the
L2 distance between ``T(l_a)`` and ``l_b``, exactly what SimIPU matches.

Matchers: ``hungarian`` (scipy on the full matrix, the reference),
``hungarian_metric`` (SimIPU's default: the locations that coincide in both
views are fixed first, ``--metric-tol`` bounds the extra total cost, see
:func:`mmrgbd.models.utils.matching.coincident_pairs`; clouds in parallel
threads), ``auction`` (batched torch) and ``greedy`` (the ablation).

With ``--step-config`` a training step of that SimIPU config (its own
pipeline on the real KITTI frames in the official layout, see
``tools/analysis/benchmark_data.py``) is timed three times over: as it is
(the matching in a background thread while the image encoder runs), with
the matching of before (scipy on the full matrix, in the loss), and with an
instant stand-in matcher; the differences are the matching's cost on the
critical path of the step.

Examples::

    # 4096 pairs (one cloud of 4096 points) of a real KITTI scan
    python tools/analysis/benchmark_matching.py --points \
        ../shared/samples/kitti_object_vis/training/velodyne/000000.bin
    # a batch of 4 clouds x 1024 points (= 4096 pairs)
    python tools/analysis/benchmark_matching.py --batch-size 4 \
        --num-points 1024
    # plus the share of the matching in a step of the shipped R50 config
    python tools/analysis/benchmark_matching.py --batch-size 4 \
        --step-config configs/pretrain/simipu_r50_kitti.py

It prints, per solver, the wall time, the total cost relative to the
Hungarian optimum and the fraction of pairs identical to Hungarian's.
"""
import argparse
import copy
import functools
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch

from mmrgbd.datasets.transforms.two_view import SimIPUTwoView
from mmrgbd.models.algorithms.simipu import match_points
from mmrgbd.models.utils.matching import coincident_pairs
from mmrgbd.ops import furthest_point_sample_torch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-points', type=int, default=4096,
                        help='matched locations per cloud')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='clouds per batch (the auction solves them '
                        'together)')
    parser.add_argument('--points', default=None,
                        help='a float32 (x, y, z, r) .bin scan; default: a '
                        'synthetic scan')
    parser.add_argument('--scan-points', type=int, default=16384,
                        help='points kept from the scan before FPS')
    parser.add_argument('--matchers', nargs='+',
                        default=['hungarian', 'hungarian_metric', 'auction',
                                 'greedy'])
    parser.add_argument('--metric-tol', type=float, default=1e-4,
                        help='hungarian_metric: allowed relative increase of '
                        'the total cost (SimIPU match_tol)')
    parser.add_argument('--device', default='cpu',
                        help="device of the auction ('cuda' if available)")
    parser.add_argument('--step-config', default=None,
                        help='also time a training step of this SimIPU '
                        'config on the real KITTI frames')
    parser.add_argument('--step-batch', type=int, default=None,
                        help='batch of the timed step (default: config)')
    parser.add_argument('--steps', type=int, default=2,
                        help='timed steps per variant (after a warm-up)')
    parser.add_argument('--samples-dir', default=None,
                        help='real sample data (default ../shared/samples)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def load_scan(path, rng):
    """A float32 (N, 4) LiDAR scan."""
    if path is not None:
        from mmrgbd.datasets.transforms.lidar import load_points_bin
        return load_points_bin(path)
    from mmrgbd.datasets import SyntheticRGBDScenes
    ds = SyntheticRGBDScenes(num_samples=1, img_size=(96, 128),
                             seed=int(rng.integers(1 << 16)),
                             with_points=True)
    return ds[0]['points']


def make_costs(scan, batch_size, num_points, scan_points, rng):
    """(B, N, N) costs between T(l_a) and l_b of ``batch_size`` view pairs."""
    np.random.seed(int(rng.integers(1 << 31)))
    two_view = SimIPUTwoView(translation_std=0.5, num_points=scan_points,
                             shuffle=True)
    costs = []
    for _ in range(batch_size):
        sample = two_view({'points': scan})
        pa = torch.from_numpy(sample['points'][:, :3])[None]  # (1, S, 3)
        pb = torch.from_numpy(sample['points_beta'][:, :3])[None]
        ia = furthest_point_sample_torch(pa, num_points).long()  # (1, N)
        ib = furthest_point_sample_torch(pb, num_points).long()
        la, lb = pa[0, ia[0]], pb[0, ib[0]]  # (N, 3)
        mat = torch.from_numpy(sample['beta_transform']).float()
        la_in_b = la @ mat[:3, :3].T + mat[:3, 3]  # (N, 3)
        costs.append(torch.cdist(la_in_b.double(), lb.double()))  # (N, N)
    return torch.stack(costs)  # (B, N, N)


def run_matcher(name, costs, metric_tol):
    """``(rows, cols)`` of one matcher on (B, N, M) ``costs``."""
    if name == 'hungarian_metric':
        return match_points(costs, 'hungarian', metric_tol=metric_tol)
    return match_points(costs, name)


# ---------------------------------------------------------------------- #
# the share of a training step
# ---------------------------------------------------------------------- #
def _instant_match(cost, matcher='hungarian', **kwargs):
    """Stand-in matcher without cost: location k of alpha to k of beta."""
    b, n, _ = cost.shape
    rows = torch.arange(n, device=cost.device).expand(b, n)
    return rows, rows


def time_step(cfg_path, batch, steps, samples_dir, seed):
    """Seconds per step: as is, old matching, instant matching."""
    import benchmark_data
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import mmrgbd.models.algorithms.simipu as simipu_mod
    from mmrgbd.registry import DATASETS, MODELS
    cfg = Config.fromfile(cfg_path)
    init_default_scope(cfg.get('default_scope', 'mmrgbd'))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    batch = batch or int(cfg.train_dataloader.batch_size)
    with tempfile.TemporaryDirectory(prefix='benchmark_matching_') as tmp:
        benchmark_data.arrange_layout(ds_cfg, tmp, samples_dir)
        dataset = DATASETS.build(ds_cfg)
        np.random.seed(seed)
        data = pseudo_collate([dataset[i % len(dataset)]
                               for i in range(batch)])
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.train()
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    match_time, shapes = [], []
    orig_match = simipu_mod.match_points

    def timed_match(cost, *args, **kwargs):
        t0 = time.perf_counter()
        out = orig_match(cost, *args, **kwargs)
        match_time.append(time.perf_counter() - t0)
        shapes.append(tuple(cost.shape))
        return out

    orig_start = type(model).start_matching
    old_start = functools.partialmethod(orig_start, background=False)
    variants = [
        ('as is (metric Hungarian, background thread)', timed_match, None,
         model.match_tol),
        ('before (scipy on the full matrix, in the loss)', timed_match,
         old_start, 0.),
        ('instant stand-in matcher', _instant_match, None, model.match_tol),
    ]
    model.train_step(data, optim)  # warm-up
    out = {}
    try:
        for name, matcher, start, tol in variants:
            simipu_mod.match_points = matcher
            if start is not None:
                type(model).start_matching = start
            model.match_tol = tol
            match_time.clear()
            t0 = time.perf_counter()
            for _ in range(steps):
                model.train_step(data, optim)
            step = (time.perf_counter() - t0) / steps
            solve = sum(match_time) / steps if match_time else 0.
            out[name] = (step, solve)
            type(model).start_matching = orig_start
    finally:
        simipu_mod.match_points = orig_match
        type(model).start_matching = orig_start
    return out, batch, shapes[0][1]


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    scan = load_scan(args.points, rng)
    print(f'scan: {len(scan)} points '
          f"({args.points or 'synthetic'}); {args.batch_size} x "
          f'{args.num_points} locations = '
          f'{args.batch_size * args.num_points} pairs')
    t0 = time.perf_counter()
    costs = make_costs(scan, args.batch_size, args.num_points,
                       min(args.scan_points, max(len(scan),
                                                 args.num_points)), rng)
    print(f'cost matrices {tuple(costs.shape)} built in '
          f'{time.perf_counter() - t0:.1f} s; median nearest-neighbour '
          f'distance {costs.min(-1).values.median():.3f} m')
    fixed, bound = 0, 0.
    for c in costs.numpy():
        r, _, b = coincident_pairs(c, args.metric_tol)
        fixed, bound = fixed + len(r), bound + b
    print(f'hungarian_metric fixes {fixed} of '
          f'{args.batch_size * args.num_points} locations first '
          f'(coinciding in both views); proven bound on the extra total '
          f'cost {bound:.6f} m')

    results = {}
    for name in args.matchers:
        c = costs.to(args.device) if name == 'auction' else costs
        t0, c0 = time.perf_counter(), time.process_time()
        rows, cols = run_matcher(name, c, args.metric_tol)
        if c.is_cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
        rows, cols = rows.cpu(), cols.cpu()
        bidx = torch.arange(costs.shape[0])[:, None]
        total = float(costs[bidx, rows, cols].sum())
        results[name] = (elapsed, total, cols, cpu)
    ref = results.get('hungarian')
    load = os.getloadavg()
    print(f'(wall and CPU time of this process, all threads; load average '
          f'{load[0]:.2f} on {os.cpu_count()} cores)')
    print(f"{'matcher':<17} {'wall (s)':>9} {'CPU (s)':>8} {'total cost':>12} "
          f"{'vs optimum':>11} {'same pairs':>11}")
    for name, (elapsed, total, cols, cpu) in results.items():
        if ref is not None:
            ratio = f'{total / ref[1]:.6f}'
            same = f'{float((cols == ref[2]).float().mean()) * 100:.2f} %'
        else:
            ratio = same = 'n/a'
        print(f'{name:<17} {elapsed:>9.3f} {cpu:>8.3f} {total:>12.3f} '
              f'{ratio:>11} {same:>11}')

    if args.step_config is None:
        return results
    root = osp.dirname(osp.abspath(__file__))
    if root not in sys.path:
        sys.path.insert(0, root)
    import benchmark_data
    samples_dir = args.samples_dir or str(benchmark_data.ROOT.parent /
                                          'shared' / 'samples')
    steps, batch, locations = time_step(args.step_config, args.step_batch,
                                        args.steps, samples_dir, args.seed)
    load = os.getloadavg()
    print(f'SimIPU step of {args.step_config}: batch {batch}, '
          f'{torch.get_num_threads()} torch threads, load average '
          f'{load[0]:.2f}')
    instant = steps['instant stand-in matcher'][0]
    print(f"{'variant':<48} {'step (s)':>9} {'solve (s)':>10} "
          f"{'on the critical path':>21}")
    for name, (step, solve) in steps.items():
        extra = step - instant
        print(f'{name:<48} {step:>9.3f} {solve:>10.3f} '
              f'{extra:>9.3f} s = {100 * extra / step:5.1f} %')
    for name in ('hungarian', 'hungarian_metric'):
        if name in results:
            per_cloud = results[name][0] / args.batch_size
            print(f'{name} at {args.num_points} pairs per cloud, {batch} '
                  f'clouds one after the other: {batch * per_cloud:.3f} s ='
                  f' {100 * batch * per_cloud / instant:.1f} % of the step '
                  f'without matching (the config matches {locations} '
                  'locations per cloud)')
    return results


if __name__ == '__main__':
    main()
