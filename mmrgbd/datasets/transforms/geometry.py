"""Joint geometric transforms for RGB-D (+ LiDAR) samples.

Every transform here moves **all** image-aligned modalities of a sample
together (``rgb``, ``depth``, ``depth_valid``, ``semseg``), for single frames
``(H, W, ...)`` and for clips with a leading time axis ``(T, H, W, ...)`` (the
same geometry is applied to every frame), and keeps the camera model exact.

Pixel convention
----------------
Pixel ``(u, v)`` (column, row) is the **centre** of the pixel stored at
``array[v, u]``; the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``. Every
operation is an affine map ``A`` (3x3) of pixel coordinates:

* crop at ``(x0, y0)``: ``u' = u - x0`` (``cx -= x0``, ``cy -= y0``);
* resize ``W -> W'``, ``H -> H'`` with ``sx = W'/W``, ``sy = H'/H``:
  ``u' = (u + 0.5) * sx - 0.5`` (``fx *= sx``, ``cx = (cx + 0.5) * sx - 0.5``),
  the same convention OpenCV's bilinear resize uses;
* horizontal flip: ``u' = W - 1 - u`` (``cx' = W - 1 - cx``), vertical
  flip: ``v' = H - 1 - v``.

``intrinsics`` become ``A @ K`` and ``lidar2img`` becomes ``A4 @ lidar2img``
(``A4`` = ``A`` embedded in a 4x4 identity). Both therefore stay *exact
projections of the unchanged 3D points*: ``points`` and ``cam2world`` are not
touched. The one exception is a flip: ``intrinsics`` then describe the camera
of the *mirrored* scene, ``cx' = W - 1 - cx`` with ``fx`` kept positive (the
pinhole model users expect; back-projecting the flipped depth gives the
mirror image of the point cloud, ``x_cam -> -x_cam``, and ``flip`` is set so
that ``cam2world`` users can mirror it back), while ``lidar2img`` stays the
exact projection of the unchanged ``points`` onto the flipped image. The
running product of all ``A`` is kept in ``img_aug_matrix`` (3x3, float64),
mapping pixels of the loaded image to pixels of the current one (SimIPU).

Interpolation
-------------
``rgb`` is resized with OpenCV bilinear interpolation (``mmcv.imresize``).
``depth``, ``depth_valid`` and ``semseg`` use nearest-neighbour sampling under
the *same* pixel-centre convention: output pixel ``j`` takes input pixel
``floor((j + 0.5) / s)`` (OpenCV's ``INTER_NEAREST_EXACT``; OpenCV's plain
``INTER_NEAREST`` is shifted by half a pixel, and ``cv2.resize`` cannot handle
int64 or bool). Depth is never blended across edges and every output value is
an input value. After each transform ``depth`` is 0 exactly where
``depth_valid`` is False.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmrgbd.registry import TRANSFORMS

#: keys resized with (bilinear) image interpolation; frames are (H, W, C)
IMAGE_KEYS = ('rgb', )
#: keys resized with nearest-neighbour sampling; frames are (H, W)
NEAREST_KEYS = ('depth', 'depth_valid', 'semseg')

__all__ = [
    'get_image_size', 'crop_rgbd', 'resize_rgbd', 'flip_rgbd', 'flip_frame',
    'nearest_resize', 'RGBDRandomResizedCrop', 'RGBDResize',
    'RGBDRandomFlip', 'RGBDRandomCrop', 'RGBDCenterCrop', 'RGBDRandomResize'
]


def _frame_ndim(key: str) -> int:
    """Number of dimensions of one frame of ``key`` (3 for rgb, else 2)."""
    return 3 if key in IMAGE_KEYS else 2


def _map_frames(fn, arr: np.ndarray, frame_ndim: int) -> np.ndarray:
    """Apply ``fn`` to a frame, or to every frame of a clip.

    Args:
        fn (callable): Maps one frame to one frame.
        arr (np.ndarray): A frame (``frame_ndim`` dims) or a clip with a
            leading time axis (``frame_ndim + 1`` dims).
        frame_ndim (int): Dimensions of a single frame.

    Returns:
        np.ndarray: The transformed frame or clip.
    """
    if arr.ndim == frame_ndim:
        return fn(arr)
    if arr.ndim == frame_ndim + 1:
        return np.stack([fn(frame) for frame in arr])  # (T, H', W', ...)
    raise ValueError(f'expected a frame with {frame_ndim} dims or a clip with '
                     f'{frame_ndim + 1} dims, got shape {arr.shape}')


def get_image_size(results: dict) -> Tuple[int, int]:
    """Spatial size ``(H, W)`` of the image-aligned modalities of a sample.

    Args:
        results (dict): The sample.

    Returns:
        tuple[int, int]: ``(H, W)``.

    Raises:
        KeyError: If the sample has none of ``rgb``, ``depth``,
            ``depth_valid``, ``semseg``.
        ValueError: If the modalities disagree on the size.
    """
    sizes = {}
    for key in IMAGE_KEYS + NEAREST_KEYS:
        if results.get(key) is not None:
            arr = results[key]
            if key in IMAGE_KEYS:
                sizes[key] = tuple(arr.shape[-3:-1])
            else:
                sizes[key] = tuple(arr.shape[-2:])
    if not sizes:
        raise KeyError('the sample has no image-aligned modality '
                       f'({IMAGE_KEYS + NEAREST_KEYS})')
    if len(set(sizes.values())) != 1:
        raise ValueError(f'image-aligned modalities differ in size: {sizes}')
    h, w = next(iter(sizes.values()))
    return int(h), int(w)


def _apply_pixel_transform(results: dict,
                           mat: np.ndarray,
                           camera_mirror: Optional[np.ndarray] = None) -> None:
    """Compose the 3x3 pixel map ``mat`` into the camera fields of a sample.

    Updates ``intrinsics`` (``mat @ K``, or ``mat @ K @ camera_mirror`` for a
    flip, which keeps fx/fy positive), ``lidar2img`` (``A4 @ lidar2img``) and
    ``img_aug_matrix`` (``mat @ previous``, identity if absent).
    """
    if results.get('intrinsics') is not None:
        k = np.asarray(results['intrinsics'], dtype=np.float64)
        k = mat @ k  # (..., 3, 3)
        if camera_mirror is not None:
            k = k @ camera_mirror  # mirrored scene: focal lengths stay > 0
        results['intrinsics'] = k
    if results.get('lidar2img') is not None:
        l2i = np.asarray(results['lidar2img'], dtype=np.float64)
        mat4 = np.eye(4)
        mat4[:3, :3] = mat
        results['lidar2img'] = mat4 @ l2i  # (..., 4, 4)
    prev = results.get('img_aug_matrix')
    prev = np.eye(3) if prev is None else np.asarray(prev, dtype=np.float64)
    results['img_aug_matrix'] = mat @ prev


def _sync_depth_valid(results: dict) -> None:
    """Make ``depth`` exactly 0 where ``depth_valid`` is False."""
    depth, valid = results.get('depth'), results.get('depth_valid')
    if depth is not None and valid is not None:
        results['depth'] = np.where(valid, depth, np.zeros((), depth.dtype))


def _finish(results: dict) -> None:
    _sync_depth_valid(results)
    results['img_shape'] = get_image_size(results)


def _crop(results: dict, x0: int, y0: int, w: int, h: int) -> None:
    """:func:`crop_rgbd` without the final depth / validity sync.

    The image-aligned arrays become views of their uncropped arrays.
    """
    img_h, img_w = get_image_size(results)
    if not (0 <= x0 and 0 <= y0 and w > 0 and h > 0 and x0 + w <= img_w
            and y0 + h <= img_h):
        raise ValueError(f'crop box x0={x0}, y0={y0}, w={w}, h={h} is not '
                         f'inside the image of size (H, W)={(img_h, img_w)}')
    bbox = np.array([x0, y0, x0 + w - 1, y0 + h - 1])
    results.setdefault('ori_shape', (img_h, img_w))
    for key in IMAGE_KEYS + NEAREST_KEYS:
        if results.get(key) is not None:
            arr = results[key]
            if arr.ndim not in (_frame_ndim(key), _frame_ndim(key) + 1):
                raise ValueError(
                    f'expected a frame with {_frame_ndim(key)} dims or a '
                    f'clip with {_frame_ndim(key) + 1} dims, got shape '
                    f'{arr.shape}')
            # rows and columns of a frame or of every frame of a clip
            spatial = (slice(y0, y0 + h), slice(x0, x0 + w))
            lead = arr.ndim - _frame_ndim(key)
            results[key] = arr[(slice(None), ) * lead + spatial]
    mat = np.array([[1., 0., -x0], [0., 1., -y0], [0., 0., 1.]])
    _apply_pixel_transform(results, mat)
    results['crop_bbox'] = bbox


def crop_rgbd(results: dict, x0: int, y0: int, w: int, h: int) -> dict:
    """Crop all image-aligned modalities to ``[y0:y0+h, x0:x0+w]``.

    The box must lie inside the image. ``intrinsics``, ``lidar2img`` and
    ``img_aug_matrix`` get the translation ``u' = u - x0``, ``v' = v - y0``;
    ``crop_bbox`` records ``(x1, y1, x2, y2)`` with inclusive ``x2, y2`` (as
    ``mmcv.imcrop``) in the pixels of the input image.

    Args:
        results (dict): The sample; modified in place and returned.
        x0 (int): Left column.
        y0 (int): Top row.
        w (int): Crop width.
        h (int): Crop height.

    Returns:
        dict: The sample.
    """
    _crop(results, x0, y0, w, h)
    _finish(results)
    return results


def nearest_resize(arr: np.ndarray, out_hw: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes (pixel-centre aligned).

    Output pixel ``j`` takes input pixel ``floor((j + 0.5) * n_in / n_out)``,
    so the sampling matches ``u' = (u + 0.5) * s - 0.5``. Works for any dtype
    (bool, int64, float) and any leading axes; values are never mixed.

    Args:
        arr (np.ndarray): Array ``(..., H, W)``.
        out_hw (tuple[int, int]): Output ``(H', W')``.

    Returns:
        np.ndarray: Array ``(..., H', W')`` of the same dtype.
    """
    in_h, in_w = arr.shape[-2:]
    out_h, out_w = out_hw
    rows = np.floor((np.arange(out_h) + 0.5) * in_h / out_h).astype(np.int64)
    cols = np.floor((np.arange(out_w) + 0.5) * in_w / out_w).astype(np.int64)
    rows = np.clip(rows, 0, in_h - 1)
    cols = np.clip(cols, 0, in_w - 1)
    # rows first (the smaller intermediate for downsizing), then columns:
    # two 1-D gathers are cheaper than one 2-D fancy index
    return arr[..., rows, :][..., cols]  # (..., H', W')


