"""Bad input: every case raises BadSampleError naming the file and the problem,
and BaseRGBDDataset(skip_bad_samples=True) logs and replaces bad samples."""
import logging
import shutil
import uuid

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

from mmrgbd.datasets import BaseRGBDDataset, check_sample
from mmrgbd.datasets.depth_io import (decode_depth, read_depth, read_label,
                                      read_rgb)
from mmrgbd.datasets.errors import BadSampleError
from mmrgbd.datasets.transforms import LoadRGBDFromFiles


def _expect(fn, path, problem):
    """Call fn, expect BadSampleError starting with path and naming problem."""
    with pytest.raises(BadSampleError) as info:
        fn()
    err = info.value
    assert str(err).startswith(f'{path}: '), str(err)
    assert err.path == str(path)
    assert problem in err.problem, err.problem
    assert isinstance(err, ValueError)
    return err


def _write_pair(folder, name, hw=(24, 32), depth_value=1500):
    rgb = np.random.default_rng(0).integers(0, 255, hw + (3, ), np.uint8)
    depth = np.full(hw, depth_value, np.uint16)
    rgb_path, depth_path = folder / f'{name}.jpg', folder / f'{name}_d.png'
    cv2.imwrite(str(rgb_path), rgb)
    cv2.imwrite(str(depth_path), depth)
    return str(rgb_path), str(depth_path)


# ------------------------------------------------------------ files
def test_missing_file(tmp_path):
    path = tmp_path / 'nope.png'
    _expect(lambda: read_depth(path, 'mm'), path, 'does not exist')
    _expect(lambda: read_rgb(path), path, 'does not exist')
    _expect(lambda: read_label(path), path, 'does not exist')


def test_corrupt_and_empty_file(tmp_path):
    path = tmp_path / 'garbage.png'
    path.write_bytes(np.random.default_rng(1).bytes(500))
    _expect(lambda: read_depth(path, 'mm'), path, 'cannot be decoded')
    _expect(lambda: read_rgb(path), path, 'cannot be decoded')
    _expect(lambda: read_label(path), path, 'cannot be decoded')
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    _expect(lambda: read_depth(empty, 'mm'), empty, 'file is empty')
    npy = tmp_path / 'bad.npy'
    npy.write_bytes(b'\x93NUMPY garbage')
    _expect(lambda: read_depth(npy, 'm'), npy, 'cannot be read as .npy')


@pytest.mark.parametrize('keep', [0.5, 0.999])
def test_truncated_real_png(samples_dir, tmp_path, keep):
    src = samples_dir / 'nyuv2_rcnn_depth_demo' / 'demo-data' / 'depth.png'
    data = src.read_bytes()
    path = tmp_path / 'depth_cut.png'
    path.write_bytes(data[:int(len(data) * keep)])
    _expect(lambda: read_depth(path, 'mm'), path, 'truncated PNG')
    # the intact copy reads fine
    shutil.copy(src, tmp_path / 'depth_ok.png')
    depth, valid = read_depth(tmp_path / 'depth_ok.png', 'mm')
    assert valid.all() and depth.shape == (425, 560)


def test_truncated_real_jpeg_and_pgm(samples_dir, tmp_path):
    src = samples_dir / 'open3d_rgbd_other_formats' / 'SUN_color.jpg'
    path = tmp_path / 'cut.jpg'
    path.write_bytes(src.read_bytes()[:60000])
    _expect(lambda: read_rgb(path), path, 'truncated JPEG')
    src = samples_dir / 'open3d_rgbd_other_formats' / 'NYU_depth.pgm'
    path = tmp_path / 'cut.pgm'
    path.write_bytes(src.read_bytes()[:300000])
    _expect(lambda: read_depth(path, 'kinect_disparity'), path,
            'truncated PGM')


