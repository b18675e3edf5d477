"""KITTI 3D object data in the official layout.

The layout ``configs/_base_/datasets/kitti_simipu.py`` and
:class:`mmrgbd.datasets.KITTIRawObjectDataset` read::

    root/training/{calib,image_2,velodyne}/<id>.{txt,png,bin}
    root/testing/{calib,image_2,velodyne}/<id>.{txt,png,bin}
    root/ImageSets/{train,test}.txt       frame ids, one per line

from the three real KITTI frames of ``kitti_object_vis`` (full velodyne
scans, ~1242x375 images), linked (not copied) into ``root``.
"""
import os
from pathlib import Path
from typing import Dict, Sequence

SOURCE = 'kitti_object_vis/training'
_FILES = (('calib', 'txt'), ('image_2', 'png'), ('velodyne', 'bin'))


def build_kitti_object(root, samples_dir,
                       train: Sequence[str] = ('000000', '000001'),
                       test: Sequence[str] = ('000002', )
                       ) -> Dict[str, str]:
    """Link frames into ``training`` / ``testing`` and write the ImageSets.

    Args:
        root (str | Path): Output folder (the dataset's ``data_root``).
        samples_dir (str | Path): ``../shared/samples``.
        train (Sequence[str]): Frame ids of ``training`` (listed in
            ``ImageSets/train.txt``).
        test (Sequence[str]): Frame ids of ``testing`` (``ImageSets/test.txt``).

    Returns:
        dict: ``data_root`` (absolute path).
    """
    root = Path(root)
    src = Path(samples_dir) / SOURCE
    for split, ids in (('training', train), ('testing', test)):
        for sub, ext in _FILES:
            (root / split / sub).mkdir(parents=True, exist_ok=True)
            for idx in ids:
                os.symlink((src / sub / f'{idx}.{ext}').resolve(),
                           root / split / sub / f'{idx}.{ext}')
    (root / 'ImageSets').mkdir(parents=True, exist_ok=True)
    for name, ids in (('train', train), ('test', test)):
        (root / 'ImageSets' / f'{name}.txt').write_text(
            ''.join(f'{i}\n' for i in ids))
    return dict(data_root=str(root.resolve()))