def resize_rgbd(results: dict,
                out_hw: Tuple[int, int],
                interpolation: str = 'bilinear',
                backend: str = 'cv2') -> dict:
    """Resize all image-aligned modalities to ``out_hw``.

    ``rgb`` uses ``mmcv.imresize`` with ``interpolation``; ``depth``,
    ``depth_valid`` and ``semseg`` use :func:`nearest_resize`. The pixel map is
    ``u' = (u + 0.5) * sx - 0.5`` with ``sx = W'/W``, ``sy = H'/H``;
    ``scale_factor`` records ``(sx, sy)`` as in ``mmcv.transforms.Resize``.

    Args:
        results (dict): The sample; modified in place and returned.
        out_hw (tuple[int, int]): Output ``(H', W')``.
        interpolation (str): mmcv interpolation name for ``rgb``.
        backend (str): mmcv resize backend for ``rgb``: ``'cv2'`` or
            ``'pillow'`` (PIL's filters, which smooth when downsampling, as
            the torchvision / PIL pipelines of MAE and MultiMAE).

    Returns:
        dict: The sample.
    """
    _resize(results, out_hw, interpolation, backend)
    _finish(results)
    return results


def _resize_image(frame: np.ndarray, out_wh: Tuple[int, int],
                  interpolation: str, backend: str) -> np.ndarray:
    """``mmcv.imresize`` of one (H, W, 3) frame, which may be a view.

    Pillow copies a strided (cropped) array element by element
    (``tobytes``), far slower than a contiguous copy first.
    """
    if backend == 'pillow':
        frame = np.ascontiguousarray(frame)
    return mmcv.imresize(frame, out_wh, interpolation=interpolation,
                         backend=backend)


