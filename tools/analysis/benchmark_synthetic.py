"""Measure the generation speed of ``SyntheticRGBDScenes`` on one core.

Prints frames per second (wall clock and process CPU time) for single frames,
for clips (frames of all clips counted) and for frames with a LiDAR scan, all
through ``dataset[i]`` without a pipeline. Thread pools are limited to one
thread so the number is a single-core figure.

Example::

    python tools/analysis/benchmark_synthetic.py --num 100
    python tools/analysis/benchmark_synthetic.py --img-size 120 160
"""
import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[_var] = '1'

import argparse  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402

from mmrgbd.datasets import SyntheticRGBDScenes  # noqa: E402


def parse_args():
    """Command line arguments."""
    parser = argparse.ArgumentParser(
        description='Frames/s of the synthetic RGB-D generator (1 thread)')
    parser.add_argument('--num',
                        type=int,
                        default=60,
                        help='frame samples per measurement')
    parser.add_argument('--num-clips',
                        type=int,
                        default=4,
                        help='clip samples for the clip measurement')
    parser.add_argument('--num-frames',
                        type=int,
                        default=16,
                        help='frames per clip')
    parser.add_argument('--frame-interval', type=int, default=4)
    parser.add_argument('--img-size',
                        type=int,
                        nargs=2,
                        default=(240, 320),
                        metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cache-dir',
                        default=None,
                        help='also time reading from this disk cache')
    return parser.parse_args()


def measure(dataset, num_items: int, frames_per_item: int) -> dict:
    """Time ``dataset[i]`` for ``i < num_items`` after one warm-up item.

    Args:
        dataset: The dataset.
        num_items (int): Items to fetch.
        frames_per_item (int): Frames in one item (T for clips).

    Returns:
        dict: ``wall_fps``, ``cpu_fps`` and ``ms_per_frame`` (wall).
    """
    dataset[0]
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(num_items):
        dataset[i % len(dataset)]
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    frames = num_items * frames_per_item
    return dict(wall_fps=frames / wall,
                cpu_fps=frames / max(cpu, 1e-9),
                ms_per_frame=1000 * wall / frames)


def main():
    """Run the measurements and print a table."""
    args = parse_args()
    cv2.setNumThreads(1)
    size = tuple(args.img_size)
    common = dict(img_size=size, seed=args.seed)
    runs = [
        ('frames', SyntheticRGBDScenes(num_samples=args.num,
                                       **common), args.num, 1),
        ('frames+points',
         SyntheticRGBDScenes(num_samples=args.num, with_points=True,
                             **common), args.num, 1),
        (f'clips (T={args.num_frames})',
         SyntheticRGBDScenes(num_samples=args.num_clips,
                             mode='clip',
                             num_frames=args.num_frames,
                             frame_interval=args.frame_interval,
                             **common), args.num_clips, args.num_frames),
    ]
    if args.cache_dir:
        cached = SyntheticRGBDScenes(num_samples=args.num,
                                     cache_dir=args.cache_dir,
                                     **common)
        for i in range(args.num):  # fill the cache
            cached[i]
        runs.append(('frames from cache', cached, args.num, 1))
    print(f'SyntheticRGBDScenes at {size[0]}x{size[1]}, 1 thread')
    print(f'{"run":<22}{"frames/s (wall)":>17}{"frames/s (cpu)":>16}'
          f'{"ms/frame":>10}')
    for name, dataset, n, frames in runs:
        r = measure(dataset, n, frames)
        print(f'{name:<22}{r["wall_fps"]:>17.1f}{r["cpu_fps"]:>16.1f}'
              f'{r["ms_per_frame"]:>10.2f}')


if __name__ == '__main__':
    main()
