"""The base class of every mmrgbd dataset."""
import logging
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmrgbd.registry import DATASETS, TRANSFORMS, build_in_scope
from .depth_io import check_encoding
from .errors import BadSampleError

__all__ = ['BaseRGBDDataset', 'read_list_file']


def read_list_file(path: str, what: str) -> List[str]:
    """Non-empty stripped lines of a list file (scenes, videos, frames...).

    Args:
        path (str): The file.
        what (str): What the lines name, for the error message.

    Raises:
        BadSampleError: If the file cannot be read.
    """
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise BadSampleError(path, f'cannot read {what} list ({e})')


@DATASETS.register_module()
class BaseRGBDDataset(BaseDataset):
    """An :class:`mmengine.dataset.BaseDataset` of RGB-D (+ LiDAR) samples.

    On top of ``BaseDataset`` (annotation loading, filtering, serialisation,
    ``indices``, lazy init) it adds:

    * ``depth_unit`` -- the depth encoding of the dataset's files, validated
      against :data:`~mmrgbd.datasets.depth_io.DEPTH_ENCODINGS` at
      construction and put into every sample (``results['depth_unit']``)
      unless the data-list entry names its own. Never guessed: None is only
      for datasets without depth maps, or when the loading transform names
      the unit itself.
    * ``depth_source`` -- metadata put into every sample the same way.
    * ``skip_bad_samples`` -- with True, a
      :class:`~mmrgbd.datasets.errors.BadSampleError` raised while preparing
      a sample is logged as a warning (through the current ``MMLogger``, with
      the file and the problem), counted in ``num_skipped`` and another
      sample is served through ``BaseDataset``'s refetch mechanism
      (``prepare_data`` returns None, ``__getitem__`` draws another index, at
      most ``max_refetch`` times). With False (default) the error propagates
      unchanged. In ``test_mode`` the error always propagates, since serving
      another sample would silently change an evaluation. The data list is
      never modified: every sample is prepared from a fresh copy of its entry.
      ``num_skipped`` counts in the process that prepared the samples (each
      DataLoader worker holds its own copy).

    Pipeline entries given as dicts are built in the ``mmrgbd`` scope, so
    ``type='LoadRGBDFromFiles'`` works whatever the current default scope.

    When the data list is loaded, a ``LoadRGBDFromFiles`` of the pipeline
    that needs ``semseg_path`` (``with_semseg=True``) or ``depth_path``
    (``with_depth=True``) is checked against the entries: a list where no
    entry has the path is a configuration error, raised (``ValueError``)
    when the dataset is built instead of failing every sample; a list where
    some entries lack it gets a warning. A dataset whose
    ``metainfo`` has ``classes`` puts ``num_classes`` into every sample, so
    ``LoadRGBDFromFiles`` checks label ids against it.

    The base class reads MMEngine's standard annotation format (a JSON /
    pickle file with ``metainfo`` and ``data_list``); datasets with another
    layout override :meth:`load_data_list`.

    Args:
        ann_file (str, optional): Annotation file.
        depth_unit (str, optional): Depth encoding of the dataset's depth
            files.
        depth_source (str): Where the depth comes from, e.g. ``'sensor'``,
            ``'filled'``, ``'lidar'``.
        skip_bad_samples (bool): Log and replace bad samples instead of
            raising.
        pipeline (Sequence[dict | Callable]): Transforms.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.

    Raises:
        ValueError: ``depth_unit`` is not a known encoding.
    """

    def __init__(self,
                 ann_file: Optional[str] = '',
                 depth_unit: Optional[str] = None,
                 depth_source: str = 'sensor',
                 skip_bad_samples: bool = False,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 **kwargs) -> None:
        if depth_unit is not None:
            check_encoding(depth_unit)
        # Set before BaseDataset.__init__: load_data_list() runs inside it.
        self.depth_unit = depth_unit
        self.depth_source = depth_source
        self.skip_bad_samples = skip_bad_samples
        self.num_skipped = 0
        pipeline = [build_in_scope(TRANSFORMS, t) for t in pipeline]
        super().__init__(ann_file=ann_file, pipeline=pipeline, **kwargs)

    def get_data_info(self, idx: int) -> dict:
        """A fresh copy of the idx-th entry with the dataset's depth metadata.

        Args:
            idx (int): Index into the data list.

        Returns:
            dict: The entry; ``depth_unit`` / ``depth_source`` are filled in
            from the dataset unless the entry sets them.
        """
        info = super().get_data_info(idx)
        if info.get('depth_unit') is None and self.depth_unit is not None:
            info['depth_unit'] = self.depth_unit
        if info.get('depth_source') is None:
            info['depth_source'] = self.depth_source
        classes = self.metainfo.get('classes')
        if info.get('num_classes') is None and classes:
            info['num_classes'] = len(classes)
        return info

    def filter_data(self) -> List[dict]:
        """``BaseDataset.filter_data``, then check the paths the pipeline
        needs.

        A ``LoadRGBDFromFiles`` with ``with_semseg=True`` (or
        ``with_depth=True``) on a data list where **no** entry has
        ``semseg_path`` (``depth_path``) is a configuration error. When only
        some entries lack it, a warning says how many (each of them raises a
        ``BadSampleError`` when loaded, skippable with
        ``skip_bad_samples=True``).

        Raises:
            ValueError: No entry has a path the pipeline needs.
        """
        from .transforms.loading import LoadRGBDFromFiles
        data_list = super().filter_data()
        loaders = [
            t for t in getattr(self.pipeline, 'transforms', [])
            if isinstance(t, LoadRGBDFromFiles)
        ]
        where = self.ann_file or type(self).__name__
        for t in loaders:
            needs = [key for key, flag in (('depth_path', 'with_depth'),
                                           ('semseg_path', 'with_semseg'))
                     if getattr(t, flag, False)]
            for key in needs:
                lacking = sum(info.get(key) is None for info in data_list)
                flag = key.replace('_path', '')
                if data_list and lacking == len(data_list):
                    raise ValueError(
                        f'{where}: {type(t).__name__}(with_{flag}=True) '
                        f'needs {key}, but none of the {len(data_list)} '
                        f'samples has one; give the {flag} files in the '
                        f'data list or set with_{flag}=False')
                if lacking:
                    print_log(
                        f'{where}: {lacking} of {len(data_list)} samples '
                        f'have no {key} but the pipeline loads {flag} '
                        f'(with_{flag}=True); they raise BadSampleError '
                        '(skip_bad_samples=True skips them)',
                        logger='current',
                        level=logging.WARNING)
        return data_list

    def prepare_data(self, idx: int):
        """Run the pipeline on the idx-th sample.

        Args:
            idx (int): Index into the data list.

        Returns:
            Any: The pipeline output, or None when the sample is bad and
            ``skip_bad_samples`` is on (``__getitem__`` then serves another
            index).

        Raises:
            BadSampleError: A bad sample with ``skip_bad_samples=False`` or
                in ``test_mode``.
        """
        try:
            return super().prepare_data(idx)
        except BadSampleError as exc:
            if not self.skip_bad_samples or self.test_mode:
                raise
            self.num_skipped += 1
            print_log(
                f'{type(self).__name__}: skipped bad sample {idx} '
                f'({self.num_skipped} skipped so far): {exc}',
                logger='current',
                level=logging.WARNING)
            return None

    def read_name_list(self, path: str, what: str) -> List[str]:
        """Non-empty stripped lines of a list file (scenes, videos, ...).

        Args:
            path (str): The file; relative paths are under ``data_root``.
            what (str): What the lines name, for the error message.

        Raises:
            BadSampleError: If the file cannot be read.
        """
        if not osp.isabs(path):
            path = osp.join(self.data_root, path)
        return read_list_file(path, what)
