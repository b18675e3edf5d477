"""Datasets over official folder layouts: ScanNet, SUN RGB-D, NYUv2, list,
video clips. Real samples are arranged into each layout in ``tmp_path``
(symlinks / small derived files, never inside the project)."""
import os

import cv2
import numpy as np
import pytest

from mmrgbd.datasets import (BadSampleError, LoadRGBDClip, LoadScanNetFrame,
                             NYUv2Dataset, RGBDListDataset,
                             RGBDVideoClipDataset, ScanNetFrames,
                             SUNRGBDDataset)
from mmrgbd.datasets.nyuv2 import NYU13_CLASSES, NYU40_CLASSES

SEVEN_SCENES_K = np.array([[585., 0, 320], [0, 585., 240], [0, 0, 1]])
SEVEN_IDS = list(range(150, 200, 5))  # frame-000150 ... frame-000195


def _k4(k):
    m = np.eye(4)
    m[:3, :3] = k
    return m


def reprojection_error(depth_a, k_a, pose_a, depth_b, k_b, pose_b):
    """Median |depth_b(project(a)) - z_b| over pixels valid in both (m)."""
    ys, xs = np.nonzero(depth_a > 0)
    z = depth_a[ys, xs].astype(np.float64)
    cam = np.stack([(xs - k_a[0, 2]) * z / k_a[0, 0],
                    (ys - k_a[1, 2]) * z / k_a[1, 1], z, np.ones_like(z)])
    pb = np.linalg.inv(pose_b) @ pose_a @ cam  # (4, N)
    with np.errstate(divide='ignore', invalid='ignore'):
        u = np.round(k_b[0, 0] * pb[0] / pb[2] + k_b[0, 2]).astype(int)
        v = np.round(k_b[1, 1] * pb[1] / pb[2] + k_b[1, 2]).astype(int)
    h, w = depth_b.shape
    ok = (pb[2] > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    ok[ok] &= depth_b[v[ok], u[ok]] > 0
    return float(np.median(np.abs(depth_b[v[ok], u[ok]] - pb[2][ok]))), \
        ok.mean()


# --------------------------------------------------------------- ScanNet
def _scannet_from_7scenes(samples_dir, root, scene='scene0000_00',
                          bad_pose_ids=()):
    """7-Scenes frames as a ScanNet export (ids 0..9, colour as JPEG)."""
    src = samples_dir / '7scenes_tsdf_fusion' / 'rgbd-frames'
    d = root / scene
    for sub in ('color', 'depth', 'pose', 'intrinsic'):
        (d / sub).mkdir(parents=True)
    for i, n in enumerate(SEVEN_IDS):
        stem = src / f'frame-{n:06d}'
        bgr = cv2.imread(f'{stem}.color.png')
        cv2.imwrite(str(d / 'color' / f'{i}.jpg'), bgr)
        os.symlink(f'{stem}.depth.png', d / 'depth' / f'{i}.png')
        pose = np.loadtxt(f'{stem}.pose.txt')
        if i in bad_pose_ids:
            pose[:] = -np.inf  # how ScanNet marks frames without a pose
        np.savetxt(d / 'pose' / f'{i}.txt', pose)
    np.savetxt(d / 'intrinsic' / 'intrinsic_depth.txt', _k4(SEVEN_SCENES_K))
    np.savetxt(d / 'intrinsic' / 'intrinsic_color.txt', _k4(SEVEN_SCENES_K))
    return d


def test_scannet_frames_sampling_and_invalid_poses(samples_dir, tmp_path):
    _scannet_from_7scenes(samples_dir, tmp_path, bad_pose_ids=(4, ))
    _scannet_from_7scenes(samples_dir, tmp_path, 'scene0001_00')
    ds = ScanNetFrames(data_root=str(tmp_path), frame_skip=2)
    ids = [(d['scene'], d['frame_idx']) for d in ds]
    assert ids == [('scene0000_00', 0), ('scene0000_00', 2),
                   ('scene0000_00', 6), ('scene0000_00', 8),
                   ('scene0001_00', 0), ('scene0001_00', 2),
                   ('scene0001_00', 4), ('scene0001_00', 6),
                   ('scene0001_00', 8)]
    assert ds.num_invalid_poses == 1
    (tmp_path / 'train.txt').write_text('scene0001_00\n')
    ds = ScanNetFrames(
        data_root=str(tmp_path), scene_list='train.txt', frame_skip=4,
        frame_offset=1)
    assert [d['frame_idx'] for d in ds] == [1, 5, 9]
    # a seed draws a per-scene start in [0, frame_skip), reproducibly
    a = [d['frame_idx'] for d in ScanNetFrames(
        data_root=str(tmp_path), frame_skip=3, seed=7)]
    b = [d['frame_idx'] for d in ScanNetFrames(
        data_root=str(tmp_path), frame_skip=3, seed=7)]
    rng = np.random.default_rng(7)
    starts = [int(rng.integers(3)), int(rng.integers(3))]
    expected = [i for i in range(starts[0], 10, 3) if i != 4] + \
        list(range(starts[1], 10, 3))
    assert a == b == expected


def test_scannet_frames_metres_and_geometry(samples_dir, tmp_path):
    _scannet_from_7scenes(samples_dir, tmp_path)
    ds = ScanNetFrames(
        data_root=str(tmp_path), frame_skip=2,
        pipeline=[dict(type='LoadScanNetFrame')])
    a, b = ds[0], ds[1]  # frames 150 and 160 of 7-Scenes
    assert a['rgb'].shape == (480, 640, 3) and a['depth'].dtype == np.float32
    assert a['depth_unit'] == 'mm' and a['depth_source'] == 'sensor'
    raw = cv2.imread(a['depth_path'], cv2.IMREAD_UNCHANGED)
    ok = (raw > 0) & (raw < 65535)
    np.testing.assert_array_equal(a['depth_valid'], ok)
    np.testing.assert_allclose(a['depth'][ok], raw[ok] / 1000., rtol=1e-6)
    assert 0.9 < a['depth'][ok].min() and a['depth'].max() < 3.0
    # depth, K and camera-to-world agree: frame a re-projected into b
    err, overlap = reprojection_error(a['depth'], a['intrinsics'],
                                      a['cam2world'], b['depth'],
                                      b['intrinsics'], b['cam2world'])
    err_static, _ = reprojection_error(a['depth'], a['intrinsics'],
                                       np.eye(4), b['depth'],
                                       b['intrinsics'], np.eye(4))
    assert overlap > 0.7
    assert err < 0.03 and err_static > 5 * err, (err, err_static)


def test_load_scannet_frame_resizes_colour_to_depth(tmp_path):
    d = tmp_path / 'scene0000_00'
    for sub in ('color', 'depth', 'pose', 'intrinsic'):
        (d / sub).mkdir(parents=True)
    small = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3) * 2
    big = small.repeat(2, axis=0).repeat(2, axis=1)  # (12, 16, 3)
    cv2.imwrite(str(d / 'color' / '0.png'), big[..., ::-1])
    cv2.imwrite(str(d / 'depth' / '0.png'), np.full((6, 8), 1500, np.uint16))
    np.savetxt(d / 'pose' / '0.txt', np.eye(4))
    k_d = np.array([[7., 0, 3.5], [0, 7., 2.5], [0, 0, 1]])
    np.savetxt(d / 'intrinsic' / 'intrinsic_depth.txt', _k4(k_d))
    np.savetxt(d / 'intrinsic' / 'intrinsic_color.txt', _k4(k_d * 2))
    ds = ScanNetFrames(data_root=str(tmp_path), frame_skip=1,
                       pipeline=[LoadScanNetFrame()])
    out = ds[0]
    np.testing.assert_array_equal(out['rgb'], small)  # 2x area = exact
    assert out['rgb_ori_shape'] == (12, 16)
    np.testing.assert_allclose(out['intrinsics'], k_d)
    np.testing.assert_allclose(out['depth'], 1.5)
    (d / 'pose' / '0.txt').write_text('1 2 3\n')
    with pytest.raises(BadSampleError, match=r'pose/0\.txt: expected 4x4'):
        ScanNetFrames(data_root=str(tmp_path), frame_skip=1)