# ------------------------------------------------------------ dtypes
def test_wrong_dtype(tmp_path):
    u8 = tmp_path / 'u8.png'
    cv2.imwrite(str(u8), np.full((4, 5), 7, np.uint8))
    _expect(lambda: read_depth(u8, 'mm'), u8,
            "'mm' expects uint16 data, got uint8")
    f = tmp_path / 'f.npy'
    np.save(f, np.ones((4, 5), np.float32))
    _expect(lambda: read_depth(f, 'tum'), f,
            "'tum' expects uint16 data, got float32")
    i = tmp_path / 'i.npy'
    np.save(i, np.ones((4, 5), np.int32))
    _expect(lambda: read_depth(i, 'm'), i, "'m' expects float data")
    rgb16 = tmp_path / 'rgb16.png'
    cv2.imwrite(str(rgb16), np.full((4, 5, 3), 300, np.uint16))
    _expect(lambda: read_rgb(rgb16), rgb16, 'must be 8-bit, got uint16')
    colour = tmp_path / 'colour_label.png'
    cv2.imwrite(str(colour), np.zeros((4, 5, 3), np.uint8))
    _expect(lambda: read_label(colour), colour, 'single-channel')
    three = tmp_path / 'three.png'
    cv2.imwrite(str(three), np.zeros((4, 5, 3), np.uint16))
    _expect(lambda: read_depth(three, 'mm'), three, 'single-channel')


def test_check_sample_dtypes():
    good = dict(
        rgb_path='a.png',
        depth_path='a_d.png',
        rgb=np.zeros((4, 5, 3), np.uint8),
        depth=np.ones((4, 5), np.float32),
        depth_valid=np.ones((4, 5), bool))
    assert check_sample(dict(good)) is not None
    _expect(lambda: check_sample(dict(good, rgb=good['rgb'] * 1.0)), 'a.png',
            'rgb must be uint8, got float64')
    _expect(
        lambda: check_sample(dict(good, depth=good['depth'].astype(float))),
        'a_d.png', 'depth must be float32, got float64')
    _expect(
        lambda: check_sample(dict(good, depth_valid=np.ones((4, 5)))),
        'a_d.png', 'depth_valid must be bool')
    bad_valid = good['depth_valid'].copy()
    bad_valid[0, 0] = False
    _expect(lambda: check_sample(dict(good, depth_valid=bad_valid)),
            'a_d.png', 'disagrees with depth > 0 at 1 pixels')
    _expect(
        lambda: check_sample(
            dict(good, semseg=np.zeros((4, 5), np.float32),
                 semseg_path='s.png')), 's.png', 'integer ids')
    _expect(lambda: check_sample(dict(good, depth_unit='cm')), 'a_d.png',
            "unknown depth_unit 'cm'")
    _expect(lambda: check_sample({k: v
                                  for k, v in good.items()
                                  if k != 'depth_valid'}), 'a_d.png',
            'without depth_valid')


# ------------------------------------------------------------ consistency
def test_mismatched_rgb_depth_sizes(tmp_path):
    rgb_path, _ = _write_pair(tmp_path, 'a', hw=(24, 32))
    _, depth_path = _write_pair(tmp_path, 'b', hw=(24, 30))
    err = _expect(
        lambda: LoadRGBDFromFiles(depth_unit='mm')(
            dict(rgb_path=rgb_path, depth_path=depth_path)), depth_path,
        'depth size (24, 30) does not match RGB size (24, 32)')
    assert rgb_path in err.problem


def test_nan_inf_depth(tmp_path):
    rgb_path, _ = _write_pair(tmp_path, 'a', hw=(4, 5))
    depth = np.full((4, 5), 2.0, np.float32)
    depth[1, 2], depth[3, 3] = np.nan, np.inf
    path = tmp_path / 'nan.npy'
    np.save(path, depth)
    results = dict(rgb_path=rgb_path, depth_path=str(path), depth_unit='m')
    _expect(lambda: LoadRGBDFromFiles()(dict(results)), path,
            'non-finite values (1 NaN, 1 inf)')
    out = LoadRGBDFromFiles(nonfinite='invalid')(dict(results))
    assert out['depth_valid'].sum() == 18
    assert not out['depth_valid'][1, 2] and out['depth'][3, 3] == 0
    # a NaN that reaches check_sample (e.g. set by a bad transform)
    out['depth'][0, 0] = np.nan
    _expect(lambda: check_sample(out), path, 'depth contains NaN or inf')


