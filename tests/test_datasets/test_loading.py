"""LoadRGBDFromFiles on real samples and tiny synthetic files."""
import cv2
import numpy as np
import pytest

from mmrgbd.datasets.errors import BadSampleError
from mmrgbd.datasets.transforms import LoadRGBDFromFiles, build_label_lut
from mmrgbd.registry import TRANSFORMS, build_in_scope


def _nyu(samples_dir):
    folder = samples_dir / 'nyuv2_rcnn_depth_demo'
    return dict(
        rgb_path=str(folder / 'demo-data' / 'images.png'),
        depth_path=str(folder / 'demo-data' / 'rawdepth.png'),
        semseg_path=str(folder / 'nyuv2-meta-data_test_labels_13' /
                        'new_nyu_class13_1407.png'))


def test_build_from_registry():
    t = build_in_scope(TRANSFORMS, dict(type='LoadRGBDFromFiles',
                                        depth_unit='tum'))
    assert isinstance(t, LoadRGBDFromFiles) and t.depth_unit == 'tum'
    assert "depth_unit='tum'" in repr(t)


def test_load_nyu_rgbd(samples_dir):
    results = _nyu(samples_dir)
    results.pop('semseg_path')
    out = LoadRGBDFromFiles(depth_unit='mm', depth_source='sensor')(results)
    assert out['rgb'].dtype == np.uint8 and out['rgb'].shape == (425, 560, 3)
    assert out['depth'].dtype == np.float32
    assert out['depth'].shape == out['depth_valid'].shape == (425, 560)
    assert out['ori_shape'] == out['img_shape'] == (425, 560)
    assert out['depth_unit'] == 'mm' and out['depth_source'] == 'sensor'
    raw = cv2.imread(results['depth_path'], cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(out['depth_valid'], raw > 0)
    y, x = np.argwhere(raw > 0)[100]
    assert out['depth'][y, x] == pytest.approx(raw[y, x] / 1000, rel=1e-6)


def test_unit_from_results_and_conflicts(samples_dir):
    results = _nyu(samples_dir)
    out = LoadRGBDFromFiles()(dict(results, depth_unit='mm'))
    assert out['depth_unit'] == 'mm' and out['depth_source'] == 'unknown'
    with pytest.raises(ValueError, match=r"missing \(None\).*'mm', 'tum'"):
        LoadRGBDFromFiles()(dict(results))
    with pytest.raises(ValueError, match="depth_unit='tum'.*'mm'"):
        LoadRGBDFromFiles(depth_unit='tum')(dict(results, depth_unit='mm'))
    # RGB-only samples (image + LiDAR) need no unit
    out = LoadRGBDFromFiles(with_depth=False)(
        dict(rgb_path=results['rgb_path']))
    assert 'depth' not in out and out['rgb'].shape == (425, 560, 3)


def test_semseg_size_mismatch_real(samples_dir):
    # the 13-class label is 640x480, the demo crop 560x425
    results = _nyu(samples_dir)
    with pytest.raises(BadSampleError) as info:
        LoadRGBDFromFiles(depth_unit='mm', with_semseg=True)(results)
    msg = str(info.value)
    assert msg.startswith(results['semseg_path'])
    assert '(480, 640) does not match image size (425, 560)' in msg


def test_semseg_reduce_zero_label_and_map(samples_dir, tmp_path):
    results = _nyu(samples_dir)
    full = cv2.imread(results['semseg_path'], cv2.IMREAD_UNCHANGED)
    crop = np.ascontiguousarray(full[45:470, 40:600])  # align with the RGB
    path = tmp_path / 'label13.png'
    cv2.imwrite(str(path), crop)
    results['semseg_path'] = str(path)

    out = LoadRGBDFromFiles(depth_unit='mm', with_semseg=True)(dict(results))
    assert out['semseg'].dtype == np.int64
    np.testing.assert_array_equal(out['semseg'], crop)

    out = LoadRGBDFromFiles(
        depth_unit='mm', with_semseg=True, reduce_zero_label=True)(
            dict(results))
    sem = out['semseg']
    assert (sem[crop == 0] == 255).all()
    assert (sem[crop > 0] == crop[crop > 0].astype(np.int64) - 1).all()
    assert set(np.unique(sem)) <= set(range(12)) | {255}

    # raw 12 (wall) -> 0, raw 5 (floor) -> 1, everything else ignored
    out = LoadRGBDFromFiles(
        depth_unit='mm',
        with_semseg=True,
        semseg_map={12: 0, 5: 1},
        ignore_index=99)(dict(results))
    sem = out['semseg']
    assert (sem[crop == 12] == 0).all() and (sem[crop == 5] == 1).all()
    assert (sem[(crop != 12) & (crop != 5)] == 99).all()
    assert (crop == 12).any() and (crop == 5).any()


def test_label_lut():
    lut = build_label_lut({3: 0, 1: 2}, ignore_index=255)
    assert lut.tolist() == [255, 2, 255, 0]
    assert build_label_lut([4, 5, 6]).tolist() == [4, 5, 6]
    with pytest.raises(ValueError, match='1-D integer'):
        build_label_lut(np.zeros((2, 2)))


def test_7scenes_with_pose_and_intrinsics(samples_dir):
    folder = samples_dir / '7scenes_tsdf_fusion'
    frame = folder / 'rgbd-frames' / 'frame-000150'
    k = np.loadtxt(folder / 'camera-intrinsics.txt')
    pose = np.loadtxt(f'{frame}.pose.txt')
    results = dict(
        rgb_path=f'{frame}.color.png',
        depth_path=f'{frame}.depth.png',
        depth_unit='mm',
        intrinsics=k.tolist(),
        cam2world=pose)
    out = LoadRGBDFromFiles()(results)
    assert out['intrinsics'].dtype == np.float64
    np.testing.assert_array_equal(out['intrinsics'], k)
    assert out['rgb'].shape[:2] == out['depth'].shape == (480, 640)
    assert out['cam2world'].dtype == np.float64
    np.testing.assert_array_equal(out['cam2world'], pose)
    raw = cv2.imread(results['depth_path'], cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(out['depth_valid'], raw > 0)


def test_max_depth_and_tiny_files(tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 255  # blue in BGR
    cv2.imwrite(str(tmp_path / 'c.png'), rgb)
    depth = np.full((6, 8), 2500, np.uint16)
    depth[0, :3] = [0, 65535, 12000]
    cv2.imwrite(str(tmp_path / 'd.png'), depth)
    out = LoadRGBDFromFiles(depth_unit='mm', max_depth=10)(
        dict(rgb_path=str(tmp_path / 'c.png'),
             depth_path=str(tmp_path / 'd.png')))
    assert (out['rgb'][..., 2] == 255).all()  # RGB order
    assert out['depth_valid'].sum() == 6 * 8 - 3
    assert out['depth'][0, :3].tolist() == [0, 0, 0]
    assert out['depth'][1, 1] == np.float32(2.5)
