"""Reading RGB images and decoding depth maps to metres.

Depth is converted to metres **once, at load**, here. Every dataset names its
encoding explicitly (``depth_unit=`` in the config); nothing is guessed from
the file. An encoding maps the raw array stored in a file to
``(depth, valid)``: ``depth`` float32 metres with 0 at invalid pixels, and
``valid`` a bool mask that is True where the pixel is a real measurement.

Known encodings (:data:`DEPTH_ENCODINGS`), raw value ``v``:

- ``'mm'``: uint16 millimetres (NYUv2, ScanNet, 7-Scenes); metres = v / 1000;
  0 and 65535 invalid.
- ``'tum'``: uint16 (TUM RGB-D); metres = v / 5000; 0 invalid.
- ``'sunrgbd'``: uint16 bit-rotated (SUN RGB-D); mm = 16-bit rotate right by 3
  of v; metres = mm / 1000; 0 invalid.
- ``'kinect_disparity'``: uint16 raw 11-bit Kinect disparity (NYUv2 raw);
  metres = 351.3 / (1092.5 - v); 2047 and non-positive denominators invalid.
- ``'0.1mm'``: uint16 in 0.1 mm (ESANet); metres = v / 10000; 0 and 65535
  (saturated) invalid.
- ``'m'``: float metres (``.npy``, float TIFF / PFM); <= 0 invalid; NaN / inf
  is an error unless ``nonfinite='invalid'``.

Bad files raise :class:`~mmrgbd.datasets.errors.BadSampleError` whose message
starts with the path; a bad *encoding name* is a configuration error and
raises a plain ``ValueError`` listing the known names.
"""
import io
import re
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import cv2
import numpy as np
from mmengine import fileio

from .errors import BadSampleError

__all__ = [
    'DEPTH_DECODERS', 'DEPTH_ENCODINGS', 'check_encoding', 'decode_depth',
    'read_depth', 'read_rgb', 'read_label', 'read_bytes'
]

DepthPair = Tuple[np.ndarray, np.ndarray]


class _RawProblem(ValueError):
    """Raised by a decoder on bad content; ``decode_depth`` adds the path."""


def _uint16_scaled(raw: np.ndarray, scale: float,
                   invalid_values: Tuple[int, ...]) -> DepthPair:
    """Metres = raw / scale, with ``invalid_values`` marked invalid."""
    valid = raw != invalid_values[0]
    for value in invalid_values[1:]:
        valid &= raw != value
    depth = raw.astype(np.float32)
    depth /= np.float32(scale)  # float32 division, in place
    # 0 / scale is already 0; only other invalid values need zeroing
    if any(value != 0 for value in invalid_values):
        np.copyto(depth, 0, where=~valid)
    return depth, valid


def decode_mm(raw: np.ndarray) -> DepthPair:
    """uint16 millimetres (NYUv2, ScanNet, 7-Scenes).

    Rule: ``metres = v / 1000``; ``v == 0`` (no return) and ``v == 65535``
    (7-Scenes' marker for invalid) are invalid.
    """
    return _uint16_scaled(raw, 1000.0, (0, 65535))


def decode_tum(raw: np.ndarray) -> DepthPair:
    """TUM RGB-D uint16 depth.

    Rule: ``metres = v / 5000``; ``v == 0`` is invalid.
    """
    return _uint16_scaled(raw, 5000.0, (0, ))


def decode_sunrgbd(raw: np.ndarray) -> DepthPair:
    """SUN RGB-D bit-rotated uint16 depth PNG.

    Rule: the stored 16-bit word is the millimetre value rotated left by 3
    bits, so ``mm = ((v >> 3) | (v << 13)) & 0xFFFF`` (a 16-bit rotate right
    by 3); ``metres = mm / 1000``; ``mm == 0`` is invalid. Unlike the SUN RGB-D
    toolbox (which clips at 8 m) nothing is clipped: use ``max_depth`` of
    :func:`decode_depth` to mark far values invalid explicitly.
    """
    word = raw.astype(np.uint32)
    mm = ((word >> 3) | (word << 13)) & 0xFFFF
    valid = mm != 0
    depth = mm.astype(np.float32) / np.float32(1000.0)
    return depth, valid


