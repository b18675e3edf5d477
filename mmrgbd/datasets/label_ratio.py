"""A fixed, seeded subset of the labelled videos (low-label fine-tuning)."""
import os.path as osp
from typing import List, Sequence

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.registry import DATASETS as MMENGINE_DATASETS

from mmrgbd.registry import DATASETS


def select_videos(videos: Sequence[str], label_ratio: float,
                  seed: int = 0) -> List[str]:
    """The videos kept for a label ratio: fixed for ``(videos, ratio, seed)``.

    The distinct names are sorted, permuted with ``numpy.random.
    default_rng(seed)`` and the first ``max(1, round(ratio * n))`` kept, so
    the choice does not depend on the order of the annotation file and a
    smaller ratio keeps a subset of the videos a larger one keeps (with the
    same seed).

    Args:
        videos (Sequence[str]): Video names (repeats allowed).
        label_ratio (float): Fraction in ``(0, 1]``.
        seed (int): Seed of the permutation. Defaults to 0.

    Returns:
        list[str]: The kept names, sorted.
    """
    if not 0. < label_ratio <= 1.:
        raise ValueError(f'label_ratio must be in (0, 1], got {label_ratio}')
    names = sorted(set(videos))
    if not names:
        return []
    order = np.random.default_rng(seed).permutation(len(names))
    count = max(1, int(round(label_ratio * len(names))))
    return sorted(names[i] for i in order[:count])


def video_name(info: dict, dataset=None) -> str:
    """The video a sample belongs to.

    Its ``video`` field, else its ``frame_dir`` relative to
    ``dataset.data_prefix['img']`` (mmaction2's rawframe datasets join that
    prefix in front of the annotation's folder).

    Args:
        info (dict): The sample's data info.
        dataset (optional): The dataset it comes from.

    Raises:
        KeyError: The info has neither field.
    """
    if 'video' in info:
        return str(info['video'])
    if 'frame_dir' in info:
        prefix = (getattr(dataset, 'data_prefix', None) or {}).get('img')
        path = osp.normpath(info['frame_dir'])
        return osp.relpath(path, osp.normpath(prefix)) if prefix else path
    raise KeyError(f'{type(dataset).__name__} samples carry neither "video" '
                   f'nor "frame_dir" (keys: {sorted(info)}), so their video '
                   f'is unknown')


@DATASETS.register_module()
class LabelRatioDataset:
    """Keep the samples of a fixed, seeded fraction of the videos.

    The low-label settings of M3 3D's OR-AR evaluation (Table 2: 5 / 10 /
    20 / 100 % of the labels) fine-tune on the labelled part of the training
    videos. This wrapper keeps every sample of the videos
    :func:`select_videos` picks, so the clip-level fine-tuning (one sample
    per clip, e.g. mmaction2's ``RawframeDataset``) and the temporal model
    (one sample per video, :class:`ClipFeatureSequenceDataset`) see the same
    videos for the same ``label_ratio`` and ``seed``.

    The video of a sample is its ``video`` field, else its ``frame_dir``
    relative to the wrapped dataset's ``data_prefix['img']`` (mmaction2's
    rawframe datasets join it in front). The wrapped dataset is built in the
    current default scope (like MMEngine's ``ConcatDataset``), so an
    mmaction2 config can wrap its own datasets with
    ``type='mmrgbd.LabelRatioDataset'``.

    Args:
        dataset (dict | BaseDataset): The labelled training set.
        label_ratio (float): Fraction of the videos kept, in ``(0, 1]``.
            1.0 keeps everything. Defaults to 1.0.
        seed (int): Seed of the choice (not the training seed). Defaults
            to 0.
        lazy_init (bool): Defer loading the annotations. Defaults to False.
    """

    def __init__(self,
                 dataset,
                 label_ratio: float = 1.0,
                 seed: int = 0,
                 lazy_init: bool = False):
        if not 0. < label_ratio <= 1.:
            raise ValueError(f'label_ratio must be in (0, 1], got '
                             f'{label_ratio}')
        if isinstance(dataset, dict):
            dataset = MMENGINE_DATASETS.build(dataset)
        self.dataset: BaseDataset = dataset
        self.label_ratio = label_ratio
        self.seed = seed
        self.videos: List[str] = []
        self.indices: List[int] = []
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information."""
        return self.dataset.metainfo

    def video_of(self, info: dict) -> str:
        """The video name of a sample's data info (:func:`video_name`)."""
        return video_name(info, self.dataset)

    def full_init(self) -> None:
        """Load the wrapped dataset and pick the samples to keep."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        names = [self.video_of(self.dataset.get_data_info(i))
                 for i in range(len(self.dataset))]
        self.videos = select_videos(names, self.label_ratio, self.seed)
        kept = set(self.videos)
        self.indices = [i for i, n in enumerate(names) if n in kept]
        self._fully_initialized = True

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Data info of the ``idx``-th kept sample."""
        return self.dataset.get_data_info(self.indices[idx])

    @force_full_init
    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        return self.dataset[self.indices[idx]]
