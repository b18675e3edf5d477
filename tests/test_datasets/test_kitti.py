"""KITTI raw object layout, mmdet3d info pkls, LiDAR loading and projection."""
import os
import pickle
import shutil

import numpy as np
import pytest

from mmrgbd.datasets import (BadSampleError, KITTIInfoDataset,
                             KITTIRawObjectDataset)
from mmrgbd.datasets.transforms import FilterPointsInImage, LoadLiDARPoints
from mmrgbd.datasets.transforms.lidar import (kitti_lidar2img,
                                              load_points_bin,
                                              points_in_image_mask,
                                              project_points, read_kitti_calib)
from mmrgbd.registry import DATASETS

CALIB_TEMPLATE = """P0: {p}
P1: {p}
P2: {p}
P3: {p}
R0_rect: {r}
Tr_velo_to_cam: {t}
Tr_imu_to_velo: {t}
"""


def _fmt(m):
    return ' '.join(f'{v:.12e}' for v in np.asarray(m).ravel())


def _write_calib(path, p2, r0, tr):
    path.write_text(
        CALIB_TEMPLATE.format(p=_fmt(p2), r=_fmt(r0), t=_fmt(tr)))


@pytest.fixture
def tiny_kitti(tmp_path):
    """A synthetic 2-frame KITTI layout with hand-made calibration."""
    root = tmp_path / 'kitti'
    for sub in ('calib', 'image_2', 'velodyne'):
        (root / 'training' / sub).mkdir(parents=True)
    p2 = np.array([[100., 0, 50, 10], [0, 100., 20, 0], [0, 0, 1, 0]])
    r0 = np.eye(3)
    # LiDAR x forward -> camera z; LiDAR y left -> camera -x; z up -> -y.
    tr = np.array([[0., -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]])
    for idx in ('000000', '000001'):
        _write_calib(root / 'training' / 'calib' / f'{idx}.txt', p2, r0, tr)
        import cv2
        cv2.imwrite(str(root / 'training' / 'image_2' / f'{idx}.png'),
                    np.zeros((40, 100, 3), np.uint8))
        pts = np.array([[10, 0, 0, 0.5],      # straight ahead: in view
                        [-5, 0, 0, 0.1],      # behind the camera
                        [10, 20, 0, 0.2],     # far to the left: outside
                        [2, 0, 0.3, 0.9]],    # close, above: in view
                       dtype=np.float32)
        pts.tofile(root / 'training' / 'velodyne' / f'{idx}.bin')
    (root / 'ImageSets').mkdir()
    (root / 'ImageSets' / 'train.txt').write_text('000001\n')
    return root, p2, tr


def test_calib_parse_and_lidar2img_by_hand(tiny_kitti):
    root, p2, tr = tiny_kitti
    calib = read_kitti_calib(str(root / 'training/calib/000000.txt'))
    assert calib['P2'].shape == (4, 4) and calib['R0_rect'].shape == (4, 4)
    np.testing.assert_allclose(calib['P2'][:3], p2)
    np.testing.assert_allclose(calib['P2'][3], [0, 0, 0, 1])
    np.testing.assert_allclose(calib['Tr_velo_to_cam'][:3], tr)
    l2i = kitti_lidar2img(calib)
    # Point 10 m ahead: camera (0, 0, 10) -> u = (100*0 + 50*10 + 10)/10 = 51,
    # v = (20*10)/10 = 20.
    uv, depth = project_points(np.array([[10., 0, 0]]), l2i)
    np.testing.assert_allclose(uv, [[51., 20.]])
    np.testing.assert_allclose(depth, [10.])
    # 2 m ahead, 0.3 m up: camera (0, -0.3, 2);
    # u = (100 * 0 + 50 * 2 + 10) / 2 = 55, v = (100 * -0.3 + 20 * 2) / 2 = 5
    uv, depth = project_points(np.array([[2., 0, 0.3]]), l2i)
    np.testing.assert_allclose(uv, [[55., 5.]])