#: Constants of the NYU toolbox's raw Kinect disparity -> metres conversion.
KINECT_DISPARITY_NUM = 351.3
KINECT_DISPARITY_OFFSET = 1092.5
KINECT_DISPARITY_INVALID = 2047


def decode_kinect_disparity(raw: np.ndarray) -> DepthPair:
    """Raw 11-bit Kinect v1 disparity (NYUv2 raw ``.pgm`` frames).

    Rule: ``metres = 351.3 / (1092.5 - d)``; ``d == 2047`` (no return) and
    ``d >= 1092.5`` (non-positive denominator) are invalid. Values above 2047
    cannot come from the 11-bit sensor and raise (usually the 16-bit words
    were read with the wrong byte order: NYU's ``.pgm`` files say 16-bit
    big-endian in their header but store little-endian words;
    :func:`read_depth` handles that).
    """
    if raw.size and int(raw.max()) > KINECT_DISPARITY_INVALID:
        raise _RawProblem(
            f'Kinect disparity exceeds {KINECT_DISPARITY_INVALID} '
            f'(max {int(raw.max())}): not 11-bit disparity, or wrong byte '
            'order')
    denom = KINECT_DISPARITY_OFFSET - raw.astype(np.float64)
    valid = (raw != KINECT_DISPARITY_INVALID) & (denom > 0)
    depth = np.zeros(raw.shape, dtype=np.float32)
    depth[valid] = KINECT_DISPARITY_NUM / denom[valid]
    return depth, valid


def decode_tenth_mm(raw: np.ndarray) -> DepthPair:
    """uint16 depth in 0.1 mm (ESANet's Kinect v2 frames).

    Rule: ``metres = v / 10000``; ``v == 0`` is invalid and ``v == 65535``
    (saturated) is invalid.
    """
    return _uint16_scaled(raw, 10000.0, (0, 65535))


