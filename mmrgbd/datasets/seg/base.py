"""Shared parts of the semantic-segmentation datasets (mmseg API).

The datasets of :mod:`mmrgbd.datasets.seg` are
:class:`mmseg.datasets.BaseSegDataset` subclasses: their samples feed
unmodified mmseg pipelines (``LoadImageFromFile``, ``LoadAnnotations``,
``RandomResize``, ``PackSegInputs`` ...) and mmseg's ``IoUMetric``. On top of
``BaseSegDataset`` :class:`RGBDSegDataset` adds

* ``depth_path`` / ``depth_unit`` in every entry, read by
  :class:`~mmrgbd.datasets.seg.LoadDepthMap` (depth in metres, carried
  through mmseg's geometric transforms as a ``seg_fields`` entry);
* ``data_ratio``: a fixed, seeded subset for low-data experiments
  (:func:`select_subset`);
* a warning when a split does not have its official size.
"""
import logging
from typing import Dict, List, Optional

import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from ..depth_io import check_encoding

__all__ = ['RGBDSegDataset', 'select_subset']


def select_subset(num_samples: int, ratio: float, seed: int = 0
                  ) -> np.ndarray:
    """Indices of a fixed, seeded subset of ``round(ratio * n)`` samples.

    The indices are the first ``k`` of the permutation
    ``np.random.default_rng(seed).permutation(n)``, returned sorted: the
    same ``(n, ratio, seed)`` always gives the same subset, and for one seed
    the subsets of growing ratios are nested (the 20 % subset is inside the
    40 % one), as the low-data curves of Mask3D (Fig. 5), M3 3D (Fig. 2) and
    Progressive (Fig. 3) need.

    Args:
        num_samples (int): Size ``n`` of the full list.
        ratio (float): Fraction kept, in (0, 1].
        seed (int): Seed of the permutation.

    Returns:
        np.ndarray: int64 sorted indices, at least one when ``n > 0``.

    Raises:
        ValueError: ``ratio`` outside (0, 1].
    """
    if not 0 < ratio <= 1:
        raise ValueError(f'data_ratio must be in (0, 1], got {ratio}')
    if ratio == 1 or num_samples == 0:
        return np.arange(num_samples)
    k = max(1, int(round(ratio * num_samples)))
    perm = np.random.default_rng(seed).permutation(num_samples)
    return np.sort(perm[:k])


class RGBDSegDataset(BaseSegDataset):
    """``BaseSegDataset`` with depth files and a seeded low-data subset.

    Subclasses implement ``load_data_list`` with :meth:`seg_info` entries.

    Args:
        depth_unit (str): Encoding of the depth files
            (:data:`~mmrgbd.datasets.depth_io.DEPTH_ENCODINGS`), put into
            every entry for :class:`~mmrgbd.datasets.seg.LoadDepthMap`.
        with_depth (bool): Put ``depth_path`` into the entries. Defaults to
            True (nothing is read unless the pipeline loads it).
        data_ratio (float): Keep a fixed subset of this fraction of the
            samples (:func:`select_subset`). Defaults to 1.0 (all).
        data_ratio_seed (int): Seed of the subset. Defaults to 0.
        official_size (int, optional): The official size of the split; a
            list of another size is reported with a warning (before
            ``data_ratio``).
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    def __init__(self,
                 depth_unit: str = 'mm',
                 with_depth: bool = True,
                 data_ratio: float = 1.0,
                 data_ratio_seed: int = 0,
                 official_size: Optional[int] = None,
                 **kwargs) -> None:
        if not 0 < data_ratio <= 1:
            raise ValueError(f'data_ratio must be in (0, 1], got {data_ratio}')
        self.depth_unit = check_encoding(depth_unit) if with_depth else None
        self.with_depth = with_depth
        self.data_ratio = float(data_ratio)
        self.data_ratio_seed = int(data_ratio_seed)
        self.official_size = official_size
        super().__init__(**kwargs)

    def seg_info(self,
                 img_path: str,
                 seg_map_path: str,
                 depth_path: Optional[str] = None,
                 **extra) -> Dict:
        """One data-list entry in mmseg's format plus the depth file.

        Args:
            img_path (str): Colour image.
            seg_map_path (str): Label PNG.
            depth_path (str, optional): Depth map (kept when ``with_depth``).
            **extra: Other keys (e.g. ``scene``, ``frame_id``).

        Returns:
            dict: ``img_path``, ``seg_map_path``, ``label_map``,
            ``reduce_zero_label``, ``seg_fields`` and, with depth,
            ``depth_path`` / ``depth_unit``.
        """
        info = dict(
            img_path=img_path,
            seg_map_path=seg_map_path,
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            seg_fields=[],
            **extra)
        if self.with_depth and depth_path is not None:
            info.update(depth_path=depth_path, depth_unit=self.depth_unit)
        return info

    def filter_data(self) -> List[dict]:
        """Check the split size, then keep the ``data_ratio`` subset."""
        data_list = super().filter_data()
        name = type(self).__name__
        if self.official_size is not None and \
                len(data_list) != self.official_size:
            print_log(
                f'{name}: {len(data_list)} samples, the official split has '
                f'{self.official_size} (incomplete conversion, or another '
                'split?)',
                logger='current',
                level=logging.WARNING)
        if self.data_ratio < 1:
            keep = select_subset(len(data_list), self.data_ratio,
                                 self.data_ratio_seed)
            print_log(
                f'{name}: data_ratio={self.data_ratio} (seed '
                f'{self.data_ratio_seed}) keeps {len(keep)} of '
                f'{len(data_list)} samples',
                logger='current')
            data_list = [data_list[i] for i in keep]
        return data_list
