"""Waymo (KITTI-format conversion) and nuScenes image + LiDAR datasets.

Real data: ``<repo>/../shared/samples`` (mmdet3d's nuScenes demo sample and
mmdet3d's Waymo unit-test fixtures); the tests skip without it.
"""
import pickle

import cv2
import numpy as np
import pytest

from mmrgbd.datasets import (BadSampleError, NuScenesImageLiDARDataset,
                             WaymoKITTIFormatDataset)
from mmrgbd.datasets.transforms import FilterPointsInImage
from mmrgbd.datasets.transforms.lidar import (points_in_image_mask,
                                              project_points)
from mmrgbd.datasets.waymo import read_waymo_calib

NUS_PKL = 'n015-2018-07-24-11-22-45+0800.pkl'
NUS_LIDAR = ('n015-2018-07-24-11-22-45+0800__LIDAR_TOP__'
             '1532402927647951.pcd.bin')
NUS_CAMS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK',
            'CAM_BACK_LEFT', 'CAM_BACK_RIGHT')
LOAD = [
    dict(type='LoadRGBDFromFiles', with_depth=False),
    dict(type='LoadLiDARPoints', load_dim=None, use_dim=5),
]


@pytest.fixture(scope='module')
def nus_dir(samples_dir):
    return samples_dir / 'mmdet3d_nuscenes_demo'


@pytest.fixture(scope='module')
def nus_info(nus_dir):
    with open(nus_dir / NUS_PKL, 'rb') as f:
        return pickle.load(f)['data_list'][0]


def nus_dataset(nus_dir, **kwargs):
    # the demo folder is flat: images and the scan side by side
    prefix = dict(pts='', img='', **{c: '' for c in NUS_CAMS})
    kwargs.setdefault('pipeline', LOAD)
    return NuScenesImageLiDARDataset(ann_file=NUS_PKL,
                                     data_root=str(nus_dir),
                                     data_prefix=prefix,
                                     **kwargs)


def hand_projection(points, cam_info):
    """u, v, depth from the raw pkl fields, written out by hand."""
    k = np.array(cam_info['cam2img'])
    t = np.array(cam_info['lidar2cam'])
    cam = points[:, :3].astype(np.float64) @ t[:3, :3].T + t[:3, 3]
    u = k[0, 0] * cam[:, 0] / cam[:, 2] + k[0, 1] * cam[:, 1] / cam[:, 2] \
        + k[0, 2]
    v = k[1, 1] * cam[:, 1] / cam[:, 2] + k[1, 2]
    return np.stack([u, v], 1), cam[:, 2]


def test_nuscenes_cam_front_projection(nus_dir, nus_info):
    ds = nus_dataset(nus_dir)
    assert len(ds) == 1
    sample = ds[0]
    raw = np.fromfile(nus_dir / NUS_LIDAR, np.float32).reshape(-1, 5)
    points = sample['points']
    assert points.dtype == np.float32 and points.shape == (34688, 5)
    np.testing.assert_array_equal(points, raw)
    assert sample['cam'] == 'CAM_FRONT'
    assert sample['rgb'].shape == (900, 1600, 3)
    assert sample['lidar2img'].shape == (4, 4)
    cam_info = nus_info['images']['CAM_FRONT']
    np.testing.assert_allclose(sample['intrinsics'], cam_info['cam2img'])
    # several points in front of the camera: same pixels as the calibration
    uv_hand, depth_hand = hand_projection(points, cam_info)
    uv, depth = project_points(points, sample['lidar2img'])
    front = np.flatnonzero(depth_hand > 1)[::997]
    assert len(front) >= 10
    np.testing.assert_allclose(uv[front], uv_hand[front], atol=1e-6)
    np.testing.assert_allclose(depth, depth_hand, atol=1e-9)
    # a sensible part of the 360-degree scan lands in the front image
    inside = points_in_image_mask(points, sample['lidar2img'], (900, 1600))
    assert 0.05 < inside.mean() < 0.2
    # the image area [-0.5, W - 0.5] x [-0.5, H - 0.5] (pixel centres)
    hand_inside = ((depth_hand > 1e-3) & (uv_hand[:, 0] >= -0.5)
                   & (uv_hand[:, 0] <= 1599.5) & (uv_hand[:, 1] >= -0.5)
                   & (uv_hand[:, 1] <= 899.5))
    np.testing.assert_array_equal(inside, hand_inside)