# -------------------------------------------------------------- SUN RGB-D
def _sunrgbd_layout(samples_dir, root):
    o3d = samples_dir / 'open3d_rgbd_other_formats'
    d = root / 'SUNRGBD' / 'kv1' / 'NYUdata' / 'NYU0001'
    for sub in ('image', 'depth', 'depth_bfx'):
        (d / sub).mkdir(parents=True)
    os.symlink(o3d / 'SUN_color.jpg', d / 'image' / 'NYU0001.jpg')
    os.symlink(o3d / 'SUN_depth.png', d / 'depth' / 'NYU0001.png')
    os.symlink(o3d / 'SUN_depth.png', d / 'depth_bfx' / 'NYU0001.png')
    (d / 'intrinsics.txt').write_text(
        '525.000000 0.000000 319.500000\n0.000000 525.000000 239.500000\n'
        '0.000000 0.000000 1.000000\n')
    return root / 'SUNRGBD', d


def test_sunrgbd_official_layout(samples_dir, tmp_path):
    root, d = _sunrgbd_layout(samples_dir, tmp_path)
    ds = SUNRGBDDataset(
        data_root=str(root), pipeline=[dict(type='LoadRGBDFromFiles')])
    assert len(ds) == 1
    info = ds.get_data_info(0)
    assert info['sample_dir'] == 'kv1/NYUdata/NYU0001'
    assert info['depth_path'].endswith('depth_bfx/NYU0001.png')
    np.testing.assert_allclose(info['intrinsics'][0], [525, 0, 319.5])
    out = ds[0]
    raw = cv2.imread(str(d / 'depth' / 'NYU0001.png'), cv2.IMREAD_UNCHANGED)
    # bit rotation written arithmetically: mm = v // 8 + (v % 8) * 8192
    mm = raw.astype(np.int64) // 8 + (raw.astype(np.int64) % 8) * 8192
    np.testing.assert_allclose(out['depth'], mm / 1000., rtol=1e-6)
    valid = out['depth'][out['depth_valid']]
    assert 0.75 < out['depth_valid'].mean() < 0.9
    assert 1.5 < np.median(valid) < 4.0
    assert np.percentile(valid, 99) < 10.0  # an indoor scene in metres
    raw_median = np.median(raw[raw > 0]) / 1000.
    assert raw_median > 10  # undecoded words would read as ~21 m
    ds = SUNRGBDDataset(data_root=str(root), depth_source='sensor')
    assert ds.get_data_info(0)['depth_path'].endswith('depth/NYU0001.png')