def test_raw_dataset_entries_and_points(tiny_kitti):
    root, _, _ = tiny_kitti
    ds = KITTIRawObjectDataset(data_root=str(root))
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert info['rgb_path'].endswith('training/image_2/000000.png')
    assert info['points_path'].endswith('training/velodyne/000000.bin')
    assert info['lidar2img'].shape == (4, 4)
    assert info['depth_source'] == 'lidar'
    assert 'depth_unit' not in info or info['depth_unit'] is None
    # split list
    ds = KITTIRawObjectDataset(
        data_root=str(root), image_set='ImageSets/train.txt')
    assert len(ds) == 1 and ds.get_data_info(0)['frame_id'] == '000001'
    # full pipeline: RGB only + points + filter
    ds = KITTIRawObjectDataset(
        data_root=str(root),
        pipeline=[
            dict(type='LoadRGBDFromFiles', with_depth=False),
            dict(type='LoadLiDARPoints', filter_in_image=True),
        ])
    out = ds[0]
    assert out['points'].dtype == np.float32
    np.testing.assert_array_equal(out['points'][:, 0], [10, 2])
    assert out['num_points_before_filter'] == 4


def test_malformed_calib_and_empty_bin(tiny_kitti):
    root, _, _ = tiny_kitti
    bad = root / 'training/calib/000001.txt'
    text = bad.read_text().splitlines()
    text[2] = 'P2: 1.0 2.0 3.0'  # 3 values instead of 12
    bad.write_text('\n'.join(text))
    with pytest.raises(BadSampleError, match=r'000001\.txt: P2 .*3 values'):
        KITTIRawObjectDataset(data_root=str(root))
    ds = KITTIRawObjectDataset(data_root=str(root), skip_bad_samples=True)
    assert len(ds) == 1 and ds.num_bad_calib == 1
    bad.write_text('P2: 1 2 3 4 5 6 7 8 9 10 11 12\n')  # R0, Tr missing
    with pytest.raises(BadSampleError, match='missing calibration entries'):
        read_kitti_calib(str(bad))
    bad.write_text('P2: 1 2 x 4 5 6 7 8 9 10 11 12\n')
    with pytest.raises(BadSampleError, match='non-numeric'):
        read_kitti_calib(str(bad))
    empty = root / 'training/velodyne/000000.bin'
    empty.write_bytes(b'')
    with pytest.raises(BadSampleError, match=r'000000\.bin: .*empty'):
        load_points_bin(str(empty))
    empty.write_bytes(b'\0' * 20)  # 5 floats: not a multiple of 4
    with pytest.raises(BadSampleError, match='not a multiple'):
        load_points_bin(str(empty))
    (root / 'e.bin').write_bytes(b'')
    with pytest.raises(BadSampleError, match=r'e\.bin: point file is empty'):
        LoadLiDARPoints()(dict(points_path=str(root / 'e.bin')))


def test_filter_points_in_image_transform():
    l2i = np.eye(4)
    l2i[0, 0] = l2i[1, 1] = 10.  # fx = fy = 10, no offset
    pts = np.array([[0.1, 0.1, 1, 7], [-0.1, 0.1, 1, 7], [0.1, 0.1, -1, 7],
                    [0.95, 0.3, 1, 7]], np.float32)
    out = FilterPointsInImage()(
        dict(points=pts, lidar2img=l2i, img_shape=(5, 10)))
    # (1, 1) in; (-1, 1) left of the image; behind; u = 9.5 in, v = 3 in
    np.testing.assert_array_equal(out['points'], pts[[0, 3]])
    assert out['points'].shape[1] == 4  # extra channels are kept


def test_kitti_object_vis_projection_fraction(samples_dir):
    root = samples_dir / 'kitti_object_vis'
    ds = KITTIRawObjectDataset(
        data_root=str(root),
        pipeline=[
            dict(type='LoadRGBDFromFiles', with_depth=False),
            dict(type='LoadLiDARPoints'),
        ])
    assert len(ds) == 3
    for i in range(3):
        out = ds[i]
        n = len(out['points'])
        assert 100_000 < n < 130_000
        frac = points_in_image_mask(out['points'], out['lidar2img'],
                                    out['rgb'].shape[:2]).mean()
        assert 0.15 <= frac <= 0.18, frac
        # the points kept project where the image is, with positive depth
        kept = FilterPointsInImage()(dict(out))['points']
        uv, depth = project_points(kept, out['lidar2img'])
        assert (depth > 0).all() and (uv >= -0.5).all()
        assert (uv[:, 0] <= out['rgb'].shape[1] - 0.5).all()