def test_nuscenes_all_cameras_and_filter(nus_dir, nus_info):
    ds = nus_dataset(nus_dir,
                     cameras='all',
                     filter_points_in_image=True,
                     pipeline=[
                         dict(type='LoadLiDARPoints', load_dim=5, use_dim=4),
                         dict(type='LoadRGBDFromFiles', with_depth=False),
                     ])
    # the filter goes after the last loader (the image size is known there)
    assert [type(t).__name__ for t in ds.pipeline.transforms] == [
        'LoadLiDARPoints', 'LoadRGBDFromFiles', 'FilterPointsInImage'
    ]
    assert len(ds) == 6
    assert [ds.get_data_info(i)['cam'] for i in range(6)] == list(NUS_CAMS)
    raw = np.fromfile(nus_dir / NUS_LIDAR, np.float32).reshape(-1, 5)
    total = 0
    for i, cam in enumerate(NUS_CAMS):
        sample = ds[i]
        assert sample['rgb_path'].endswith(nus_info['images'][cam]['img_path'])
        uv, depth = hand_projection(raw, nus_info['images'][cam])
        keep = (depth > 1e-3) & (uv[:, 0] >= -0.5) & (
            uv[:, 0] <= 1599.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] <= 899.5)
        np.testing.assert_array_equal(sample['points'], raw[keep, :4])
        assert sample['num_points_before_filter'] == len(raw)
        total += keep.sum()
    # six cameras around the car see most of the scan (ground near the car
    # and points above the images are seen by none)
    assert 0.4 < total / len(raw) < 1.0
    with pytest.raises(BadSampleError,
                       match=r'pkl: item 0 images.CAM_NOPE is missing'):
        nus_dataset(nus_dir, cameras=['CAM_NOPE'])


def test_nuscenes_flip_resize_keep_points_on_content(nus_dir, nus_info):
    """After a joint resize + flip, points hit the same image content."""
    ds = nus_dataset(nus_dir,
                     filter_points_in_image=True,
                     pipeline=LOAD + [
                         dict(type='RGBDResize', scale=(400, 225)),
                         dict(type='RGBDRandomFlip', prob=1.0),
                     ])
    sample = ds[0]
    assert sample['flip'] and sample['rgb'].shape == (225, 400, 3)
    points = sample['points']
    uv0, _ = hand_projection(points, nus_info['images']['CAM_FRONT'])
    uv1, _ = project_points(points, sample['lidar2img'])
    aug = sample['img_aug_matrix']
    # resize u' = u / 4 - 0.375, then flip u'' = 399 - u'
    np.testing.assert_allclose(
        aug, [[-0.25, 0, 399 + 0.375], [0, 0.25, -0.375], [0, 0, 1]])
    mapped = uv0 @ aug[:2, :2].T + aug[:2, 2]
    np.testing.assert_allclose(uv1, mapped, atol=1e-6)
    # colours under the points: original image vs transformed image
    orig = cv2.cvtColor(
        cv2.imread(str(nus_dir / nus_info['images']['CAM_FRONT']['img_path'])),
        cv2.COLOR_BGR2RGB).astype(np.float64)
    orig = cv2.GaussianBlur(orig, (0, 0), 2)  # what a 4x downscale keeps
    new = sample['rgb'].astype(np.float64)

    def colours(img, uv):
        h, w = img.shape[:2]
        u = np.clip(np.round(uv[:, 0]).astype(int), 0, w - 1)
        v = np.clip(np.round(uv[:, 1]).astype(int), 0, h - 1)
        return img[v, u]

    ref = colours(orig, uv0)
    err = np.abs(colours(new, uv1) - ref).mean()
    unflipped = uv1.copy()
    unflipped[:, 0] = 399 - uv1[:, 0]
    err_wrong = np.abs(colours(new, unflipped) - ref).mean()
    assert err < 12 and err < 0.5 * err_wrong, (err, err_wrong)


@pytest.fixture(scope='module')
def waymo_dir(samples_dir):
    return samples_dir / 'mmdet3d_tests_data' / 'waymo' / 'kitti_format'