def test_sunrgbd_info_list_with_labels(samples_dir, tmp_path):
    root, d = _sunrgbd_layout(samples_dir, tmp_path)
    label = np.zeros((480, 640), np.uint8)
    label[:, 320:] = 37  # bag
    label[:240, :320] = 1  # wall
    (root / 'labels').mkdir()
    cv2.imwrite(str(root / 'labels' / 'img-000001.png'), label)
    (root / 'train.txt').write_text(
        '# sample label\nkv1/NYUdata/NYU0001 labels/img-000001.png\n')
    ds = SUNRGBDDataset(
        data_root=str(root), ann_file='train.txt',
        pipeline=[dict(type='LoadRGBDFromFiles', with_semseg=True,
                       reduce_zero_label=True)])
    assert ds.metainfo['classes'][0] == 'wall'
    assert ds.metainfo['classes'][36] == 'bag'
    sem = ds[0]['semseg']
    assert sem[0, 0] == 0 and sem[0, 400] == 36 and sem[300, 0] == 255
    (root / 'bad.txt').write_text('a b c\n')
    with pytest.raises(BadSampleError, match=r'bad\.txt: line 1'):
        SUNRGBDDataset(data_root=str(root), ann_file='bad.txt')


# ------------------------------------------------------------------ NYUv2
def test_nyuv2_class_names_match_official_maps(samples_dir):
    from scipy.io import loadmat
    meta = samples_dir / 'nyuv2_labeled_vainf'
    names40 = [str(n[0]) for n in loadmat(meta / 'classMapping40.mat')
               ['className'][0]]
    m13 = loadmat(meta / 'class13Mapping.mat')['classMapping13']
    names13 = [str(n[0]) for n in m13['classNames'][0, 0][0]]
    assert tuple(names40) == NYU40_CLASSES
    assert tuple(names13) == NYU13_CLASSES


