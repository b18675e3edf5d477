"""OR-AR in the layout mmrgbd's OR-AR configs expect (the data is private).

::

    root/<video>/rgb/000001.png ...                RGB frames, 1-based
    root/annotations/clips_{train,val,test}.txt    one line per clip:
        "<video> <offset> <num_frames> <label> [<label> ...]"

(see :mod:`mmrgbd.datasets.clip_sequence`). The frames are the real demo
clip decoded with OpenCV at its real size (340x256 PNG). Video ``or_01``
holds frames 1-140, ``or_02`` frames 141-280 (written once as PNG), and
``or_03`` all 280 (symbolic links to the first two). Clips are
non-overlapping spans of ``span`` frames (16 frames every 4th: 64): 2, 2 and
4 clips. Clip ``k`` of a video gets the labels ``{k mod K}``, plus ``{(k +
3) mod K}`` for odd ``k`` (multi-label). Training videos ``or_01``,
``or_02``; validation and test ``or_03``.
"""
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2

from .demo_video import read_frames

VIDEOS = dict(or_01=(0, 140), or_02=(140, 280), or_03=(0, 280))
SPLITS = dict(train=('or_01', 'or_02'), val=('or_03', ), test=('or_03', ))


def clip_labels(k: int, num_classes: int) -> Tuple[int, ...]:
    """The labels of clip ``k`` of a video (see the module doc)."""
    labels = {k % num_classes}
    if k % 2:
        labels.add((k + 3) % num_classes)
    return tuple(sorted(labels))


def build_orar(root, samples_dir, num_classes: int = 9,
               span: int = 64) -> Dict[str, object]:
    """Write the frames of the three videos and the clip lists.

    Args:
        root (str | Path): ``data/or_ar``.
        samples_dir (str | Path): ``../shared/samples``.
        num_classes (int): K. Defaults to 9.
        span (int): Frames per clip. Defaults to 64.

    Returns:
        dict: ``data_root``, ``ann_file_{train,val,test}`` and ``clips``
        (``video -> [(offset, labels), ...]``).
    """
    root = str(root)
    frames, _ = read_frames(samples_dir)
    written: Dict[int, str] = {}
    clips: Dict[str, List[Tuple[int, Tuple[int, ...]]]] = {}
    for video, (start, stop) in VIDEOS.items():
        rgb = osp.join(root, video, 'rgb')
        os.makedirs(rgb, exist_ok=True)
        for i in range(start, stop):
            dst = osp.join(rgb, f'{i - start + 1:06d}.png')
            if i in written:
                os.symlink(written[i], dst)
            else:
                if not cv2.imwrite(dst, frames[i]):
                    raise RuntimeError(f'cannot write {dst}')
                written[i] = dst
        clips[video] = [(o, clip_labels(k, num_classes)) for k, o in
                        enumerate(range(0, stop - start - span + 1, span))]
    ann = osp.join(root, 'annotations')
    os.makedirs(ann, exist_ok=True)
    out: Dict[str, object] = dict(data_root=root, clips=clips)
    for split, videos in SPLITS.items():
        path = osp.join(ann, f'clips_{split}.txt')
        with open(path, 'w') as f:
            for video in videos:
                for offset, labels in clips[video]:
                    f.write(f'{video} {offset} {span} '
                            f'{" ".join(map(str, labels))}\n')
        out[f'ann_file_{split}'] = path
    return out
