"""NYUv2 labelled frames in the layout of ``nyuv2_mat_to_png.py``.

The layout :class:`mmrgbd.datasets.NYUv2SegDataset` (and
:class:`~mmrgbd.datasets.NYUv2Dataset`) reads, at NYUv2's real 640x480::

    root/rgb/XXXX.png        uint8 RGB
    root/depth/XXXX.png      uint16 mm (filled)
    root/rawdepth/XXXX.png   uint16 mm, 0 = hole
    root/label40/XXXX.png    uint8 0 = unlabelled, 1..40
    root/label13/XXXX.png    uint8 0 = unlabelled, 1..13
    root/train.txt, test.txt

from two real frames of ``../shared/samples``:

* ``frame='1407'`` -- NYUv2 labelled frame #1407 of ``nyuv2_rcnn_depth_demo``:
  its 560x425 colour / filled / raw depth crop pasted back at rows 45:470,
  columns 40:600 of the 640x480 frame (the border replicates the crop's edge
  pixels; the raw depth border is a hole), and its real full-frame 13-class
  label. It has no 40-class label (``label40/`` is not written).
* ``frame='vainf'`` -- the labelled frame of ``nyuv2_labeled_vainf``: its
  colour image and its real 40- and 13-class labels (VOC-colour-coded
  682x512 images, decoded to ids and resized back to 640x480 with nearest
  neighbours). Its depth there is a jet visualisation, so the depth files
  hold frame #1407's depth: real NYU depth in the real encoding, **not
  registered to this image** (format only).

The frame is listed in ``train.txt`` under the first official train index
and in ``test.txt`` under an official test index (1407 for frame 1407, the
first test index otherwise), both read from the real ``splits.mat``.
"""
import os
import os.path as osp
import shutil
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np

FULL_WH = (640, 480)
#: rows / columns of the ``nyuv2_rcnn_depth_demo`` crop in the full frame
CROP_ROWS, CROP_COLS = (45, 470), (40, 600)
DEMO = 'nyuv2_rcnn_depth_demo'
VAINF = 'nyuv2_labeled_vainf'


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC palette: (n, 3) uint8 RGB colour of label index i."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def decode_voc_label(rgb: np.ndarray) -> np.ndarray:
    """Ids (H, W) uint8 of a VOC-colour-coded RGB label image.

    Raises:
        ValueError: A colour is not in the palette.
    """
    cmap = voc_colormap().astype(np.int64)
    code = (rgb[..., 0].astype(np.int64) << 16) | \
        (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    lut = {int((c[0] << 16) | (c[1] << 8) | c[2]): i
           for i, c in enumerate(cmap)}
    out = np.zeros(code.shape, dtype=np.uint8)
    for value in np.unique(code):
        if int(value) not in lut:
            raise ValueError(f'colour {value:06x} is not a VOC label colour')
        out[code == value] = lut[int(value)]
    return out


def read_splits(samples_dir) -> Tuple[np.ndarray, np.ndarray]:
    """The official 1-based (train, test) indices from ``splits.mat``."""
    from scipy.io import loadmat
    m = loadmat(str(Path(samples_dir) / VAINF / 'splits.mat'))
    return (np.asarray(m['trainNdxs']).ravel(),
            np.asarray(m['testNdxs']).ravel())


def _paste(crop: np.ndarray, border: str) -> np.ndarray:
    """The crop at its place in a 640x480 frame ('replicate' or 'zero')."""
    top, left = CROP_ROWS[0], CROP_COLS[0]
    bottom = FULL_WH[1] - CROP_ROWS[1]
    right = FULL_WH[0] - CROP_COLS[1]
    if border == 'zero':
        return cv2.copyMakeBorder(crop, top, bottom, left, right,
                                  cv2.BORDER_CONSTANT, value=0)
    return cv2.copyMakeBorder(crop, top, bottom, left, right,
                              cv2.BORDER_REPLICATE)


def read_frame_1407(samples_dir) -> Dict[str, np.ndarray]:
    """Frame #1407 at 640x480: ``bgr``, ``depth``, ``rawdepth`` (uint16
    mm), ``label13`` (uint8)."""
    demo = Path(samples_dir) / DEMO
    bgr = cv2.imread(str(demo / 'demo-data' / 'images.png'), cv2.IMREAD_COLOR)
    depth = cv2.imread(str(demo / 'demo-data' / 'depth.png'),
                       cv2.IMREAD_UNCHANGED)
    raw = cv2.imread(str(demo / 'demo-data' / 'rawdepth.png'),
                     cv2.IMREAD_UNCHANGED)
    label13 = cv2.imread(
        str(demo / 'nyuv2-meta-data_test_labels_13' /
            'new_nyu_class13_1407.png'), cv2.IMREAD_UNCHANGED)
    out = dict(bgr=_paste(bgr, 'replicate'), depth=_paste(depth, 'replicate'),
               rawdepth=_paste(raw, 'zero'), label13=label13)
    for k, v in out.items():
        assert v.shape[:2] == (FULL_WH[1], FULL_WH[0]), (k, v.shape)
    return out


def read_frame_vainf(samples_dir) -> Dict[str, np.ndarray]:
    """The vainf frame at 640x480: ``bgr``, ``label40``, ``label13``."""
    test = Path(samples_dir) / VAINF / 'test'
    bgr = cv2.imread(str(test / 'image.png'), cv2.IMREAD_COLOR)
    out = dict(bgr=cv2.resize(bgr, FULL_WH, interpolation=cv2.INTER_AREA))
    for n in (40, 13):
        rgb = cv2.imread(str(test / f'semantic{n}.png'))[..., ::-1]
        ids = decode_voc_label(rgb)
        if ids.max() > n:
            raise ValueError(f'semantic{n}.png holds id {ids.max()} > {n}')
        out[f'label{n}'] = cv2.resize(
            ids, FULL_WH, interpolation=cv2.INTER_NEAREST)
    return out


def build_nyuv2_labeled(root, samples_dir, frame: str = '1407'
                        ) -> Dict[str, object]:
    """Write the converter layout with one real frame (see module doc).

    Returns:
        dict: ``data_root``, ``train_id`` and ``test_id`` (the indices the
        frame is listed under), ``label13`` / ``label40`` (the written id
        maps; ``label40`` None for frame 1407).
    """
    if frame not in ('1407', 'vainf'):
        raise ValueError(f"frame must be '1407' or 'vainf', got {frame!r}")
    root = str(root)
    f1407 = read_frame_1407(samples_dir)
    train, test = read_splits(samples_dir)
    train_id = int(train[0])
    test_id = 1407 if frame == '1407' else int(test[0])
    files = dict(depth=f1407['depth'], rawdepth=f1407['rawdepth'])
    if frame == '1407':
        files.update(rgb=f1407['bgr'], label13=f1407['label13'])
    else:
        v = read_frame_vainf(samples_dir)
        files.update(rgb=v['bgr'], label13=v['label13'], label40=v['label40'])
    for sub, img in files.items():
        os.makedirs(osp.join(root, sub), exist_ok=True)
        first = osp.join(root, sub, f'{train_id:04d}.png')
        assert cv2.imwrite(first, img)
        shutil.copyfile(first, osp.join(root, sub, f'{test_id:04d}.png'))
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write(f'{train_id}\n')
    with open(osp.join(root, 'test.txt'), 'w') as f:
        f.write(f'{test_id}\n')
    return dict(data_root=root, train_id=train_id, test_id=test_id,
                label13=files['label13'], label40=files.get('label40'))
