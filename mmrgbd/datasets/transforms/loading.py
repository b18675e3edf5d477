"""Loading transforms for RGB-D samples."""
from typing import Mapping, Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmrgbd.registry import TRANSFORMS
from ..contract import check_sample
from ..depth_io import check_encoding, read_depth, read_label, read_rgb
from ..errors import BadSampleError

__all__ = ['LoadRGBDFromFiles', 'build_label_lut']


def build_label_lut(semseg_map: Union[Mapping[int, int], Sequence[int],
                                      np.ndarray],
                    ignore_index: int = 255) -> np.ndarray:
    """Turn a raw-id -> train-id mapping into a lookup table.

    Args:
        semseg_map (Mapping | Sequence | np.ndarray): ``{raw_id: train_id}``
            or a table whose entry ``i`` is the train id of raw id ``i``.
            Raw ids missing from a mapping (or beyond a table) become
            ``ignore_index``.
        ignore_index (int): The label of unmapped ids.

    Returns:
        np.ndarray: int64 (K,) table, ``train = table[raw]`` for raw < K.
    """
    if isinstance(semseg_map, Mapping):
        keys = [int(k) for k in semseg_map]
        if any(k < 0 for k in keys):
            raise ValueError(f'semseg_map keys must be >= 0, got {keys}')
        lut = np.full(max(keys, default=-1) + 1, ignore_index, np.int64)
        for raw_id, train_id in semseg_map.items():
            lut[int(raw_id)] = int(train_id)
        return lut
    lut = np.asarray(semseg_map)
    if lut.ndim != 1 or not np.issubdtype(lut.dtype, np.integer):
        raise ValueError('semseg_map must be a mapping or a 1-D integer '
                         f'table, got {lut.dtype} shape {lut.shape}')
    return lut.astype(np.int64)