def _nyu_1407_layout(samples_dir, root):
    demo = samples_dir / 'nyuv2_rcnn_depth_demo'
    for sub in ('rgb', 'depth', 'rawdepth', 'label13'):
        (root / sub).mkdir(parents=True)
    os.symlink(demo / 'demo-data' / 'images.png', root / 'rgb' / '1407.png')
    os.symlink(demo / 'demo-data' / 'depth.png', root / 'depth' / '1407.png')
    os.symlink(demo / 'demo-data' / 'rawdepth.png',
               root / 'rawdepth' / '1407.png')
    full = cv2.imread(
        str(demo / 'nyuv2-meta-data_test_labels_13' /
            'new_nyu_class13_1407.png'), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(root / 'label13' / '1407.png'), full[45:470, 40:600])
    (root / 'test.txt').write_text('1407\n')
    (root / 'train.txt').write_text('')
    k = {}
    for line in (demo / 'intrinsics.txt').read_text().splitlines():
        if line and not line.startswith('#'):
            key, val = line.split()
            k[key] = float(val)
    return [[k['fx'], 0, k['cx']], [0, k['fy'], k['cy']], [0, 0, 1]], full


def test_nyuv2_frame_1407(samples_dir, tmp_path):
    k, full_label = _nyu_1407_layout(samples_dir, tmp_path)
    pipeline = [dict(type='LoadRGBDFromFiles', with_semseg=True,
                     reduce_zero_label=True)]
    ds = NYUv2Dataset(data_root=str(tmp_path), split='test', num_classes=13,
                      intrinsics=k, pipeline=pipeline)
    assert len(ds) == 1 and len(ds.metainfo['classes']) == 13
    out = ds[0]
    assert out['rgb'].shape == (425, 560, 3)
    assert out['depth_source'] == 'filled' and out['depth_unit'] == 'mm'
    assert out['depth_valid'].all()  # the filled depth has no holes
    assert abs(out['depth'].min() - 1.92) < 0.01
    assert abs(out['depth'].max() - 9.48) < 0.01
    sem = out['semseg']
    crop = full_label[45:470, 40:600].astype(np.int64)
    np.testing.assert_array_equal(sem[crop == 0], 255)
    np.testing.assert_array_equal(sem[crop > 0], crop[crop > 0] - 1)
    assert set(np.unique(sem)) <= set(range(13)) | {255}
    raw = NYUv2Dataset(data_root=str(tmp_path), split='test', num_classes=13,
                       depth_source='sensor', intrinsics=k,
                       pipeline=pipeline)[0]
    holes = 1 - raw['depth_valid'].mean()
    assert 0.12 < holes < 0.22  # the raw Kinect depth has ~17% holes
    both = raw['depth_valid']
    assert np.median(np.abs(raw['depth'][both] - out['depth'][both])) < 0.01
    with pytest.raises(BadSampleError, match=r'train\.txt: .*empty'):
        NYUv2Dataset(data_root=str(tmp_path), split='train')
    with pytest.raises(ValueError, match='num_classes must be 13 or 40'):
        NYUv2Dataset(data_root=str(tmp_path), num_classes=37)


