"""The fast paths of the data pipeline (issue 12) give the outputs of the
plain implementations they replaced, on the real NYUv2 frame.

Each reference below is the replaced code, kept here verbatim in spirit:
Pillow label decoding, numpy fancy-index nearest resizing, separate crop
then resize, ``np.ascontiguousarray(mmcv.imflip(...))``, ``np.moveaxis``
packing, sort-based robust statistics.
"""
import io

import cv2
import mmcv
import numpy as np
import pytest
from PIL import Image

from mmrgbd.datasets import BadSampleError
from mmrgbd.datasets.depth_io import (_is_plain_grey_png, decode_mm,
                                      decode_tenth_mm, decode_tum, read_label)
from mmrgbd.datasets.transforms import (LoadRGBDFromFiles, NormalizeDepth,
                                        RGBDRandomResizedCrop)
from mmrgbd.datasets.transforms.depth import robust_depth_stats
from mmrgbd.datasets.transforms.formatting import channels_first
from mmrgbd.datasets.transforms.geometry import (crop_rgbd, flip_frame,
                                                 nearest_resize, resize_rgbd)
from real_layouts.imagenet_pseudo import LABEL_CROP, LABELS_13
from real_layouts.nyuv2_frame import FOLDER, read_frame


@pytest.fixture(scope='module')
def frame(samples_dir):
    """RGB, raw depth (mm, holes), 13-class labels and K of the frame."""
    bgr, raw, k = read_frame(samples_dir)
    labels = cv2.imread(str(samples_dir / FOLDER / LABELS_13),
                        cv2.IMREAD_UNCHANGED)[LABEL_CROP]
    assert labels.shape == raw.shape and labels.dtype == np.uint8
    return dict(rgb=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), raw=raw,
                labels=labels, k=k)


def _png(array, **pil) -> bytes:
    if pil:
        buf = io.BytesIO()
        Image.fromarray(array, **pil.get('fromarray', {})).save(
            buf, 'PNG', **pil.get('save', {}))
        return buf.getvalue()
    ok, data = cv2.imencode('.png', array)
    assert ok
    return data.tobytes()


def _pillow_label(content: bytes) -> np.ndarray:
    """The replaced decoder of read_label."""
    return np.asarray(mmcv.imfrombytes(content, flag='unchanged',
                                       backend='pillow'))


# ------------------------------------------------------------- labels
def test_grey_png_labels_decode_as_pillow(frame, tmp_path):
    """8- and 16-bit grey PNGs take OpenCV's decoder, with Pillow's
    output (values and dtype)."""
    cases = {
        'labels8.png': _png(frame['labels']),
        'depth16.png': _png(frame['raw']),
        'labels8_pil.png': _png(frame['labels'], save=dict(optimize=True)),
    }
    for name, content in cases.items():
        assert _is_plain_grey_png(content), name
        path = tmp_path / name
        path.write_bytes(content)
        got = read_label(str(path))
        ref = _pillow_label(content)
        assert got.dtype == ref.dtype and got.shape == ref.shape, name
        np.testing.assert_array_equal(got, ref)


def test_palette_and_transparent_pngs_stay_with_pillow(frame, tmp_path):
    """A palette PNG gives its indices (not colours), as with Pillow; a grey
    PNG with tRNS and a colour PNG are not taken by the OpenCV path."""
    labels = frame['labels']
    img = Image.fromarray(labels, mode='L').convert('P')
    palette = np.random.default_rng(0).integers(0, 256, 768, np.uint8)
    img.putpalette(palette.tolist())
    buf = io.BytesIO()
    img.save(buf, 'PNG')
    content = buf.getvalue()
    assert not _is_plain_grey_png(content)
    path = tmp_path / 'palette.png'
    path.write_bytes(content)
    got = read_label(str(path))
    np.testing.assert_array_equal(got, labels)  # indices, not colours
    assert not _is_plain_grey_png(_png(labels, save=dict(transparency=0)))
    assert not _is_plain_grey_png(_png(np.dstack([labels] * 3)))
    assert not _is_plain_grey_png(b'\xff\xd8 a JPEG')
    # a corrupt grey PNG still fails with the file named
    bad = tmp_path / 'bad.png'
    data = bytearray(_png(labels))
    data[60:200] = bytes(140)
    bad.write_bytes(bytes(data))
    with pytest.raises(BadSampleError, match='bad.png'):
        read_label(str(bad))


