"""Extract RGB frames of UCF-101 (or any) videos, optionally with pseudo depth.

Writes the layout of :class:`mmrgbd.datasets.RGBDVideoClipDataset`::

    out_dir/<class>/<video>/rgb/000000.jpg ...     (frame index in the video)
    out_dir/<class>/<video>/depth/000000.png ...   uint16 mm (with a labeller)

``<class>`` is the video's parent folder relative to the input folder (UCF-101
keeps one folder per action); a single input file gets no class folder.

**Depth pseudo-labeller.** A depth labeller of :mod:`mmrgbd.apis`
(``rgb uint8 (H, W, 3) -> metres (H, W)``; see the protocol in
:mod:`mmrgbd.apis.pseudo_labeller`). The tool never downloads weights: give
``--labeller pkg.module:factory`` (an import path of the labeller or of a
zero-argument factory returning it, optionally with
``--labeller-checkpoint``) or ``--labeller-config cfg.py
--labeller-checkpoint weights.pth`` (an mmengine config, e.g. of an mmseg
``DepthEstimator``; weights loaded with ``weights_only=True``).
The written depth has ``depth_unit='mm'`` and should be used with
``depth_source='pseudo'``; if the model gives relative (not metric) depth,
say so in your config.

Example::

    python tools/dataset_converters/ucf101_extract_frames.py data/UCF-101 \\
        data/ucf101_rgbd --frame-interval 2 \\
        --labeller my_pkg.depth:build_labeller
"""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Iterator, Optional, Tuple

import cv2
import numpy as np

from mmrgbd.apis import as_depth_map, load_labeller, metres_to_mm

VIDEO_EXTS = ('.avi', '.mp4', '.mkv', '.mov', '.webm')


def iter_frames(video_path: str,
                frame_interval: int = 1,
                max_frames: Optional[int] = None
                ) -> Iterator[Tuple[int, np.ndarray]]:
    """Decode ``(index, rgb uint8 (H, W, 3))`` every ``frame_interval``.

    Raises:
        IOError: If OpenCV cannot open the video.
    """
    cap = cv2.VideoCapture(video_path)
    if not cap.isOpened():
        raise IOError(f'{video_path}: OpenCV cannot open the video')
    try:
        idx, written = 0, 0
        while max_frames is None or written < max_frames:
            if idx % frame_interval:
                ok = cap.grab()  # skip without decoding to an image
                if not ok:
                    break
            else:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield idx, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                written += 1
            idx += 1
    finally:
        cap.release()


def extract_video(video_path: str,
                  out_dir: str,
                  frame_interval: int = 1,
                  max_frames: Optional[int] = None,
                  labeller: Optional[Callable] = None,
                  jpeg_quality: int = 95) -> int:
    """Write the frames (and pseudo depth) of one video to ``out_dir``.

    Args:
        video_path (str): The video.
        out_dir (str): Gets ``rgb/`` (and ``depth/``).
        frame_interval (int): Keep every n-th frame.
        max_frames (int, optional): Stop after this many frames.
        labeller (Callable, optional): ``rgb -> depth`` (metres), e.g. from
            :func:`mmrgbd.apis.load_labeller`; raw outputs are converted by
            :func:`mmrgbd.apis.as_depth_map`.
        jpeg_quality (int): Of the written frames.

    Returns:
        int: Number of frames written.
    """
    os.makedirs(osp.join(out_dir, 'rgb'), exist_ok=True)
    if labeller is not None:
        os.makedirs(osp.join(out_dir, 'depth'), exist_ok=True)
    n = 0
    for idx, rgb in iter_frames(video_path, frame_interval, max_frames):
        name = f'{idx:06d}'
        cv2.imwrite(
            osp.join(out_dir, 'rgb', f'{name}.jpg'),
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if labeller is not None:
            depth = as_depth_map(labeller(rgb), rgb.shape[:2])  # (H, W)
            cv2.imwrite(osp.join(out_dir, 'depth', f'{name}.png'),
                        metres_to_mm(depth))
        n += 1
    return n


def find_videos(src: str) -> list:
    """``(video_path, relative output folder)`` of every video under src."""
    if osp.isfile(src):
        return [(src, osp.splitext(osp.basename(src))[0])]
    found = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            if osp.splitext(name)[1].lower() in VIDEO_EXTS:
                rel = osp.relpath(osp.join(dirpath, name), src)
                found.append((osp.join(dirpath, name), osp.splitext(rel)[0]))
    return found


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='a video file or a folder of videos')
    parser.add_argument('out_dir')
    parser.add_argument('--frame-interval', type=int, default=1)
    parser.add_argument('--max-frames', type=int, default=None)
    parser.add_argument('--labeller', help='import path module:name')
    parser.add_argument('--labeller-config')
    parser.add_argument('--labeller-checkpoint')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    labeller = load_labeller('depth', args.labeller, args.labeller_config,
                             args.labeller_checkpoint, args.device)
    total = 0
    for video, rel in find_videos(args.src):
        n = extract_video(video, osp.join(args.out_dir, rel),
                          args.frame_interval, args.max_frames, labeller)
        total += n
        print(f'{rel}: {n} frames', file=sys.stderr)
    return total


if __name__ == '__main__':
    main()
