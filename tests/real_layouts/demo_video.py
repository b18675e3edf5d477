"""The real clip of ``mmaction2_demo_video`` (340x256, 280 frames, 28 fps).

The source of the video layouts of this package (UCF-101, OR-AR): decoded
with OpenCV, frames kept at their real size.
"""
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

FOLDER = 'mmaction2_demo_video'


def video_path(samples_dir) -> Path:
    """``demo.mp4`` of the samples."""
    return Path(samples_dir) / FOLDER / 'demo.mp4'


def read_frames(samples_dir) -> Tuple[List[np.ndarray], float]:
    """All frames (BGR uint8 (256, 340, 3)) and the frame rate."""
    path = video_path(samples_dir)
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise FileNotFoundError(f'{path}: no frame could be decoded')
    return frames, fps
