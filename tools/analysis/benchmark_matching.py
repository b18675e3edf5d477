"""Time SimIPU's point matching: scipy Hungarian vs batched auction vs greedy.

The costs are realistic: a LiDAR scan (a real KITTI ``velodyne/*.bin`` when
given, else a scan of the procedural scenes of ``SyntheticRGBDScenes``) is
seen in two views, ``p_b = T(p_a)`` with a random similarity ``T``
(:class:`mmrgbd.datasets.transforms.SimIPUTwoView`); each view is shuffled
and down-sampled with D-FPS to ``--num-points`` locations, and the cost is the
L2 distance between ``T(l_a)`` and ``l_b``, exactly what SimIPU matches.

Examples::

    # 4096 pairs (one cloud of 4096 points)
    python tools/analysis/benchmark_matching.py
    # a batch of 4 clouds x 1024 points (= 4096 pairs) from a KITTI scan
    python tools/analysis/benchmark_matching.py --batch-size 4 \
        --num-points 1024 --points ../shared/samples/kitti_object_vis/\
training/velodyne/000000.bin

It prints, per solver, the wall time, the total cost relative to the
Hungarian optimum and the fraction of pairs identical to Hungarian's.
"""
import argparse
import time

import numpy as np
import torch

from mmrgbd.datasets.transforms.two_view import SimIPUTwoView
from mmrgbd.models.algorithms.simipu import match_points
from mmrgbd.ops import furthest_point_sample_torch


def parse_args():
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
                        default=['hungarian', 'auction', 'greedy'])
    parser.add_argument('--device', default='cpu',
                        help="device of the auction ('cuda' if available)")
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


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


def main():
    args = parse_args()
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

    results = {}
    for name in args.matchers:
        c = costs.to(args.device) if name == 'auction' else costs
        t0 = time.perf_counter()
        rows, cols = match_points(c, name)
        if c.is_cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        rows, cols = rows.cpu(), cols.cpu()
        bidx = torch.arange(costs.shape[0])[:, None]
        total = float(costs[bidx, rows, cols].sum())
        results[name] = (elapsed, total, cols)
    ref = results.get('hungarian')
    print(f"{'matcher':<10} {'time (s)':>9} {'total cost':>12} "
          f"{'vs optimum':>11} {'same pairs':>11}")
    for name, (elapsed, total, cols) in results.items():
        if ref is not None:
            ratio = f'{total / ref[1]:.6f}'
            same = f'{float((cols == ref[2]).float().mean()) * 100:.2f} %'
        else:
            ratio = same = 'n/a'
        print(f'{name:<10} {elapsed:>9.3f} {total:>12.3f} {ratio:>11} '
              f'{same:>11}')


if __name__ == '__main__':
    main()
