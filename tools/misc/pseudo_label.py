"""Write depth and semantic pseudo labels for a folder of RGB images.

MultiMAE pre-trains on RGB-only images with pseudo labels for the missing
modalities. This tool runs user-supplied models (never downloaded; see the
protocol of :mod:`mmrgbd.apis.pseudo_labeller`) over every image under
``RGB_DIR`` (recursively; ``.jpg .jpeg .png .bmp .tif .tiff .webp``) and
writes, for an image ``RGB_DIR/<name>.<ext>``::

    OUT_DIR/depth/<name>.png    --depth-format uint16 (default): 16-bit
                                PNG using the full range, 0 = invalid
                                (read with depth_unit='mm'; values are
                                the depth times a per-image factor)
                                --depth-format mm: uint16 millimetres
                                (metric networks; depth_unit='mm')
    OUT_DIR/depth/<name>.npy    --depth-format float: float32, lossless
                                (depth_unit='m')
    OUT_DIR/semseg/<name>.png   uint8 class ids 0..K-1, 255 = ignore
    OUT_DIR/<list file>         one line per image for RGBDListDataset:
                                "<rgb> depth/<name>.png [semseg/<name>.png]"
                                with paths relative to OUT_DIR

The list file (default ``pseudo_labels.txt``) needs depth, since every
:class:`mmrgbd.datasets.RGBDListDataset` entry has a depth map; with only a
semseg labeller no list is written. Use it as::

    dict(type='RGBDListDataset', data_root=OUT_DIR,
         ann_file='pseudo_labels.txt', depth_unit='mm',  # 'm' for float
         depth_source='pseudo')

Precision: a relative-depth network (outputs of order 1) stored in
millimetres would keep ~1000 levels and lose every value below 0.5e-3; the
default ``uint16`` format keeps 65534 levels per image for any unit. Its
per-image factor is removed by MultiMAE's per-image robust standardisation
(``NormalizeDepth(mode='robust')``); use ``mm`` or ``float`` when metric
values are needed.

with ``LoadRGBDFromFiles(with_semseg=True)`` (no ``reduce_zero_label``: the
ids are already 0-based).

Example::

    python tools/misc/pseudo_label.py data/imagenet/train \\
        data/imagenet_pseudo \\
        --depth-labeller my_pkg.depth:build_model \\
        --semseg-config my_segformer.py --semseg-checkpoint segformer.pth \\
        --num-classes 40
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

import cv2
import numpy as np

from mmrgbd.apis import (as_depth_map, as_semseg_map, encode_pseudo_depth,
                         load_labeller)
from mmrgbd.apis.pseudo_labeller import DEPTH_FORMATS
from mmrgbd.datasets.depth_io import read_rgb

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
DEFAULT_LIST = 'pseudo_labels.txt'


def find_images(rgb_dir: str) -> List[Tuple[str, str]]:
    """``(path, name)`` of every image under ``rgb_dir``, sorted.

    ``name`` is the path relative to ``rgb_dir`` without its extension.

    Raises:
        FileNotFoundError: If ``rgb_dir`` is not a folder.
        ValueError: If it holds no image, two images share a name, or a path
            holds whitespace (the list file is whitespace-separated).
    """
    if not osp.isdir(rgb_dir):
        raise FileNotFoundError(f'{rgb_dir}: RGB folder does not exist')
    found, seen = [], {}
    for dirpath, dirnames, filenames in os.walk(rgb_dir):
        dirnames.sort()
        for fname in sorted(filenames):
            stem, ext = osp.splitext(fname)
            if ext.lower() not in IMAGE_EXTS:
                continue
            path = osp.join(dirpath, fname)
            name = osp.relpath(osp.join(dirpath, stem), rgb_dir)
            if any(c.isspace() for c in path):
                raise ValueError(f'{path}: paths with whitespace cannot be '
                                 'listed for RGBDListDataset')
            if name in seen:
                raise ValueError(f'{path}: same name as {seen[name]}; the '
                                 'labels would overwrite each other')
            seen[name] = path
            found.append((path, name))
    if not found:
        raise ValueError(f'{rgb_dir}: no images ({", ".join(IMAGE_EXTS)})')
    return found


def _label(labeller, kind: str, rgb: np.ndarray, path: str) -> np.ndarray:
    """Run one labeller on a frame and convert its output to the frame size.

    The conversion (:func:`~mmrgbd.apis.as_depth_map` /
    :func:`~mmrgbd.apis.as_semseg_map`) is a no-op for the output of a
    :class:`~mmrgbd.apis.PseudoLabeller` and makes any raw callable usable;
    errors about the output name the image.
    """
    try:
        if kind == 'depth':
            return as_depth_map(labeller(rgb), rgb.shape[:2])  # (H, W)
        return as_semseg_map(labeller(rgb), rgb.shape[:2])  # (H, W)
    except ValueError as e:
        raise ValueError(f'{path}: {kind} labeller: {e}') from e


def pseudo_label_folder(rgb_dir: str,
                        out_dir: str,
                        depth_labeller=None,
                        semseg_labeller=None,
                        list_file: Optional[str] = DEFAULT_LIST,
                        depth_format: str = 'uint16') -> int:
    """Label every image of ``rgb_dir`` and write the PNGs (and list).

    Args:
        rgb_dir (str): Folder of RGB images (searched recursively).
        out_dir (str): Output folder.
        depth_labeller (Callable, optional): ``rgb -> metres (H, W)``, e.g.
            ``load_labeller('depth', ...)``.
        semseg_labeller (Callable, optional): ``rgb -> ids (H, W)``, e.g.
            ``load_labeller('semseg', ...)``.
        list_file (str, optional): Name of the list file inside ``out_dir``
            (written only with a depth labeller).
        depth_format (str): ``'uint16'`` (full-range 16-bit PNG),
            ``'mm'`` (uint16 millimetres) or ``'float'`` (float32 ``.npy``),
            see :func:`mmrgbd.apis.encode_pseudo_depth`.

    Returns:
        int: Number of images labelled.

    Raises:
        ValueError: No labeller, or a labeller output of the wrong shape
            (the message names the image).
        BadSampleError: An image that cannot be read (names the file).
    """
    if depth_labeller is None and semseg_labeller is None:
        raise ValueError('give a depth and/or a semseg labeller')
    if depth_format not in DEPTH_FORMATS:
        raise ValueError(f'depth_format must be one of '
                         f'{sorted(DEPTH_FORMATS)}, got {depth_format!r}')
    images = find_images(rgb_dir)
    lines = []
    for path, name in images:
        rgb = read_rgb(path)  # (H, W, 3)
        line = [osp.relpath(path, out_dir)]
        if depth_labeller is not None:
            depth = _label(depth_labeller, 'depth', rgb, path)  # (H, W)
            arr, suffix, _ = encode_pseudo_depth(depth, depth_format)
            rel = f'depth/{name}{suffix}'
            os.makedirs(osp.dirname(osp.join(out_dir, rel)), exist_ok=True)
            if suffix == '.npy':
                np.save(osp.join(out_dir, rel), arr)
            elif not cv2.imwrite(osp.join(out_dir, rel), arr):
                raise OSError(f'{osp.join(out_dir, rel)}: cannot write')
            line.append(rel)
        if semseg_labeller is not None:
            ids = _label(semseg_labeller, 'semseg', rgb, path)  # (H, W)
            rel = f'semseg/{name}.png'
            os.makedirs(osp.dirname(osp.join(out_dir, rel)), exist_ok=True)
            cv2.imwrite(osp.join(out_dir, rel), ids.astype(np.uint8))
            line.append(rel)
        lines.append(' '.join(line))
    if list_file and depth_labeller is not None:
        with open(osp.join(out_dir, list_file), 'w') as f:
            f.write(''.join(f'{line}\n' for line in lines))
    return len(images)


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('rgb_dir', help='folder of RGB images')
    parser.add_argument('out_dir', help='output folder')
    for kind in ('depth', 'semseg'):
        group = parser.add_argument_group(f'{kind} labeller')
        group.add_argument(f'--{kind}-config', help='mmengine config')
        group.add_argument(
            f'--{kind}-checkpoint', help='weights-only file for the model')
        group.add_argument(
            f'--{kind}-labeller',
            help='import path module:name of the labeller (or a factory)')
    parser.add_argument(
        '--num-classes', type=int, help='number of semseg classes (<= 255)')
    parser.add_argument(
        '--depth-format', default='uint16', choices=sorted(DEPTH_FORMATS),
        help='uint16: 16-bit PNG using the full range (default, relative '
        'depth); mm: uint16 millimetres (metric depth); float: float32 .npy')
    parser.add_argument(
        '--list-file', default=DEFAULT_LIST,
        help='list file written into OUT_DIR (needs depth)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    for kind in ('depth', 'semseg'):
        if getattr(args, f'{kind}_config') and getattr(
                args, f'{kind}_labeller'):
            parser.error(f'--{kind}-config and --{kind}-labeller exclude '
                         'each other')
    return args


def main(argv=None) -> int:
    """Command-line entry point; returns the number of images labelled."""
    args = parse_args(argv)
    depth = load_labeller('depth', args.depth_labeller, args.depth_config,
                          args.depth_checkpoint, args.device)
    semseg = load_labeller('semseg', args.semseg_labeller, args.semseg_config,
                           args.semseg_checkpoint, args.device,
                           num_classes=args.num_classes)
    if depth is None and semseg is None:
        raise SystemExit('give --depth-config/--depth-labeller and/or '
                         '--semseg-config/--semseg-labeller')
    n = pseudo_label_folder(args.rgb_dir, args.out_dir, depth, semseg,
                            args.list_file, args.depth_format)
    msg = f'labelled {n} images into {args.out_dir}'
    if depth is not None and args.list_file:
        unit = DEPTH_FORMATS[args.depth_format][1]
        msg += (f' (list: {osp.join(args.out_dir, args.list_file)}; read '
                f"the depth with depth_unit='{unit}')")
    elif depth is None:
        msg += ' (no list file: RGBDListDataset needs depth)'
    print(msg, file=sys.stderr)
    return n


if __name__ == '__main__':
    main()
