"""ScanNet 2D semantic segmentation, 20 classes (ScanNet benchmark).

**Layout read.** ScanNet's 2D labels come in two forms:

* ``scannet_frames_25k`` (the 2D-benchmark download of the ScanNet release:
  about every 100th frame of the 1513 train/val scans, ~25k frames) -- per
  scene ``color/XXXXXX.jpg``, ``depth/XXXXXX.png`` (uint16 mm),
  ``label/XXXXXX.png`` (uint8 **nyu40 ids**, 0 = unannotated; the
  official ``BenchmarkScripts/2d_helpers/convert_scannet_label_image.py``
  mapping of the raw labels through ``scannetv2-labels.combined.tsv``),
  ``instance/``, ``pose/``; file stems are the 6-digit frame index. This is
  the data of Pri3D / Mask3D / M3 3D / Progressive ("every 100th frame,
  20,000 training and 5,000 validation images").
* the per-scan ``<scan>_2d-label-filt.zip`` (``label-filt/<i>.png``, uint16
  **raw ScanNet label ids**, colour resolution 1296x968) next to frames
  exported from the ``.sens`` files (``color/<i>.jpg``, ``depth/<i>.png``).
  ``tools/dataset_converters/scannet_labels_to_nyu40.py`` writes their
  ``label/<i>.png`` nyu40 maps (the official helper's mapping, every
  ``--frame-skip``-th frame), giving the layout above with unpadded stems.

So the dataset reads, for every scene of ``scene_list``::

    data_root/<scene>/color/<stem>.jpg   (or .png)
    data_root/<scene>/label/<stem>.png   uint8 nyu40 ids, 0 = unlabelled
    data_root/<scene>/depth/<stem>.png   uint16 mm (only if depth is loaded)

using the frames that have a label, whose index ``int(stem)`` is a multiple
of ``frame_skip`` (100: the frames of ``scannet_frames_25k`` are multiples
of 100 already; for a converted full export it selects every 100th frame).

**Classes.** The label PNGs hold nyu40 ids; training ids are the 20 classes
of the ScanNet benchmark (:data:`SCANNET20_NYU40_IDS`, the
``VALID_CLASS_IDS`` of ``BenchmarkScripts/2d_evaluation/
evalPixelLevelSemanticLabeling.py``) in that order, everything else is
ignored (255). This is mmseg's class-subset mechanism: the dataset's
``METAINFO`` lists the 40 nyu40 classes and the default ``classes`` the 20
benchmark ones, so ``BaseSegDataset.get_label_map`` builds the mapping and
``LoadAnnotations`` applies it after ``reduce_zero_label``.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmrgbd.registry import DATASETS
from ..errors import BadSampleError
from ..nyuv2 import NYU40_CLASSES
from ..scannet import read_scene_lists
from .base import RGBDSegDataset

__all__ = ['ScanNetSegDataset', 'SCANNET20_NYU40_IDS', 'SCANNET20_CLASSES']

#: nyu40 ids of the 20 classes of the ScanNet 2D / 3D semantic benchmark,
#: in benchmark order (``VALID_CLASS_IDS``); train id k is
#: ``SCANNET20_NYU40_IDS[k]``.
SCANNET20_NYU40_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28,
                       33, 34, 36, 39)

#: Names of the 20 classes (the NYU-40 names, e.g. 'refridgerator' as
#: ScanNet's ``classes_SemVoxLabel-nyu40id.txt`` spells it).
SCANNET20_CLASSES = tuple(NYU40_CLASSES[i - 1] for i in SCANNET20_NYU40_IDS)

_IMAGE_EXTS = ('.jpg', '.jpeg', '.png')


def _frames(folder: str, exts: Sequence[str]) -> dict:
    """``{frame index: file name}`` of the files with an integer stem."""
    out = {}
    for name in os.listdir(folder):
        stem, ext = osp.splitext(name)
        if ext.lower() in exts and stem.isdigit():
            out[int(stem)] = name
    return out


@DATASETS.register_module()
class ScanNetSegDataset(RGBDSegDataset):
    """ScanNet 2D semantic segmentation (20 benchmark classes).

    See the module docstring for the layout and the classes.

    Args:
        data_root (str): Folder of the scene folders (e.g.
            ``data/scannet/scannet_frames_25k``).
        scene_list (str | Sequence[str]): Scene list file(s), one scene per
            line (the official ``scannetv2_train.txt`` (1201 scenes) /
            ``scannetv2_val.txt`` (312)); relative to ``data_root`` or
            absolute. A scene listed twice raises.
        frame_skip (int): Use frames whose index is a multiple of it.
            Defaults to 100.
        metainfo (dict, optional): Defaults to the 20 benchmark classes.
        reduce_zero_label (bool): nyu40 id 0 is "unannotated". Defaults to
            True.
        depth_unit (str): Depth encoding. Defaults to ``'mm'``.
        **kwargs: Passed to :class:`RGBDSegDataset` (``data_ratio``,
            ``pipeline``, ``test_mode``, ...).
    """

    METAINFO = dict(classes=NYU40_CLASSES)

    def __init__(self,
                 data_root: str = '',
                 scene_list: Union[str, Sequence[str]] = '',
                 frame_skip: int = 100,
                 metainfo: Optional[dict] = None,
                 reduce_zero_label: bool = True,
                 depth_unit: str = 'mm',
                 **kwargs) -> None:
        if frame_skip < 1:
            raise ValueError(f'frame_skip must be >= 1, got {frame_skip}')
        if not scene_list:
            raise ValueError('scene_list is required (the official '
                             'scannetv2_train.txt / scannetv2_val.txt)')
        self.scene_list = scene_list
        self.frame_skip = frame_skip
        super().__init__(
            data_root=data_root,
            metainfo=metainfo or dict(classes=SCANNET20_CLASSES),
            reduce_zero_label=reduce_zero_label,
            depth_unit=depth_unit,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Enumerate the labelled frames of every listed scene."""
        data_list = []
        for scene in read_scene_lists(self.scene_list, self.data_root):
            scene_dir = osp.join(self.data_root, scene)
            label_dir = osp.join(scene_dir, 'label')
            color_dir = osp.join(scene_dir, 'color')
            for folder in (label_dir, color_dir):
                if not osp.isdir(folder):
                    raise BadSampleError(
                        folder, 'folder is missing (expected the '
                        'scannet_frames_25k layout: color/, label/ with '
                        'nyu40 ids; see scannet_labels_to_nyu40.py for the '
                        'label-filt zips)')
            labels = _frames(label_dir, ('.png', ))
            colors = _frames(color_dir, _IMAGE_EXTS)
            for idx in sorted(labels):
                if idx % self.frame_skip:
                    continue
                if idx not in colors:
                    raise BadSampleError(
                        osp.join(label_dir, labels[idx]),
                        f'no colour image of frame {idx} in {color_dir}')
                stem = osp.splitext(labels[idx])[0]
                data_list.append(
                    self.seg_info(
                        osp.join(color_dir, colors[idx]),
                        osp.join(label_dir, labels[idx]),
                        osp.join(scene_dir, 'depth', f'{stem}.png'),
                        scene=scene,
                        frame_idx=idx))
        if not data_list:
            raise BadSampleError(
                self.data_root, f'no labelled frames found (frame_skip='
                f'{self.frame_skip})')
        return data_list
