"""ScanNet 2D semantic segmentation data in its two real layouts.

``build_scannet_frames_25k`` writes the ``scannet_frames_25k`` download
(ScanNet's 2D benchmark data, every 100th frame) that
:class:`mmrgbd.datasets.ScanNetSegDataset` reads::

    root/<scene>/color/XXXXXX.jpg      640x480 JPEG
    root/<scene>/depth/XXXXXX.png      640x480 uint16 mm
    root/<scene>/label/XXXXXX.png      640x480 uint8 nyu40 ids (0 = none)
    root/<scene>/pose/XXXXXX.txt       4x4 camera-to-world
    root/<scene>/intrinsics_color.txt, intrinsics_depth.txt   4x4
    root/scannetv2_train.txt, scannetv2_val.txt   (official scene lists)

``build_scannet_label_filt`` writes the other real form: frames exported
from ``.sens`` (``color/<i>.jpg`` 1296x968, ``depth/<i>.png`` 640x480) and
the unzipped ``<scan>_2d-label-filt.zip`` (``label-filt/<i>.png`` uint16 raw
ScanNet label ids at the colour resolution), with a
``scannetv2-labels.combined.tsv`` in the official column layout, for
``tools/dataset_converters/scannet_labels_to_nyu40.py``.

The content is real: the colour image and the 40-class (nyu40) label of
the ``nyuv2_labeled_vainf`` frame (NYU-40 ids are ScanNet's nyu40 ids), and
the real NYUv2 depth of frame #1407 (format only; not registered to that
image), see :mod:`real_layouts.nyuv2_labeled`. Every frame of every scene
holds the same images.
"""
import os
import os.path as osp
import shutil
from typing import Dict, Sequence

import cv2
import numpy as np

from .nyuv2_labeled import read_frame_1407, read_frame_vainf

WH_25K = (640, 480)
COLOR_WH = (1296, 968)
K_COLOR = np.array([[1170.19, 0., 647.75, 0.], [0., 1170.19, 483.75, 0.],
                    [0., 0., 1., 0.], [0., 0., 0., 1.]])
K_DEPTH = np.array([[571.62, 0., 319.5, 0.], [0., 571.62, 239.5, 0.],
                    [0., 0., 1., 0.], [0., 0., 0., 1.]])

#: rows of scannetv2-labels.combined.tsv in its column layout: (raw id,
#: raw_category, category, nyu40id, nyu40class) as in the official file for
#: these ids (other columns filled with placeholders)
TSV_HEADER = ('id\traw_category\tcategory\tcount\tnyu40id\teigen13id\t'
              'nyuClass\tnyu40class\teigen13class')
TSV_ROWS = (
    (1, 'wall', 'wall', 1, 'wall'),
    (2, 'chair', 'chair', 5, 'chair'),
    (3, 'floor', 'floor', 2, 'floor'),
    (4, 'table', 'table', 7, 'table'),
    (5, 'door', 'door', 8, 'door'),
    (7, 'cabinet', 'cabinet', 3, 'cabinet'),
    (26, 'box', 'box', 29, 'box'),
)


def _write_frames(scene_dir: str, stems: Sequence[str], files: dict,
                  exts: dict) -> None:
    first = {}
    for sub, img in files.items():
        os.makedirs(osp.join(scene_dir, sub), exist_ok=True)
    for stem in stems:
        for sub, img in files.items():
            path = osp.join(scene_dir, sub, f'{stem}{exts[sub]}')
            if sub in first:
                shutil.copyfile(first[sub], path)
                continue
            params = [cv2.IMWRITE_JPEG_QUALITY, 90] \
                if exts[sub] == '.jpg' else []
            assert cv2.imwrite(path, img, params)
            first[sub] = path


