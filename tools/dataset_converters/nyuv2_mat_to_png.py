"""Convert the official ``nyu_depth_v2_labeled.mat`` to the PNG layout of
:class:`mmrgbd.datasets.NYUv2Dataset`.

The labelled file is MATLAB v7.3, i.e. HDF5, read with ``h5py`` (in
``requirements/runtime.txt``); frames are read one at a time, so the 2.8 GB
file is never loaded whole. HDF5 stores MATLAB arrays transposed, so the
datasets are::

    images     (1449, 3, 640, 480) uint8      (N, C, W, H)
    depths     (1449, 640, 480)    float32 m  filled depth
    rawDepths  (1449, 640, 480)    float32 m  raw, 0 = hole
    labels     (1449, 640, 480)    uint16     894-class ids, 0 = unlabelled
    instances  (1449, 640, 480)    uint8      per-class instance ids

The 894 -> 40 and 40 -> 13 class maps and the official 795 / 654 split are
MATLAB v5 files read with ``scipy.io.loadmat``: ``classMapping40.mat``
(``mapClass`` (1, 894)), ``class13Mapping.mat`` (``classMapping13.labels13``
(1, 40)) and ``splits.mat`` (``trainNdxs`` / ``testNdxs``, 1-based).

Output, with ``XXXX`` the 1-based frame index zero-padded to 4 digits::

    out_dir/rgb/XXXX.png       uint8 RGB (written as a standard PNG)
    out_dir/depth/XXXX.png     uint16 mm (filled depth, rounded)
    out_dir/rawdepth/XXXX.png  uint16 mm (0 = hole)
    out_dir/label40/XXXX.png   uint8 0 = unlabelled, 1..40
    out_dir/label13/XXXX.png   uint8 0 = unlabelled, 1..13
    out_dir/instance/XXXX.png  uint16 object ids 1..K, 0 = none (when the
                               file has ``instances``; see object_ids())
    out_dir/train.txt, test.txt

Example::

    python tools/dataset_converters/nyuv2_mat_to_png.py \\
        nyu_depth_v2_labeled.mat data/nyuv2 --map40 classMapping40.mat \\
        --map13 class13Mapping.mat --splits splits.mat
"""
import argparse
import os
import os.path as osp
import sys
from typing import Iterable, Mapping, Optional, Tuple

import cv2
import numpy as np

from mmrgbd.apis import metres_to_mm
from mmrgbd.datasets.errors import BadSampleError

NUM_NYU_CLASSES = 894


REQUIRED_DATASETS = ('images', 'depths', 'labels')


def open_labeled_mat(path: str):
    """Open ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3, i.e. HDF5) with h5py.

    Returns:
        h5py.File: A mapping of dataset name -> array-like (close it, or use
        it as a context manager).

    Raises:
        ImportError: If h5py is not installed (with how to install it).
        BadSampleError: If the file is missing, is not HDF5 (e.g. a MATLAB
            v5 file) or lacks the ``images`` / ``depths`` / ``labels``
            datasets.
    """
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            f'{path} is a MATLAB v7.3 (HDF5) file and needs h5py to be read: '
            '`pip install h5py`. (The converter also accepts any mapping of '
            'the datasets images/depths/rawDepths/labels, see convert().)'
        ) from e
    if not osp.isfile(path):
        raise BadSampleError(path, 'file does not exist')
    if not h5py.is_hdf5(path):
        raise BadSampleError(
            path, 'not a MATLAB v7.3 (HDF5) file; nyu_depth_v2_labeled.mat is '
            'stored as v7.3 (re-save with `save(f, \'-v7.3\')` if needed)')
    mat = h5py.File(path, 'r')
    missing = [k for k in REQUIRED_DATASETS if k not in mat]
    if missing:
        found = sorted(mat.keys())
        mat.close()
        raise BadSampleError(
            path, f'missing datasets {missing} (found {found})')
    return mat


def load_class_maps(map40_file: str,
                    map13_file: str) -> Tuple[np.ndarray, np.ndarray]:
    """Lookup tables ``lut40[label894]`` and ``lut13[label40]``.

    Args:
        map40_file (str): ``classMapping40.mat`` (``mapClass`` (1, 894)).
        map13_file (str): ``class13Mapping.mat``
            (``classMapping13.labels13`` (1, 40)).

    Returns:
        tuple[np.ndarray, np.ndarray]: uint8 (895,) and (41,) tables; entry 0
        (unlabelled) maps to 0.
    """
    from scipy.io import loadmat
    map40 = np.asarray(loadmat(map40_file)['mapClass']).ravel()
    if map40.size != NUM_NYU_CLASSES or map40.min() < 1 or map40.max() > 40:
        raise ValueError(f'{map40_file}: mapClass must hold 894 ids in 1..40')
    m13 = loadmat(map13_file)['classMapping13']
    map13 = np.asarray(m13['labels13'][0, 0]).ravel()
    if map13.size != 40 or map13.min() < 1 or map13.max() > 13:
        raise ValueError(f'{map13_file}: labels13 must hold 40 ids in 1..13')
    lut40 = np.concatenate([[0], map40]).astype(np.uint8)  # (895,)
    lut13 = np.concatenate([[0], map13]).astype(np.uint8)  # (41,)
    return lut40, lut13


def load_splits(splits_file: str) -> Tuple[np.ndarray, np.ndarray]:
    """The official split: 1-based train (795) and test (654) indices.

    Raises:
        ValueError: If the indices are not >= 1 or the splits overlap.
    """
    from scipy.io import loadmat
    m = loadmat(splits_file)
    train = np.asarray(m['trainNdxs']).ravel().astype(np.int64)
    test = np.asarray(m['testNdxs']).ravel().astype(np.int64)
    if min(train.min(), test.min()) < 1 or np.intersect1d(train, test).size:
        raise ValueError(f'{splits_file}: trainNdxs / testNdxs must be '
                         'disjoint 1-based frame indices')
    return train, test