def test_label_range_check_on_stored_ids(frame, tmp_path):
    """The range check runs on the stored uint8 ids: same acceptance and
    the same message; the loaded map is int64."""
    labels = frame['labels'].copy()
    labels[:5, :5] = 255  # ignore_index: allowed
    rgb_path, sem_path = tmp_path / 'rgb.png', tmp_path / 'sem.png'
    cv2.imwrite(str(rgb_path), cv2.cvtColor(frame['rgb'], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(sem_path), labels)
    load = LoadRGBDFromFiles(with_depth=False, with_semseg=True,
                             num_classes=13)
    out = load(dict(rgb_path=str(rgb_path), semseg_path=str(sem_path)))
    assert out['semseg'].dtype == np.int64
    np.testing.assert_array_equal(out['semseg'], labels)
    labels[10, 10:13] = (13, 200, 13)
    cv2.imwrite(str(sem_path), labels)
    with pytest.raises(BadSampleError,
                       match=r'sem\.png.*3 pixels have class ids \[13, 200\]'):
        load(dict(rgb_path=str(rgb_path), semseg_path=str(sem_path)))


# ------------------------------------------------------------- depth
@pytest.mark.parametrize('decode,scale,invalid', [
    (decode_mm, 1000., (0, 65535)), (decode_tum, 5000., (0, )),
    (decode_tenth_mm, 10000., (0, 65535))])
def test_uint16_decoders_as_before(frame, decode, scale, invalid):
    raw = frame['raw'].copy()
    raw[0, :7] = 65535
    depth, valid = decode(raw)
    ref_valid = np.ones(raw.shape, bool)
    for v in invalid:
        ref_valid &= raw != v
    ref = raw.astype(np.float32) / np.float32(scale)
    ref[~ref_valid] = 0
    np.testing.assert_array_equal(valid, ref_valid)
    assert depth.dtype == np.float32
    np.testing.assert_array_equal(depth, ref)


def _sorted_stats(values, trunc, min_valid=2, eps=1e-6):
    """The replaced sort-based robust statistics."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = values.size
    k = int(np.floor(n * trunc))
    kept = values[k:n - k]
    if kept.size == 0:
        return (float(values.mean()) if n else 0.0), 1.0, False
    mean, std = float(kept.mean()), float(kept.std())
    if kept.size < min_valid or not std >= eps:
        return mean, 1.0, False
    return mean, std, True


@pytest.mark.parametrize('trunc', [0.0, 0.1, 0.25, 0.49])
def test_robust_stats_equal_the_sorted_ones(frame, trunc):
    """np.partition keeps exactly the values a sort keeps: the statistics
    agree to round-off (only the summation order differs), for float32,
    float64 and integer input and for tiny sets."""
    depth, valid = decode_mm(frame['raw'])
    values = depth[valid]
    rng = np.random.default_rng(0)
    for v in (values, values.astype(np.float64), frame['raw'][valid],
              values[:1], values[:2], values[:3], values[:0],
              rng.permutation(values)[:1001]):
        got = robust_depth_stats(v, trunc)
        ref = _sorted_stats(v, trunc)
        assert got[2] == ref[2]
        np.testing.assert_allclose(got[:2], ref[:2], rtol=1e-12, atol=0)


def _normalize_before(depth, valid, trunc=0.1):
    """The replaced NormalizeDepth('robust') of one frame."""
    d = depth.astype(np.float64)
    out = np.zeros(depth.shape, dtype=np.float32)
    mean, std, ok = _sorted_stats(d[valid], trunc)
    if ok:
        out[valid] = (d[valid] - mean) / std
    return out, mean, std


def test_normalize_depth_as_before_on_the_real_frame(frame):
    depth, valid = decode_mm(frame['raw'])
    assert 0.05 < (~valid).mean() < 0.5  # real holes
    out = NormalizeDepth(mode='robust', trunc=0.1)(
        dict(depth=depth.copy(), depth_valid=valid))
    ref, mean, std = _normalize_before(depth, valid)
    assert out['depth_norm']['mean'] == pytest.approx(mean, rel=1e-12)
    assert out['depth_norm']['std'] == pytest.approx(std, rel=1e-12)
    np.testing.assert_array_max_ulp(out['depth'], ref, maxulp=1)
    assert (out['depth'] != ref).mean() < 1e-3
    for mode, fn in (('metric', lambda d: d / 10.), ('log', np.log)):
        out = NormalizeDepth(mode=mode)(dict(depth=depth.copy(),
                                             depth_valid=valid))
        ref = np.zeros_like(depth)
        ref[valid] = fn(depth.astype(np.float64)[valid])
        np.testing.assert_array_equal(out['depth'], ref)


# ------------------------------------------------------------- geometry
def _nearest_before(arr, out_hw):
    in_h, in_w = arr.shape[-2:]
    rows = np.floor((np.arange(out_hw[0]) + 0.5) * in_h / out_hw[0])
    cols = np.floor((np.arange(out_hw[1]) + 0.5) * in_w / out_hw[1])
    rows = np.clip(rows.astype(np.int64), 0, in_h - 1)
    cols = np.clip(cols.astype(np.int64), 0, in_w - 1)
    return arr[..., rows[:, None], cols[None, :]]


def test_nearest_resize_as_before(frame):
    depth, valid = decode_mm(frame['raw'])
    arrays = [depth, valid, frame['labels'].astype(np.int64),
              frame['labels'], np.stack([depth, 2 * depth]),
              depth[13:301, 40:377]]  # a (strided) crop view
    for arr in arrays:
        for out_hw in ((224, 224), (97, 500), (425, 560), (850, 1120)):
            got = nearest_resize(arr, out_hw)
            ref = _nearest_before(arr, out_hw)
            assert got.dtype == ref.dtype
            np.testing.assert_array_equal(got, ref)


def _sample(frame, labels=True):
    depth, valid = decode_mm(frame['raw'])
    sample = dict(rgb=frame['rgb'].copy(), depth=depth, depth_valid=valid,
                  intrinsics=frame['k'].copy(),
                  lidar2img=np.arange(16.).reshape(4, 4) + np.eye(4))
    if labels:
        sample['semseg'] = frame['labels'].astype(np.int64)
    return sample


@pytest.mark.parametrize('backend,interpolation', [('pillow', 'bicubic'),
                                                   ('cv2', 'bilinear')])
def test_random_resized_crop_as_crop_then_resize(frame, backend,
                                                 interpolation):
    """The fused crop + resize (views, one depth sync) gives every key of
    crop_rgbd followed by resize_rgbd, also for depth that is non-zero at
    pixels marked invalid (synced at the end either way)."""
    crop = RGBDRandomResizedCrop(224, interpolation=interpolation,
                                 backend=backend)
    for seed in range(4):
        sample = _sample(frame)
        if seed == 3:
            sample['depth'][~sample['depth_valid']] = 7.  # not synced yet
        np.random.seed(seed)
        got = crop(dict(sample))
        x1, y1, x2, y2 = got['crop_bbox']
        ref = crop_rgbd(dict(sample), int(x1), int(y1), int(x2 - x1 + 1),
                        int(y2 - y1 + 1))
        ref = resize_rgbd(ref, (224, 224), interpolation, backend)
        assert set(got) == set(ref)
        for key, value in ref.items():
            if isinstance(value, np.ndarray):
                assert got[key].dtype == value.dtype, key
                np.testing.assert_array_equal(got[key], value, err_msg=key)
            else:
                assert got[key] == value, key
        assert not (got['depth'][~got['depth_valid']]).any()
    if backend == 'pillow':  # PIL's bicubic of the crop, exactly
        pil = np.asarray(Image.fromarray(frame['rgb']).crop(
            (x1, y1, x2 + 1, y2 + 1)).resize((224, 224), Image.BICUBIC))
        np.testing.assert_array_equal(got['rgb'], pil)


def test_crop_of_a_clip_as_per_frame_crops(frame):
    sample = _sample(frame, labels=False)
    clip = {k: np.stack([v, v[::-1].copy()]) if k in ('rgb', 'depth',
                                                      'depth_valid') else v
            for k, v in sample.items()}
    got = crop_rgbd(dict(clip), 30, 20, 200, 150)
    for key in ('rgb', 'depth', 'depth_valid'):
        ref = np.stack([mmcv.imcrop(f, np.array([30, 20, 229, 169]))
                        for f in clip[key]])
        np.testing.assert_array_equal(got[key], ref)


def test_flip_frame_as_numpy_flip(frame):
    depth, valid = decode_mm(frame['raw'])
    extreme = np.array([[-1, np.iinfo(np.int64).min, np.iinfo(np.int64).max,
                         0x7ff8000000000001, 5]], np.int64)  # NaN patterns
    frames = [frame['rgb'], depth, valid, frame['labels'],
              frame['labels'].astype(np.int64), frame['raw'], extreme,
              extreme.astype(np.uint64), frame['rgb'][..., :1],
              frame['rgb'][10:200:2, 5:300], depth.astype(np.float16),
              np.zeros((0, 4), np.float32)]
    for f in frames:
        for direction in ('horizontal', 'vertical'):
            got = flip_frame(f, direction)
            ref = np.ascontiguousarray(mmcv.imflip(f, direction))
            assert got.dtype == ref.dtype and got.shape == ref.shape
            assert got.flags['C_CONTIGUOUS']
            np.testing.assert_array_equal(got, ref)
            assert not np.shares_memory(got, f)


def test_channels_first_as_moveaxis(frame):
    rgb = frame['rgb']
    for arr in (rgb, np.stack([rgb, rgb[::-1]]), rgb[5:100, 7:300],
                rgb.astype(np.float32) / 255, rgb.astype(np.int64),
                rgb[:0]):
        got = channels_first(arr)
        ref = np.ascontiguousarray(np.moveaxis(arr, -1, 0))
        assert got.dtype == ref.dtype and got.shape == ref.shape
        assert got.flags['C_CONTIGUOUS']
        np.testing.assert_array_equal(got, ref)