def _resize(results: dict, out_hw: Tuple[int, int], interpolation: str,
            backend: str) -> None:
    """:func:`resize_rgbd` without the final depth / validity sync."""
    img_h, img_w = get_image_size(results)
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f'invalid output size (H, W)={(out_h, out_w)}')
    results.setdefault('ori_shape', (img_h, img_w))
    for key in IMAGE_KEYS:
        if results.get(key) is not None:
            results[key] = _map_frames(
                lambda f: _resize_image(f, (out_w, out_h), interpolation,
                                        backend),
                results[key], 3)  # (..., H', W', 3)
    for key in NEAREST_KEYS:
        if results.get(key) is not None:
            results[key] = nearest_resize(results[key], (out_h, out_w))
    sx, sy = out_w / img_w, out_h / img_h
    mat = np.array([[sx, 0., 0.5 * sx - 0.5], [0., sy, 0.5 * sy - 0.5],
                    [0., 0., 1.]])
    _apply_pixel_transform(results, mat)
    results['scale_factor'] = (sx, sy)


#: dtypes ``cv2.flip`` copies as they are (it moves whole elements, no
#: arithmetic); bool and 64-bit integers are flipped through a same-size view
_CV2_FLIP_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32,
                    np.float32, np.float64)
_CV2_FLIP_VIEWS = {np.dtype(bool): np.uint8, np.dtype(np.int64): np.float64,
                   np.dtype(np.uint64): np.float64}


