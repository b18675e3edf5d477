"""ScanNet frames in the layout exported by the ScanNet ``.sens`` reader.

See ``tools/dataset_converters/scannet_sens_to_frames.py`` for the exporter.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmrgbd.registry import DATASETS, TRANSFORMS
from .base_rgbd import BaseRGBDDataset, read_list_file
from .contract import check_sample
from .depth_io import check_encoding, read_depth, read_rgb
from .errors import BadSampleError


def read_matrix_txt(path: str, shape: Tuple[int, int]) -> np.ndarray:
    """Read a whitespace-separated matrix text file (pose / intrinsics).

    Args:
        path (str): The text file.
        shape (tuple[int, int]): Expected shape, e.g. (4, 4).

    Returns:
        np.ndarray: float64 matrix; it may hold inf / nan (ScanNet marks
        frames without a pose that way), the caller decides.

    Raises:
        BadSampleError: If the file is unreadable or has the wrong number of
            numbers.
    """
    try:
        with open(path) as f:
            values = [float(v) for v in f.read().split()]
    except OSError as e:
        raise BadSampleError(path, f'cannot read matrix file ({e})')
    except ValueError:
        raise BadSampleError(path, 'matrix file holds non-numeric values')
    if len(values) != shape[0] * shape[1]:
        raise BadSampleError(
            path, f'expected {shape[0]}x{shape[1]} numbers, got {len(values)}')
    return np.asarray(values, dtype=np.float64).reshape(shape)


def read_intrinsics_txt(path: str) -> np.ndarray:
    """Read a (3, 3) or (4, 4) intrinsics file and return K float64 (3, 3)."""
    try:
        with open(path) as f:
            n = len(f.read().split())
    except OSError as e:
        raise BadSampleError(path, f'cannot read intrinsics ({e})')
    mat = read_matrix_txt(path, (4, 4) if n == 16 else (3, 3))
    k = mat[:3, :3].copy()
    if not np.isfinite(k).all() or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise BadSampleError(path, 'intrinsics are not a valid K matrix')
    return k


def read_scene_lists(scene_list: Union[str, Sequence[str]],
                     root: str = '') -> List[str]:
    """The scenes of one or several list files, concatenated in order.

    Args:
        scene_list (str | Sequence[str]): List file(s), one scene per line
            (e.g. the official ``scannetv2_train.txt``); relative paths are
            under ``root``.
        root (str): Folder of relative list files.

    Raises:
        BadSampleError: A file cannot be read, or a scene is listed twice
            (naming both files).
    """
    lists = [scene_list] if isinstance(scene_list, str) else list(scene_list)
    scenes, origin = [], {}
    for path in lists:
        if not osp.isabs(path):
            path = osp.join(root, path)
        for scene in read_list_file(path, 'scene'):
            if scene in origin:
                raise BadSampleError(
                    path, f'scene {scene} is also listed in {origin[scene]}')
            origin[scene] = path
            scenes.append(scene)
    return scenes


def _frame_ids(folder: str, suffixes: Tuple[str, ...]) -> List[int]:
    ids = []
    for name in os.listdir(folder):
        stem, ext = osp.splitext(name)
        if ext.lower() in suffixes and stem.isdigit():
            ids.append(int(stem))
    return sorted(ids)


@DATASETS.register_module()
class ScanNetFrames(BaseRGBDDataset):
    """Sub-sampled RGB-D frames of ScanNet scenes.

    Layout read (what the official ScanNet reader / our
    ``scannet_sens_to_frames.py`` exports)::

        data_root/scene0000_00/
            color/0.jpg ...           1296x968 JPEG
            depth/0.png ...           640x480 uint16 millimetres
            pose/0.txt ...            4x4 camera-to-world (may be -inf/nan)
            intrinsic/intrinsic_color.txt, intrinsic_depth.txt   4x4

    The frames used are those whose **recording index** ``i`` (the file
    name) satisfies ``i >= frame_offset`` and ``i % frame_skip ==
    frame_offset % frame_skip``: every ``frame_skip``-th frame of the
    recording, whether the exporter wrote every frame or already only every
    k-th (``scannet_sens_to_frames.py --frame-skip 25`` writes frames 0, 25,
    50, ...; ``frame_skip=25`` then uses all of them, not every 625th). With
    ``seed`` set, each scene instead starts at a random residue drawn from
    ``np.random.default_rng(seed)`` among the residues its exported frames
    have (reproducible; ``[0, frame_skip)`` for a full export). ScanNet
    marks frames whose tracking failed with an inf / nan pose; their number
    is kept in ``self.num_invalid_poses`` and logged. With
    ``skip_invalid_poses=True`` (default: methods that use the pose) such
    frames are dropped; with ``False`` (Mask3D, which uses colour and depth
    only: "without any other filtering") they are kept with
    ``cam2world=None`` and ``pose_valid=False``.

    The scenes are those of ``scene_list``: one list file, or several whose
    scenes are concatenated in order (Mask3D pre-trains on all 1513 scans
    of ScanNet v2 train + val: ``['scannetv2_train.txt',
    'scannetv2_val.txt']``, 1201 + 312 scenes); a scene listed twice
    raises.

    **Alignment.** ScanNet colour (1296x968) and depth (640x480) differ in
    size. Each entry carries ``intrinsics`` = the depth camera K (and
    ``intrinsics_color``). Load the frames with :class:`LoadScanNetFrame`,
    which resizes ``rgb`` to the depth size, so ``intrinsics`` describes the
    loaded images. Treating the resized colour as registered to depth (the
    exporter's colour-to-depth extrinsic is the identity) is the usual
    approximation of ScanNet pre-training code.

    Args:
        data_root (str): Folder holding the ``scene*`` folders.
        scene_list (str | Sequence[str], optional): Text file(s) of scene
            names (the official ``scannetv2_train.txt`` /
            ``scannetv2_val.txt``), relative to ``data_root`` or absolute.
            Default: every ``scene*`` folder.
        frame_skip (int): Use every k-th frame of the recording (25 for
            pre-training, 100 for fine-tuning).
        frame_offset (int): First frame index in each scene.
        seed (int, optional): Draw a per-scene start offset with this seed.
        skip_invalid_poses (bool): Drop frames whose pose is inf / nan.
            Defaults to True.
        depth_unit (str): Encoding of the depth PNGs.
        depth_source (str): Carried in the samples.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 scene_list: Optional[Union[str, Sequence[str]]] = None,
                 frame_skip: int = 25,
                 frame_offset: int = 0,
                 seed: Optional[int] = None,
                 skip_invalid_poses: bool = True,
                 depth_unit: str = 'mm',
                 depth_source: str = 'sensor',
                 **kwargs):
        if frame_skip < 1:
            raise ValueError(f'frame_skip must be >= 1, got {frame_skip}')
        self.scene_list = scene_list
        self.frame_skip = frame_skip
        self.frame_offset = frame_offset
        self.seed = seed
        self.skip_invalid_poses = skip_invalid_poses
        self.num_invalid_poses = 0
        super().__init__(
            data_root=data_root,
            depth_unit=depth_unit,
            depth_source=depth_source,
            **kwargs)

    def _scenes(self) -> List[str]:
        if self.scene_list:
            return read_scene_lists(self.scene_list, self.data_root)
        return sorted(d for d in os.listdir(self.data_root)
                      if d.startswith('scene')
                      and osp.isdir(osp.join(self.data_root, d)))

    def load_data_list(self) -> List[dict]:
        """Enumerate the sampled frames of every scene."""
        rng = np.random.default_rng(self.seed)
        self.num_invalid_poses = 0
        data_list = []
        for scene in self._scenes():
            scene_dir = osp.join(self.data_root, scene)
            color_dir = osp.join(scene_dir, 'color')
            if not osp.isdir(color_dir):
                raise BadSampleError(scene_dir, 'scene has no color/ folder')
            k_depth = read_intrinsics_txt(
                osp.join(scene_dir, 'intrinsic', 'intrinsic_depth.txt'))
            k_color = read_intrinsics_txt(
                osp.join(scene_dir, 'intrinsic', 'intrinsic_color.txt'))
            ids = _frame_ids(color_dir, ('.jpg', '.png'))
            ext = {
                osp.splitext(n)[1]
                for n in os.listdir(color_dir)
            } & {'.jpg', '.png'}
            ext = '.jpg' if '.jpg' in ext else '.png'
            skip = self.frame_skip
            if self.seed is not None:
                residues = sorted({i % skip for i in ids}) or [0]
                start = residues[int(rng.integers(len(residues)))]
            else:
                start = self.frame_offset
            for i in ids:
                if i < start or (i - start) % skip:
                    continue
                pose_path = osp.join(scene_dir, 'pose', f'{i}.txt')
                pose = read_matrix_txt(pose_path, (4, 4))
                pose_valid = bool(np.isfinite(pose).all())
                if not pose_valid:
                    self.num_invalid_poses += 1
                    if self.skip_invalid_poses:
                        continue
                data_list.append(
                    dict(
                        frame_id=f'{scene}/{i}',
                        scene=scene,
                        frame_idx=i,
                        rgb_path=osp.join(color_dir, f'{i}{ext}'),
                        depth_path=osp.join(scene_dir, 'depth', f'{i}.png'),
                        pose_path=pose_path,
                        cam2world=pose if pose_valid else None,
                        pose_valid=pose_valid,
                        intrinsics=k_depth.copy(),
                        intrinsics_color=k_color.copy(),
                        depth_unit=self.depth_unit,
                        depth_source=self.depth_source))
        if self.num_invalid_poses:
            what = 'dropped' if self.skip_invalid_poses else \
                'kept (cam2world=None)'
            print_log(
                f'ScanNetFrames: {what} {self.num_invalid_poses} frames with '
                'inf/nan poses', logger='current')
        if not data_list:
            raise BadSampleError(
                self.data_root,
                f'no frames found (frame_skip={self.frame_skip}, '
                f'{self.num_invalid_poses} with invalid poses, '
                f'skip_invalid_poses={self.skip_invalid_poses})')
        return data_list


