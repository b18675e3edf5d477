"""SimIPU's data recipe: camera-frustum + range crop of the scans, empty
clouds, the multi-scale keep-ratio resize and Waymo's load_interval (the
shipped KITTI pipeline on the real frames is tested in
tests/test_models/test_simipu.py)."""
import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from mmrgbd.datasets import BadSampleError, KITTIRawObjectDataset
from mmrgbd.datasets.transforms.geometry import RGBDRandomResize
from mmrgbd.datasets.transforms.lidar import (FilterPointsInRange,
                                              LoadLiDARPoints,
                                              points_in_range_mask)
from mmrgbd.registry import DATASETS

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
KITTI_RANGE = (0, -40, -3, 70.4, 40, 1)


def shipped(name):
    return Config.fromfile(str(CONFIGS / 'pretrain' / name))


# --------------------------------------------------------------------- #
# point filters and empty clouds
# --------------------------------------------------------------------- #
def test_range_filter_by_hand():
    pts = np.array([[10, 0, 0, 1],      # inside
                    [0, 0, 0, 1],       # x == x_min: out (strict)
                    [70.4, 0, 0, 1],    # x == x_max: out
                    [5, -39.9, 0.99, 1],  # inside, near the corner
                    [5, 41, 0, 1],      # y out
                    [5, 0, -3.5, 1]],   # z out
                   np.float32)
    assert points_in_range_mask(pts, KITTI_RANGE).tolist() == [
        True, False, False, True, False, False]
    out = FilterPointsInRange(KITTI_RANGE)(dict(points=pts))
    np.testing.assert_array_equal(out['points'], pts[[0, 3]])
    with pytest.raises(ValueError, match='point_cloud_range'):
        FilterPointsInRange((0, 0, 0, -1, 1, 1))


@pytest.fixture
def two_frames(tmp_path):
    """Two KITTI-layout frames with a hand-made pinhole calibration; frame
    000001 has no point in front of the camera."""
    import cv2
    root = tmp_path / 'kitti'
    for sub in ('calib', 'image_2', 'velodyne'):
        (root / 'training' / sub).mkdir(parents=True)
    p2 = '100 0 50 0 0 100 20 0 0 0 1 0'
    tr = '0 -1 0 0 0 0 -1 0 1 0 0 0'
    for idx, xs in (('000000', (10., 80.)), ('000001', (-5., -8.))):
        (root / 'training' / 'calib' / f'{idx}.txt').write_text(
            f'P2: {p2}\nR0_rect: 1 0 0 0 1 0 0 0 1\nTr_velo_to_cam: {tr}\n')
        cv2.imwrite(str(root / 'training' / 'image_2' / f'{idx}.png'),
                    np.zeros((40, 100, 3), np.uint8))
        np.array([[xs[0], 0, 0, .5], [xs[1], 0, 0, .5], [10, 30, 0, .5]],
                 np.float32).tofile(root / 'training' / 'velodyne' /
                                    f'{idx}.bin')
    return root


def test_load_crops_to_frustum_and_range(two_frames):
    load = LoadLiDARPoints(filter_in_image=True,
                           point_cloud_range=KITTI_RANGE)
    ds = KITTIRawObjectDataset(data_root=str(two_frames), pipeline=[
        dict(type='LoadRGBDFromFiles', with_depth=False), load])
    out = ds[0]
    # (10, 0, 0) in view and range; (80, 0, 0) in view but beyond 70.4 m;
    # (10, 30, 0) outside the image
    np.testing.assert_array_equal(out['points'][:, 0], [10.])
    assert out['num_points_before_filter'] == 3
    assert 'point_cloud_range=[0.0, -40.0' in repr(load)


