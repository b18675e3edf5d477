"""UCF-101 in mmaction2's video layout (``tools/data/ucf101`` of mmaction2).

The layout mmaction2's UCF-101 configs read::

    root/videos/<Class>/v_<Class>_gGG_cCC.avi          XVID AVI
    root/ucf101_train_split_1_videos.txt                "<Class>/<file> <id>"
    root/ucf101_val_split_1_videos.txt

The videos are the real demo clip (340x256, 280 frames, 28 fps) re-encoded
as XVID AVI, UCF-101's own container and codec, once and copied under every
name. Split 1 puts groups 1-7 in the test ("val") list and 8-25 in the
training list; the class ids are the 0-based lines of UCF-101's
``classInd.txt``.
"""
import os
import os.path as osp
import shutil
from typing import Dict, Sequence

import cv2

from .demo_video import read_frames

#: the first classes of UCF-101's classInd.txt (id = line - 1)
CLASSES = ('ApplyEyeMakeup', 'ApplyLipstick', 'Archery', 'BabyCrawling')


def write_avi(path: str, frames, fps: float) -> None:
    """Encode BGR frames as an XVID AVI (UCF-101's format)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'XVID'), fps,
                             (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write XVID AVI {path}')
    for frame in frames:
        writer.write(frame)
    writer.release()


def build_ucf101(root, samples_dir,
                 classes: Sequence[str] = CLASSES[:2],
                 train_groups: Sequence[int] = (8, ),
                 val_groups: Sequence[int] = (1, )) -> Dict[str, str]:
    """Write ``root/videos`` and the split-1 annotation lists.

    Args:
        root (str | Path): ``data/ucf101``.
        samples_dir (str | Path): ``../shared/samples``.
        classes (Sequence[str]): Class folders (names of :data:`CLASSES`).
        train_groups (Sequence[int]): Groups (8-25) of the training videos.
        val_groups (Sequence[int]): Groups (1-7) of the test videos.

    Returns:
        dict: ``data_root`` (``root/videos``), ``ann_file_train``,
        ``ann_file_val``, ``num_videos``.
    """
    root = str(root)
    frames, fps = read_frames(samples_dir)
    source = osp.join(root, 'source.avi')
    os.makedirs(root, exist_ok=True)
    write_avi(source, frames, fps)
    lists = dict(train=[], val=[])
    for split, groups in (('train', train_groups), ('val', val_groups)):
        for name in classes:
            label = CLASSES.index(name)
            for g in groups:
                rel = f'{name}/v_{name}_g{g:02d}_c01.avi'
                dst = osp.join(root, 'videos', rel)
                os.makedirs(osp.dirname(dst), exist_ok=True)
                shutil.copyfile(source, dst)
                lists[split].append(f'{rel} {label}')
    os.remove(source)
    out = dict(data_root=osp.join(root, 'videos'))
    for split, lines in lists.items():
        path = osp.join(root, f'ucf101_{split}_split_1_videos.txt')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        out[f'ann_file_{split}'] = path
    out['num_videos'] = str(sum(len(v) for v in lists.values()))
    return out