@TRANSFORMS.register_module()
class LoadScanNetFrame(BaseTransform):
    """Load a ScanNet frame with the colour image resized to the depth size.

    ScanNet colour (1296x968) and depth (640x480) differ in size, which
    :class:`~mmrgbd.datasets.transforms.LoadRGBDFromFiles` rejects. This
    transform reads both with :mod:`mmrgbd.datasets.depth_io`, resizes ``rgb``
    to the depth size (``cv2.INTER_AREA``) and keeps ``intrinsics`` = the
    depth camera K that :class:`ScanNetFrames` puts in each entry, so the
    camera model describes the loaded images. The sample is validated with
    :func:`~mmrgbd.datasets.contract.check_sample`.

    Required keys: ``rgb_path``, ``depth_path``, ``depth_unit``. Added keys:
    ``rgb`` uint8 (H_d, W_d, 3), ``depth`` float32 (H_d, W_d) metres,
    ``depth_valid``, ``ori_shape``, ``img_shape``, ``rgb_ori_shape`` (the
    stored colour size).

    Args:
        max_depth (float, optional): Depths above it are marked invalid.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self, max_depth: Optional[float] = None,
                 backend_args: Optional[dict] = None):
        self.max_depth = max_depth
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        """Read colour and depth and align the colour to the depth grid."""
        depth, valid = read_depth(
            results['depth_path'],
            check_encoding(results.get('depth_unit')),
            max_depth=self.max_depth,
            backend_args=self.backend_args)
        rgb = read_rgb(results['rgb_path'], self.backend_args)
        h, w = depth.shape
        results['rgb_ori_shape'] = rgb.shape[:2]
        if rgb.shape[:2] != (h, w):
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        results['rgb'] = rgb  # (H_d, W_d, 3)
        results['depth'] = depth  # (H_d, W_d)
        results['depth_valid'] = valid  # (H_d, W_d)
        for key in ('intrinsics', 'cam2world'):
            if results.get(key) is not None:
                results[key] = np.asarray(results[key], dtype=np.float64)
        results['ori_shape'] = (h, w)
        results['img_shape'] = (h, w)
        check_sample(results)
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(max_depth={self.max_depth})'
