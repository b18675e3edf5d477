"""RGB-D video clips (for video / 3D-video masked modelling).

Layout read::

    data_root/<video>/rgb/000001.jpg|png ...
    data_root/<video>/depth/000001.png ...       same stems as rgb/
    data_root/<video>/pose/000001.txt ...        optional 4x4 camera-to-world
    data_root/<video>/intrinsics.txt             optional 3x3 or 4x4 K

``<video>`` may be nested (e.g. ``<class>/<video>`` as written by
``tools/dataset_converters/ucf101_extract_frames.py``): every folder holding an
``rgb/`` sub-folder is a video.
"""
import os
import os.path as osp
from typing import List, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmrgbd.registry import DATASETS, TRANSFORMS
from .base_rgbd import BaseRGBDDataset
from .depth_io import read_depth, read_rgb
from .errors import BadSampleError
from .scannet import read_intrinsics_txt, read_matrix_txt

_IMG_EXTS = ('.jpg', '.jpeg', '.png')


def _stems(folder: str, exts) -> dict:
    out = {}
    for name in os.listdir(folder):
        stem, ext = osp.splitext(name)
        if ext.lower() in exts:
            out[stem] = name
    return out


@DATASETS.register_module()
class RGBDVideoClipDataset(BaseRGBDDataset):
    """Clips of ``num_frames`` RGB-D frames taken every ``frame_interval``.

    A clip starting at frame ``s`` uses frames ``s, s + frame_interval, ...,
    s + (num_frames - 1) * frame_interval`` of the video's frames sorted by
    file name (only stems present in both ``rgb/`` and ``depth/``). Videos
    shorter than one clip are skipped (counted in ``self.num_short_videos``).

    Clip starts:

    * ``clip_stride=None`` (default, VideoMAE): **one entry per video**, so
      one epoch is one clip of every video. In training the start is drawn
      uniformly from all starts where the clip fits, anew each time the
      video is loaded (``np.random``, which mmengine seeds per worker); with
      ``test_mode=True`` the start is fixed, the centre clip ``(n - span) //
      2``.
    * ``clip_stride=k``: every clip at the fixed starts ``0, k, 2k, ...``
      while it fits (one entry each; e.g. ``k = span`` for non-overlapping
      clips, a sliding-window evaluation).

    Entries hold lists ``rgb_paths``, ``depth_paths`` (and ``pose_paths`` if
    ``pose/`` exists), ``frame_stems``, ``intrinsics`` if the video has
    ``intrinsics.txt``, plus ``rgb_path`` / ``depth_path`` of the first frame
    for messages. Load them with :class:`LoadRGBDClip`.

    Args:
        data_root (str): Root of the videos.
        num_frames (int): Frames per clip (T).
        frame_interval (int): Step between sampled frames.
        clip_stride (int, optional): Step between enumerated clip starts;
            None = one randomly placed clip per video (see above).
        video_list (str, optional): Text file of video folders relative to
            ``data_root``; default: every folder with an ``rgb/`` sub-folder.
        depth_unit (str): Encoding of the depth PNGs.
        depth_source (str): ``'sensor'``, or ``'pseudo'`` for depth from a
            monocular pseudo-labeller.
        **kwargs: Passed to :class:`BaseRGBDDataset` (e.g. ``test_mode``).
    """

    def __init__(self,
                 data_root: str = '',
                 num_frames: int = 16,
                 frame_interval: int = 4,
                 clip_stride: Optional[int] = None,
                 video_list: Optional[str] = None,
                 depth_unit: str = 'mm',
                 depth_source: str = 'sensor',
                 **kwargs):
        if num_frames < 1 or frame_interval < 1:
            raise ValueError('num_frames and frame_interval must be >= 1')
        if clip_stride is not None and clip_stride < 1:
            raise ValueError(f'clip_stride must be >= 1, got {clip_stride}')
        self.num_frames = num_frames
        self.frame_interval = frame_interval
        self.clip_span = (num_frames - 1) * frame_interval + 1
        self.clip_stride = clip_stride
        self.video_list = video_list
        self.num_short_videos = 0
        super().__init__(
            data_root=data_root,
            depth_unit=depth_unit,
            depth_source=depth_source,
            **kwargs)

    def _videos(self) -> List[str]:
        if self.video_list:
            return self.read_name_list(self.video_list, 'video')
        videos = []
        for dirpath, dirnames, _ in os.walk(self.data_root):
            if 'rgb' in dirnames:
                videos.append(osp.relpath(dirpath, self.data_root))
                dirnames[:] = []  # a video's sub-folders hold no videos
            dirnames.sort()
        return sorted(videos)

    def load_data_list(self) -> List[dict]:
        """One entry per video (``clip_stride=None``) or per clip."""
        data_list = []
        self.num_short_videos = 0
        for video in self._videos():
            vdir = osp.normpath(osp.join(self.data_root, video))
            rgb = _stems(osp.join(vdir, 'rgb'), _IMG_EXTS)
            depth_dir = osp.join(vdir, 'depth')
            if not osp.isdir(depth_dir):
                raise BadSampleError(vdir, 'video has no depth/ folder')
            depth = _stems(depth_dir, _IMG_EXTS + ('.npy', ))
            stems = sorted(set(rgb) & set(depth))
            pose_dir = osp.join(vdir, 'pose')
            k_path = osp.join(vdir, 'intrinsics.txt')
            if len(stems) < self.clip_span:
                self.num_short_videos += 1
                continue
            video_info = dict(
                video=video,
                video_stems=stems,
                rgb_paths=[osp.join(vdir, 'rgb', rgb[s]) for s in stems],
                depth_paths=[osp.join(depth_dir, depth[s]) for s in stems],
                depth_unit=self.depth_unit,
                depth_source=self.depth_source)
            if osp.isdir(pose_dir):
                video_info['pose_paths'] = [
                    osp.join(pose_dir, f'{s}.txt') for s in stems
                ]
            if osp.isfile(k_path):
                video_info['intrinsics'] = read_intrinsics_txt(k_path)
            if self.clip_stride is None:
                data_list.append(video_info)
                continue
            for start in range(0, len(stems) - self.clip_span + 1,
                               self.clip_stride):
                data_list.append(self.select_clip(video_info, start))
        if not data_list:
            raise BadSampleError(
                self.data_root,
                f'no clip of {self.num_frames} frames every '
                f'{self.frame_interval} fits in any video '
                f'({self.num_short_videos} videos too short)')
        return data_list

    def num_starts(self, num_video_frames: int) -> int:
        """How many clip starts fit into a video of that many frames."""
        return num_video_frames - self.clip_span + 1

    def clip_start(self, num_video_frames: int) -> int:
        """Start of the clip of a per-video entry: uniform in training, the
        centre clip in ``test_mode``."""
        starts = self.num_starts(num_video_frames)
        if self.test_mode:
            return (starts - 1) // 2
        return int(np.random.randint(starts))

    def select_clip(self, video_info: dict, start: int) -> dict:
        """The clip of a video entry that starts at frame index ``start``.

        Returns:
            dict: ``clip_id``, ``frame_stems``, ``rgb_paths``,
            ``depth_paths`` (``pose_paths``) of the clip's frames, the
            video's other keys, and ``rgb_path`` / ``depth_path``.
        """
        if not 0 <= start < self.num_starts(len(video_info['video_stems'])):
            raise ValueError(f'clip start {start} does not fit '
                             f"{video_info['video']}")
        sl = slice(start, start + self.clip_span, self.frame_interval)
        info = {k: v for k, v in video_info.items() if k != 'video_stems'}
        info['frame_stems'] = video_info['video_stems'][sl]
        for key in ('rgb_paths', 'depth_paths', 'pose_paths'):
            if key in video_info:
                info[key] = video_info[key][sl]
        info['clip_id'] = f"{video_info['video']}/{info['frame_stems'][0]}"
        info['rgb_path'] = info['rgb_paths'][0]
        info['depth_path'] = info['depth_paths'][0]
        return info

    def get_data_info(self, idx: int) -> dict:
        """The idx-th entry; per-video entries get their clip here."""
        info = super().get_data_info(idx)
        if 'video_stems' in info:
            info = self.select_clip(
                info, self.clip_start(len(info['video_stems'])))
        return info


