"""Write the SUN RGB-D info list read by ``mmrgbd.datasets.SUNRGBDDataset``.

Walks the official ``SUNRGBD`` folder, checks every sample folder (one image,
one depth PNG in ``depth/`` and ``depth_bfx/``, a readable 3x3
``intrinsics.txt``) and writes one line per good sample::

    <sample_dir relative to root> <label png relative to root | ->

Options:

* ``--split-file``: only samples listed in this text file (one sample folder
  per line; anything before ``SUNRGBD/`` in a line is dropped, so absolute
  paths as in the toolbox split lists work).
* ``--label-dir`` with ``--label-order``: 37-class label PNGs named
  ``img-XXXXXX.png`` (1-based, 6 digits); the k-th line of ``--label-order``
  names the sample folder of ``img-<k>.png`` (e.g. the ``sequenceName`` of
  the k-th ``SUNRGBDMeta`` entry of the SUN RGB-D toolbox). The label PNGs
  must be readable from ``root`` (``--label-dir`` is stored relative to it).

Example::

    python tools/dataset_converters/sunrgbd_infos.py data/SUNRGBD \\
        data/SUNRGBD/sunrgbd_train.txt --split-file train_dirs.txt
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmrgbd.datasets.errors import BadSampleError
from mmrgbd.datasets.scannet import read_intrinsics_txt
from mmrgbd.datasets.sunrgbd import find_sunrgbd_samples, sunrgbd_sample_files


def _normalise(path: str) -> str:
    path = path.strip().replace('\\', '/').rstrip('/')
    if 'SUNRGBD/' in path:
        path = path.split('SUNRGBD/', 1)[1]
    return path


def read_sample_list(path: str) -> List[str]:
    """Sample folders of a split / order file, normalised to the root."""
    with open(path) as f:
        return [_normalise(line) for line in f if line.strip()]


def label_index(order_file: str, label_dir: str) -> Dict[str, str]:
    """Map sample folder -> ``<label_dir>/img-XXXXXX.png`` by line number."""
    return {
        sample: osp.join(label_dir, f'img-{k:06d}.png')
        for k, sample in enumerate(read_sample_list(order_file), 1)
    }


def build_infos(root: str,
                split_file: Optional[str] = None,
                label_dir: Optional[str] = None,
                label_order: Optional[str] = None) -> tuple:
    """Check the sample folders and build the info lines.

    Args:
        root (str): The ``SUNRGBD`` folder.
        split_file (str, optional): Restrict to the listed sample folders.
        label_dir (str, optional): Folder of ``img-XXXXXX.png`` labels,
            relative to ``root`` or absolute.
        label_order (str, optional): Sample folder of each label index.

    Returns:
        tuple[list[str], list[str]]: info lines, and problems (one per
        rejected sample, starting with its path).
    """
    if (label_dir is None) != (label_order is None):
        raise ValueError('--label-dir and --label-order go together')
    samples = find_sunrgbd_samples(root)
    if split_file:
        wanted = set(read_sample_list(split_file))
        samples = [s for s in samples if s in wanted]
    labels = {}
    if label_dir:
        rel_dir = osp.relpath(osp.join(root, label_dir), root)
        labels = label_index(label_order, rel_dir)
    lines, problems = [], []
    for rel in samples:
        sample_dir = osp.join(root, rel)
        try:
            for depth_folder in ('depth', 'depth_bfx'):
                files = sunrgbd_sample_files(sample_dir, depth_folder)
            read_intrinsics_txt(files['intrinsics_path'])
        except BadSampleError as e:
            problems.append(str(e))
            continue
        label = labels.get(rel)
        if label is not None and not osp.isfile(osp.join(root, label)):
            problems.append(f'{osp.join(root, label)}: label file missing')
            label = None
        lines.append(f'{rel} {label or "-"}')
    return lines, problems


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='the SUNRGBD folder')
    parser.add_argument('out', help='output info list (.txt)')
    parser.add_argument('--split-file')
    parser.add_argument('--label-dir')
    parser.add_argument('--label-order')
    args = parser.parse_args(argv)
    lines, problems = build_infos(args.root, args.split_file, args.label_dir,
                                  args.label_order)
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines) + ('\n' if lines else ''))
    for p in problems:
        print(f'skipped: {p}', file=sys.stderr)
    print(f'wrote {len(lines)} samples to {args.out} '
          f'({len(problems)} skipped)', file=sys.stderr)
    return len(lines)


if __name__ == '__main__':
    main()