def decode_metres(raw: np.ndarray) -> DepthPair:
    """Floating-point depth already in metres (``.npy``, float TIFF / PFM).

    Rule: ``metres = v``; ``v <= 0`` and non-finite values are invalid. NaN /
    inf only reach this function when :func:`decode_depth` was called with
    ``nonfinite='invalid'``; by default they raise there.
    """
    depth = raw.astype(np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    depth[~valid] = 0
    return depth, valid


#: Encoding name -> decoder ``raw ndarray -> (depth_m float32, valid bool)``.
DEPTH_DECODERS: Dict[str, Callable[[np.ndarray], DepthPair]] = {
    'mm': decode_mm,
    'tum': decode_tum,
    'sunrgbd': decode_sunrgbd,
    'kinect_disparity': decode_kinect_disparity,
    '0.1mm': decode_tenth_mm,
    'm': decode_metres,
}

#: Names of the known depth encodings (valid values of ``depth_unit``).
DEPTH_ENCODINGS: Tuple[str, ...] = tuple(DEPTH_DECODERS)

# Raw dtype each encoding accepts: 'uint16' or 'float'.
_RAW_KIND = {name: 'uint16' for name in DEPTH_ENCODINGS}
_RAW_KIND['m'] = 'float'


def check_encoding(encoding: Optional[str]) -> str:
    """Return ``encoding`` if it is known, else raise ``ValueError``.

    Args:
        encoding (str | None): A depth encoding name.

    Raises:
        ValueError: ``encoding`` is None or not in :data:`DEPTH_ENCODINGS`;
            the message lists the known names.
    """
    if encoding not in DEPTH_DECODERS:
        what = 'missing (None)' if encoding is None else repr(encoding)
        raise ValueError(
            f'depth encoding is {what}; depth units are never guessed, '
            f'set depth_unit to one of {list(DEPTH_ENCODINGS)}')
    return encoding


def decode_depth(raw: np.ndarray,
                 encoding: str,
                 path: str = '<array>',
                 nonfinite: str = 'error',
                 max_depth: Optional[float] = None) -> DepthPair:
    """Decode a raw depth array to metres.

    Args:
        raw (np.ndarray): The array as stored in the file, (H, W) or with
            leading axes (e.g. (T, H, W)).
        encoding (str): One of :data:`DEPTH_ENCODINGS`.
        path (str): The source file, used in error messages.
        nonfinite (str): For float input, ``'error'`` (default) raises on NaN
            or inf, ``'invalid'`` marks them invalid.
        max_depth (float, optional): If given, depths above it (metres) are
            marked invalid (an explicit, documented cut; nothing is clipped
            otherwise).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``depth`` float32 metres (0 where
        invalid) and ``valid`` bool, both shaped like ``raw``.

    Raises:
        ValueError: Unknown / missing encoding or bad ``nonfinite``.
        BadSampleError: ``raw`` does not fit the encoding (dtype, shape,
            values, NaN / inf).
    """
    check_encoding(encoding)
    if nonfinite not in ('error', 'invalid'):
        raise ValueError(
            f"nonfinite must be 'error' or 'invalid', got {nonfinite!r}")
    raw = np.asarray(raw)
    if raw.ndim < 2:
        raise BadSampleError(
            path, f'depth must be at least 2-D (H, W), got shape {raw.shape}')
    kind = _RAW_KIND[encoding]
    if kind == 'uint16' and raw.dtype != np.uint16:
        raise BadSampleError(
            path, f"depth encoding '{encoding}' expects uint16 data, got "
            f'{raw.dtype}')
    if kind == 'float':
        if not np.issubdtype(raw.dtype, np.floating):
            raise BadSampleError(
                path, f"depth encoding '{encoding}' expects float data, got "
                f'{raw.dtype}')
        if nonfinite == 'error' and not np.isfinite(raw).all():
            n_nan = int(np.isnan(raw).sum())
            n_inf = int(np.isinf(raw).sum())
            raise BadSampleError(
                path, f'depth contains non-finite values ({n_nan} NaN, '
                f"{n_inf} inf); pass nonfinite='invalid' to mask them")
    try:
        depth, valid = DEPTH_DECODERS[encoding](raw)
    except _RawProblem as exc:
        raise BadSampleError(path, str(exc)) from None
    if max_depth is not None:
        valid &= depth <= max_depth
        depth[~valid] = 0
    return depth, valid


def read_bytes(path: Union[str, Path],
               backend_args: Optional[dict] = None) -> bytes:
    """Read a whole file through :func:`mmengine.fileio.get`.

    PNG and JPEG files are checked for their end marker, so a truncated file
    is reported as such instead of half-decoded.

    Args:
        path (str | Path): The file.
        backend_args (dict, optional): MMEngine file backend arguments.

    Raises:
        BadSampleError: The file does not exist, cannot be read, is empty or
            is a truncated PNG / JPEG.
    """
    path = str(path)
    try:
        content = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise BadSampleError(path, 'file does not exist') from None
    except OSError as exc:
        raise BadSampleError(path, f'cannot be read ({exc})') from None
    if len(content) == 0:
        raise BadSampleError(path, 'file is empty')
    # The end marker must be near the end (some writers pad the file; inside
    # compressed data the JPEG marker cannot occur, the PNG one hardly).
    tail = content[-1024:]
    if content[:8] == b'\x89PNG\r\n\x1a\n' and b'IEND' not in tail:
        raise BadSampleError(path, 'truncated PNG (no IEND chunk)')
    if content[:2] == b'\xff\xd8' and b'\xff\xd9' not in tail:
        raise BadSampleError(path, 'truncated JPEG (no end-of-image marker)')
    return content


def _imdecode_unchanged(content: bytes, path: str) -> np.ndarray:
    """Decode image bytes with cv2, keeping depth and channels.

    OpenCV's own errors (e.g. a disabled or missing codec such as OpenEXR)
    become a :class:`BadSampleError` naming the file, never a bare
    ``cv2.error``. ``import mmrgbd`` enables OpenCV's EXR codec
    (``OPENCV_IO_ENABLE_OPENEXR=1`` unless set otherwise).
    """
    try:
        img = cv2.imdecode(
            np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if 'error:' in ln),
                      lines[0] if lines else 'cv2.error')
        hint = ''
        if path.lower().endswith('.exr'):
            hint = ('; OpenEXR decoding needs OPENCV_IO_ENABLE_OPENEXR=1 set '
                    'before cv2 is first imported (import mmrgbd sets it) '
                    'and an OpenCV build with OpenEXR')
        raise BadSampleError(
            path, f'cannot be decoded by OpenCV ({detail}){hint}') from None
    if img is None:
        raise BadSampleError(
            path, 'cannot be decoded as an image (corrupt or unsupported)')
    return img


