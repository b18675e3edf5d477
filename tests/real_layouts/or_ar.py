"""OR-AR-style sensor RGB-D videos in the layout of
``configs/pretrain/m3mae_video_orar.py`` (:class:`RGBDVideoClipDataset`)::

    data/or_ar/<video>/rgb/000000.png     colour, 640x480
    data/or_ar/<video>/depth/000000.png   sensor depth, uint16 mm
                                          (0 and 65535 = no measurement)

OR-AR itself is not public (ToF cameras in two operating rooms, M3 3D
Sec. 4.1); its recordings are stood in for by the real Kinect frames of
7-Scenes (``7scenes_tsdf_fusion``: 640x480 colour, uint16 mm depth with
65535 = invalid), the 10 frames repeated in order to two 64-frame videos
(files are linked, nothing is copied).
"""
import os.path as osp
from typing import Dict

from .files import link

SOURCE = ('7scenes_tsdf_fusion', 'rgbd-frames')
SOURCE_IDS = tuple(range(150, 200, 5))  # frame-000150 ... frame-000195
NUM_FRAMES = 64
VIDEOS = ('or1_case001', 'or2_case001')


def build_or_ar(data_dir, samples_dir) -> Dict[str, str]:
    """Write the two videos under ``data_dir/or_ar``.

    Returns:
        dict: ``data_root``.
    """
    root = osp.join(str(data_dir), 'or_ar')
    src = osp.join(str(samples_dir), *SOURCE)
    for v, video in enumerate(VIDEOS):
        for i in range(NUM_FRAMES):
            n = SOURCE_IDS[(i + 5 * v) % len(SOURCE_IDS)]
            stem = osp.join(src, f'frame-{n:06d}')
            link(f'{stem}.color.png', osp.join(root, video, 'rgb',
                                               f'{i:06d}.png'))
            link(f'{stem}.depth.png', osp.join(root, video, 'depth',
                                               f'{i:06d}.png'))
    return dict(data_root=root)
