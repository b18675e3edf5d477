"""KITTIDepthDataset, KBCrop and RandomGammaBrightnessColor on the real KITTI
frames arranged in the Eigen-split depth layout."""
import cv2
import numpy as np
import pytest
from real_layouts.kitti_depth import build_kitti_depth, project_to_depth_png

from mmrgbd.datasets import BadSampleError, KITTIDepthDataset
from mmrgbd.datasets.transforms import KBCrop, RandomGammaBrightnessColor
from mmrgbd.datasets.transforms.lidar import (kitti_lidar2img,
                                              load_points_bin, project_points,
                                              read_kitti_calib)


@pytest.fixture(scope='module')
def kitti(samples_dir, tmp_path_factory):
    return build_kitti_depth(tmp_path_factory.mktemp('kitti'), samples_dir)


def test_projected_ground_truth_is_the_official_encoding(kitti, samples_dir):
    """uint16 metres * 256, 0 = no point; each hit pixel holds the nearest
    real LiDAR point that projects onto it."""
    frame = kitti['frames'][1]
    gt = frame['gt']
    assert gt.dtype == np.uint16 and gt.shape == (375, 1242)
    on_disk = cv2.imread(f'{kitti["data_root"]}/gt_depth/{frame["depth"]}',
                         cv2.IMREAD_UNCHANGED)
    assert np.array_equal(on_disk, gt)
    src = samples_dir / 'kitti_object_vis' / 'training'
    calib = read_kitti_calib(str(src / 'calib' / '000001.txt'))
    points = load_points_bin(str(src / 'velodyne' / '000001.bin'))
    uv, depth = project_points(points, kitti_lidar2img(calib))
    hit = gt > 0
    assert 10000 < hit.sum() < 0.1 * gt.size  # sparse, ~18k pixels
    metres = gt[hit] / 256.
    assert 1. < metres.min() and metres.max() < 90.
    # a point in front, inside: its pixel holds at most its depth (the
    # nearest point of that pixel), within the 1/256 m quantisation
    front = np.flatnonzero(depth > 2.)
    for i in front[:: max(1, len(front) // 200)]:
        col, row = np.round(uv[i]).astype(int)
        if 0 <= col < 1242 and 0 <= row < 375:
            assert gt[row, col] / 256. <= depth[i] + 1 / 512.
    # toy check of the collision rule: two points on one pixel
    toy = np.array([[10., 0., 0.], [5., 0., 0.]], dtype=np.float32)
    lidar2img = np.array([[0, -1, 0, 2], [0, 0, -1, 2], [1, 0, 0, 0],
                          [0, 0, 0, 1]], dtype=np.float64)
    png = project_to_depth_png(toy, lidar2img, (4, 4))
    assert png[0, 0] == 5 * 256 and (png > 0).sum() == 1


def test_dataset_reads_the_eigen_split(kitti):
    root = kitti['data_root']
    train = KITTIDepthDataset(ann_file='kitti_eigen_train.txt',
                              data_root=root)
    assert len(train) == 2
    info = train.get_data_info(0)
    assert info['img_path'] == (f'{root}/input/2011_09_26/2011_09_26_'
                                f'drive_0001_sync/image_02/data/'
                                f'0000000000.png')
    assert info['depth_map_path'] == (
        f'{root}/gt_depth/2011_09_26_drive_0001_sync/proj_depth/'
        f'groundtruth/image_02/0000000000.png')
    assert info['focal'] == pytest.approx(707.0493)
    assert info['seg_fields'] == []
    # test split: the line with "None" ground truth is skipped
    test = KITTIDepthDataset(ann_file='kitti_eigen_test.txt', data_root=root,
                             test_mode=True)
    lines = open(f'{root}/kitti_eigen_test.txt').read().splitlines()
    assert len(lines) == 2 and ' None ' in lines[1]
    assert len(test) == 1


def test_bad_split_files_name_the_file_and_line(tmp_path):
    bad = tmp_path / 'split.txt'
    bad.write_text('a.png b.png 721.5\nonly_one_field\n')
    with pytest.raises(BadSampleError, match=r'split.txt: line 2'):
        KITTIDepthDataset(ann_file=str(bad), data_root=str(tmp_path))
    bad.write_text('a.png b.png f721\n')
    with pytest.raises(BadSampleError, match='focal'):
        KITTIDepthDataset(ann_file=str(bad), data_root=str(tmp_path))
    with pytest.raises(BadSampleError, match='missing.txt'):
        KITTIDepthDataset(ann_file='missing.txt', data_root=str(tmp_path))


def test_kb_crop_on_the_real_frames(kitti):
    """Bottom-centre 352 x 1216 of both sizes of KITTI images."""
    for i, frame in kitti['frames'].items():
        H, W = frame['hw']
        img = np.arange(H * W * 3, dtype=np.int64).reshape(H, W, 3)
        depth = frame['gt'].astype(np.float32) / 256.
        out = KBCrop()(dict(img=img, gt_depth_map=depth,
                            seg_fields=['gt_depth_map'], ori_shape=(H, W),
                            img_shape=(H, W)))
        top, left = H - 352, (W - 1216) // 2
        assert (top, left) == ((18, 4) if W == 1224 else (23, 13))
        assert np.array_equal(out['img'], img[top:, left:left + 1216])
        assert np.array_equal(out['gt_depth_map'],
                              depth[top:, left:left + 1216])
        assert out['ori_shape'] == out['img_shape'] == (352, 1216)
    with pytest.raises(BadSampleError, match='x.png: image 1000x375'):
        KBCrop()(dict(img=np.zeros((375, 1000, 3)), img_path='x.png',
                      seg_fields=[]))


def test_gamma_brightness_colour_by_hand():
    img = np.array([[[0, 128, 255], [64, 32, 16]]], dtype=np.uint8)
    aug = RandomGammaBrightnessColor(prob=1.)
    np.random.seed(5)
    out = aug(dict(img=img.copy()))['img']
    np.random.seed(5)
    np.random.rand()  # the apply draw
    gamma = np.random.uniform(0.9, 1.1)
    bright = np.random.uniform(0.9, 1.1)
    colour = np.random.uniform(0.9, 1.1, size=3)
    ref = np.clip((img / 255.)**gamma * bright * colour, 0, 1) * 255.
    assert out.dtype == np.float32
    assert np.allclose(out, ref, atol=1e-3)
    assert out.max() <= 255.
    # prob 0: untouched
    assert RandomGammaBrightnessColor(prob=0.)(dict(img=img))['img'] is img
    with pytest.raises(ValueError, match='gamma_range'):
        RandomGammaBrightnessColor(gamma_range=(1.1, 0.9))