def test_info_pkl_matches_raw_calibration(samples_dir, tmp_path):
    """mmdet3d's test info for frame 000000 is kitti_object_vis 000000."""
    t = samples_dir / 'mmdet3d_tests_data' / 'kitti'
    ds = KITTIInfoDataset(
        ann_file='kitti_infos_train.pkl', data_root=str(t))
    info = ds.get_data_info(0)
    assert info['rgb_path'] == os.path.join(str(t), 'training/image_2',
                                            '000000.png')
    assert info['points_path'].endswith('training/velodyne/000000.bin')
    raw = KITTIRawObjectDataset(
        data_root=str(samples_dir / 'kitti_object_vis')).get_data_info(0)
    np.testing.assert_allclose(info['lidar2img'], raw['lidar2img'],
                               rtol=1e-5, atol=1e-4)
    # without lidar2img the dataset composes cam2img @ lidar2cam
    with open(t / 'kitti_infos_train.pkl', 'rb') as f:
        infos = pickle.load(f)
    for item in infos['data_list']:
        item['images']['CAM2'].pop('lidar2img')
    with open(tmp_path / 'no_l2i.pkl', 'wb') as f:
        pickle.dump(infos, f)
    ds2 = KITTIInfoDataset(ann_file=str(tmp_path / 'no_l2i.pkl'),
                           data_root=str(t))
    np.testing.assert_allclose(ds2.get_data_info(0)['lidar2img'],
                               raw['lidar2img'], rtol=1e-5, atol=1e-4)


def test_info_pkl_demo_points_all_in_view(samples_dir, tmp_path):
    """The demo 000008 scan is pre-cropped to the camera view (mmdet3d's
    velodyne_reduced: the box [0, W] x [0, H]); the filter's image area is
    [-0.5, W - 0.5] x [-0.5, H - 0.5] (pixel centres at integers), so only
    the points in the half-pixel strip beyond the last pixel centres go."""
    demo = samples_dir / 'mmdet3d_kitti_demo'
    root = tmp_path / 'kitti'
    (root / 'training' / 'image_2').mkdir(parents=True)
    (root / 'training' / 'velodyne').mkdir(parents=True)
    os.symlink(demo / '000008.png', root / 'training/image_2/000008.png')
    os.symlink(demo / '000008.bin', root / 'training/velodyne/000008.bin')
    shutil.copy(demo / '000008.pkl', root / 'infos.pkl')
    ds = DATASETS.build(
        dict(
            type='KITTIInfoDataset',
            ann_file='infos.pkl',
            data_root=str(root),
            pipeline=[
                dict(type='LoadRGBDFromFiles', with_depth=False),
                dict(type='LoadLiDARPoints', load_dim=None,
                     filter_in_image=True),
            ]))
    out = ds[0]
    assert out['num_points_before_filter'] == 17238
    assert len(out['points']) == 17209
    raw = np.fromfile(demo / '000008.bin', np.float32).reshape(-1, 4)
    uv, depth = project_points(raw, out['lidar2img'])
    h, w = out['rgb'].shape[:2]
    assert (depth > 0).all() and (uv >= 0).all() and (uv[:, 0] <= w).all() \
        and (uv[:, 1] <= h).all()  # all inside [0, W] x [0, H]
    strip = (uv[:, 0] > w - 0.5) | (uv[:, 1] > h - 0.5)
    assert strip.sum() == 17238 - 17209
    # P2 in the .txt file equals cam2img of the pkl
    p2 = np.loadtxt(demo / '000008.txt').reshape(4, 4)
    with open(demo / '000008.pkl', 'rb') as f:
        cam2img = np.array(pickle.load(f)['data_list'][0]['images']['CAM2']
                           ['cam2img'])
    np.testing.assert_allclose(p2, cam2img, rtol=1e-6)