def test_unknown_depth_unit(tmp_path):
    for bad in ('cm', None):
        for fn in (lambda: decode_depth(np.zeros((2, 2), np.uint16), bad),
                   lambda: read_depth(tmp_path / 'x.png', bad),
                   lambda: BaseRGBDDataset(depth_unit=bad or 'cm',
                                           lazy_init=True)):
            with pytest.raises(ValueError) as info:
                fn()
            assert not isinstance(info.value, BadSampleError)
            assert "['mm', 'tum', 'sunrgbd', 'kinect_disparity', '0.1mm', " \
                "'m']" in str(info.value)
    with pytest.raises(ValueError, match="'millimetres'"):
        LoadRGBDFromFiles(depth_unit='millimetres')


def test_points_and_matrices():
    pts = np.zeros((0, 4), np.float32)
    _expect(lambda: check_sample(dict(points=pts, points_path='v.bin')),
            'v.bin', 'point cloud is empty')
    _expect(
        lambda: check_sample(
            dict(points=np.zeros((5, 2), np.float32), points_path='v.bin')),
        'v.bin', 'C >= 3')
    nan_pts = np.ones((5, 4), np.float32)
    nan_pts[2, 1] = np.nan
    _expect(lambda: check_sample(dict(points=nan_pts, points_path='v.bin')),
            'v.bin', 'non-finite coordinates')
    _expect(
        lambda: check_sample(
            dict(points=np.ones((5, 4)), points_path='v.bin')), 'v.bin',
        'points must be float32')

    k = np.array([[500., 0, 16], [0, 500, 12], [0, 0, 1]])
    base = dict(rgb_path='c.png', calib_path='calib.txt')
    assert check_sample(dict(base, intrinsics=k))
    k_nan = k.copy()
    k_nan[0, 2] = np.nan
    _expect(lambda: check_sample(dict(base, intrinsics=k_nan)), 'calib.txt',
            'intrinsics has non-finite entries')
    _expect(lambda: check_sample(dict(base, intrinsics=k[:2])), 'calib.txt',
            'intrinsics must be (3, 3)')
    k0 = k.copy()
    k0[1, 1] = 0
    _expect(lambda: check_sample(dict(base, intrinsics=k0)), 'calib.txt',
            'positive focal lengths')
    k_row = k.copy()
    k_row[2, 0] = 3
    _expect(lambda: check_sample(dict(base, intrinsics=k_row)), 'calib.txt',
            'intrinsics last row must be')

    l2i = np.eye(4)
    assert check_sample(dict(base, lidar2img=l2i))
    l2i_inf = l2i.copy()
    l2i_inf[0, 3] = np.inf
    _expect(lambda: check_sample(dict(base, lidar2img=l2i_inf)), 'calib.txt',
            'lidar2img has non-finite entries')
    _expect(lambda: check_sample(dict(base, lidar2img=np.eye(4)[:3])),
            'calib.txt', 'lidar2img must be (4, 4)')
    pose = np.eye(4)
    pose[3, 3] = 0
    _expect(
        lambda: check_sample(
            dict(rgb_path='c.png', pose_path='p.txt', cam2world=pose)),
        'p.txt', 'cam2world last row must be [0.0, 0.0, 0.0, 1.0]')


def test_video_layout_accepted():
    t, h, w = 3, 4, 5
    depth = np.ones((t, h, w), np.float32)
    sample = dict(
        rgb=np.zeros((t, h, w, 3), np.uint8),
        depth=depth,
        depth_valid=depth > 0,
        cam2world=np.tile(np.eye(4), (t, 1, 1)),
        rgb_path=['f0.png', 'f1.png', 'f2.png'])
    assert check_sample(sample) is sample
    sample['depth'] = depth[:, :, :4]
    _expect(lambda: check_sample(sample), 'f0.png (+2 more)',
            'does not match RGB size (3, 4, 5)')