def test_empty_cloud_after_filters_is_a_skippable_bad_sample(two_frames):
    pipeline = [dict(type='LoadRGBDFromFiles', with_depth=False),
                dict(type='LoadLiDARPoints', filter_in_image=True)]
    ds = KITTIRawObjectDataset(data_root=str(two_frames), pipeline=pipeline)
    with pytest.raises(BadSampleError,
                       match=r'000001\.bin: frame 000001: no LiDAR point '
                       r'left after the camera-view filter \(3 before\)'):
        ds[1]
    # range filter: frame 000000's in-view points are all beyond 70.4 m
    with pytest.raises(BadSampleError, match=r'000000\.bin.*range filter'):
        FilterPointsInRange((0, -1, -1, 5, 1, 1))(dict(
            points=ds[0]['points'], points_path=ds[0]['points_path'],
            frame_id='000000'))
    # an empty file at load
    empty = two_frames / 'training' / 'velodyne' / '000000.bin'
    backup = empty.read_bytes()
    empty.write_bytes(b'')
    with pytest.raises(BadSampleError, match=r'000000\.bin: .*empty'):
        ds[0]
    empty.write_bytes(backup)
    # skip_bad_samples serves the good frame instead
    ds = KITTIRawObjectDataset(data_root=str(two_frames), pipeline=pipeline,
                               skip_bad_samples=True)
    out = ds[1]
    assert out['frame_id'] == '000000' and ds.num_skipped >= 1


# --------------------------------------------------------------------- #
# multi-scale keep-ratio resize
# --------------------------------------------------------------------- #
def test_random_resize_draws_like_mmcv_and_updates_lidar2img():
    from mmcv.transforms import RandomResize
    scales = [(640, 192), (2400, 720)]
    ours = RGBDRandomResize(scales=scales, keep_ratio=True)
    ref = RandomResize(scale=scales, keep_ratio=True)
    l2i = np.eye(4)
    l2i[0, 0] = l2i[1, 1] = 700.
    sizes = set()
    for seed in range(12):
        np.random.seed(seed)
        out = ours(dict(rgb=np.zeros((375, 1242, 3), np.uint8),
                        lidar2img=l2i.copy()))
        np.random.seed(seed)
        exp = ref(dict(img=np.zeros((375, 1242, 3), np.uint8)))
        assert out['rgb'].shape == exp['img'].shape
        h, w = out['rgb'].shape[:2]
        sizes.add((h, w))
        assert abs(w / h - 1242 / 375) < 0.01  # keep-ratio
        assert 192 <= h <= 720 and 620 <= w <= 2400
        sx, sy = w / 1242, h / 375
        a4 = np.eye(4)
        a4[:3, :3] = [[sx, 0, .5 * sx - .5], [0, sy, .5 * sy - .5],
                      [0, 0, 1]]
        np.testing.assert_allclose(out['lidar2img'], a4 @ l2i)
    assert len(sizes) == 12  # a new scale every time
    with pytest.raises(ValueError, match='two positive'):
        RGBDRandomResize(scales=[(640, 192)])


# --------------------------------------------------------------------- #
# Waymo: "full Waymo" = every 5th frame
# --------------------------------------------------------------------- #
def test_shipped_waymo_config_loads_every_fifth_frame(samples_dir, tmp_path):
    src = samples_dir / 'mmdet3d_tests_data' / 'waymo' / 'kitti_format'
    with open(src / 'waymo_infos_val.pkl', 'rb') as f:
        infos = pickle.load(f)
    item = infos['data_list'][0]
    infos['data_list'] = []
    for i in range(12):
        frame = copy.deepcopy(item)
        frame['sample_idx'] = 1000000 + i
        infos['data_list'].append(frame)
    with open(tmp_path / 'waymo_infos_train.pkl', 'wb') as f:
        pickle.dump(infos, f)
    cfg = shipped('simipu_r50_waymo.py')
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = str(tmp_path)
    ds = DATASETS.build(ds_cfg)
    assert ds.load_interval == 5
    assert len(ds) == 3  # frames 0, 5, 10 of 12
    assert [ds.get_data_info(i)['frame_id'] for i in range(3)] == [
        1000000, 1000005, 1000010]
    ds_cfg.load_interval = 1
    assert len(DATASETS.build(ds_cfg)) == 12
