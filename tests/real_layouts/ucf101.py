"""UCF-101 frames with pseudo depth, as
``tools/dataset_converters/ucf101_extract_frames.py`` writes them and
:class:`mmrgbd.datasets.RGBDVideoClipDataset` reads them::

    data/UCF-101/<class>/<video>.avi                  the download (320x240)
    data/ucf101_rgbd/<class>/<video>/rgb/000000.jpg   every frame, RGB JPEG
    data/ucf101_rgbd/<class>/<video>/depth/000000.png pseudo depth, uint16 mm

Two 320x240 videos of 64 frames (UCF-101's frame size; 64 >= the 61-frame
span of a 16-frame clip every 4th frame) are cut from the real clip
``mmaction2_demo_video/demo.mp4`` (340x256, resized) and written as MJPG
``.avi``; the converter itself then extracts them with a pseudo-depth
labeller given by import path (:func:`luminance_depth`, which stands in
for a monocular depth network: it never downloads anything).
"""
import importlib.util
import os
import os.path as osp
from pathlib import Path
from typing import Dict

import cv2
import numpy as np

FRAME_WH = (320, 240)
NUM_FRAMES = 64
VIDEOS = (('ApplyEyeMakeup', 'v_ApplyEyeMakeup_g01_c01'),
          ('Archery', 'v_Archery_g01_c01'))
LABELLER = 'real_layouts.ucf101:luminance_depth'


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


def _converter():
    tool = Path(__file__).resolve().parents[2] / 'tools' / \
        'dataset_converters' / 'ucf101_extract_frames.py'
    spec = importlib.util.spec_from_file_location('ucf101_extract', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_videos(src_dir: str, samples_dir) -> None:
    """The two ``<class>/<video>.avi`` files of UCF-101's folder layout."""
    cap = cv2.VideoCapture(
        osp.join(str(samples_dir), 'mmaction2_demo_video', 'demo.mp4'))
    try:
        for cls, name in VIDEOS:
            os.makedirs(osp.join(src_dir, cls), exist_ok=True)
            path = osp.join(src_dir, cls, f'{name}.avi')
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'),
                                     25., FRAME_WH)
            for _ in range(NUM_FRAMES):
                ok, bgr = cap.read()
                assert ok, 'demo.mp4 has fewer frames than needed'
                writer.write(cv2.resize(bgr, FRAME_WH,
                                        interpolation=cv2.INTER_AREA))
            writer.release()
    finally:
        cap.release()


def build_ucf101(data_dir, samples_dir) -> Dict[str, str]:
    """Write ``data_dir/UCF-101`` and extract it to ``data_dir/ucf101_rgbd``.

    Returns:
        dict: ``data_root`` (the extracted folder).
    """
    src = osp.join(str(data_dir), 'UCF-101')
    out = osp.join(str(data_dir), 'ucf101_rgbd')
    write_videos(src, samples_dir)
    written = _converter().main([src, out, '--labeller', LABELLER])
    assert written == NUM_FRAMES * len(VIDEOS), written
    return dict(data_root=out)