def waymo_info(waymo_dir, split='train'):
    with open(waymo_dir / f'waymo_infos_{split}.pkl', 'rb') as f:
        return pickle.load(f)['data_list'][0]


def test_waymo_info_pkl_projection_and_filter(waymo_dir):
    pipeline = [
        dict(type='LoadRGBDFromFiles', with_depth=False),
        dict(type='LoadLiDARPoints', load_dim=None, use_dim=4),
    ]
    # the fixture stores the images as .png while the info says .jpg
    ds = WaymoKITTIFormatDataset(data_root=str(waymo_dir),
                                 ann_file='waymo_infos_val.pkl',
                                 img_suffix='.png',
                                 pipeline=pipeline)
    assert isinstance(ds.pipeline.transforms[-1], FilterPointsInImage)
    info = waymo_info(waymo_dir, 'val')
    cam = info['images']['CAM_FRONT']
    entry = ds.get_data_info(0)
    k4 = np.eye(4)
    k4[:3] = cam['cam2img']
    np.testing.assert_allclose(entry['lidar2img'],
                               k4 @ np.array(cam['lidar2cam']))
    np.testing.assert_allclose(entry['lidar2img'][:3],
                               cam['lidar2img'],
                               rtol=1e-5,
                               atol=1e-2)
    assert entry['num_pts_feats'] == 6 and entry['cam'] == 'CAM_FRONT'
    assert entry['rgb_path'].endswith('training/image_0/1000000.png')
    sample = ds[0]
    assert sample['rgb'].shape == (1280, 1920, 3)
    raw = np.fromfile(waymo_dir / 'training' / 'velodyne' / '1000000.bin',
                      np.float32).reshape(-1, 6)
    uv, depth = hand_projection(raw, cam)
    keep = (depth > 1e-3) & (uv[:, 0] >= -0.5) & (uv[:, 0] <= 1919.5) & (
        uv[:, 1] >= -0.5) & (uv[:, 1] <= 1279.5)
    assert sample['num_points_before_filter'] == 800
    assert 0 < keep.sum() < 800
    np.testing.assert_array_equal(sample['points'], raw[keep, :4])

    # no filter when switched off
    ds = WaymoKITTIFormatDataset(data_root=str(waymo_dir),
                                 ann_file='waymo_infos_val.pkl',
                                 img_suffix='.png',
                                 filter_points_in_image=False,
                                 pipeline=pipeline)
    assert len(ds[0]['points']) == 800


def test_waymo_car_points_land_in_its_2d_box(waymo_dir):
    """A labelled car's LiDAR points project inside its camera box."""
    ds = WaymoKITTIFormatDataset(data_root=str(waymo_dir),
                                 ann_file='waymo_infos_train.pkl')
    lidar2img = ds.get_data_info(0)['lidar2img']
    with open(waymo_dir / 'waymo_dbinfos_train.pkl', 'rb') as f:
        car = pickle.load(f)['Car'][0]
    assert car['image_idx'] == 0
    # the gt database stores the points relative to the box's bottom centre
    pts = np.fromfile(waymo_dir / car['path'], np.float32).reshape(-1, 5)
    assert len(pts) == car['num_points_in_gt']
    xyz = pts[:, :3] + car['box3d_lidar'][:3]
    uv, depth = project_points(xyz, lidar2img)
    x1, y1, x2, y2 = waymo_info(waymo_dir)['instances'][0]['bbox']
    assert (depth > 25).all() and (depth < 35).all()
    assert (uv[:, 0] > x1 - 2).all() and (uv[:, 0] < x2 + 2).all()
    assert (uv[:, 1] > y1 - 2).all() and (uv[:, 1] < y2 + 2).all()
    # and they cover most of its width
    assert uv[:, 0].max() - uv[:, 0].min() > 0.7 * (x2 - x1)