@TRANSFORMS.register_module()
class LoadRGBDFromFiles(BaseTransform):
    """Load an RGB image, its depth map and optionally a semantic label map.

    Depth is decoded to metres with :func:`mmrgbd.datasets.depth_io.read_depth`
    using ``depth_unit``, taken from this transform or, if None here, from
    ``results['depth_unit']`` (which :class:`BaseRGBDDataset` fills in). The
    unit is required and never guessed; if both are given they must agree.
    The loaded sample is validated with
    :func:`mmrgbd.datasets.contract.check_sample`.

    Required keys: ``rgb_path``; ``depth_path`` (``with_depth=True``);
    ``semseg_path`` (``with_semseg=True``).

    Added keys: ``rgb`` uint8 (H, W, 3); ``depth`` float32 (H, W) metres;
    ``depth_valid`` bool (H, W); ``semseg`` int64 (H, W); ``ori_shape``,
    ``img_shape`` (H, W); ``depth_unit``, ``depth_source``. ``intrinsics``,
    ``cam2world`` and ``lidar2img`` already in ``results`` are converted to
    float64 arrays.

    Args:
        depth_unit (str, optional): Depth encoding, one of
            :data:`~mmrgbd.datasets.depth_io.DEPTH_ENCODINGS`.
        depth_source (str, optional): Metadata such as ``'sensor'`` or
            ``'filled'``; default ``results['depth_source']`` or
            ``'unknown'``.
        with_depth (bool): Load ``depth_path``. False gives RGB-only samples
            (e.g. image + LiDAR data).
        with_semseg (bool): Load ``semseg_path``.
        semseg_map (Mapping | Sequence, optional): Raw id -> train id lookup
            (see :func:`build_label_lut`); unmapped ids get ``ignore_index``.
        reduce_zero_label (bool): As in MMSegmentation: raw 0 becomes
            ``ignore_index`` and every other id is decreased by 1 (applied
            before ``semseg_map``).
        num_classes (int, optional): Number of classes K. Loaded labels
            (after ``reduce_zero_label`` / ``semseg_map``) must be in
            ``[0, K)`` or ``ignore_index``, else a ``BadSampleError`` names
            the label file. Defaults to ``results['num_classes']``, which
            :class:`BaseRGBDDataset` sets from its ``metainfo['classes']``;
            without either, ids are not checked here.
        ignore_index (int): Label of unlabelled pixels.
        nonfinite (str): NaN / inf in float depth files: ``'error'`` or
            ``'invalid'``.
        max_depth (float, optional): Depths above it (metres) are marked
            invalid.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self,
                 depth_unit: Optional[str] = None,
                 depth_source: Optional[str] = None,
                 with_depth: bool = True,
                 with_semseg: bool = False,
                 semseg_map: Optional[Union[Mapping[int, int],
                                            Sequence[int]]] = None,
                 reduce_zero_label: bool = False,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 nonfinite: str = 'error',
                 max_depth: Optional[float] = None,
                 backend_args: Optional[dict] = None) -> None:
        if depth_unit is not None:
            check_encoding(depth_unit)
        if nonfinite not in ('error', 'invalid'):
            raise ValueError(
                f"nonfinite must be 'error' or 'invalid', got {nonfinite!r}")
        self.depth_unit = depth_unit
        self.depth_source = depth_source
        self.with_depth = with_depth
        self.with_semseg = with_semseg
        self.semseg_map = semseg_map
        self._lut = None if semseg_map is None else build_label_lut(
            semseg_map, ignore_index)
        self.reduce_zero_label = reduce_zero_label
        if num_classes is not None and int(num_classes) < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.nonfinite = nonfinite
        self.max_depth = max_depth
        self.backend_args = backend_args

    def _resolve_unit(self, results: dict) -> str:
        sample_unit = results.get('depth_unit')
        if self.depth_unit is not None and sample_unit is not None \
                and sample_unit != self.depth_unit:
            raise ValueError(
                f'{results.get("depth_path")}: LoadRGBDFromFiles has '
                f'depth_unit={self.depth_unit!r} but the sample says '
                f'{sample_unit!r}; set only one of them')
        return check_encoding(
            self.depth_unit if self.depth_unit is not None else sample_unit)

    def _load_semseg(self, path: str) -> np.ndarray:
        """The label map with ``reduce_zero_label`` / ``semseg_map`` applied.

        Without either the ids are returned in their stored (integer) dtype;
        the caller casts to int64 after the range check, which is cheaper on
        the stored (usually uint8) ids.
        """
        label = read_label(path, self.backend_args)
        if not self.reduce_zero_label and self._lut is None:
            return label
        label = label.astype(np.int64)
        if self.reduce_zero_label:
            label[label == 0] = self.ignore_index
            label = label - 1
            label[label == self.ignore_index - 1] = self.ignore_index
        if self._lut is not None:
            in_table = (label >= 0) & (label < len(self._lut))
            if self.reduce_zero_label:  # keep the pixels it made ignored
                in_table &= label != self.ignore_index
            mapped = np.full_like(label, self.ignore_index)
            mapped[in_table] = self._lut[label[in_table]]
            label = mapped
        return label

    def _check_label_range(self, label: np.ndarray, path: str,
                           num_classes: int) -> None:
        """Raise if an id is outside ``[0, num_classes)`` and not ignored."""
        outside = label >= num_classes
        if np.issubdtype(label.dtype, np.signedinteger):
            outside |= label < 0
        if not outside.any():  # the common case: one cheap pass
            return
        bad = outside & (label != self.ignore_index)
        if bad.any():
            ids = np.unique(label[bad])
            raise BadSampleError(
                path, f'{int(bad.sum())} pixels have class ids '
                f'{ids[:10].tolist()} (after reduce_zero_label='
                f'{self.reduce_zero_label}'
                f'{", semseg_map" if self._lut is not None else ""}) outside '
                f'[0, {num_classes}) and not ignore_index='
                f'{self.ignore_index}; check num_classes, reduce_zero_label '
                'and the label file')

    def transform(self, results: dict) -> dict:
        """Load the files named in ``results`` and validate the sample.

        Args:
            results (dict): Holds ``rgb_path`` and, as configured,
                ``depth_path`` / ``semseg_path`` / ``depth_unit``.

        Returns:
            dict: ``results`` with the loaded arrays.

        Raises:
            ValueError: The depth unit is missing, unknown or contradictory.
            BadSampleError: A file is missing, corrupt or inconsistent.
        """
        if 'rgb_path' not in results:
            raise KeyError('LoadRGBDFromFiles needs results["rgb_path"]')
        rgb = read_rgb(results['rgb_path'], self.backend_args)  # (H, W, 3)
        results['rgb'] = rgb
        if self.with_depth:
            unit = self._resolve_unit(results)
            if results.get('depth_path') is None:
                raise BadSampleError(
                    results['rgb_path'], 'sample has no depth_path (use '
                    'with_depth=False for RGB-only samples)')
            depth, valid = read_depth(
                results['depth_path'],
                unit,
                nonfinite=self.nonfinite,
                max_depth=self.max_depth,
                backend_args=self.backend_args)
            results['depth'] = depth  # (H, W) metres
            results['depth_valid'] = valid  # (H, W)
            results['depth_unit'] = unit
        source = self.depth_source or results.get('depth_source') or 'unknown'
        results['depth_source'] = source
        if self.with_semseg:
            if results.get('semseg_path') is None:
                raise BadSampleError(
                    results['rgb_path'], 'sample has no semseg_path (set '
                    'with_semseg=False)')
            label = self._load_semseg(results['semseg_path'])
            num_classes = self.num_classes if self.num_classes is not None \
                else results.get('num_classes')
            if num_classes is not None:
                self._check_label_range(label, results['semseg_path'],
                                        int(num_classes))
            results['semseg'] = label.astype(np.int64, copy=False)
        for key in ('intrinsics', 'cam2world', 'lidar2img'):
            if results.get(key) is not None:
                try:
                    results[key] = np.asarray(results[key], dtype=np.float64)
                except (TypeError, ValueError) as exc:
                    raise BadSampleError(
                        results['rgb_path'],
                        f'{key} is not a numeric matrix ({exc})') from None
        results['ori_shape'] = rgb.shape[:2]
        results['img_shape'] = rgb.shape[:2]
        check_sample(results)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(depth_unit={self.depth_unit!r}, '
                f'depth_source={self.depth_source!r}, '
                f'with_depth={self.with_depth}, '
                f'with_semseg={self.with_semseg}, '
                f'reduce_zero_label={self.reduce_zero_label}, '
                f'num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, '
                f'nonfinite={self.nonfinite!r}, max_depth={self.max_depth})')