_PNM_HEADER = re.compile(rb'\A(P5)\s+(?:#[^\n]*\n\s*)*(\d+)\s+'
                         rb'(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*'
                         rb'(\d+)\s')


def _read_pgm_little_endian(content: bytes, path: str) -> np.ndarray:
    """Parse a binary PGM (P5) whose 16-bit words are little-endian.

    The PGM standard stores words above 8 bits big-endian; the NYUv2 raw
    Kinect dumps write little-endian words under the same header, so a
    standard reader returns byte-swapped values.
    """
    match = _PNM_HEADER.match(content)
    if match is None:
        raise BadSampleError(path, 'not a binary PGM (P5) file')
    width, height, maxval = (int(g) for g in match.groups()[1:])
    dtype = np.dtype('<u2') if maxval > 255 else np.dtype('u1')
    expected = width * height * dtype.itemsize
    payload = content[match.end():]
    if len(payload) < expected:
        raise BadSampleError(
            path, f'truncated PGM: {len(payload)} of {expected} data bytes')
    data = np.frombuffer(payload[:expected], dtype=dtype)
    native = np.uint16 if maxval > 255 else np.uint8
    return data.reshape(height, width).astype(native)  # (H, W)


def _read_raw_depth(path: str, encoding: str,
                    backend_args: Optional[dict]) -> np.ndarray:
    """Read the raw depth array of ``path`` as stored."""
    content = read_bytes(path, backend_args)
    suffix = Path(path).suffix.lower()
    if suffix == '.npy':
        try:
            return np.load(io.BytesIO(content), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise BadSampleError(path,
                                 f'cannot be read as .npy ({exc})') from None
    if encoding == 'kinect_disparity' and content[:2] == b'P5':
        return _read_pgm_little_endian(content, path)
    return _imdecode_unchanged(content, path)


def read_depth(path: Union[str, Path],
               encoding: str,
               nonfinite: str = 'error',
               max_depth: Optional[float] = None,
               backend_args: Optional[dict] = None) -> DepthPair:
    """Read a depth file and decode it to metres.

    ``.npy`` files are loaded with numpy (no pickles); binary PGM files under
    ``'kinect_disparity'`` are parsed with little-endian words (the NYU raw
    quirk); everything else (PNG, TIFF, PFM, ...) is decoded by OpenCV
    unchanged.

    Args:
        path (str | Path): The depth file.
        encoding (str): One of :data:`DEPTH_ENCODINGS`.
        nonfinite (str): See :func:`decode_depth`.
        max_depth (float, optional): See :func:`decode_depth`.
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``depth`` float32 (H, W) metres and
        ``valid`` bool (H, W).

    Raises:
        ValueError: Unknown / missing encoding.
        BadSampleError: Missing, corrupt or truncated file, a multi-channel
            image, or content that does not fit the encoding.
    """
    check_encoding(encoding)
    path = str(path)
    raw = _read_raw_depth(path, encoding, backend_args)
    if raw.ndim != 2:
        raise BadSampleError(
            path, f'depth must be a single-channel (H, W) map, got shape '
            f'{raw.shape}')
    return decode_depth(
        raw, encoding, path=path, nonfinite=nonfinite, max_depth=max_depth)


def read_rgb(path: Union[str, Path],
             backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a colour image as uint8 (H, W, 3) in RGB order.

    The file is decoded unchanged by OpenCV (EXIF orientation is *not*
    applied, so the image stays registered with its depth map). Grey images
    are repeated to 3 channels and an alpha channel is dropped; anything that
    is not 8-bit (e.g. a 16-bit depth PNG passed as RGB) raises.

    Args:
        path (str | Path): The image file.
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        np.ndarray: uint8 (H, W, 3), RGB.

    Raises:
        BadSampleError: Missing, corrupt or truncated file, or not an 8-bit
            grey / colour image.
    """
    path = str(path)
    img = _imdecode_unchanged(read_bytes(path, backend_args), path)
    if img.dtype != np.uint8:
        raise BadSampleError(
            path, f'RGB image must be 8-bit, got {img.dtype} (a depth or '
            'label map given as RGB?)')
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)  # (H, W, 3)
    if img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)  # (H, W, 3)
    raise BadSampleError(
        path, f'RGB image must have 1, 3 or 4 channels, got {img.shape}')


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _is_plain_grey_png(content: bytes) -> bool:
    """True for an 8- or 16-bit greyscale PNG without a ``tRNS`` chunk.

    Such a file decodes to the same array with OpenCV (``IMREAD_UNCHANGED``)
    as with Pillow (``np.array(Image.open(...))``: mode ``L`` -> uint8,
    ``I;16`` -> uint16), so :func:`read_label` may use OpenCV's faster
    decoder. Palette, colour, alpha, 1/2/4-bit and transparent PNGs are left
    to Pillow.
    """
    # signature, IHDR: length 13, 'IHDR', width, height, bit depth, colour
    if len(content) < 33 or content[:8] != _PNG_SIGNATURE or \
            content[12:16] != b'IHDR':
        return False
    bit_depth, colour_type = content[24], content[25]
    if colour_type != 0 or bit_depth not in (8, 16):
        return False
    pos = 8
    while pos + 8 <= len(content):  # walk the chunks up to the image data
        length = int.from_bytes(content[pos:pos + 4], 'big')
        kind = content[pos + 4:pos + 8]
        if kind == b'IDAT':
            return True
        if kind == b'tRNS':
            return False
        pos += 12 + length
    return False


def read_label(path: Union[str, Path],
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-channel integer label map (semantic ids) as stored.

    Decoded with Pillow as in MMSegmentation's ``LoadAnnotations`` (palette
    PNGs give their indices, not colours). Plain 8- / 16-bit greyscale PNGs,
    for which OpenCV gives the identical array, are decoded with OpenCV
    (faster).

    Args:
        path (str | Path): The label file.
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        np.ndarray: Integer (H, W) array with the stored ids.

    Raises:
        BadSampleError: Missing, corrupt or truncated file, a colour image, or
            a non-integer map.
    """
    import mmcv
    path = str(path)
    content = read_bytes(path, backend_args)
    if _is_plain_grey_png(content):
        try:
            label = cv2.imdecode(np.frombuffer(content, np.uint8),
                                 cv2.IMREAD_UNCHANGED)
        except cv2.error:
            label = None  # Pillow below names the problem
        if label is not None and label.ndim == 2:
            return label
    try:
        label = mmcv.imfrombytes(content, flag='unchanged', backend='pillow')
    except Exception as exc:  # Pillow raises many types on corrupt data
        raise BadSampleError(
            path, f'cannot be decoded as a label map ({exc})') from None
    if label is None:
        raise BadSampleError(path, 'cannot be decoded as a label map')
    label = np.asarray(label)
    if label.ndim != 2:
        raise BadSampleError(
            path, f'label map must be single-channel (H, W), got shape '
            f'{label.shape} (a colour-coded label image?)')
    if not np.issubdtype(label.dtype, np.integer):
        raise BadSampleError(
            path, f'label map must hold integer ids, got {label.dtype}')
    return label
