"""Semantic-segmentation datasets and transforms in mmseg's API.

Datasets (:class:`mmseg.datasets.BaseSegDataset` subclasses) read the real
on-disk layouts of ScanNet (20 benchmark classes), NYUv2 (40 / 13 classes)
and SUN RGB-D (37 classes); the transforms carry metric depth through mmseg
pipelines and stack RGB / RGB-D / depth network inputs.
"""
from .base import RGBDSegDataset, select_subset  # noqa: F401
from .nyuv2_seg import NYUv2SegDataset  # noqa: F401
from .scannet_seg import (SCANNET20_CLASSES, SCANNET20_NYU40_IDS,  # noqa: F401
                          ScanNetSegDataset)
from .sunrgbd_seg import SUNRGBDSegDataset  # noqa: F401
from .transforms import LoadDepthMap, StackInputModalities  # noqa: F401
