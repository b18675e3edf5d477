#!/usr/bin/env python
"""Write ScanNet (or NYUv2) 2D instance labels as a COCO instance JSON.

The 2D instance segmentation / detection protocol of Pri3D, followed by
Mask3D (Tables 2-4, 6: "Detectron2 with the 1x schedule") and Progressive
(Table 5: "we follow Mask3D"), trains Mask R-CNN on COCO-format JSON files
made from the ScanNet 2D labels. This script writes them for mmdet's
``CocoDataset`` (``configs/downstream/mask-rcnn_*``).

**ScanNet** (``--dataset scannet``): the 2D frames of the ScanNet benchmark,
``scannet_frames_25k`` (ScanNet download, ~every 100th frame, 640x480),
laid out as::

    DATA_ROOT/<scene>/color/<frame>.jpg
    DATA_ROOT/<scene>/label/<frame>.png      uint8 NYUv2-40 ids (0 = none)
    DATA_ROOT/<scene>/instance/<frame>.png   uint16 nyu40 * 1000 + instance

(``<frame>`` e.g. ``000100``). The instance images are what ScanNet's
``BenchmarkScripts/2d_helpers/convert_scannet_instance_image.py`` writes:
``label * 1000 + instance_id`` with NYUv2-40 labels (walls, floors and
ceilings get instance 0). Instance images holding per-image ids only
(``_2d-instance-filt`` exports, values < 1000) are combined with the label
image as ``label * 1000 + id`` (``--instance-format ids``, or ``auto``).
Scenes are listed with ``--scenes`` (the official
``scannetv2_{train,val}.txt``); every frame in ``color/`` is used (with
``--frame-step k`` every k-th of the sorted frames).

Classes: the 18 classes of the ScanNet 2D/3D instance benchmark, i.e. the
20 ScanNet classes without wall and floor (nyu40 ids 3-12, 14, 16, 24, 28,
33, 34, 36, 39; category ids 1-18 in that order, see
:data:`SCANNET_INSTANCE_CLASSES`), as in Pri3D's ``scannet2coco.py``.

**NYUv2** (``--dataset nyuv2``): the layout of
``tools/dataset_converters/nyuv2_mat_to_png.py`` (frames ``XXXX`` 1-based,
zero-padded)::

    DATA_ROOT/rgb/XXXX.png
    DATA_ROOT/label13/XXXX.png    uint8 13-class ids (0 = none)
    DATA_ROOT/instance/XXXX.png   uint16 object ids (0 = none): one per
                                  (894-class label, instance) pair of the
                                  labelled .mat
    DATA_ROOT/{train,test}.txt    1-based frame ids (795 / 654)

with the 9 classes of Pri3D's ``nyu2coco.py``: the 13 classes without
ceiling, floor, wall and objects (:data:`NYUV2_INSTANCE_CLASSES`). An
instance is one value of ``label13 * 1000 + object id`` (the instance
images are always read as ids).

Per instance (as Pri3D): masks with fewer than ``--min-area`` (1000) pixels
at the label resolution are dropped, and so are images left without
instances (``--keep-empty`` keeps them). Masks are written as COCO polygons
(mmdet's ``ms-poly`` pipelines keep polygons): the outer boundary of each
connected piece, traced on the 2x nearest-upsampled mask so that decoding
the polygons with pycocotools gives the mask back exactly, except that holes
are filled (COCO polygons cannot hold holes; Pri3D's converter fills them
too). ``area`` is the mask's pixel count and ``bbox`` its tight box
``[x, y, w, h]`` (both of the mask, as pycocotools computes them from RLE).
When the colour image is larger than the label images (raw ``.sens``
exports: 1296x968 colour, 640x480 labels), masks are resized to the colour
size with nearest neighbours before all that.

Example (Progressive Table 5 / Mask3D Tables 2-3)::

    python tools/dataset_converters/scannet_instances_to_coco.py \\
        data/scannet_frames_25k \\
        data/scannet_frames_25k/scannet_train.coco.json \\
        --scenes data/scannet/scannetv2_train.txt
    python tools/dataset_converters/scannet_instances_to_coco.py \\
        data/scannet_frames_25k \\
        data/scannet_frames_25k/scannet_val.coco.json \\
        --scenes data/scannet/scannetv2_val.txt
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmrgbd.datasets.errors import BadSampleError

#: (nyu40 id, name) of the 18 ScanNet instance classes; category id = i + 1
SCANNET_INSTANCE_CLASSES = (
    (3, 'cabinet'), (4, 'bed'), (5, 'chair'), (6, 'sofa'), (7, 'table'),
    (8, 'door'), (9, 'window'), (10, 'bookshelf'), (11, 'picture'),
    (12, 'counter'), (14, 'desk'), (16, 'curtain'), (24, 'refrigerator'),
    (28, 'shower curtain'), (33, 'toilet'), (34, 'sink'), (36, 'bathtub'),
    (39, 'otherfurniture'))
#: (NYUv2 13-class id, name) of the 9 NYUv2 instance classes (Pri3D)
NYUV2_INSTANCE_CLASSES = (
    (1, 'bed'), (2, 'books'), (4, 'chair'), (6, 'furniture'), (8, 'picture'),
    (9, 'sofa'), (10, 'table'), (11, 'tv'), (13, 'window'))
CLASS_SETS = dict(scannet=SCANNET_INSTANCE_CLASSES,
                  nyuv2=NYUV2_INSTANCE_CLASSES)
SOURCE_LABELS = dict(scannet='nyu40', nyuv2='nyu13')
#: the instance value of a pixel is ``label * LABEL_BASE + instance``
LABEL_BASE = 1000
INSTANCE_FORMATS = ('auto', 'encoded', 'ids')


def categories(dataset: str) -> List[dict]:
    """COCO ``categories`` of a class set (ids 1..K, source label id)."""
    return [
        dict(id=i + 1, name=name, supercategory=SOURCE_LABELS[dataset],
             source_id=source)
        for i, (source, name) in enumerate(CLASS_SETS[dataset])
    ]


def read_label_png(path: str, what: str) -> np.ndarray:
    """A single-channel label PNG as int64 (H, W).

    Raises:
        BadSampleError: Missing, unreadable or not single-channel.
    """
    if not osp.isfile(path):
        raise BadSampleError(path, f'{what} file does not exist')
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise BadSampleError(path, f'{what} file is not a readable image')
    if img.ndim != 2:
        raise BadSampleError(path, f'{what} must be a single-channel PNG, '
                             f'got shape {img.shape}')
    return img.astype(np.int64)


def encode_instances(instance: np.ndarray, label_path: str,
                     instance_format: str, path: str) -> np.ndarray:
    """Per-pixel ``label * 1000 + instance`` of one frame.

    Args:
        instance (np.ndarray): (H, W) instance image.
        label_path (str): The class image, read for ``'ids'``.
        instance_format (str): ``'encoded'`` (already ``label * 1000 +
            id``), ``'ids'`` (per-image ids, combined with the label image)
            or ``'auto'`` (``'encoded'`` if any value is >= 1000).
        path (str): The instance file, for messages.

    Returns:
        np.ndarray: (H, W) int64 encoded instances.
    """
    if instance_format not in INSTANCE_FORMATS:
        raise ValueError(f'instance_format must be one of {INSTANCE_FORMATS},'
                         f' got {instance_format!r}')
    if instance_format == 'auto':
        instance_format = 'encoded' if instance.max(initial=0) >= LABEL_BASE \
            else 'ids'
    if instance_format == 'encoded':
        return instance
    label = read_label_png(label_path, 'label')
    if label.shape != instance.shape:
        raise BadSampleError(path, f'instance image {instance.shape} and '
                             f'label image {label.shape} differ in size')
    if instance.max(initial=0) >= LABEL_BASE:
        raise BadSampleError(path, f'instance ids must be < {LABEL_BASE} to '
                             'be combined with the label image')
    return label * LABEL_BASE + instance  # (H, W)


def split_instances(encoded: np.ndarray, dataset: str,
                    min_area: int = 1000
                    ) -> List[Tuple[int, np.ndarray]]:
    """The instances of one image: ``(category id, bool mask)`` pairs.

    Every value of ``encoded`` whose label (``value // 1000``) is one of the
    dataset's instance classes is one instance; masks smaller than
    ``min_area`` pixels are dropped. Sorted by encoded value.
    """
    lut = {src: i + 1 for i, (src, _) in enumerate(CLASS_SETS[dataset])}
    out = []
    for value in np.unique(encoded):
        cat = lut.get(int(value) // LABEL_BASE)
        if cat is None:
            continue
        mask = encoded == value  # (H, W)
        if int(mask.sum()) < min_area:
            continue
        out.append((cat, mask))
    return out


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """COCO polygons of the outer boundaries of a binary mask.

    Contours are traced on the 2x nearest-upsampled mask through the centres
    of its boundary sub-pixels; in COCO coordinates (pixel ``x`` covers
    ``[x, x + 1]``) a sub-pixel centre is ``(c + 0.5) / 2``. These lie a
    quarter pixel inside the mask's edge, so pycocotools' rasterisation
    gives back exactly the mask with its holes filled.

    Args:
        mask (np.ndarray): (H, W) bool.

    Returns:
        list[list[float]]: One ``[x0, y0, x1, y1, ...]`` per connected piece.
    """
    h, w = mask.shape
    up = cv2.resize(mask.astype(np.uint8), (2 * w, 2 * h),
                    interpolation=cv2.INTER_NEAREST)  # (2H, 2W)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        xy = (contour.reshape(-1, 2).astype(np.float64) + 0.5) / 2  # (n, 2)
        if len(xy) < 3:  # a 1-pixel piece still has 4 sub-pixel corners
            continue
        polygons.append([round(float(v), 2) for v in xy.ravel()])
    return polygons


def mask_to_annotation(mask: np.ndarray) -> dict:
    """``segmentation`` / ``area`` / ``bbox`` of one instance mask."""
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    return dict(
        segmentation=mask_to_polygons(mask),
        area=int(mask.sum()),
        bbox=[x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
        iscrowd=0)


def image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image, read from its header."""
    from PIL import Image
    if not osp.isfile(path):
        raise BadSampleError(path, 'colour image does not exist')
    try:
        with Image.open(path) as img:
            return img.size
    except OSError as e:
        raise BadSampleError(path, f'not a readable image ({e})') from e


def read_list(path: str) -> List[str]:
    """Non-empty, stripped lines of a list file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'list file {path} does not exist')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def scannet_frames(root: str, scenes: Sequence[str], frame_step: int = 1
                   ) -> Iterator[Tuple[str, str, str, str]]:
    """``(colour, label, instance, file_name)`` of every listed frame.

    ``file_name`` is the colour path relative to ``root``.
    """
    for scene in scenes:
        color_dir = osp.join(root, scene, 'color')
        if not osp.isdir(color_dir):
            raise BadSampleError(color_dir, f'scene {scene} has no color/ '
                                 'folder')
        names = {
            osp.splitext(f)[0]: f
            for f in os.listdir(color_dir)
            if f.lower().endswith(('.jpg', '.jpeg', '.png'))
        }
        frames = sorted(names, key=lambda s: (len(s), s))  # numeric order
        for frame in frames[::frame_step]:
            rel = osp.join(scene, 'color', names[frame])
            yield (osp.join(root, rel),
                   osp.join(root, scene, 'label', f'{frame}.png'),
                   osp.join(root, scene, 'instance', f'{frame}.png'), rel)


def nyuv2_frames(root: str, ids: Sequence[str]
                 ) -> Iterator[Tuple[str, str, str, str]]:
    """``(colour, label13, instance, file_name)`` of the listed NYUv2 ids."""
    for idx in ids:
        name = f'{int(idx):04d}.png'
        rel = osp.join('rgb', name)
        yield (osp.join(root, rel), osp.join(root, 'label13', name),
               osp.join(root, 'instance', name), rel)


def convert(frames: Sequence[Tuple[str, str, str, str]],
            dataset: str = 'scannet',
            min_area: int = 1000,
            instance_format: str = 'auto',
            keep_empty: bool = False) -> dict:
    """The COCO dict of a list of frames.

    Args:
        frames (Sequence[tuple]): ``(colour, label, instance, file_name)``
            per frame (see :func:`scannet_frames`, :func:`nyuv2_frames`).
        dataset (str): ``'scannet'`` or ``'nyuv2'`` (the class set).
        min_area (int): Smallest kept instance, in label-image pixels.
        instance_format (str): See :func:`encode_instances`.
        keep_empty (bool): Keep images without instances.

    Returns:
        dict: ``images``, ``annotations``, ``categories``, ``info``.
    """
    if dataset not in CLASS_SETS:
        raise ValueError(f'dataset must be one of {sorted(CLASS_SETS)}, got '
                         f'{dataset!r}')
    if dataset == 'nyuv2' and instance_format == 'auto':
        instance_format = 'ids'  # object ids, never label-encoded
    images, annotations = [], []
    for color, label_path, instance_path, file_name in frames:
        width, height = image_size(color)
        instance = read_label_png(instance_path, 'instance')
        encoded = encode_instances(instance, label_path, instance_format,
                                   instance_path)
        found = split_instances(encoded, dataset, min_area)
        if not found and not keep_empty:
            continue
        image_id = len(images) + 1
        images.append(dict(id=image_id, file_name=file_name, width=width,
                           height=height))
        for cat, mask in found:
            if mask.shape != (height, width):
                mask = cv2.resize(mask.astype(np.uint8), (width, height),
                                  interpolation=cv2.INTER_NEAREST) > 0
            annotations.append(
                dict(id=len(annotations) + 1, image_id=image_id,
                     category_id=cat, **mask_to_annotation(mask)))
    return dict(
        info=dict(description=f'{dataset} 2D instances (mmrgbd '
                  'tools/dataset_converters/scannet_instances_to_coco.py)',
                  min_area=min_area),
        images=images,
        annotations=annotations,
        categories=categories(dataset))


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Command line of the script."""
    parser = argparse.ArgumentParser(
        description='Write ScanNet / NYUv2 2D instance labels as COCO JSON')
    parser.add_argument('data_root', help='scannet_frames_25k folder (or the '
                        'NYUv2 PNG folder)')
    parser.add_argument('out', help='output .json')
    parser.add_argument('--dataset', default='scannet',
                        choices=sorted(CLASS_SETS))
    parser.add_argument('--scenes', help='ScanNet: scene list, e.g. '
                        'scannetv2_val.txt')
    parser.add_argument('--split', help='NYUv2: train or test (reads '
                        'DATA_ROOT/<split>.txt)')
    parser.add_argument('--frame-step', type=int, default=1,
                        help='ScanNet: use every k-th frame of each scene')
    parser.add_argument('--min-area', type=int, default=1000,
                        help='smallest instance in label pixels (Pri3D: 1000)')
    parser.add_argument('--instance-format', default='auto',
                        choices=INSTANCE_FORMATS)
    parser.add_argument('--keep-empty', action='store_true',
                        help='keep images without instances')
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> Dict[str, int]:
    """Run the conversion; prints and returns the counts."""
    args = parse_args(argv)
    try:
        if args.dataset == 'scannet':
            if not args.scenes:
                raise ValueError('--scenes is required for ScanNet')
            if args.frame_step < 1:
                raise ValueError('--frame-step must be >= 1')
            frames = scannet_frames(args.data_root, read_list(args.scenes),
                                    args.frame_step)
        else:
            if args.split not in ('train', 'test'):
                raise ValueError('--split train|test is required for NYUv2')
            frames = nyuv2_frames(
                args.data_root,
                read_list(osp.join(args.data_root, f'{args.split}.txt')))
        coco = convert(list(frames), args.dataset, args.min_area,
                       args.instance_format, args.keep_empty)
    except (BadSampleError, FileNotFoundError, ValueError) as e:
        print(f'ERROR: {e}', file=sys.stderr)
        raise SystemExit(1)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(coco, f)
    counts = dict(images=len(coco['images']),
                  annotations=len(coco['annotations']))
    print(f'wrote {counts["images"]} images, {counts["annotations"]} '
          f'instances to {args.out}')
    return counts


if __name__ == '__main__':
    main()