def flip_frame(frame: np.ndarray, direction: str) -> np.ndarray:
    """A contiguous flipped copy of one frame, (H, W) or (H, W, C).

    Equal to ``np.ascontiguousarray(mmcv.imflip(frame, direction))``, done by
    ``cv2.flip`` where it applies (much faster than numpy's copy of a
    negatively strided array, especially for (H, W, 3) uint8).

    Args:
        frame (np.ndarray): The frame.
        direction (str): ``'horizontal'`` or ``'vertical'``.

    Returns:
        np.ndarray: The flipped frame, C-contiguous, same dtype.
    """
    view = _CV2_FLIP_VIEWS.get(frame.dtype)
    as_cv = frame if view is None else frame.view(view)
    if as_cv.dtype in _CV2_FLIP_DTYPES and (
            as_cv.ndim == 2 or (as_cv.ndim == 3 and as_cv.shape[2] <= 4)) \
            and min(as_cv.shape[:2]) > 0:
        out = cv2.flip(as_cv, 1 if direction == 'horizontal' else 0)
        if out.ndim != frame.ndim:  # cv2 drops a length-1 channel axis
            out = out.reshape(frame.shape)
        return out if view is None else out.view(frame.dtype)
    return np.ascontiguousarray(mmcv.imflip(frame, direction))


def flip_rgbd(results: dict, direction: str = 'horizontal') -> dict:
    """Flip all image-aligned modalities.

    Horizontal: ``u' = W - 1 - u`` (so ``cx' = W - 1 - cx``, fx unchanged:
    the intrinsics of the mirrored scene, see the module docstring; ``lidar2img``
    gets the exact pixel map); vertical: ``v' = H - 1 - v``. Sets ``flip`` and
    ``flip_direction``.

    Args:
        results (dict): The sample; modified in place and returned.
        direction (str): ``'horizontal'`` or ``'vertical'``.

    Returns:
        dict: The sample.
    """
    img_h, img_w = get_image_size(results)
    if direction == 'horizontal':
        mat = np.array([[-1., 0., img_w - 1.], [0., 1., 0.], [0., 0., 1.]])
    elif direction == 'vertical':
        mat = np.array([[1., 0., 0.], [0., -1., img_h - 1.], [0., 0., 1.]])
    else:
        raise ValueError(f'unsupported flip direction {direction!r}; use '
                         "'horizontal' or 'vertical'")
    results.setdefault('ori_shape', (img_h, img_w))
    for key in IMAGE_KEYS + NEAREST_KEYS:
        if results.get(key) is not None:
            results[key] = _map_frames(lambda f: flip_frame(f, direction),
                                       results[key], _frame_ndim(key))
    mirror = np.diag([-1., 1., 1.]) if direction == 'horizontal' else \
        np.diag([1., -1., 1.])
    _apply_pixel_transform(results, mat, camera_mirror=mirror)
    results['flip'] = True
    results['flip_direction'] = direction
    _finish(results)
    return results