@TRANSFORMS.register_module()
class LoadRGBDClip(BaseTransform):
    """Load the frames of an RGB-D clip into arrays with a leading T axis.

    Reads every ``rgb_paths[t]`` with :func:`depth_io.read_rgb` and every
    ``depth_paths[t]`` with :func:`depth_io.read_depth` (encoding
    ``results['depth_unit']``), and the poses of ``pose_paths`` if present.
    Frames of one clip must share one size.

    Required keys: ``rgb_paths``, ``depth_paths``, ``depth_unit``.
    Added keys: ``rgb`` uint8 (T, H, W, 3), ``depth`` float32 (T, H, W)
    metres, ``depth_valid`` bool (T, H, W), ``cam2world`` float64 (T, 4, 4)
    (if ``pose_paths``), ``ori_shape``, ``img_shape``.

    Args:
        max_depth (float, optional): Depths above it are marked invalid.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self, max_depth: Optional[float] = None,
                 backend_args: Optional[dict] = None):
        self.max_depth = max_depth
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        """Read the clip."""
        rgbs, depths, valids = [], [], []
        for rgb_path, depth_path in zip(results['rgb_paths'],
                                        results['depth_paths']):
            rgb = read_rgb(rgb_path, self.backend_args)
            depth, valid = read_depth(
                depth_path,
                results['depth_unit'],
                max_depth=self.max_depth,
                backend_args=self.backend_args)
            if depth.shape != rgb.shape[:2]:
                raise BadSampleError(
                    depth_path, f'depth size {depth.shape} differs from the '
                    f'RGB size {rgb.shape[:2]} of {rgb_path}')
            if rgbs and rgb.shape != rgbs[0].shape:
                raise BadSampleError(
                    rgb_path, f'frame size {rgb.shape[:2]} differs from the '
                    f'first frame of the clip {rgbs[0].shape[:2]}')
            rgbs.append(rgb)
            depths.append(depth)
            valids.append(valid)
        results['rgb'] = np.stack(rgbs)  # (T, H, W, 3)
        results['depth'] = np.stack(depths)  # (T, H, W)
        results['depth_valid'] = np.stack(valids)  # (T, H, W)
        if results.get('pose_paths'):
            poses = []
            for p in results['pose_paths']:
                pose = read_matrix_txt(p, (4, 4))
                if not np.isfinite(pose).all():
                    raise BadSampleError(p, 'pose holds inf or nan')
                poses.append(pose)
            results['cam2world'] = np.stack(poses)  # (T, 4, 4)
        h, w = results['rgb'].shape[1:3]
        results['ori_shape'] = (h, w)
        results['img_shape'] = (h, w)
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(max_depth={self.max_depth})'
