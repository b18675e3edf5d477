"""SUN RGB-D in the official ``SUNRGBD`` folder layout.

The layout :class:`mmrgbd.datasets.SUNRGBDDataset` reads::

    root/kv1/NYUdata/NYU0001/image/NYU0001.jpg        640x480 JPEG
    root/kv1/NYUdata/NYU0001/depth/NYU0001.png        uint16 bit-rotated mm
    root/kv1/NYUdata/NYU0001/depth_bfx/NYU0001.png    (same encoding)
    root/kv1/NYUdata/NYU0001/intrinsics.txt           3x3 K

plus the official split written as the toolbox's ``allsplit.mat`` lists it
(one absolute ``/n/fs/sun3d/data/SUNRGBD/...`` folder per line), from the
real SUN RGB-D Kinect v1 frame of ``open3d_rgbd_other_formats`` (every
sample folder holds the same frame; files are linked).

:func:`build_sunrgbd_data` arranges ``data/sunrgbd/SUNRGBD`` as the shipped
configs name it, with the train info list written by
``tools/dataset_converters/sunrgbd_infos.py`` from the official split.
"""
import os
import os.path as osp
from typing import Dict, Sequence

from .files import link, load_tool

SOURCE = 'open3d_rgbd_other_formats'
TOOLBOX_PREFIX = '/n/fs/sun3d/data/SUNRGBD/'
K_TEXT = ('518.857901 0.000000 284.582449\n0.000000 519.469611 208.735166\n'
          '0.000000 0.000000 1.000000\n')


def build_sunrgbd(root, samples_dir,
                  train: Sequence[str] = ('NYU0001', 'NYU0002'),
                  test: Sequence[str] = ('NYU0003', 'NYU0004')
                  ) -> Dict[str, str]:
    """Write sample folders under ``root/kv1/NYUdata`` and the split lists.

    Args:
        root (str | Path): The ``SUNRGBD`` folder (``data_root``).
        samples_dir (str | Path): ``../shared/samples``.
        train (Sequence[str]): Names of the train sample folders.
        test (Sequence[str]): Names of the test sample folders.

    Returns:
        dict: ``data_root``, ``train_split`` and ``test_split`` (the
        toolbox-style lists) and ``train_dirs`` / ``test_dirs`` (folders
        relative to ``root``, comma-joined).
    """
    root = str(root)
    src = osp.join(str(samples_dir), SOURCE)
    rel = {}
    for split, names in (('train', train), ('test', test)):
        rel[split] = []
        for name in names:
            d = osp.join(root, 'kv1', 'NYUdata', name)
            for sub in ('image', 'depth', 'depth_bfx'):
                os.makedirs(osp.join(d, sub), exist_ok=True)
            link(osp.join(src, 'SUN_color.jpg'),
                 osp.join(d, 'image', f'{name}.jpg'))
            for sub in ('depth', 'depth_bfx'):
                link(osp.join(src, 'SUN_depth.png'),
                     osp.join(d, sub, f'{name}.png'))
            with open(osp.join(d, 'intrinsics.txt'), 'w') as f:
                f.write(K_TEXT)
            rel[split].append(f'kv1/NYUdata/{name}')
    out = dict(data_root=root)
    for split in ('train', 'test'):
        path = osp.join(root, f'all{split}.txt')
        with open(path, 'w') as f:
            f.write(''.join(f'{TOOLBOX_PREFIX}{r}/\n' for r in rel[split]))
        out[f'{split}_split'] = path
        out[f'{split}_dirs'] = ','.join(rel[split])
    return out


def write_info_list(root: str, split_file: str, name: str) -> str:
    """Run ``tools/dataset_converters/sunrgbd_infos.py`` (the documented
    way to write the configs' ``ann_file``) and return the list's path."""
    out = osp.join(root, name)
    load_tool('sunrgbd_infos').main([root, out, '--split-file', split_file])
    return out


def build_sunrgbd_data(data_dir, samples_dir) -> Dict[str, str]:
    """``data_dir/sunrgbd/SUNRGBD`` as the shipped SUN RGB-D configs name
    it: two train and two test sample folders, the toolbox split lists and
    ``sunrgbd_train.txt`` (the configs' ``ann_file``) of the train split.

    Returns:
        dict: as :func:`build_sunrgbd`, plus ``ann_file``.
    """
    out = build_sunrgbd(osp.join(str(data_dir), 'sunrgbd', 'SUNRGBD'),
                        samples_dir)
    out['ann_file'] = write_info_list(out['data_root'], out['train_split'],
                                      'sunrgbd_train.txt')
    return out
