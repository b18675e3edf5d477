"""Per-clip features of whole videos, for a temporal model (OR-AR stage 2).

OR-AR (M3 3D, Sec. 4.2 and App. B.1) is evaluated in two stages: a clip-level
classifier is fine-tuned, then a temporal model (Bi-GRU) runs over the
features that classifier's encoder gives every clip of a video. Both stages
read the same **clip annotation file**, one line per clip::

    <video> <offset> <num_frames> <label> [<label> ...]

``<video>`` is the frame folder relative to the data root (frames
``<video>/rgb/000001.png ...``), ``<offset>`` the 0-based index of the
clip's first frame, ``<num_frames>`` the frames the clip spans, and the
labels the 0-based ids of the classes active in the clip (at least one).
This is mmaction2's ``RawframeDataset`` format with ``with_offset=True`` and
``multi_class=True`` (and ``filename_tmpl='rgb/{:06d}.png'``), so stage 1 reads
it unchanged. Stage 2 groups the lines by video, ordered by offset, and
reads the clip features that ``tools/misc/extract_clip_features.py`` wrote
as ``<feature_dir>/<video>.npy`` (float32, one row per clip in that order).
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.structures import BaseDataElement

from mmrgbd.registry import DATASETS, TRANSFORMS, build_in_scope
from .errors import BadSampleError

#: one clip: (offset, num_frames, label ids)
Clip = Tuple[int, int, Tuple[int, ...]]


def read_clip_annotations(path: str,
                          num_classes: Optional[int] = None
                          ) -> 'OrderedDict[str, List[Clip]]':
    """Parse a clip annotation file (see the module doc).

    Args:
        path (str): The file.
        num_classes (int, optional): Check every label id against it.

    Returns:
        OrderedDict[str, list]: ``video -> [(offset, num_frames, labels),
        ...]`` sorted by offset; videos in order of first appearance.

    Raises:
        BadSampleError: Unreadable file, malformed line, a label outside
            ``[0, num_classes)``, a clip without label, or the same
            ``(video, offset)`` twice.
    """
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise BadSampleError(path, f'cannot read the clip annotations ({e})')
    videos: Dict[str, Dict[int, Clip]] = OrderedDict()
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        where = f'line {lineno} ({line.strip()!r})'
        if len(parts) < 4:
            raise BadSampleError(
                path, f'{where}: expected "<video> <offset> <num_frames> '
                '<label> [<label> ...]" (every clip needs a label: '
                "mmaction2's RawframeDataset turns a missing one into the "
                'last class)')
        try:
            offset, num_frames = int(parts[1]), int(parts[2])
            labels = tuple(int(x) for x in parts[3:])
        except ValueError:
            raise BadSampleError(path, f'{where}: offset, num_frames and '
                                 'labels must be integers')
        if offset < 0 or num_frames < 1:
            raise BadSampleError(path, f'{where}: offset must be >= 0 and '
                                 'num_frames >= 1')
        bad = [c for c in labels
               if c < 0 or (num_classes is not None and c >= num_classes)]
        if bad:
            raise BadSampleError(path, f'{where}: label ids {bad} are '
                                 f'outside [0, {num_classes})')
        clips = videos.setdefault(parts[0], {})
        if offset in clips:
            raise BadSampleError(path, f'{where}: video {parts[0]!r} has a '
                                 f'second clip at offset {offset}')
        clips[offset] = (offset, num_frames, tuple(sorted(set(labels))))
    return OrderedDict(
        (v, [clips[o] for o in sorted(clips)]) for v, clips in videos.items())


def multi_hot(clips: Sequence[Clip], num_classes: int) -> np.ndarray:
    """(T, K) float32 multi-hot labels of a video's clips."""
    out = np.zeros((len(clips), num_classes), dtype=np.float32)
    for t, (_, _, labels) in enumerate(clips):
        out[t, list(labels)] = 1.
    return out


@DATASETS.register_module()
class ClipFeatureSequenceDataset(BaseDataset):
    """One sample per video: its clip features in time order and labels.

    Args:
        ann_file (str): Clip annotation file (module doc); relative paths
            are under ``data_root``.
        feature_dir (str): Folder of ``<video>.npy`` clip features; relative
            paths are under ``data_root``.
        num_classes (int): Number of classes K.
        data_root (str): Root of the two paths above. Defaults to ``''``.
        pipeline (Sequence[dict]): Transforms, built in the ``mmrgbd``
            scope. Defaults to ``LoadClipFeatures`` + ``PackClipSequence``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 feature_dir: str,
                 num_classes: int,
                 data_root: str = '',
                 pipeline: Sequence[dict] = (
                     dict(type='LoadClipFeatures'),
                     dict(type='PackClipSequence')),
                 **kwargs):
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.feature_dir = feature_dir
        pipeline = [build_in_scope(TRANSFORMS, t) for t in pipeline]
        super().__init__(
            ann_file=ann_file, data_root=data_root, pipeline=pipeline,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """One entry per video of the annotation file."""
        videos = read_clip_annotations(self.ann_file, self.num_classes)
        feature_dir = self.feature_dir
        if self.data_root and not osp.isabs(feature_dir):
            feature_dir = osp.join(self.data_root, feature_dir)
        return [
            dict(
                video=video,
                feature_path=osp.join(feature_dir, video + '.npy'),
                offsets=[c[0] for c in clips],
                gt_score=multi_hot(clips, self.num_classes))
            for video, clips in videos.items()
        ]


@TRANSFORMS.register_module()
class LoadClipFeatures(BaseTransform):
    """Read ``feature_path`` (a (T, C) ``.npy``) into ``features``.

    Raises:
        BadSampleError: The file is missing or unreadable, not 2-D, not
            finite, or its row count differs from the video's clip count.
    """

    def transform(self, results: dict) -> dict:
        path = results['feature_path']
        try:
            feats = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise BadSampleError(path, f'cannot read clip features ({e}); '
                                 'write them with tools/misc/'
                                 'extract_clip_features.py')
        num_clips = len(results['offsets'])
        if feats.ndim != 2 or feats.shape[0] != num_clips:
            raise BadSampleError(
                path, f'features of shape {feats.shape}, expected '
                f'({num_clips}, C): one row per clip of video '
                f'{results["video"]!r} in the annotation file')
        if not np.isfinite(feats).all():
            raise BadSampleError(path, 'clip features contain NaN or inf')
        results['features'] = feats.astype(np.float32, copy=False)
        return results


@TRANSFORMS.register_module()
class PackClipSequence(BaseTransform):
    """Pack ``features`` and ``gt_score`` into model inputs.

    Returns ``inputs`` (T, C) float tensor and ``data_samples`` (a
    ``BaseDataElement`` with ``gt_score`` (T, K) and the meta information
    ``video``, ``offsets``, ``num_clips``).
    """

    def transform(self, results: dict) -> dict:
        sample = BaseDataElement(metainfo=dict(
            video=results['video'], offsets=list(results['offsets']),
            num_clips=len(results['offsets'])))
        sample.gt_score = torch.from_numpy(
            np.asarray(results['gt_score'], dtype=np.float32))  # (T, K)
        return dict(
            inputs=torch.from_numpy(results['features']),  # (T, C)
            data_samples=sample)