def object_ids(label: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """One id per object of a frame: its (894-class label, instance) pair.

    The labelled file numbers instances per 894-class label, so instance 1
    of a cabinet and instance 1 of a dresser are two objects even though
    both are ``furniture`` in the 13 classes. The pairs present (label > 0,
    instance > 0) are numbered 1..K in ascending (label, instance) order.

    Args:
        label (np.ndarray): (H, W) 894-class ids.
        instance (np.ndarray): (H, W) per-label instance ids.

    Returns:
        np.ndarray: (H, W) uint16 object ids, 0 = no object.
    """
    pair = label.astype(np.int64) * 65536 + instance.astype(np.int64)
    pair[(label == 0) | (instance == 0)] = 0  # (H, W)
    values, ids = np.unique(pair, return_inverse=True)
    ids = ids.reshape(pair.shape)  # (H, W) index into values
    if values[0] != 0:
        ids = ids + 1  # no background pixel: the first object is 1
    return ids.astype(np.uint16)


def convert(mat: Mapping,
            out_dir: str,
            lut40: np.ndarray,
            lut13: np.ndarray,
            splits: Optional[Tuple[np.ndarray, np.ndarray]] = None,
            indices: Optional[Iterable[int]] = None) -> int:
    """Write the PNG layout from the datasets of the labelled file.

    Args:
        mat (Mapping): ``name -> array-like`` with ``images`` (N, 3, W, H),
            ``depths`` (N, W, H), ``labels`` (N, W, H) and optionally
            ``rawDepths`` / ``instances`` (N, W, H), in the transposed
            HDF5 layout (an ``h5py.File`` or a dict of numpy arrays).
        out_dir (str): Output folder.
        lut40 (np.ndarray): 894 -> 40 table (see :func:`load_class_maps`).
        lut13 (np.ndarray): 40 -> 13 table.
        splits (tuple, optional): 1-based (train, test) indices; the lists
            written are restricted to the converted frames.
        indices (Iterable[int], optional): 1-based frames to convert
            (default: all).

    Returns:
        int: Number of frames written.
    """
    n = mat['images'].shape[0]
    if mat['images'].shape[1] != 3:
        raise ValueError('images must be (N, 3, W, H) as stored in the v7.3 '
                         f'file, got {tuple(mat["images"].shape)}')
    has_raw = 'rawDepths' in mat
    has_inst = 'instances' in mat
    for key in ('depths', 'labels') + (('rawDepths', ) if has_raw else ()) \
            + (('instances', ) if has_inst else ()):
        shape = tuple(mat[key].shape)
        if shape != (n, ) + tuple(mat['images'].shape[2:]):
            raise ValueError(
                f'{key} must be (N, W, H) = {(n, ) + mat["images"].shape[2:]}'
                f' like images (N, 3, W, H), got {shape}')
    indices = list(range(1, n + 1)) if indices is None else list(indices)
    subdirs = ['rgb', 'depth', 'label40', 'label13']
    if has_raw:
        subdirs.append('rawdepth')
    if has_inst:
        subdirs.append('instance')
    for sub in subdirs:
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    for idx in indices:
        if not 1 <= idx <= n:
            raise IndexError(f'frame {idx} outside 1..{n}')
        i = idx - 1
        name = f'{idx:04d}.png'
        rgb = np.asarray(mat['images'][i]).transpose(2, 1, 0)  # (H, W, 3)
        cv2.imwrite(
            osp.join(out_dir, 'rgb', name),
            cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
        depth = np.asarray(mat['depths'][i]).T  # (H, W)
        cv2.imwrite(osp.join(out_dir, 'depth', name), metres_to_mm(depth))
        if has_raw:
            raw = np.asarray(mat['rawDepths'][i]).T  # (H, W)
            cv2.imwrite(osp.join(out_dir, 'rawdepth', name), metres_to_mm(raw))
        label = np.asarray(mat['labels'][i]).T.astype(np.int64)  # (H, W)
        if label.min() < 0 or label.max() > NUM_NYU_CLASSES:
            raise ValueError(f'frame {idx}: labels outside 0..894')
        label40 = lut40[label]  # (H, W)
        cv2.imwrite(osp.join(out_dir, 'label40', name), label40)
        cv2.imwrite(osp.join(out_dir, 'label13', name), lut13[label40])
        if has_inst:
            inst = np.asarray(mat['instances'][i]).T  # (H, W)
            cv2.imwrite(osp.join(out_dir, 'instance', name),
                        object_ids(label, inst))
    if splits is not None:
        done = set(indices)
        for split, ids in zip(('train', 'test'), splits):
            kept = [int(k) for k in ids if int(k) in done]
            with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
                f.write(''.join(f'{k}\n' for k in kept))
    return len(indices)


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('mat', help='nyu_depth_v2_labeled.mat')
    parser.add_argument('out_dir')
    parser.add_argument('--map40', required=True, help='classMapping40.mat')
    parser.add_argument('--map13', required=True, help='class13Mapping.mat')
    parser.add_argument('--splits', required=True, help='splits.mat')
    args = parser.parse_args(argv)
    lut40, lut13 = load_class_maps(args.map40, args.map13)
    splits = load_splits(args.splits)
    with open_labeled_mat(args.mat) as mat:
        n = convert(mat, args.out_dir, lut40, lut13, splits)
    print(f'wrote {n} frames to {args.out_dir}', file=sys.stderr)


if __name__ == '__main__':
    main()
