"""Export ScanNet ``.sens`` recordings to colour / depth / pose frame files.

Written from the documented ``.sens`` binary layout (ScanNet ``SensorData``,
little-endian)::

    uint32  version                      (4)
    uint64  n, char[n] sensor_name
    float32[16] intrinsic_color, extrinsic_color,
                intrinsic_depth, extrinsic_depth     (row-major 4x4 each)
    int32   color_compression_type       (-1 unknown, 0 raw, 1 png, 2 jpeg)
    int32   depth_compression_type       (-1 unknown, 0 raw_ushort,
                                          1 zlib_ushort, 2 occi_ushort)
    uint32  color_width, color_height, depth_width, depth_height
    float32 depth_shift                  (1000: depth values are millimetres)
    uint64  num_frames
    num_frames x {
        float32[16] camera_to_world
        uint64 timestamp_color, timestamp_depth
        uint64 color_size_bytes, depth_size_bytes
        bytes  color_data[color_size_bytes], depth_data[depth_size_bytes]
    }
    (IMU frames may follow; they are not read)

Output (the layout :class:`mmrgbd.datasets.ScanNetFrames` reads)::

    out_dir/<scene>/color/<i>.jpg          JPEG bytes copied as stored
    out_dir/<scene>/depth/<i>.png          uint16 (depth_shift units, i.e. mm)
    out_dir/<scene>/pose/<i>.txt           4x4 camera-to-world
    out_dir/<scene>/intrinsic/{intrinsic,extrinsic}_{color,depth}.txt

``<i>`` is the frame index in the recording; with ``--frame-skip k`` only
frames ``0, k, 2k, ...`` are written (as the official reader does).
:class:`~mmrgbd.datasets.ScanNetFrames` selects frames by this index
(``i % frame_skip == 0``), so its ``frame_skip=25`` (Mask3D: "every 25th
frame") gives the same frames from a full export and from an export with
``--frame-skip 25`` (or any divisor of 25); the latter needs 25x less disk.

Example (Mask3D pre-training: every 25th frame of the 1513 ScanNet v2
train + val scans, read by ``configs/pretrain/mask3d_vit-b_scannet.py`` with
``frame_skip=25``)::

    cat data/scannet/scannetv2_train.txt data/scannet/scannetv2_val.txt \\
        > data/scannet/scannetv2_trainval.txt
    python tools/dataset_converters/scannet_sens_to_frames.py \\
        data/scannet/scans data/scannet/frames --frame-skip 25 \\
        --scene-list data/scannet/scannetv2_trainval.txt
"""
import argparse
import os
import os.path as osp
import struct
import sys
import zlib
from typing import BinaryIO, Dict, Iterator, Optional, Tuple

import cv2
import numpy as np

COLOR_COMPRESSION = {-1: 'unknown', 0: 'raw', 1: 'png', 2: 'jpeg'}
DEPTH_COMPRESSION = {-1: 'unknown', 0: 'raw_ushort', 1: 'zlib_ushort',
                     2: 'occi_ushort'}


class SensFormatError(ValueError):
    """A ``.sens`` file does not follow the format; the message names it."""

    def __init__(self, path: str, problem: str):
        super().__init__(f'{path}: {problem}')


def _read(f: BinaryIO, fmt: str, path: str):
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise SensFormatError(path, f'truncated file at byte {f.tell()}')
    return struct.unpack(fmt, data)


def read_sens_header(f: BinaryIO, path: str = '<sens>') -> Dict:
    """Read the header of a ``.sens`` stream positioned at its start.

    Args:
        f (BinaryIO): The open file.
        path (str): Its name, for error messages.

    Returns:
        dict: ``version``, ``sensor_name``, ``intrinsic_color``,
        ``extrinsic_color``, ``intrinsic_depth``, ``extrinsic_depth`` (float64
        (4, 4)), ``color_compression``, ``depth_compression`` (names),
        ``color_size`` / ``depth_size`` ((W, H)), ``depth_shift``,
        ``num_frames``.
    """
    (version, ) = _read(f, '<I', path)
    if version != 4:
        raise SensFormatError(path, f'unsupported .sens version {version} '
                              '(expected 4)')
    (n, ) = _read(f, '<Q', path)
    if n > 4096:
        raise SensFormatError(path, f'implausible sensor name length {n}')
    name = f.read(n).decode('utf-8', 'replace')
    header = dict(version=version, sensor_name=name)
    for key in ('intrinsic_color', 'extrinsic_color', 'intrinsic_depth',
                'extrinsic_depth'):
        header[key] = np.array(_read(f, '<16f', path),
                               dtype=np.float64).reshape(4, 4)
    c_type, d_type = _read(f, '<ii', path)
    if c_type not in COLOR_COMPRESSION or d_type not in DEPTH_COMPRESSION:
        raise SensFormatError(
            path, f'unknown compression types color={c_type} depth={d_type}')
    header['color_compression'] = COLOR_COMPRESSION[c_type]
    header['depth_compression'] = DEPTH_COMPRESSION[d_type]
    cw, ch, dw, dh = _read(f, '<4I', path)
    header['color_size'] = (cw, ch)
    header['depth_size'] = (dw, dh)
    (header['depth_shift'], ) = _read(f, '<f', path)
    (header['num_frames'], ) = _read(f, '<Q', path)
    return header