# ------------------------------------------------------------ datasets
class _TinyRGBD(BaseRGBDDataset):
    """Samples given directly as (rgb_path, depth_path) pairs."""

    def __init__(self, pairs, **kwargs):
        self.pairs = pairs
        super().__init__(**kwargs)

    def load_data_list(self):
        return [dict(rgb_path=r, depth_path=d) for r, d in self.pairs]


class _ListHandler(logging.Handler):

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def tiny_pairs(tmp_path):
    pairs = [
        _write_pair(tmp_path, f's{i}', depth_value=1000 * (i + 1))
        for i in range(4)
    ]
    bad_depth = pairs[2][1]
    with open(bad_depth, 'r+b') as f:  # corrupt the PNG body
        f.seek(40)
        f.write(b'\x00' * 40)
    return pairs, bad_depth


@pytest.mark.parametrize('serialize', [True, False])
def test_skip_bad_samples(tiny_pairs, serialize):
    pairs, bad = tiny_pairs
    ds = _TinyRGBD(
        pairs,
        depth_unit='mm',
        skip_bad_samples=True,
        serialize_data=serialize,
        pipeline=[dict(type='LoadRGBDFromFiles')])
    entries_before = [ds.get_data_info(i) for i in range(len(ds))]
    logger = MMLogger.get_instance(f'skip_bad_{uuid.uuid4().hex}')
    handler = _ListHandler()
    logger.addHandler(handler)
    np.random.seed(0)
    try:
        samples = [ds[i] for i in range(len(ds))]
    finally:
        logger.removeHandler(handler)
    assert len(samples) == 4
    assert all(s['depth_path'] != bad for s in samples)
    for s in samples:  # each served sample is a good, fully loaded one
        i = [p[1] for p in pairs].index(s['depth_path'])
        assert s['depth_valid'].all()
        assert np.allclose(s['depth'], i + 1.0)
        assert s['depth_unit'] == 'mm' and s['depth_source'] == 'sensor'
    assert ds.num_skipped >= 1
    assert len(handler.messages) == ds.num_skipped
    assert bad in handler.messages[0]
    assert 'cannot be decoded' in handler.messages[0]
    # the data list is untouched
    assert len(ds) == 4
    assert [ds.get_data_info(i) for i in range(len(ds))] == entries_before


def test_bad_samples_propagate(tiny_pairs):
    pairs, bad = tiny_pairs
    ds = _TinyRGBD(
        pairs, depth_unit='mm', pipeline=[LoadRGBDFromFiles()])
    assert ds[0]['depth'][0, 0] == np.float32(1.0)
    _expect(lambda: ds[2], bad, 'cannot be decoded')
    assert ds.num_skipped == 0
    # in test mode a bad sample is never replaced, even with skipping on
    ds = _TinyRGBD(
        pairs,
        depth_unit='mm',
        skip_bad_samples=True,
        test_mode=True,
        pipeline=[LoadRGBDFromFiles()])
    _expect(lambda: ds[2], bad, 'cannot be decoded')
    assert ds.num_skipped == 0


def test_entry_unit_overrides_dataset(tiny_pairs):
    pairs, _ = tiny_pairs

    class _Tum(_TinyRGBD):

        def load_data_list(self):
            return [dict(rgb_path=pairs[0][0], depth_path=pairs[0][1],
                         depth_unit='tum', depth_source='filled')]

    ds = _Tum(pairs, depth_unit='mm', pipeline=[LoadRGBDFromFiles()])
    out = ds[0]
    assert out['depth_unit'] == 'tum' and out['depth_source'] == 'filled'
    assert out['depth'][0, 0] == np.float32(1000 / 5000)


# ------------------------------------------------ real frames, bad lines
NYU13 = tuple(f'class{i}' for i in range(13))


