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

:func:`build_ucf101_data` also extracts those videos with
``tools/dataset_converters/ucf101_extract_frames.py`` into the layout of the
M3 3D video pre-training (:class:`mmrgbd.datasets.RGBDVideoClipDataset`)::

    data/ucf101_rgbd/<Class>/<video>/rgb/000000.jpg    RGB JPEG
    data/ucf101_rgbd/<Class>/<video>/depth/000000.png  pseudo depth, mm

with a pseudo-depth labeller given by import path (:func:`luminance_depth`,
a stand-in for a monocular depth network: nothing is downloaded).
"""
import os
import os.path as osp
import shutil
from typing import Dict, Sequence

import cv2
import numpy as np

from .demo_video import read_frames
from .files import load_tool

LABELLER = 'real_layouts.ucf101:luminance_depth'
#: frames extracted per video (>= the 61-frame span of 16 frames every 4th)
EXTRACTED_FRAMES = 64

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


def luminance_depth(rgb: np.ndarray) -> np.ndarray:
    """A deterministic stand-in for a monocular depth network.

    Args:
        rgb (np.ndarray): uint8 (H, W, 3).

    Returns:
        np.ndarray: float32 (H, W) metres in [1, 6], smooth (blurred
        luminance, bright = near) with a vertical ramp.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.
    gray = cv2.GaussianBlur(gray, (0, 0), 5)
    ramp = np.linspace(1., 0., rgb.shape[0], dtype=np.float32)[:, None]
    return 1. + 3. * (1. - gray) + 2. * ramp


def build_ucf101_data(data_dir, samples_dir) -> Dict[str, str]:
    """``data_dir/ucf101`` (:func:`build_ucf101`) and its extraction to
    ``data_dir/ucf101_rgbd`` (first :data:`EXTRACTED_FRAMES` frames of each
    video, as ``--max-frames`` of the converter).

    Returns:
        dict: as :func:`build_ucf101`, plus ``rgbd_root``.
    """
    out = build_ucf101(osp.join(str(data_dir), 'ucf101'), samples_dir)
    rgbd = osp.join(str(data_dir), 'ucf101_rgbd')
    written = load_tool('ucf101_extract_frames').main(
        [out['data_root'], rgbd, '--labeller', LABELLER, '--max-frames',
         str(EXTRACTED_FRAMES)])
    assert written == EXTRACTED_FRAMES * int(out['num_videos']), written
    out['rgbd_root'] = rgbd
    return out
