"""SUN RGB-D in its official per-sample folder layout."""
import logging
import os
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.logging import print_log

from mmrgbd.registry import DATASETS
from .base_rgbd import BaseRGBDDataset
from .errors import BadSampleError
from .nyuv2 import NYU40_CLASSES
from .scannet import read_intrinsics_txt

#: The 37 SUN RGB-D segmentation classes (ids 1..37; 0 = unlabelled); they are
#: the first 37 NYU-40 classes.
SUNRGBD37_CLASSES = NYU40_CLASSES[:37]


def _single_file(folder: str, exts: Tuple[str, ...]) -> str:
    """The one file with an extension in ``exts`` inside ``folder``."""
    try:
        names = sorted(n for n in os.listdir(folder)
                       if osp.splitext(n)[1].lower() in exts)
    except OSError:
        raise BadSampleError(folder, 'folder is missing')
    if len(names) != 1:
        raise BadSampleError(
            folder, f'expected one {"/".join(exts)} file, found {len(names)}')
    return osp.join(folder, names[0])


def read_sunrgbd_info_list(path: str) -> List[Tuple[str, Optional[str]]]:
    """Entries of an info list written by ``sunrgbd_infos.py``.

    Each line is ``<sample_dir> [<label_png>]`` (``-`` = no label); empty
    lines and lines starting with ``#`` are skipped.

    Args:
        path (str): The info list.

    Returns:
        list[tuple[str, str | None]]: ``(sample_dir, label_png or None)``.

    Raises:
        BadSampleError: The file cannot be read or a line has more than two
            fields.
    """
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise BadSampleError(path, f'cannot read info list ({e})')
    entries = []
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or parts[0].startswith('#'):
            continue
        if len(parts) > 2:
            raise BadSampleError(
                path, f'line {lineno} must hold "sample_dir '
                f'[label_png]", got {len(parts)} fields')
        label = parts[1] if len(parts) == 2 and parts[1] != '-' else None
        entries.append((parts[0], label))
    return entries


def is_sunrgbd_sample_dir(path: str) -> bool:
    """Whether ``path`` looks like an official sample folder."""
    return osp.isfile(osp.join(path, 'intrinsics.txt')) and osp.isdir(
        osp.join(path, 'image'))


def find_sunrgbd_samples(root: str) -> List[str]:
    """Sample folders under ``root`` (relative, sorted)."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        if is_sunrgbd_sample_dir(dirpath):
            found.append(osp.relpath(dirpath, root))
            dirnames[:] = []
        dirnames.sort()
    return sorted(found)


def sunrgbd_sample_files(sample_dir: str,
                         depth_folder: str = 'depth_bfx') -> dict:
    """Files of one official sample folder.

    Args:
        sample_dir (str): e.g. ``.../SUNRGBD/kv1/NYUdata/NYU0001``.
        depth_folder (str): ``'depth_bfx'`` (filled) or ``'depth'`` (raw).

    Returns:
        dict: ``rgb_path``, ``depth_path``, ``intrinsics_path``.

    Raises:
        BadSampleError: A folder is missing or does not hold exactly one
            image / depth file.
    """
    return dict(
        rgb_path=_single_file(osp.join(sample_dir, 'image'),
                              ('.jpg', '.jpeg', '.png')),
        depth_path=_single_file(
            osp.join(sample_dir, depth_folder), ('.png', )),
        intrinsics_path=osp.join(sample_dir, 'intrinsics.txt'))


@DATASETS.register_module()
class SUNRGBDDataset(BaseRGBDDataset):
    """SUN RGB-D (10,335 frames from four sensors) in the official layout.

    Layout read (``SUNRGBD.zip`` of the official site)::

        data_root/kv1/NYUdata/NYU0001/          (any depth of nesting)
            image/NYU0001.jpg
            depth/NYU0001.png        raw depth, uint16 bit-rotated ('sunrgbd')
            depth_bfx/NYU0001.png    filled depth, same encoding
            intrinsics.txt           3x3 K, row-major

    Samples are given by ``ann_file``, a text file whose lines are
    ``<sample_dir> [<label_png>]`` (relative to ``data_root``; ``-`` = no
    label) as written by ``tools/dataset_converters/sunrgbd_infos.py``
    (with ``--split-file``: the official train split of 5285 or test split
    of 5050 frames), or, without ``ann_file``, every folder holding
    ``intrinsics.txt`` and ``image/`` (sorted; train and test frames, with
    a warning).

    Semantic labels are 37-class PNGs (0 = unlabelled, 1..37 =
    :data:`SUNRGBD37_CLASSES`): either the toolbox's ``SUNRGBD2Dseg.mat``
    ``seglabel`` maps exported to PNG, or the common per-index
    ``img-XXXXXX.png`` label sets, associated to sample folders by the info
    file. Load them with ``LoadRGBDFromFiles(with_semseg=True,
    reduce_zero_label=True)``.

    Args:
        data_root (str): The ``SUNRGBD`` folder.
        ann_file (str): Optional info list (see above).
        depth_source (str): ``'filled'`` reads ``depth_bfx/``, ``'sensor'``
            reads ``depth/``.
        depth_unit (str): Encoding of the depth PNGs.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    METAINFO = dict(classes=SUNRGBD37_CLASSES)

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 depth_source: str = 'filled',
                 depth_unit: str = 'sunrgbd',
                 **kwargs):
        if depth_source not in ('filled', 'sensor'):
            raise ValueError("depth_source must be 'filled' or 'sensor', got "
                             f'{depth_source!r}')
        self._has_ann = bool(ann_file)
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            depth_unit=depth_unit,
            depth_source=depth_source,
            **kwargs)

    def _entries(self) -> List[Tuple[str, Optional[str]]]:
        if not self._has_ann:
            samples = find_sunrgbd_samples(self.data_root)
            print_log(
                f'SUNRGBDDataset: no ann_file, using all {len(samples)} '
                f'sample folders under {self.data_root} (train AND test '
                'frames); give the official split as ann_file (see '
                'tools/dataset_converters/sunrgbd_infos.py) for '
                'pre-training or evaluation', logger='current',
                level=logging.WARNING)
            return [(s, None) for s in samples]
        return read_sunrgbd_info_list(self.ann_file)

    def load_data_list(self) -> List[dict]:
        """Resolve the files of every sample folder."""
        filled = self.depth_source == 'filled'
        depth_folder = 'depth_bfx' if filled else 'depth'
        data_list = []
        for rel, label in self._entries():
            sample_dir = osp.join(self.data_root, rel)
            info = sunrgbd_sample_files(sample_dir, depth_folder)
            info['intrinsics'] = read_intrinsics_txt(info['intrinsics_path'])
            info.update(
                sample_dir=rel,
                depth_unit=self.depth_unit,
                depth_source=self.depth_source)
            if label is not None:
                info['semseg_path'] = osp.join(self.data_root, label)
            data_list.append(info)
        if not data_list:
            raise BadSampleError(
                self.ann_file if self._has_ann else self.data_root,
                'no SUN RGB-D sample folders found')
        return data_list
