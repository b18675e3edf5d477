"""ScanNet 2D benchmark frames (``scannet_frames_25k``) with instance labels.

The layout ``tools/dataset_converters/scannet_instances_to_coco.py`` reads
(the ScanNet download's ~25k frames, 640x480)::

    root/<scene>/color/<frame>.jpg        640x480 JPEG
    root/<scene>/label/<frame>.png        uint8 NYUv2-40 ids (0 = none)
    root/<scene>/instance/<frame>.png     uint16 nyu40 * 1000 + instance
    root/scannetv2_<split>.txt            scene names

built from the real NYUv2 labelled frame of ``nyuv2_labeled_vainf`` (its
colour image and its NYUv2-40 labels, decoded from the VOC colour map and
resized from 682x512 to 640x480 with nearest neighbours). ScanNet's
instance ids come from its 3D annotation; here every 8-connected piece of a
class is one instance, numbered per class from 1 in raster order of its
first pixel, and wall / floor / ceiling get instance 0 (as ScanNet's
``convert_scannet_instance_image.py``). Every scene holds the same frame.
"""
from pathlib import Path
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

SIZE_WH = (640, 480)
#: nyu40 classes without instances in ScanNet's 2D instance images
NO_INSTANCE = (1, 2, 22)  # wall, floor, ceiling
FOLDER = 'nyuv2_labeled_vainf/test'


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map, (n, 3) uint8 RGB (id -> colour)."""
    cmap = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, rgb = i, [0, 0, 0]
        for j in range(8):
            for ch in range(3):
                rgb[ch] |= ((c >> ch) & 1) << (7 - j)
            c >>= 3
        cmap[i] = rgb
    return cmap


def read_nyu40_frame(samples_dir) -> Tuple[np.ndarray, np.ndarray]:
    """``(bgr uint8 (480, 640, 3), nyu40 uint8 (480, 640))`` of the frame."""
    src = Path(samples_dir) / FOLDER
    bgr = cv2.imread(str(src / 'image.png'), cv2.IMREAD_COLOR)
    colours = cv2.imread(str(src / 'semantic40.png'), cv2.IMREAD_COLOR)
    if bgr is None or colours is None:
        raise FileNotFoundError(f'{src}: image.png / semantic40.png missing')
    rgb = colours[..., ::-1].reshape(-1, 3)
    lut = {tuple(c): i for i, c in enumerate(voc_colormap(41))}
    found, inverse = np.unique(rgb, axis=0, return_inverse=True)
    unknown = [tuple(c) for c in found if tuple(c) not in lut]
    if unknown:
        raise ValueError(f'{src}/semantic40.png: colours {unknown} are not '
                         'VOC colours of NYUv2-40 ids')
    ids = np.array([lut[tuple(c)] for c in found], np.uint8)
    label = ids[inverse.ravel()].reshape(colours.shape[:2])  # (512, 682)
    bgr = cv2.resize(bgr, SIZE_WH, interpolation=cv2.INTER_AREA)
    label = cv2.resize(label, SIZE_WH, interpolation=cv2.INTER_NEAREST)
    return bgr, label


def instances_by_components(label: np.ndarray,
                            no_instance: Sequence[int] = NO_INSTANCE
                            ) -> np.ndarray:
    """Per-class instance ids: 8-connected pieces, numbered from 1 per class.

    Args:
        label (np.ndarray): (H, W) class ids, 0 = none.
        no_instance (Sequence[int]): Classes left at instance 0.

    Returns:
        np.ndarray: (H, W) uint8 instance ids (0 = none).
    """
    inst = np.zeros(label.shape, np.uint8)
    for cls in np.unique(label):
        if cls == 0 or cls in no_instance:
            continue
        _, pieces = cv2.connectedComponents((label == cls).astype(np.uint8),
                                            connectivity=8)
        inst[label == cls] = pieces[label == cls]
    return inst


def build_scannet_frames_25k(root, samples_dir,
                             scenes: Sequence[str] = ('scene0000_00', ),
                             frames: Sequence[str] = ('000000', ),
                             split: str = 'val') -> Dict[str, object]:
    """Write the layout.

    Args:
        root (str | Path): Output folder (``data_root``).
        samples_dir (str | Path): ``../shared/samples``.
        scenes (Sequence[str]): Scene folders.
        frames (Sequence[str]): Frame names per scene.
        split (str): The scene list is ``scannetv2_<split>.txt``.

    Returns:
        dict: ``data_root``, ``scene_list`` (paths), ``label`` (480, 640)
        nyu40 and ``instance`` (480, 640) encoded ``label * 1000 + id``
        arrays as written.
    """
    root = Path(root)
    bgr, label = read_nyu40_frame(samples_dir)
    inst = instances_by_components(label)
    encoded = label.astype(np.uint16) * 1000 + inst  # (480, 640)
    encoded[label == 0] = 0
    for scene in scenes:
        for sub in ('color', 'label', 'instance'):
            (root / scene / sub).mkdir(parents=True, exist_ok=True)
        for frame in frames:
            cv2.imwrite(str(root / scene / 'color' / f'{frame}.jpg'), bgr)
            cv2.imwrite(str(root / scene / 'label' / f'{frame}.png'), label)
            cv2.imwrite(str(root / scene / 'instance' / f'{frame}.png'),
                        encoded)
    scene_list = root / f'scannetv2_{split}.txt'
    scene_list.write_text(''.join(f'{s}\n' for s in scenes))
    return dict(data_root=str(root.resolve()),
                scene_list=str(scene_list.resolve()),
                label=label,
                instance=encoded.astype(np.int64))