def iter_sens_frames(f: BinaryIO, header: Dict,
                     path: str = '<sens>') -> Iterator[Tuple[int, Dict]]:
    """Yield ``(index, frame)`` for every frame after the header.

    ``frame`` holds ``camera_to_world`` float64 (4, 4), ``timestamp_color``,
    ``timestamp_depth``, ``color_bytes`` and ``depth_bytes`` (still
    compressed).
    """
    for i in range(header['num_frames']):
        pose = np.array(_read(f, '<16f', path), dtype=np.float64).reshape(4, 4)
        t_c, t_d, n_c, n_d = _read(f, '<4Q', path)
        color = f.read(n_c)
        depth = f.read(n_d)
        if len(color) != n_c or len(depth) != n_d:
            raise SensFormatError(path, f'frame {i} is truncated')
        yield i, dict(camera_to_world=pose, timestamp_color=t_c,
                      timestamp_depth=t_d, color_bytes=color,
                      depth_bytes=depth)


def decode_depth_bytes(data: bytes, header: Dict,
                       path: str = '<sens>') -> np.ndarray:
    """Decompress one depth frame to uint16 (H, W) in ``depth_shift`` units."""
    comp = header['depth_compression']
    if comp == 'zlib_ushort':
        data = zlib.decompress(data)
    elif comp != 'raw_ushort':
        raise SensFormatError(path, f'depth compression {comp!r} is not '
                              'supported (only zlib_ushort and raw_ushort)')
    w, h = header['depth_size']
    if len(data) != 2 * w * h:
        raise SensFormatError(
            path, f'depth frame has {len(data)} bytes, expected {2 * w * h}')
    return np.frombuffer(data, dtype='<u2').reshape(h, w).astype(np.uint16)


def _color_jpeg_bytes(data: bytes, header: Dict, path: str) -> bytes:
    comp = header['color_compression']
    if comp == 'jpeg':
        return data
    if comp == 'png':
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    elif comp == 'raw':
        w, h = header['color_size']
        img = np.frombuffer(data, np.uint8).reshape(h, w, 3)[..., ::-1]
    else:
        raise SensFormatError(path, f'colour compression {comp!r} unknown')
    ok, buf = cv2.imencode('.jpg', img)
    if not ok:
        raise SensFormatError(path, 'cannot re-encode a colour frame')
    return buf.tobytes()


def _write_matrix(path: str, mat: np.ndarray) -> None:
    np.savetxt(path, mat, fmt='%.9g')


def export_sens(sens_path: str,
                out_dir: str,
                frame_skip: int = 1,
                max_frames: Optional[int] = None) -> int:
    """Export one ``.sens`` file.

    Args:
        sens_path (str): The recording.
        out_dir (str): The scene's output folder (``.../scene0000_00``).
        frame_skip (int): Write frames ``0, k, 2k, ...``.
        max_frames (int, optional): Stop after writing this many frames.

    Returns:
        int: Number of frames written.
    """
    if frame_skip < 1:
        raise ValueError(f'frame_skip must be >= 1, got {frame_skip}')
    for sub in ('color', 'depth', 'pose', 'intrinsic'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    written = 0
    with open(sens_path, 'rb') as f:
        header = read_sens_header(f, sens_path)
        for key in ('intrinsic_color', 'extrinsic_color', 'intrinsic_depth',
                    'extrinsic_depth'):
            _write_matrix(osp.join(out_dir, 'intrinsic', f'{key}.txt'),
                          header[key])
        for i, frame in iter_sens_frames(f, header, sens_path):
            if i % frame_skip:
                continue
            depth = decode_depth_bytes(frame['depth_bytes'], header, sens_path)
            cv2.imwrite(osp.join(out_dir, 'depth', f'{i}.png'), depth)
            with open(osp.join(out_dir, 'color', f'{i}.jpg'), 'wb') as out:
                out.write(
                    _color_jpeg_bytes(frame['color_bytes'], header,
                                      sens_path))
            _write_matrix(osp.join(out_dir, 'pose', f'{i}.txt'),
                          frame['camera_to_world'])
            written += 1
            if max_frames is not None and written >= max_frames:
                break
    return written


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'src', help='a .sens file, or the ScanNet scans/ folder '
        '(scans/<scene>/<scene>.sens)')
    parser.add_argument('out_dir', help='output root (one folder per scene)')
    parser.add_argument(
        '--frame-skip', type=int, default=1,
        help='write frames 0, k, 2k, ... (ScanNetFrames selects by frame '
        'index, so 25 or any divisor of its frame_skip loses nothing)')
    parser.add_argument('--max-frames', type=int, default=None)
    parser.add_argument('--scene-list', default=None,
                        help='only export the scenes in this text file')
    return parser.parse_args(argv)


def main(argv=None):
    """Convert every requested recording."""
    args = parse_args(argv)
    if osp.isfile(args.src):
        jobs = [(args.src, osp.splitext(osp.basename(args.src))[0])]
    else:
        scenes = sorted(os.listdir(args.src))
        if args.scene_list:
            with open(args.scene_list) as f:
                wanted = {s.strip() for s in f if s.strip()}
            scenes = [s for s in scenes if s in wanted]
        jobs = [(osp.join(args.src, s, f'{s}.sens'), s) for s in scenes
                if osp.isfile(osp.join(args.src, s, f'{s}.sens'))]
    for sens, scene in jobs:
        n = export_sens(sens, osp.join(args.out_dir, scene), args.frame_skip,
                        args.max_frames)
        print(f'{scene}: wrote {n} frames', file=sys.stderr)


if __name__ == '__main__':
    main()