def build_scannet_frames_25k(root, samples_dir,
                             train_scenes: Sequence[str] = ('scene0000_00',
                                                            'scene0001_00'),
                             val_scenes: Sequence[str] = ('scene0011_00', ),
                             frame_ids: Sequence[int] = (0, 100)
                             ) -> Dict[str, object]:
    """Write the ``scannet_frames_25k`` layout (see module doc).

    Returns:
        dict: ``data_root``, ``train_list`` / ``val_list`` (absolute) and
        ``label`` (the nyu40 map of every frame).
    """
    root = str(root)
    v = read_frame_vainf(samples_dir)
    depth = read_frame_1407(samples_dir)['depth']
    files = dict(color=v['bgr'], depth=depth, label=v['label40'])
    exts = dict(color='.jpg', depth='.png', label='.png')
    stems = [f'{i:06d}' for i in frame_ids]
    for scene in (*train_scenes, *val_scenes):
        sdir = osp.join(root, scene)
        _write_frames(sdir, stems, files, exts)
        os.makedirs(osp.join(sdir, 'pose'), exist_ok=True)
        for stem in stems:
            np.savetxt(osp.join(sdir, 'pose', f'{stem}.txt'), np.eye(4))
        np.savetxt(osp.join(sdir, 'intrinsics_color.txt'), K_COLOR)
        np.savetxt(osp.join(sdir, 'intrinsics_depth.txt'), K_DEPTH)
    out = dict(data_root=root, label=v['label40'])
    for name, scenes in (('train', train_scenes), ('val', val_scenes)):
        path = osp.join(root, f'scannetv2_{name}.txt')
        with open(path, 'w') as f:
            f.write('\n'.join(scenes) + '\n')
        out[f'{name}_list'] = path
    return out


def build_scannet_label_filt(root, samples_dir,
                             scenes: Sequence[str] = ('scene0000_00', ),
                             frame_ids: Sequence[int] = (0, 50, 100)
                             ) -> Dict[str, object]:
    """Write exported frames + ``label-filt/`` raw ids + the label tsv.

    The raw-id map is the vainf nyu40 map expressed in raw ScanNet ids of
    :data:`TSV_ROWS` (nyu40 classes without a row there become raw id 0 =
    unannotated), at the colour resolution.

    Returns:
        dict: ``data_root``, ``scene_list``, ``tsv``, ``raw`` (the raw-id
        map) and ``expected_nyu40`` (what the conversion must give).
    """
    root = str(root)
    v = read_frame_vainf(samples_dir)
    depth = read_frame_1407(samples_dir)['depth']
    color = cv2.resize(v['bgr'], COLOR_WH, interpolation=cv2.INTER_LINEAR)
    nyu40 = cv2.resize(v['label40'], COLOR_WH,
                       interpolation=cv2.INTER_NEAREST)
    raw = np.zeros(nyu40.shape, np.uint16)
    expected = np.zeros(nyu40.shape, np.uint8)
    for raw_id, _, _, nyu_id, _ in TSV_ROWS:
        raw[nyu40 == nyu_id] = raw_id
        expected[nyu40 == nyu_id] = nyu_id
    files = {'color': color, 'depth': depth, 'label-filt': raw}
    exts = {'color': '.jpg', 'depth': '.png', 'label-filt': '.png'}
    for scene in scenes:
        _write_frames(osp.join(root, scene), [str(i) for i in frame_ids],
                      files, exts)
    tsv = osp.join(root, 'scannetv2-labels.combined.tsv')
    with open(tsv, 'w') as f:
        f.write(TSV_HEADER + '\n')
        for raw_id, raw_cat, cat, nyu_id, nyu_cls in TSV_ROWS:
            f.write(f'{raw_id}\t{raw_cat}\t{cat}\t1\t{nyu_id}\t0\t{nyu_cls}\t'
                    f'{nyu_cls}\t{nyu_cls}\n')
    scene_list = osp.join(root, 'scannetv2_train.txt')
    with open(scene_list, 'w') as f:
        f.write('\n'.join(scenes) + '\n')
    return dict(data_root=root, scene_list=scene_list, tsv=tsv, raw=raw,
                expected_nyu40=expected)
