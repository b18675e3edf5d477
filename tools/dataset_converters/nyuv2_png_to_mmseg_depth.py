"""Arrange the NYUv2 labeled frames in mmseg's NYU depth layout.

The input is the output of ``nyuv2_mat_to_png.py`` (the 1449 labeled frames
as ``rgb/XXXX.png``, ``depth/XXXX.png`` (filled depth, uint16 mm) and the
official 795 / 654 split in ``train.txt`` / ``test.txt``). The output is the
layout of mmseg's ``NYUDataset`` with PNG images, for the NYUv2 depth
protocol of MultiMAE, M3 3D and Progressive (795 labeled training frames;
mmseg's own NYU converter gives the ~24k-frame BTS training set instead)::

    out_dir/images/{train,test}/XXXX.png       RGB
    out_dir/annotations/{train,test}/XXXX.png  depth, uint16 mm

Files are symbolic links to the input (``--copy`` copies them). The configs
read them with ``img_suffix='.png'`` and ``LoadDepthAnnotation(
depth_rescale_factor=1e-3)``.

Example::

    python tools/dataset_converters/nyuv2_png_to_mmseg_depth.py \\
        data/nyuv2 data/nyu_labeled
"""
import argparse
import os
import os.path as osp
import shutil
import sys
from typing import Dict


def arrange(src: str, out_dir: str, depth: str = 'depth',
            copy: bool = False) -> Dict[str, int]:
    """Link (or copy) the labeled frames into mmseg's NYU layout.

    Args:
        src (str): Output folder of ``nyuv2_mat_to_png.py``.
        out_dir (str): Folder of the mmseg layout.
        depth (str): Depth folder of ``src``: ``'depth'`` (filled, the
            labeled set's depth) or ``'rawdepth'`` (0 = hole).
        copy (bool): Copy instead of linking.

    Returns:
        dict: Frames written per split.

    Raises:
        FileNotFoundError: A split list or a listed frame is missing.
    """
    counts = {}
    for split in ('train', 'test'):
        listing = osp.join(src, f'{split}.txt')
        if not osp.isfile(listing):
            raise FileNotFoundError(f'{listing}: split list missing (written '
                                    f'by nyuv2_mat_to_png.py --splits)')
        with open(listing) as f:
            ids = [int(line) for line in f if line.strip()]
        for sub, folder in (('images', 'rgb'), ('annotations', depth)):
            os.makedirs(osp.join(out_dir, sub, split), exist_ok=True)
            for idx in ids:
                name = f'{idx:04d}.png'
                source = osp.abspath(osp.join(src, folder, name))
                if not osp.isfile(source):
                    raise FileNotFoundError(f'{source}: frame {idx} of '
                                            f'{listing} is missing')
                target = osp.join(out_dir, sub, split, name)
                if osp.lexists(target):
                    os.remove(target)
                if copy:
                    shutil.copyfile(source, target)
                else:
                    os.symlink(source, target)
        counts[split] = len(ids)
    return counts


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='output folder of nyuv2_mat_to_png.py')
    parser.add_argument('out_dir', help='folder of the mmseg NYU layout')
    parser.add_argument('--depth', default='depth',
                        choices=['depth', 'rawdepth'],
                        help='filled (default) or raw depth')
    parser.add_argument('--copy', action='store_true',
                        help='copy the files instead of linking them')
    args = parser.parse_args(argv)
    counts = arrange(args.src, args.out_dir, args.depth, args.copy)
    print(f'{args.out_dir}: {counts["train"]} train, {counts["test"]} test '
          f'frames', file=sys.stderr)


if __name__ == '__main__':
    main()