def _as_hw(size: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f'{name} must be an int or (h, w), got {size}')
    return int(size[0]), int(size[1])


@TRANSFORMS.register_module()
class RGBDRandomResizedCrop(BaseTransform):
    """Random crop of random area and aspect ratio, resized to ``size``.

    The crop box is sampled as in torchvision / MultiMAE (up to 10 attempts
    at an area fraction in ``scale`` and a log-uniform aspect ratio in
    ``ratio``, falling back to a central crop) by reusing
    ``mmpretrain.datasets.transforms.RandomResizedCrop.rand_crop_params``;
    the crop and resize are then applied jointly to all modalities (see
    :func:`crop_rgbd`, :func:`resize_rgbd`). A clip gets one box for all
    frames.

    Required keys: at least one of ``rgb``, ``depth``, ``depth_valid``,
    ``semseg``. Modified keys: those, ``intrinsics``, ``lidar2img``. Added
    keys: ``img_shape``, ``crop_bbox``, ``scale_factor``, ``img_aug_matrix``.

    Args:
        size (int | tuple[int, int]): Output ``(h, w)``.
        scale (tuple[float, float]): Range of the crop area as a fraction of
            the image area. Defaults to ``(0.2, 1.0)`` (MultiMAE).
        ratio (tuple[float, float]): Range of the aspect ratio ``w / h``.
            Defaults to ``(3/4, 4/3)``.
        max_attempts (int): Sampling attempts before the central fallback.
        interpolation (str): mmcv interpolation of ``rgb`` (depth, validity
            and labels are always nearest). MultiMAE's configs use
            ``'bicubic'`` with ``backend='pillow'``: PIL's bicubic resize, as
            the official code.
        backend (str): ``'cv2'`` or ``'pillow'`` for ``rgb``. Defaults to
            ``'cv2'``.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 scale: Tuple[float, float] = (0.2, 1.0),
                 ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        from mmpretrain.datasets.transforms import RandomResizedCrop
        self.size = _as_hw(size, 'size')
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f'scale must satisfy 0 < min <= max <= 1, got '
                             f'{scale}')
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'ratio must satisfy 0 < min <= max, got {ratio}')
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.max_attempts = max_attempts
        self.interpolation = interpolation
        if backend not in ('cv2', 'pillow'):
            raise ValueError(f"backend must be 'cv2' or 'pillow', got "
                             f'{backend!r}')
        self.backend = backend
        # only its box sampler is used; (h, w) -> mmpretrain's (w, h) scale
        self._sampler = RandomResizedCrop(
            scale=self.size[::-1],
            crop_ratio_range=self.scale,
            aspect_ratio_range=self.ratio,
            max_attempts=max_attempts)

    @cache_randomness
    def _sample_box(self,
                    img_hw: Tuple[int, int]) -> Tuple[int, int, int, int]:
        """Sample ``(x0, y0, w, h)`` for an image of size ``img_hw``."""
        dummy = np.empty(img_hw, dtype=np.uint8)  # only the shape is read
        y0, x0, h, w = self._sampler.rand_crop_params(dummy)
        return int(x0), int(y0), int(w), int(h)

    def transform(self, results: dict) -> dict:
        """Crop a random box and resize it to ``size``.

        Args:
            results (dict): The sample.

        Returns:
            dict: The transformed sample.
        """
        x0, y0, w, h = self._sample_box(get_image_size(results))
        # crop_rgbd then resize_rgbd, with the crop kept as views and depth
        # synced with its validity once, on the output (nearest resizing
        # commutes with the sync, so the result is the same)
        _crop(results, x0, y0, w, h)
        _resize(results, self.size, self.interpolation, self.backend)
        _finish(results)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'scale={self.scale}, ratio={self.ratio}, '
                f'interpolation={self.interpolation}, '
                f'backend={self.backend})')


@TRANSFORMS.register_module()
class RGBDResize(BaseTransform):
    """Resize all modalities jointly (``rgb`` bilinear, the rest nearest).

    The output size follows ``mmcv.transforms.Resize``: ``scale`` is
    ``(w, h)`` (an int means a square); with ``keep_ratio=True`` the image is
    rescaled as large as possible inside ``scale`` (long/short edge bounds of
    ``mmcv.rescale_size``). Alternatively ``scale_factor`` (float or
    ``(w_factor, h_factor)``) multiplies the current size.

    Required keys: at least one image-aligned modality. Modified keys: those,
    ``intrinsics``, ``lidar2img``. Added keys: ``img_shape``, ``scale_factor``
    (``(sx, sy)``, output over input size), ``img_aug_matrix``.

    Args:
        scale (int | tuple[int, int], optional): Target ``(w, h)``.
        scale_factor (float | tuple[float, float], optional): Scale factor.
            Exactly one of ``scale`` and ``scale_factor`` must be set.
        keep_ratio (bool): Keep the aspect ratio. Defaults to False.
        interpolation (str): mmcv interpolation of ``rgb``.
    """

    def __init__(self,
                 scale: Optional[Union[int, Sequence[int]]] = None,
                 scale_factor: Optional[Union[float, Sequence[float]]] = None,
                 keep_ratio: bool = False,
                 interpolation: str = 'bilinear') -> None:
        if (scale is None) == (scale_factor is None):
            raise ValueError('set exactly one of `scale` and `scale_factor`')
        if isinstance(scale, int):
            scale = (scale, scale)
        self.scale = None if scale is None else tuple(scale)
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def _output_hw(self, img_hw: Tuple[int, int]) -> Tuple[int, int]:
        h, w = img_hw
        if self.scale is not None:
            if self.keep_ratio:
                new_w, new_h = mmcv.rescale_size((w, h), self.scale)
            else:
                new_w, new_h = self.scale
        elif isinstance(self.scale_factor, (int, float)):
            new_w, new_h = mmcv.rescale_size((w, h), float(self.scale_factor))
        else:
            fw, fh = self.scale_factor
            if self.keep_ratio and fw != fh:
                raise ValueError('keep_ratio=True needs one scale factor, got '
                                 f'{self.scale_factor}')
            new_w, new_h = int(w * fw + 0.5), int(h * fh + 0.5)
        return int(new_h), int(new_w)

    def transform(self, results: dict) -> dict:
        """Resize the sample.

        Args:
            results (dict): The sample.

        Returns:
            dict: The transformed sample.
        """
        out_hw = self._output_hw(get_image_size(results))
        return resize_rgbd(results, out_hw, self.interpolation)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'scale_factor={self.scale_factor}, '
                f'keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation})')


@TRANSFORMS.register_module()
class RGBDRandomFlip(BaseTransform):
    """Flip all modalities jointly with probability ``prob``.

    ``cx' = W - 1 - cx`` with fx kept positive (horizontal), see the module
    docstring; ``lidar2img`` and ``img_aug_matrix`` get the same map. Sets
    ``flip`` (bool) and ``flip_direction`` (``None`` when not flipped).

    Args:
        prob (float): Flip probability. Defaults to 0.5.
        direction (str): ``'horizontal'`` (default) or ``'vertical'``.
    """

    def __init__(self, prob: float = 0.5,
                 direction: str = 'horizontal') -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f'unsupported flip direction {direction!r}')
        self.prob = prob
        self.direction = direction

    @cache_randomness
    def _do_flip(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        """Flip the sample or only record that it was not flipped.

        Args:
            results (dict): The sample.

        Returns:
            dict: The transformed sample.
        """
        if self._do_flip():
            return flip_rgbd(results, self.direction)
        results['flip'] = False
        results['flip_direction'] = None
        results['img_shape'] = get_image_size(results)
        results.setdefault('img_aug_matrix', np.eye(3))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


@TRANSFORMS.register_module()
class RGBDRandomCrop(BaseTransform):
    """Crop a box of ``crop_size`` at a uniformly random position.

    A crop larger than the image is clipped to the image size (no padding).

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)`` of the crop.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]]) -> None:
        self.crop_size = _as_hw(crop_size, 'crop_size')
        if min(self.crop_size) <= 0:
            raise ValueError(f'crop_size must be positive, got {crop_size}')

    @cache_randomness
    def _sample_offset(self, img_hw: Tuple[int, int]) -> Tuple[int, int]:
        h, w = img_hw
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        y0 = np.random.randint(0, h - ch + 1)
        x0 = np.random.randint(0, w - cw + 1)
        return int(x0), int(y0)

    def transform(self, results: dict) -> dict:
        """Crop the sample at a random position.

        Args:
            results (dict): The sample.

        Returns:
            dict: The transformed sample.
        """
        h, w = get_image_size(results)
        x0, y0 = self._sample_offset((h, w))
        return crop_rgbd(results, x0, y0, min(self.crop_size[1], w),
                         min(self.crop_size[0], h))

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class RGBDCenterCrop(BaseTransform):
    """Crop the central box of ``crop_size`` (top-left at ``(H - h) // 2``).

    A crop larger than the image is clipped to the image size (no padding).

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)`` of the crop.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]]) -> None:
        self.crop_size = _as_hw(crop_size, 'crop_size')
        if min(self.crop_size) <= 0:
            raise ValueError(f'crop_size must be positive, got {crop_size}')

    def transform(self, results: dict) -> dict:
        """Crop the centre of the sample.

        Args:
            results (dict): The sample.

        Returns:
            dict: The transformed sample.
        """
        h, w = get_image_size(results)
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        return crop_rgbd(results, (w - cw) // 2, (h - ch) // 2, cw, ch)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class RGBDRandomResize(BaseTransform):
    """Resize all modalities jointly to a random scale from a range.

    mmcv's ``RandomResize`` (and mmdet 2.x's ``Resize(multiscale_mode=
    'range')``) for RGB-D samples: given two scales ``(w1, h1)`` and
    ``(w2, h2)``, the long edge of the target is drawn uniformly from the
    integers between the two long edges and the short edge likewise; the
    sample is then resized by :class:`RGBDResize` to that target, so with
    ``keep_ratio=True`` it becomes as large as possible inside it
    (``mmcv.rescale_size``). ``lidar2img``, ``intrinsics`` and
    ``img_aug_matrix`` are updated as in :func:`resize_rgbd`.

    Required keys: at least one image-aligned modality. Modified keys: those,
    ``intrinsics``, ``lidar2img``. Added keys: ``img_shape``,
    ``scale_factor``, ``img_aug_matrix``, ``scale`` (the drawn ``(w, h)``
    target, long edge first as in mmcv).

    Args:
        scales (Sequence[tuple[int, int]]): The two ``(w, h)`` bounds, e.g.
            SimIPU's KITTI ``[(640, 192), (2400, 720)]``.
        keep_ratio (bool): Keep the aspect ratio. Defaults to True.
        interpolation (str): mmcv interpolation of ``rgb``.
    """

    def __init__(self,
                 scales: Sequence[Sequence[int]],
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear') -> None:
        scales = [tuple(int(v) for v in s) for s in scales]
        if len(scales) != 2 or any(len(s) != 2 or min(s) <= 0
                                   for s in scales):
            raise ValueError('scales must be two positive (w, h) sizes, got '
                             f'{scales}')
        self.scales = scales
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    @cache_randomness
    def _sample_scale(self) -> Tuple[int, int]:
        """Draw ``(long edge, short edge)`` of the target."""
        longs = [max(s) for s in self.scales]
        shorts = [min(s) for s in self.scales]
        long_edge = np.random.randint(min(longs), max(longs) + 1)
        short_edge = np.random.randint(min(shorts), max(shorts) + 1)
        return int(long_edge), int(short_edge)

    def transform(self, results: dict) -> dict:
        """Resize the sample to a random scale.

        Args:
            results (dict): The sample.

        Returns:
            dict: The transformed sample.
        """
        scale = self._sample_scale()
        results['scale'] = scale
        return RGBDResize(
            scale=scale,
            keep_ratio=self.keep_ratio,
            interpolation=self.interpolation).transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scales={self.scales}, '
                f'keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation})')
