"""Depth decoders and readers: formulas, byte order and real sample files."""
import cv2
import numpy as np
import pytest

from mmrgbd.datasets.depth_io import (DEPTH_DECODERS, DEPTH_ENCODINGS,
                                      decode_depth, read_depth, read_rgb)
from mmrgbd.datasets.errors import BadSampleError


def _raw(path):
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw is not None, path
    return raw


def _pixels(raw, invalid=(0, )):
    """A few fixed pixels plus the first valid and first invalid ones."""
    h, w = raw.shape
    picks = [(0, 0), (h // 2, w // 2), (h // 3, 2 * w // 3), (h - 1, w - 1)]
    good = np.argwhere(~np.isin(raw, invalid))
    bad = np.argwhere(np.isin(raw, invalid))
    picks += [tuple(good[0]), tuple(good[len(good) // 2])]
    if len(bad):
        picks.append(tuple(bad[0]))
    return picks


# ---------------------------------------------------------------- formulas
def test_encoding_names():
    assert set(DEPTH_ENCODINGS) == {
        'mm', 'tum', 'sunrgbd', 'kinect_disparity', '0.1mm', 'm'
    }
    for name, fn in DEPTH_DECODERS.items():
        assert fn.__doc__ and 'invalid' in fn.__doc__, name


def test_mm_formula():
    raw = np.array([[0, 1, 1500], [65535, 65534, 9484]], np.uint16)
    depth, valid = decode_depth(raw, 'mm')
    assert depth.dtype == np.float32 and valid.dtype == bool
    np.testing.assert_array_equal(valid, [[0, 1, 1], [0, 1, 1]])
    np.testing.assert_allclose(depth, [[0, 0.001, 1.5], [0, 65.534, 9.484]],
                               rtol=1e-6)


def test_tum_formula():
    raw = np.array([[0, 5000, 12345, 65535]], np.uint16)
    depth, valid = decode_depth(raw, 'tum')
    np.testing.assert_array_equal(valid, [[0, 1, 1, 1]])
    np.testing.assert_allclose(depth, [[0, 1.0, 2.469, 13.107]], rtol=1e-6)


def test_tenth_mm_formula():
    raw = np.array([[0, 10000, 24479, 65535, 65534]], np.uint16)
    depth, valid = decode_depth(raw, '0.1mm')
    np.testing.assert_array_equal(valid, [[0, 1, 1, 0, 1]])
    np.testing.assert_allclose(depth, [[0, 1.0, 2.4479, 0, 6.5534]],
                               rtol=1e-6)


def test_sunrgbd_rotation():
    mm = np.array([[0, 1, 1057, 2723, 8192, 9870, 65535]])
    # stored word = mm rotated left by 3 bits (16-bit)
    stored = ((mm << 3) | (mm >> 13)) & 0xFFFF
    depth, valid = decode_depth(stored.astype(np.uint16), 'sunrgbd')
    np.testing.assert_array_equal(valid, mm != 0)
    np.testing.assert_allclose(depth, mm / 1000.0, rtol=1e-6)
    # 8192 mm has bit 13 set: its stored word has bit 0 set (the rotate)
    assert stored[0, 4] == 1


def test_kinect_disparity_formula():
    raw = np.array([[0, 500, 1000, 1092, 1093, 2046, 2047]], np.uint16)
    depth, valid = decode_depth(raw, 'kinect_disparity')
    np.testing.assert_array_equal(valid, [[1, 1, 1, 1, 0, 0, 0]])
    expected = [351.3 / (1092.5 - d) for d in (0, 500, 1000, 1092)]
    np.testing.assert_allclose(depth[0, :4], expected, rtol=1e-6)
    assert (depth[0, 4:] == 0).all()
    # > 2047 cannot be 11-bit disparity (typically byte-swapped words)
    with pytest.raises(BadSampleError, match='x.pgm: .*exceeds 2047.*byte'):
        decode_depth(np.array([[65287]], np.uint16), 'kinect_disparity',
                     path='x.pgm')


def test_metres_and_nonfinite():
    raw = np.array([[1.5, 0.0, -2.0, np.nan, np.inf]], np.float64)
    with pytest.raises(BadSampleError, match=r'd.npy: .*1 NaN, 1 inf'):
        decode_depth(raw, 'm', path='d.npy')
    depth, valid = decode_depth(raw, 'm', nonfinite='invalid')
    assert depth.dtype == np.float32
    np.testing.assert_array_equal(valid, [[1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(depth, [[1.5, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match='nonfinite'):
        decode_depth(raw, 'm', nonfinite='zero')


def test_max_depth_marks_invalid():
    raw = np.array([[1000, 5000, 12000]], np.uint16)
    depth, valid = decode_depth(raw, 'mm', max_depth=10.0)
    np.testing.assert_array_equal(valid, [[1, 1, 0]])
    np.testing.assert_array_equal(depth, np.float32([[1.0, 5.0, 0.0]]))


def test_stack_of_frames():
    raw = np.full((2, 3, 4), 2000, np.uint16)
    raw[1, 0, 0] = 0
    depth, valid = decode_depth(raw, 'mm')
    assert depth.shape == (2, 3, 4) and valid.sum() == 23


def test_float_file_round_trip(tmp_path):
    depth = np.array([[0.5, 2.25], [0.0, 7.125]], np.float32)
    for suffix in ('tiff', 'pfm'):
        path = tmp_path / f'd.{suffix}'
        assert cv2.imwrite(str(path), depth)
        out, valid = read_depth(path, 'm')
        np.testing.assert_array_equal(out, depth)
        np.testing.assert_array_equal(valid, depth > 0)
    np.save(tmp_path / 'd.npy', depth.astype(np.float64))
    out, _ = read_depth(tmp_path / 'd.npy', 'm')
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, depth)


def test_pgm_little_endian_reader(tmp_path):
    disp = np.array([[2047, 500], [1000, 839]], '<u2')
    path = tmp_path / 'k.pgm'
    path.write_bytes(b'P5\n# kinect\n2 2\n65535\n' + disp.tobytes())
    depth, valid = read_depth(path, 'kinect_disparity')
    np.testing.assert_array_equal(valid, [[0, 1], [1, 1]])
    np.testing.assert_allclose(depth[1, 1], 351.3 / (1092.5 - 839),
                               rtol=1e-6)
    path.write_bytes(b'P5 2 2 65535\n' + disp.tobytes()[:5])
    with pytest.raises(BadSampleError, match='k.pgm: truncated PGM'):
        read_depth(path, 'kinect_disparity')


# ---------------------------------------------------------------- real data
def test_nyu_filled_and_raw_depth(samples_dir):
    folder = samples_dir / 'nyuv2_rcnn_depth_demo' / 'demo-data'
    depth, valid = read_depth(folder / 'depth.png', 'mm')
    assert depth.shape == (425, 560) and valid.all()
    assert 1.90 < depth.min() < 1.95 and 9.45 < depth.max() < 9.50
    raw = _raw(folder / 'depth.png')
    for y, x in _pixels(raw):
        assert depth[y, x] == pytest.approx(int(raw[y, x]) / 1000, rel=1e-6)

    raw_depth, raw_valid = read_depth(folder / 'rawdepth.png', 'mm')
    raw = _raw(folder / 'rawdepth.png')
    hole_fraction = 1 - raw_valid.mean()
    assert hole_fraction == pytest.approx((raw == 0).mean())
    assert 0.15 < hole_fraction < 0.19  # ~17% holes
    assert (raw_depth[~raw_valid] == 0).all()
    # the filled map agrees with the raw one where the raw one is valid
    diff = np.abs(depth - raw_depth)[raw_valid]
    assert np.median(diff) < 0.01


def test_7scenes_depth(samples_dir):
    frames = sorted((samples_dir / '7scenes_tsdf_fusion' /
                     'rgbd-frames').glob('*.depth.png'))
    assert len(frames) == 10
    for path in frames:
        depth, valid = read_depth(path, 'mm')
        raw = _raw(path)
        expected_valid = (raw != 0) & (raw != 65535)
        np.testing.assert_array_equal(valid, expected_valid)
        lo, hi = np.percentile(depth[valid], [1, 99])
        assert 0.3 < lo < hi < 10
        for y, x in _pixels(raw, (0, 65535)):
            want = int(raw[y, x]) / 1000 if expected_valid[y, x] else 0
            assert depth[y, x] == pytest.approx(want, rel=1e-6)
    # 65535 marks invalid in 7-Scenes; this slice has none, so inject some
    raw = raw.copy()
    raw[:5, :5] = 65535
    depth, valid = decode_depth(raw, 'mm')
    assert not valid[:5, :5].any() and (depth[:5, :5] == 0).all()


def test_tum_depth(samples_dir):
    path = samples_dir / 'open3d_rgbd_other_formats' / 'TUM_depth.png'
    depth, valid = read_depth(path, 'tum')
    raw = _raw(path)
    assert valid.mean() == pytest.approx((raw != 0).mean())
    lo, hi = np.percentile(depth[valid], [1, 99])
    assert 0.3 < lo < hi < 10
    assert depth.max() < 10  # 46655 / 5000 = 9.331
    for y, x in _pixels(raw):
        assert depth[y, x] == pytest.approx(int(raw[y, x]) / 5000, rel=1e-6)


def test_sun_depth(samples_dir):
    path = samples_dir / 'open3d_rgbd_other_formats' / 'SUN_depth.png'
    depth, valid = read_depth(path, 'sunrgbd')
    raw = _raw(path)
    assert valid.mean() == pytest.approx((raw != 0).mean())
    assert 0.3 < depth[valid].min() and depth.max() < 10
    for y, x in _pixels(raw):
        v = int(raw[y, x])
        mm = ((v >> 3) | (v << 13)) & 0xFFFF
        assert depth[y, x] == pytest.approx(mm / 1000, rel=1e-6)
    # without the rotation the same file would read as up to ~64 m
    assert raw.max() / 1000 > 20
    # pixels whose stored word has low bits set are the far ones (>= 8.192 m)
    far = (raw & 7) != 0
    assert far.any() and (depth[far] >= 8.192).all()


def test_nyu_raw_kinect_disparity(samples_dir):
    path = samples_dir / 'open3d_rgbd_other_formats' / 'NYU_depth.pgm'
    data = path.read_bytes()
    header = data[:data.index(b'65535') + 6]
    width, height = 640, 480
    assert header.split()[:3] == [b'P5', b'640', b'480']
    # a standard (big-endian) reader returns byte-swapped words
    with pytest.raises(BadSampleError, match='exceeds 2047'):
        decode_depth(_raw(path), 'kinect_disparity', path=str(path))
    depth, valid = read_depth(path, 'kinect_disparity')
    assert depth.shape == (height, width)
    payload = data[len(header):]

    def disparity(y, x):
        off = 2 * (y * width + x)
        return int.from_bytes(payload[off:off + 2], 'little')

    disp = np.frombuffer(payload, '<u2').reshape(height, width)
    assert valid.mean() == pytest.approx((disp != 2047).mean())
    assert 0.05 < 1 - valid.mean() < 0.10  # ~7% no-return pixels
    lo, hi = np.percentile(depth[valid], [1, 99])
    assert 0.3 < lo < hi < 10
    for y, x in _pixels(disp.astype(np.uint16), (2047, )):
        d = disparity(y, x)
        want = 0 if d == 2047 else 351.3 / (1092.5 - d)
        assert depth[y, x] == pytest.approx(want, rel=1e-6)


def test_esanet_tenth_mm(samples_dir):
    path = samples_dir / 'esanet_samples' / 'sample_depth.png'
    depth, valid = read_depth(path, '0.1mm')
    raw = _raw(path)
    saturated = raw == 65535
    assert saturated.any() and not valid[saturated].any()
    assert valid.mean() == pytest.approx(((raw != 0) & ~saturated).mean())
    lo, hi = np.percentile(depth[valid], [1, 99])
    assert 0.3 < lo < hi < 10
    for y, x in _pixels(raw, (0, 65535)):
        v = int(raw[y, x])
        want = v / 10000 if 0 < v < 65535 else 0
        assert depth[y, x] == pytest.approx(want, rel=1e-6)


def test_read_rgb_order(samples_dir, tmp_path):
    path = samples_dir / 'nyuv2_rcnn_depth_demo' / 'demo-data' / 'images.png'
    rgb = read_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (425, 560, 3)
    np.testing.assert_array_equal(rgb, _raw(path)[..., ::-1])
    # grey and BGRA images become RGB
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    cv2.imwrite(str(tmp_path / 'g.png'), grey)
    np.testing.assert_array_equal(read_rgb(tmp_path / 'g.png'),
                                  np.repeat(grey[..., None], 3, axis=2))
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 10, 200, 7
    cv2.imwrite(str(tmp_path / 'a.png'), bgra)
    assert read_rgb(tmp_path / 'a.png')[0, 0].tolist() == [200, 0, 10]