# -------------------------------------------------------------- RGB-D list
def test_rgbd_list_dataset(samples_dir, tmp_path):
    o3d = samples_dir / 'open3d_rgbd_other_formats'
    (tmp_path / 'list.txt').write_text(
        '# rgb depth\n\nTUM_color.png TUM_depth.png\n')
    ds = RGBDListDataset(
        ann_file=str(tmp_path / 'list.txt'), data_root=str(o3d),
        depth_unit='tum', pipeline=[dict(type='LoadRGBDFromFiles')])
    assert len(ds) == 1
    out = ds[0]
    raw = cv2.imread(str(o3d / 'TUM_depth.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(out['depth'], raw / 5000., rtol=1e-6)
    assert 0.3 < np.median(out['depth'][out['depth_valid']]) < 5
    (tmp_path / 'bad.txt').write_text('a.png b.png\nonly_one.png\n')
    with pytest.raises(BadSampleError, match=r'bad\.txt: line 2 must hold'):
        RGBDListDataset(ann_file=str(tmp_path / 'bad.txt'),
                        data_root=str(o3d), depth_unit='tum')
    with pytest.raises(ValueError, match='depth units are never guessed'):
        RGBDListDataset(ann_file=str(tmp_path / 'list.txt'),
                        data_root=str(o3d), depth_unit='cm')
    (tmp_path / 'sem.txt').write_text('x.png y.png z.png\n')
    info = RGBDListDataset(ann_file=str(tmp_path / 'sem.txt'),
                           data_root='/data', depth_unit='mm').get_data_info(0)
    assert info['semseg_path'] == '/data/z.png'


# ------------------------------------------------------------ video clips
def _video_from_7scenes(samples_dir, root):
    src = samples_dir / '7scenes_tsdf_fusion' / 'rgbd-frames'
    v = root / 'redkitchen'
    for sub in ('rgb', 'depth', 'pose'):
        (v / sub).mkdir(parents=True)
    for n in SEVEN_IDS:
        stem = f'frame-{n:06d}'
        os.symlink(src / f'{stem}.color.png', v / 'rgb' / f'{stem}.png')
        os.symlink(src / f'{stem}.depth.png', v / 'depth' / f'{stem}.png')
        os.symlink(src / f'{stem}.pose.txt', v / 'pose' / f'{stem}.txt')
    os.symlink(samples_dir / '7scenes_tsdf_fusion' / 'camera-intrinsics.txt',
               v / 'intrinsics.txt')
    short = root / 'short'
    for sub in ('rgb', 'depth'):
        (short / sub).mkdir(parents=True)
    for n in SEVEN_IDS[:3]:
        stem = f'frame-{n:06d}'
        os.symlink(src / f'{stem}.color.png', short / 'rgb' / f'{stem}.png')
        os.symlink(src / f'{stem}.depth.png', short / 'depth' / f'{stem}.png')


def test_rgbd_video_clips(samples_dir, tmp_path):
    _video_from_7scenes(samples_dir, tmp_path)
    ds = RGBDVideoClipDataset(
        data_root=str(tmp_path), num_frames=4, frame_interval=2,
        clip_stride=3, pipeline=[LoadRGBDClip()])
    # span (4 - 1) * 2 + 1 = 7 of 10 frames: starts 0 and 3
    assert len(ds) == 2 and ds.num_short_videos == 1
    assert ds.get_data_info(1)['frame_stems'] == [
        'frame-000165', 'frame-000175', 'frame-000185', 'frame-000195']
    clip = ds[0]
    assert clip['rgb'].shape == (4, 480, 640, 3)
    assert clip['depth'].shape == clip['depth_valid'].shape == (4, 480, 640)
    assert clip['cam2world'].shape == (4, 4, 4)
    np.testing.assert_allclose(clip['intrinsics'], SEVEN_SCENES_K)
    # consecutive clip frames are 10 recording frames apart (150 -> 160)
    err, _ = reprojection_error(clip['depth'][0], clip['intrinsics'],
                                clip['cam2world'][0], clip['depth'][1],
                                clip['intrinsics'], clip['cam2world'][1])
    assert err < 0.03
    # defaults are 16 frames every 4: no clip fits in 10 frames
    with pytest.raises(BadSampleError, match='no clip of 16 frames every 4'):
        RGBDVideoClipDataset(data_root=str(tmp_path))


def test_rgbd_video_clip_size_mismatch(tmp_path):
    v = tmp_path / 'vid'
    (v / 'rgb').mkdir(parents=True)
    (v / 'depth').mkdir()
    for i, size in enumerate([(6, 8), (6, 8), (4, 8)]):
        cv2.imwrite(str(v / 'rgb' / f'{i:03d}.png'),
                    np.zeros(size + (3, ), np.uint8))
        cv2.imwrite(str(v / 'depth' / f'{i:03d}.png'),
                    np.full(size, 1000, np.uint16))
    ds = RGBDVideoClipDataset(data_root=str(tmp_path), num_frames=3,
                              frame_interval=1, pipeline=[LoadRGBDClip()])
    with pytest.raises(BadSampleError, match=r'rgb/002\.png: .*first frame'):
        ds[0]
