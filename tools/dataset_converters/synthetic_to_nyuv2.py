"""Render :class:`mmrgbd.datasets.SyntheticRGBDScenes` rooms into the NYUv2
PNG layout, to run the NYUv2 downstream configs without any download.

The frames are written by ``nyuv2_mat_to_png.py``'s own ``convert`` (the
rendered rooms stand in for the datasets of ``nyu_depth_v2_labeled.mat``), so
the output is exactly the layout :class:`mmrgbd.datasets.NYUv2SegDataset`
reads and ``nyuv2_png_to_mmseg_depth.py`` arranges for mmseg's depth
configs::

    out_dir/rgb/XXXX.png       uint8 RGB, 640x480 by default (NYUv2's size)
    out_dir/depth/XXXX.png     uint16 mm, the hole-free rendered depth
    out_dir/rawdepth/XXXX.png  uint16 mm, with sensor-like holes (0)
    out_dir/label40/XXXX.png   uint8 0 = unlabelled, 1..40
    out_dir/label13/XXXX.png   uint8 0 = unlabelled, 1..13
    out_dir/train.txt          frames 1..num_train
    out_dir/test.txt           frames num_train+1..num_train+num_test

Frame ``k`` is synthetic sample ``k - 1`` of ``seed``, so train and test
rooms differ. The synthetic classes map to the NYU-40 class of the same name
(``box`` -> ``box``, ``ball`` -> ``otherprop``), and NYU-40 to NYU-13 with the
official ``class13Mapping.mat`` (door -> wall, cabinet -> furniture, box and
ball -> objects).

Example::

    python tools/dataset_converters/synthetic_to_nyuv2.py data/nyuv2_synth \\
        --num-train 8 --num-test 4
    python tools/dataset_converters/nyuv2_png_to_mmseg_depth.py \\
        data/nyuv2_synth data/nyu_labeled_synth
"""
import argparse
import functools
import importlib.util
import os.path as osp
import sys
from typing import Dict, Optional, Tuple

import numpy as np

from mmrgbd.datasets.nyuv2 import NYU40_CLASSES
from mmrgbd.datasets.synthetic import SYNTHETIC_CLASSES, render_sample

#: NYU-40 class (by name) of every synthetic class.
SYNTHETIC_TO_NYU40_NAME = dict(
    floor='floor', wall='wall', ceiling='ceiling', door='door',
    window='window', table='table', cabinet='cabinet', bed='bed', box='box',
    ball='otherprop')
#: The official NYU-40 -> NYU-13 map (``class13Mapping.mat``,
#: ``classMapping13.labels13``): entry ``i - 1`` is the 13-class id of class i.
NYU40_TO_13 = (12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7, 7,
               5, 7, 3, 2, 6, 11, 7, 7, 7, 7, 7, 7, 6, 7, 7, 7, 7, 7, 7, 6, 7)


def _nyuv2_converter():
    """The ``nyuv2_mat_to_png`` script module (a tool, not a package)."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'nyuv2_mat_to_png.py')
    spec = importlib.util.spec_from_file_location('nyuv2_mat_to_png', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_to_nyu40_lut() -> np.ndarray:
    """uint8 (10,) table: synthetic class id -> NYU-40 id (1..40)."""
    return np.array([
        NYU40_CLASSES.index(SYNTHETIC_TO_NYU40_NAME[name]) + 1
        for name in SYNTHETIC_CLASSES
    ], dtype=np.uint8)


class _RenderedStack:
    """One array of the labelled ``.mat`` file, rendered on access.

    ``stack[i]`` renders synthetic sample ``i`` (cached per frame, shared by
    the stacks of one :class:`SyntheticLabeledMat`) and returns its field in
    the transposed HDF5 layout the converter reads.
    """

    def __init__(self, frame, num: int, shape: Tuple[int, ...], field: str):
        self._frame = frame
        self.shape = (num, ) + shape
        self._field = field

    def __getitem__(self, i: int) -> np.ndarray:
        return self._frame(int(i))[self._field]


class SyntheticLabeledMat(dict):
    """``nyu_depth_v2_labeled.mat``'s datasets, rendered from synthetic rooms.

    Keys as in the labelled file (``images`` (N, 3, W, H), ``depths``,
    ``rawDepths``, ``labels`` (N, W, H)); ``labels`` hold NYU-40 ids (use
    an identity 894 -> 40 table). Frames are rendered lazily, one at a time.

    Args:
        num (int): Number of frames N.
        img_size (tuple[int, int]): (H, W).
        seed (int): Seed of :class:`SyntheticRGBDScenes`.
    """

    def __init__(self, num: int, img_size: Tuple[int, int], seed: int = 0):
        h, w = img_size
        lut40 = synthetic_to_nyu40_lut()

        @functools.lru_cache(maxsize=1)
        def frame(i: int) -> Dict[str, np.ndarray]:
            s = render_sample(seed, i, (h, w), with_depth_gt=True)
            labels = np.where(s['semseg'] < len(lut40),
                              lut40[np.clip(s['semseg'], 0, len(lut40) - 1)],
                              0)  # (H, W) NYU-40 ids, 0 = unlabelled
            return dict(
                images=s['rgb'].transpose(2, 1, 0),  # (3, W, H)
                depths=s['depth_gt'].T,  # (W, H)
                rawDepths=s['depth'].T,  # (W, H)
                labels=labels.T)  # (W, H)

        super().__init__(
            images=_RenderedStack(frame, num, (3, w, h), 'images'),
            depths=_RenderedStack(frame, num, (w, h), 'depths'),
            rawDepths=_RenderedStack(frame, num, (w, h), 'rawDepths'),
            labels=_RenderedStack(frame, num, (w, h), 'labels'))


def write_synthetic_nyuv2(out_dir: str,
                          num_train: int,
                          num_test: int,
                          img_size: Tuple[int, int] = (480, 640),
                          seed: int = 0) -> int:
    """Write ``num_train + num_test`` rendered rooms in the NYUv2 layout.

    Args:
        out_dir (str): Output folder.
        num_train (int): Frames listed in ``train.txt`` (1..num_train).
        num_test (int): Frames listed in ``test.txt``.
        img_size (tuple[int, int]): (H, W). Defaults to NYUv2's (480, 640).
        seed (int): Seed of the rooms.

    Returns:
        int: Number of frames written.

    Raises:
        ValueError: A split would be empty.
    """
    if num_train < 1 or num_test < 1:
        raise ValueError('num_train and num_test must be >= 1, got '
                         f'{num_train} and {num_test}')
    num = num_train + num_test
    ids = np.arange(1, num + 1)
    lut40 = np.arange(41, dtype=np.uint8)  # labels are NYU-40 ids already
    lut13 = np.array((0, ) + NYU40_TO_13, dtype=np.uint8)
    return _nyuv2_converter().convert(
        SyntheticLabeledMat(num, img_size, seed), out_dir, lut40, lut13,
        splits=(ids[:num_train], ids[num_train:]))


def main(argv: Optional[list] = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir')
    parser.add_argument('--num-train', type=int, default=795)
    parser.add_argument('--num-test', type=int, default=654)
    parser.add_argument('--img-size', type=int, nargs=2, default=(480, 640),
                        metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    n = write_synthetic_nyuv2(args.out_dir, args.num_train, args.num_test,
                              tuple(args.img_size), args.seed)
    print(f'wrote {n} frames to {args.out_dir}', file=sys.stderr)


if __name__ == '__main__':
    main()