class _LogCapture:
    """Collect the warnings the current MMLogger gets."""

    def __enter__(self):
        self.logger = MMLogger.get_instance(f'bad_{uuid.uuid4().hex}')
        self.handler = _ListHandler()
        self.logger.addHandler(self.handler)
        return self.handler.messages

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)


@pytest.fixture
def nyu_frame(samples_dir, tmp_path):
    """The real NYUv2 frame, its depth (mm) and its NYU-13 label crop."""
    demo = samples_dir / 'nyuv2_rcnn_depth_demo'
    label = cv2.imread(
        str(demo / 'nyuv2-meta-data_test_labels_13/new_nyu_class13_1407.png'),
        cv2.IMREAD_UNCHANGED)[45:470, 40:600]  # aligned with the crop
    assert label.max() <= 13
    label_path = tmp_path / 'label13.png'
    cv2.imwrite(str(label_path), label)
    return dict(rgb=str(demo / 'demo-data/images.png'),
                depth=str(demo / 'demo-data/depth.png'),
                label=str(label_path), label_array=label)


def _list(tmp_path, good, bad_line, n_good=3):
    """A list of ``n_good`` good lines with ``bad_line`` at index 1."""
    lines = [' '.join(good)] * n_good
    lines.insert(1, ' '.join(bad_line))
    path = tmp_path / f'list_{uuid.uuid4().hex[:6]}.txt'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def _dataset(ann_file, skip, with_semseg=True, **load):
    from mmrgbd.datasets import RGBDListDataset
    return RGBDListDataset(
        ann_file=ann_file,
        depth_unit=load.pop('depth_unit', 'mm'),
        skip_bad_samples=skip,
        metainfo=load.pop('metainfo', None),
        pipeline=[
            dict(type='LoadRGBDFromFiles', with_semseg=with_semseg,
                 reduce_zero_label=with_semseg, **load)
        ])


def _bad_then_skipped(ann_file, bad_path, problem, **kwargs):
    """Index 1 raises naming ``bad_path``; with skipping it is replaced."""
    _expect(lambda: _dataset(ann_file, False, **kwargs)[1], bad_path,
            problem)
    ds = _dataset(ann_file, True, **kwargs)
    np.random.seed(0)
    with _LogCapture() as messages:
        sample = ds[1]
    assert sample['depth_valid'].any()  # a good sample was served instead
    assert ds.num_skipped >= 1
    assert any(bad_path in m and problem in m for m in messages)


@pytest.mark.parametrize('raw_id', [14, 50])
def test_label_ids_beyond_num_classes(nyu_frame, tmp_path, raw_id):
    """Raw 14 is 13 after reduce_zero_label: == num_classes, out of range
    (the backbone's old check let it through to the loss)."""
    label = nyu_frame['label_array'].copy()
    label[100:110, 200:220] = raw_id
    bad = tmp_path / f'label_{raw_id}.png'
    cv2.imwrite(str(bad), label)
    ann = _list(tmp_path,
                (nyu_frame['rgb'], nyu_frame['depth'], nyu_frame['label']),
                (nyu_frame['rgb'], nyu_frame['depth'], str(bad)))
    problem = f'200 pixels have class ids [{raw_id - 1}]'
    # num_classes given to the loader, or from the dataset's classes
    _bad_then_skipped(ann, str(bad), problem, num_classes=13)
    _bad_then_skipped(ann, str(bad), problem, metainfo=dict(classes=NYU13))
    ok = _dataset(ann, False, num_classes=13)[0]['semseg']
    assert set(np.unique(ok)) <= set(range(13)) | {255}


