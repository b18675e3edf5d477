"""Time the pure-torch point ops of ``mmrgbd.ops`` on CPU at realistic sizes.

Sizes follow a PointNet++ / 3DSSD encoder on a KITTI scan and MVX-Net's dynamic
voxel encoder. Points come from the KITTI demo scan in
``<repo>/../shared/samples/mmdet3d_kitti_demo/000008.bin`` when present
(resampled to the requested count), otherwise uniformly from the KITTI range.

Example::

    python tools/analysis/benchmark_point_ops.py --repeat 3
    python tools/analysis/benchmark_point_ops.py --num-points 16384 \
        --num-centers 4096 --nsample 32 --threads 2
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from mmrgbd.ops import (ball_query_torch, dynamic_scatter_torch,
                        furthest_point_sample_torch,
                        furthest_point_sample_with_dist_torch,
                        gather_points_torch, grouping_operation_torch,
                        knn_torch, three_interpolate_torch, three_nn_torch)

KITTI_BIN = (Path(__file__).resolve().parents[2] / '..' / 'shared' /
             'samples' / 'mmdet3d_kitti_demo' / '000008.bin')
KITTI_RANGE = [0, -40, -3, 70.4, 40, 1]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--num-points', type=int, default=16384)
    parser.add_argument('--num-centers', type=int, default=4096)
    parser.add_argument('--nsample', type=int, default=32)
    parser.add_argument('--radius', type=float, default=0.8)
    parser.add_argument('--channels', type=int, default=64)
    parser.add_argument('--ffps-points',
                        type=int,
                        default=4096,
                        help='N of the (N, N) feature-distance F-FPS input')
    parser.add_argument('--ffps-samples', type=int, default=1024)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--threads',
                        type=int,
                        default=None,
                        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def load_points(batch, n, gen):
    """(B, n, 4) float32 points: the KITTI demo scan or a uniform cloud."""
    if KITTI_BIN.is_file():
        scan = np.fromfile(KITTI_BIN, dtype=np.float32).reshape(-1, 4)
        scan = torch.from_numpy(scan)
        rows = torch.randint(0, len(scan), (batch, n), generator=gen)
        return scan[rows], f'KITTI demo scan ({len(scan)} pts, resampled)'
    lo = torch.tensor(KITTI_RANGE[:3] + [0.])
    hi = torch.tensor(KITTI_RANGE[3:] + [1.])
    pts = lo + (hi - lo) * torch.rand(batch, n, 4, generator=gen)
    return pts, 'uniform random in the KITTI range'


def bench(name, size, fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    print(f'{name:<34} {size:<44} {np.median(times) * 1e3:10.1f} ms '
          f'(min {min(times) * 1e3:.1f})')


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    B, N, M, K, C = (args.batch, args.num_points, args.num_centers,
                     args.nsample, args.channels)
    pts, source = load_points(B, N, gen)
    xyz = pts[..., :3].contiguous()  # (B, N, 3)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'points: {source}')
    print(f'{"op":<34} {"size":<44} {"median":>13}')

    fps_idx = furthest_point_sample_torch(xyz, M)
    centers = xyz[torch.arange(B)[:, None], fps_idx.long()]  # (B, M, 3)
    bench('furthest_point_sample (D-FPS)', f'B={B} N={N} -> {M}',
          lambda: furthest_point_sample_torch(xyz, M), args.repeat)

    Nf = min(args.ffps_points, N)
    feat_xyz = torch.cat(
        [xyz[:, :Nf], torch.rand(B, Nf, 8, generator=gen)],
        dim=2)  # (B, Nf, 11)
    dist = torch.cdist(feat_xyz, feat_xyz).square()  # (B, Nf, Nf)
    bench(
        'furthest_point_sample_with_dist', f'B={B} ({Nf}x{Nf}) -> '
        f'{args.ffps_samples}',
        lambda: furthest_point_sample_with_dist_torch(dist, args.ffps_samples),
        args.repeat)

    idx = ball_query_torch(0, args.radius, K, xyz, centers)
    bench('ball_query', f'B={B} N={N} centres={M} r={args.radius} k={K}',
          lambda: ball_query_torch(0, args.radius, K, xyz, centers),
          args.repeat)

    feats = torch.rand(B, C, N, generator=gen, requires_grad=True)

    def group_fwd_bwd():
        grouping_operation_torch(feats, idx).sum().backward()

    bench('grouping_operation fwd', f'B={B} C={C} N={N} -> ({M}, {K})',
          lambda: grouping_operation_torch(feats, idx), args.repeat)
    bench('grouping_operation fwd+bwd', f'B={B} C={C} N={N} -> ({M}, {K})',
          group_fwd_bwd, args.repeat)
    bench('gather_points', f'B={B} C={C} N={N} -> {M}',
          lambda: gather_points_torch(feats, fps_idx), args.repeat)
    bench('knn', f'B={B} N={N} centres={M} k=16',
          lambda: knn_torch(16, xyz, centers), args.repeat)
    dist3, nn3 = three_nn_torch(xyz, centers)
    weight = 1.0 / (dist3 + 1e-8)
    weight = weight / weight.sum(2, keepdim=True)
    center_feats = torch.rand(B, C, M, generator=gen)
    bench('three_nn', f'B={B} targets={N} sources={M}',
          lambda: three_nn_torch(xyz, centers), args.repeat)
    bench('three_interpolate', f'B={B} C={C} {M} -> {N}',
          lambda: three_interpolate_torch(center_feats, nn3, weight),
          args.repeat)

    # MVX-Net dynamic voxels: 5 cm x 5 cm x 10 cm over the KITTI range
    from mmcv.ops import Voxelization
    flat = pts.reshape(-1, 4)
    voxelize = Voxelization([0.05, 0.05, 0.1], KITTI_RANGE, max_num_points=-1)
    coors = voxelize(flat[:, :3].contiguous())  # (B*N, 3) mmcv CPU kernel
    point_feats = torch.rand(len(flat), C, generator=gen, requires_grad=True)
    n_vox = len(torch.unique(coors[(coors >= 0).all(1)], dim=0))
    for reduce in ('max', 'mean'):

        def scatter(reduce=reduce):
            out, _ = dynamic_scatter_torch(point_feats, coors, reduce)
            out.sum().backward()

        bench(f'dynamic_scatter {reduce} fwd+bwd',
              f'{len(flat)} pts C={C} -> {n_vox} voxels', scatter, args.repeat)


if __name__ == '__main__':
    main()