def write_old_calib(path, cam_info, cam=0, drop=None):
    """A calib file as mmdet3d < 1.1's Waymo converter wrote it."""
    k = np.array(cam_info['cam2img'])[:3, :4]
    t = np.array(cam_info['lidar2cam'])[:3, :4]
    lines = [f'P{i}: ' + ' '.join(map(str, k.ravel())) for i in range(5)]
    lines.append('R0_rect: ' + ' '.join(map(str, np.eye(3).ravel())))
    lines += [
        f'Tr_velo_to_cam_{i}: ' + ' '.join(map(str, t.ravel()))
        for i in range(5)
    ]
    lines = [ln for ln in lines if drop is None or not ln.startswith(drop)]
    path.write_text('\n'.join(lines) + '\n')


def test_waymo_calib_file_layout(waymo_dir, tmp_path):
    train = tmp_path / 'training'
    (train / 'calib').mkdir(parents=True)
    (train / 'image_0').symlink_to(waymo_dir / 'training' / 'image_0')
    (train / 'velodyne').symlink_to(waymo_dir / 'training' / 'velodyne')
    infos = [waymo_info(waymo_dir, 'train'), waymo_info(waymo_dir, 'val')]
    for info in infos:
        write_old_calib(train / 'calib' / f'{info["sample_idx"]:07d}.txt',
                        info['images']['CAM_FRONT'])
    ds = WaymoKITTIFormatDataset(data_root=str(tmp_path),
                                 cam=0,
                                 pipeline=[
                                     dict(type='LoadRGBDFromFiles',
                                          with_depth=False),
                                     dict(type='LoadLiDARPoints',
                                          load_dim=6,
                                          use_dim=4),
                                 ])
    assert len(ds) == 2
    for i, info in enumerate(infos):
        entry = ds.get_data_info(i)
        assert entry['frame_id'] == f'{info["sample_idx"]:07d}'
        np.testing.assert_allclose(entry['lidar2img'][:3],
                                   info['images']['CAM_FRONT']['lidar2img'],
                                   rtol=1e-5,
                                   atol=1e-2)
    assert ds[1]['rgb'].shape == (1280, 1920, 3)
    assert len(ds[1]['points']) == 55  # as with the info pkl

    # the mmdet3d WaymoInfoGatherer spelling is accepted
    calib_file = train / 'calib' / '0000000.txt'
    text = calib_file.read_text().replace('Tr_velo_to_cam_0:',
                                          'Tr_velo_to_cam:')
    calib_file.write_text(text)
    np.testing.assert_allclose(
        WaymoKITTIFormatDataset(
            data_root=str(tmp_path)).get_data_info(0)['lidar2img'],
        ds.get_data_info(0)['lidar2img'])

    # bad calibration files name the file and the problem
    write_old_calib(calib_file,
                    infos[0]['images']['CAM_FRONT'],
                    drop='Tr_velo_to_cam_0')
    with pytest.raises(BadSampleError,
                       match=r"0000000.txt: missing calibration entries "
                       r"\['Tr_velo_to_cam_0'\] of camera 0"):
        WaymoKITTIFormatDataset(data_root=str(tmp_path))
    # ... unless bad frames are skipped
    assert len(
        WaymoKITTIFormatDataset(data_root=str(tmp_path),
                                skip_bad_samples=True)) == 1
    calib_file.write_text('P0: 1 2 3\n')
    with pytest.raises(BadSampleError, match='P0 .line 1. has 3 values'):
        read_waymo_calib(str(calib_file))
    with pytest.raises(ValueError, match='unknown Waymo camera'):
        WaymoKITTIFormatDataset(data_root=str(tmp_path), cam='CAM_BACK')


def test_bad_info_files(tmp_path):
    bad = tmp_path / 'bad.pkl'
    with open(bad, 'wb') as f:
        pickle.dump(
            dict(data_list=[
                dict(images=dict(CAM_FRONT=dict(img_path='a.jpg')),
                     lidar_points=dict(lidar_path='a.bin'))
            ]), f)
    with pytest.raises(BadSampleError,
                       match=r'bad.pkl: item 0 images.CAM_FRONT has neither'):
        NuScenesImageLiDARDataset(ann_file=str(bad))
    with pytest.raises(BadSampleError, match='has neither'):
        WaymoKITTIFormatDataset(ann_file=str(bad))
    with open(bad, 'wb') as f:
        pickle.dump([1, 2], f)
    with pytest.raises(BadSampleError, match='no data_list'):
        NuScenesImageLiDARDataset(ann_file=str(bad))