def test_exr_depth(nyu_frame, tmp_path):
    metres = cv2.imread(nyu_frame['depth'],
                        cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000
    good = tmp_path / 'depth_m.exr'
    assert cv2.imwrite(str(good), metres)  # import mmrgbd enabled OpenEXR
    nan = metres.copy()
    nan[:20, :40] = np.nan
    bad = tmp_path / 'depth_nan.exr'
    cv2.imwrite(str(bad), nan)
    ann = _list(tmp_path, (nyu_frame['rgb'], str(good)),
                (nyu_frame['rgb'], str(bad)))
    depth = _dataset(ann, False, with_semseg=False, depth_unit='m')[0]['depth']
    np.testing.assert_allclose(depth, metres, rtol=1e-6)
    _bad_then_skipped(ann, str(bad), '800 NaN', with_semseg=False,
                      depth_unit='m')


def test_opencv_errors_name_the_file(tmp_path, monkeypatch):
    """A codec OpenCV refuses (e.g. OpenEXR disabled) gives a
    BadSampleError naming the file, never a bare cv2.error."""
    from mmrgbd.datasets import depth_io
    path = tmp_path / 'd.exr'
    assert cv2.imwrite(str(path), np.ones((8, 8), np.float32))

    def refuse(*args):
        raise cv2.error('OpenCV(4.11.0) grfmt_exr.cpp:103: error: (-213:The '
                        'function/feature is not implemented) imread_(\'\'): '
                        'OpenEXR codec is disabled.')

    monkeypatch.setattr(depth_io.cv2, 'imdecode', refuse)
    err = _expect(lambda: read_depth(path, 'm'), path, 'cannot be decoded')
    assert 'OpenEXR codec is disabled' in err.problem
    assert 'OPENCV_IO_ENABLE_OPENEXR=1' in err.problem


def test_all_zero_depth(nyu_frame, tmp_path):
    zero = tmp_path / 'depth_zero.png'
    cv2.imwrite(str(zero), np.zeros((425, 560), np.uint16))
    ann = _list(tmp_path, (nyu_frame['rgb'], nyu_frame['depth']),
                (nyu_frame['rgb'], str(zero)))
    _bad_then_skipped(ann, str(zero), 'depth has no valid pixel',
                      with_semseg=False)
    # a clip: the empty frame is named
    depth = np.ones((3, 4, 5), np.float32)
    depth[1] = 0
    _expect(lambda: check_sample(dict(depth=depth, depth_valid=depth > 0,
                                      depth_path='clip.png')),
            'clip.png', 'no valid pixel in frames [1]')


def test_semseg_without_label_paths_fails_when_built(nyu_frame, tmp_path):
    ann = _list(tmp_path, (nyu_frame['rgb'], nyu_frame['depth']),
                (nyu_frame['rgb'], nyu_frame['depth']))
    for skip in (False, True):  # a configuration error: never retried
        with pytest.raises(ValueError) as e:
            _dataset(ann, skip, num_classes=13)
        assert not isinstance(e.value, BadSampleError)
        msg = str(e.value)
        assert msg.startswith(ann) and 'with_semseg=True' in msg
        assert 'none of the 4 samples has one' in msg
    # partly labelled: built with a warning; the unlabelled line is a bad
    # sample (named, skippable)
    ann = _list(tmp_path,
                (nyu_frame['rgb'], nyu_frame['depth'], nyu_frame['label']),
                (nyu_frame['rgb'], nyu_frame['depth']))
    with _LogCapture() as messages:
        ds = _dataset(ann, False, num_classes=13)
    assert any('1 of 4 samples have no semseg_path' in m for m in messages)
    _expect(lambda: ds[1], nyu_frame['rgb'], 'sample has no semseg_path')


def test_semseg_embed_rejects_id_equal_to_num_classes():
    """The backbone's own check: id == num_classes is out of range too."""
    import torch

    from mmrgbd.models.backbones.patch_embeds import SemsegPatchEmbed
    embed = SemsegPatchEmbed(num_classes=13, embed_dims=8, patch_size=4,
                             downsample=1)
    ok = torch.full((1, 1, 8, 8), 12)
    ok[..., :4, :] = 255
    assert embed(ok)[0].shape == (1, 4, 8)
    with pytest.raises(ValueError, match=r'\[13\] are outside \[0, 13\)'):
        embed(torch.full((1, 1, 8, 8), 13))
