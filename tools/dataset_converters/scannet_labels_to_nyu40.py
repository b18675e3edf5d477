"""Convert ScanNet ``label-filt`` raw-id maps to nyu40 ``label/`` maps.

ScanNet ships per-scan 2D labels as ``<scan>_2d-label-filt.zip`` (or
``_2d-label.zip``): 16-bit PNGs of raw ScanNet label ids at the colour
resolution. Unzipped next to the frames exported from the ``.sens`` files
(``tools/dataset_converters/scannet_sens_to_frames.py``)::

    data_root/<scene>/label-filt/<i>.png     uint16 raw ScanNet ids

this tool maps them through ``scannetv2-labels.combined.tsv`` (column
``id`` -> column ``nyu40id``; ids that the file does not list and empty
``nyu40id`` cells become 0 = unannotated), as the official
``BenchmarkScripts/2d_helpers/convert_scannet_label_image.py`` does, and
writes uint8 nyu40 maps for every ``--frame-skip``-th frame::

    data_root/<scene>/label/<i>.png          uint8 nyu40 ids, 0 = none

the label layout of ``scannet_frames_25k`` that
:class:`mmrgbd.datasets.ScanNetSegDataset` reads.

Example::

    python tools/dataset_converters/scannet_labels_to_nyu40.py \\
        data/scannet/scans scannetv2-labels.combined.tsv \\
        --scene-list data/scannet/scans/scannetv2_train.txt --frame-skip 100
"""
import argparse
import csv
import os
import os.path as osp
import sys
from typing import List, Optional

import cv2
import numpy as np

from mmrgbd.datasets.base_rgbd import read_list_file
from mmrgbd.datasets.errors import BadSampleError


def read_nyu40_lut(tsv_path: str) -> np.ndarray:
    """Lookup table ``lut[raw ScanNet id] = nyu40 id`` (uint8, 0 default).

    Raises:
        BadSampleError: The file lacks the ``id`` / ``nyu40id`` columns or
            holds a nyu40 id outside 0..40.
    """
    with open(tsv_path, newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    if not rows or 'id' not in rows[0] or 'nyu40id' not in rows[0]:
        raise BadSampleError(tsv_path, 'expected the columns "id" and '
                             '"nyu40id" of scannetv2-labels.combined.tsv')
    pairs = []
    for n, row in enumerate(rows, 2):
        try:
            nyu = int(row['nyu40id']) if row['nyu40id'].strip() else 0
            pairs.append((int(row['id']), nyu))
        except ValueError:
            raise BadSampleError(tsv_path, f'line {n}: non-integer id')
        if not 0 <= nyu <= 40:
            raise BadSampleError(tsv_path, f'line {n}: nyu40id {nyu}')
    lut = np.zeros(max(i for i, _ in pairs) + 1, dtype=np.uint8)
    for raw, nyu in pairs:
        lut[raw] = nyu
    return lut


def convert_label(raw: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map a raw-id map (H, W) to nyu40 ids (H, W) uint8 with ``lut``."""
    out = np.zeros(raw.shape, dtype=np.uint8)
    known = raw < len(lut)
    out[known] = lut[raw[known]]
    return out


def convert_scenes(data_root: str,
                   tsv_path: str,
                   scenes: Optional[List[str]] = None,
                   frame_skip: int = 100,
                   src: str = 'label-filt',
                   dst: str = 'label') -> int:
    """Convert the label maps of ``scenes`` (default: all ``scene*``).

    Returns:
        int: The number of maps written.
    """
    if frame_skip < 1:
        raise ValueError(f'frame_skip must be >= 1, got {frame_skip}')
    lut = read_nyu40_lut(tsv_path)
    if scenes is None:
        scenes = sorted(d for d in os.listdir(data_root)
                        if d.startswith('scene'))
    written = 0
    for scene in scenes:
        src_dir = osp.join(data_root, scene, src)
        if not osp.isdir(src_dir):
            raise BadSampleError(src_dir, f'no {src}/ folder (unzip '
                                 f'{scene}_2d-{src}.zip here)')
        os.makedirs(osp.join(data_root, scene, dst), exist_ok=True)
        for name in sorted(os.listdir(src_dir)):
            stem, ext = osp.splitext(name)
            if ext.lower() != '.png' or not stem.isdigit() or \
                    int(stem) % frame_skip:
                continue
            path = osp.join(src_dir, name)
            raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if raw is None or raw.ndim != 2:
                raise BadSampleError(path, 'not a single-channel label PNG')
            out = osp.join(data_root, scene, dst, name)
            if not cv2.imwrite(out, convert_label(raw, lut)):
                raise OSError(f'{out}: cannot be written')
            written += 1
    return written


def main(argv=None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='folder of the scene folders')
    parser.add_argument('tsv', help='scannetv2-labels.combined.tsv')
    parser.add_argument('--scene-list', help='convert only these scenes')
    parser.add_argument('--frame-skip', type=int, default=100)
    parser.add_argument('--src', default='label-filt')
    parser.add_argument('--dst', default='label')
    args = parser.parse_args(argv)
    scenes = read_list_file(args.scene_list, 'scene') \
        if args.scene_list else None
    n = convert_scenes(args.data_root, args.tsv, scenes, args.frame_skip,
                       args.src, args.dst)
    print(f'wrote {n} nyu40 label maps', file=sys.stderr)
    return n


if __name__ == '__main__':
    main()
