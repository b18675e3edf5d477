"""Joint geometry transforms: alignment, nearest sampling and exact cameras."""
import copy

import cv2
import numpy as np
import pytest

from mmrgbd.datasets.transforms.geometry import (RGBDCenterCrop,
                                                 RGBDRandomCrop,
                                                 RGBDRandomFlip,
                                                 RGBDRandomResizedCrop,
                                                 RGBDResize, crop_rgbd,
                                                 nearest_resize)
from mmrgbd.datasets.transforms.lidar import project_points
from mmrgbd.registry import TRANSFORMS

H, W = 24, 32
K = np.array([[30., 0., 15.3], [0., 28., 11.7], [0., 0., 1.]])
MARKER_DEPTH = 7.25
MARKER_ID = 42


def _cam_from_lidar():
    """A rigid LiDAR -> camera transform (KITTI-like axes plus an offset)."""
    rot = np.array([[0., -1., 0.], [0., 0., -1.], [1., 0., 0.]])
    t = np.eye(4)
    t[:3, :3] = rot
    t[:3, 3] = [0.1, -0.2, 0.3]
    return t


def make_sample(h=H, w=W, seed=0, marker=None, block=1):
    """A random RGB-D + LiDAR sample; ``marker=(u, v)`` adds a distinct block.

    The marker is a ``block x block`` square with top-left pixel ``(u, v)``:
    depth ``MARKER_DEPTH``, semseg ``MARKER_ID``, rgb 200 (else the rgb is 0
    there and around, so its intensity centroid is measurable).
    """
    rng = np.random.default_rng(seed)
    depth = rng.choice(np.array([0.5, 1.0, 1.5, 2.0, 3.0], np.float32),
                       size=(h, w))
    depth[rng.random((h, w)) < 0.2] = 0  # holes
    semseg = rng.integers(0, 5, size=(h, w)).astype(np.int64)
    semseg[rng.random((h, w)) < 0.1] = 255
    rgb = rng.integers(0, 256, size=(h, w, 3)).astype(np.uint8)
    if marker is not None:
        u, v = marker
        depth[v:v + block, u:u + block] = MARKER_DEPTH
        semseg[v:v + block, u:u + block] = MARKER_ID
        rgb[max(v - 3, 0):v + block + 3, max(u - 3, 0):u + block + 3] = 0
        rgb[v:v + block, u:u + block] = 200
    k4 = np.eye(4)
    k4[:3, :3] = K
    return dict(
        rgb=rgb,
        depth=depth,
        depth_valid=depth > 0,
        semseg=semseg,
        intrinsics=K.copy(),
        lidar2img=k4 @ _cam_from_lidar(),
        cam2world=np.eye(4),
        points=rng.normal(size=(50, 4)).astype(np.float32),
        ori_shape=(h, w),
        img_shape=(h, w))


def marker_centroid(results):
    """(u, v) centroid of the marker in depth (and check semseg agrees)."""
    mask = results['depth'] == MARKER_DEPTH
    assert mask.any(), 'marker lost'
    np.testing.assert_array_equal(mask, results['semseg'] == MARKER_ID)
    vs, us = np.nonzero(mask)
    return np.array([us.mean(), vs.mean()])


def backproject(k, uv, z=2.0):
    """3D camera point at depth z seen at pixel uv through k."""
    return np.linalg.inv(k) @ np.array([uv[0], uv[1], 1.0]) * z


def project(k, xyz):
    p = k @ xyz
    return p[:2] / p[2]


def lidar_point_at(sample, uv, z=2.0):
    """LiDAR-frame point that projects to pixel uv at camera depth z."""
    cam = backproject(sample['intrinsics'], uv, z)
    return (np.linalg.inv(_cam_from_lidar()) @ np.append(cam, 1.0))[:3]


def test_registered():
    for name in ('RGBDRandomResizedCrop', 'RGBDResize', 'RGBDRandomFlip',
                 'RGBDRandomCrop', 'RGBDCenterCrop'):
        assert TRANSFORMS.get(name) is not None, name


def test_nearest_resize_hand_computed():
    arr = np.arange(16).reshape(4, 4)
    # 4 -> 2: output j takes floor((j + 0.5) * 2) = 1, 3
    np.testing.assert_array_equal(
        nearest_resize(arr, (2, 2)), [[5, 7], [13, 15]])
    # 2 -> 4: floor((j + 0.5) / 2) = 0, 0, 1, 1 ; works on bool and clips
    small = np.array([[True, False], [False, True]])
    np.testing.assert_array_equal(
        nearest_resize(small[None], (4, 4))[0],
        np.kron(small, np.ones((2, 2), bool)))
    # agrees with OpenCV's pixel-centre nearest mode on floats
    x = np.random.default_rng(1).random((13, 17)).astype(np.float32)
    ref = cv2.resize(x, (11, 29), interpolation=cv2.INTER_NEAREST_EXACT)
    np.testing.assert_array_equal(nearest_resize(x, (29, 11)), ref)


@pytest.mark.parametrize('scale', [(45, 17), (13, 40), (64, 48)])
def test_resize_nearest_keeps_values_and_valid_follows_depth(scale):
    sample = make_sample()
    d_in, s_in = sample['depth'].copy(), sample['semseg'].copy()
    out = RGBDResize(scale=scale)(sample)
    w, h = scale
    assert out['rgb'].shape == (h, w, 3) and out['rgb'].dtype == np.uint8
    assert out['depth'].shape == (h, w) and out['depth'].dtype == np.float32
    assert out['depth_valid'].dtype == np.bool_
    assert out['semseg'].dtype == np.int64
    assert out['img_shape'] == (h, w)
    assert set(np.unique(out['depth'])) <= set(np.unique(d_in))
    assert set(np.unique(out['semseg'])) <= set(np.unique(s_in))
    np.testing.assert_array_equal(out['depth_valid'], out['depth'] > 0)
    assert np.all(out['depth'][~out['depth_valid']] == 0)
    assert out['scale_factor'] == pytest.approx((w / W, h / H))


def test_resize_keep_ratio_and_scale_factor_sizes():
    # rescale_size: factor min(100/32, 40/24) = 5/3 -> (53, 40)
    out = RGBDResize(scale=(100, 40), keep_ratio=True)(make_sample())
    assert out['img_shape'] == (40, 53)
    out = RGBDResize(scale_factor=0.5)(make_sample())
    assert out['img_shape'] == (12, 16)
    with pytest.raises(ValueError, match='exactly one'):
        RGBDResize()


def test_resize_intrinsics_marker_and_rgb_alignment():
    u, v = 9, 5
    sample = make_sample(marker=(u, v))
    p = backproject(K, (u, v))
    out = RGBDResize(scale=(2 * W, 2 * H))(sample)
    k2 = out['intrinsics']
    # fx *= 2, cx = (cx + 0.5) * 2 - 0.5
    np.testing.assert_allclose(
        k2, [[60., 0., 31.1], [0., 56., 23.9], [0., 0., 1.]], atol=1e-12)
    uv = project(k2, p)
    np.testing.assert_allclose(uv, (2 * u + 0.5, 2 * v + 0.5), atol=1e-9)
    np.testing.assert_allclose(marker_centroid(out), uv, atol=1e-9)
    # bilinear rgb: the intensity centroid of the marker blob is the same
    g = out['rgb'][..., 0].astype(np.float64)
    vs, us = np.mgrid[:2 * H, :2 * W]
    win = (abs(us - uv[0]) < 4) & (abs(vs - uv[1]) < 4)
    cen = np.array([(g * us * win).sum(), (g * vs * win).sum()]) / (
        g * win).sum()
    np.testing.assert_allclose(cen, uv, atol=1e-6)


def test_resize_non_integer_factor_marker():
    # 4x4 block, factor 1.5: block [8, 11] -> pixels 12..17, centre 14.5
    sample = make_sample(marker=(8, 6), block=4)
    p = backproject(K, (9.5, 7.5))
    out = RGBDResize(scale=(48, 36))(sample)
    np.testing.assert_allclose(marker_centroid(out), (14.5, 11.5))
    np.testing.assert_allclose(
        project(out['intrinsics'], p), (14.5, 11.5), atol=1e-9)


def test_crop_intrinsics_marker_and_bbox():
    u, v = 20, 14
    sample = make_sample(marker=(u, v))
    p = backproject(K, (u, v))
    out = RGBDCenterCrop(crop_size=(16, 20))(sample)
    x0, y0 = (W - 20) // 2, (H - 16) // 2
    np.testing.assert_array_equal(out['crop_bbox'],
                                  [x0, y0, x0 + 19, y0 + 15])
    assert out['img_shape'] == (16, 20)
    np.testing.assert_allclose(out['intrinsics'][:2, 2],
                               K[:2, 2] - [x0, y0])
    np.testing.assert_allclose(marker_centroid(out), (u - x0, v - y0))
    np.testing.assert_allclose(
        project(out['intrinsics'], p), (u - x0, v - y0), atol=1e-9)


def test_random_crop_marker_and_clipping():
    np.random.seed(3)
    sample = make_sample(marker=(15, 11), block=2)
    p = backproject(K, (15.5, 11.5))
    out = RGBDRandomCrop(crop_size=(20, 28))(sample)
    assert out['img_shape'] == (20, 28)
    np.testing.assert_allclose(
        project(out['intrinsics'], p), marker_centroid(out), atol=1e-9)
    # a crop larger than the image is clipped to it
    out = RGBDRandomCrop(crop_size=100)(make_sample())
    assert out['img_shape'] == (H, W)
    with pytest.raises(ValueError, match='not inside the image'):
        crop_rgbd(make_sample(), 30, 0, 5, 5)


def test_flip_mirrors_cx_and_marker_and_round_trip():
    u, v = 5, 7
    sample = make_sample(marker=(u, v))
    ref = copy.deepcopy(sample)
    p = backproject(K, (u, v))
    flip = RGBDRandomFlip(prob=1.0)
    out = flip(sample)
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    assert out['intrinsics'][0, 2] == pytest.approx(W - 1 - K[0, 2])
    # intrinsics of the mirrored scene: fx stays positive, and the mirrored
    # 3D point (x_cam -> -x_cam) projects onto the flipped marker
    assert out['intrinsics'][0, 0] == pytest.approx(K[0, 0])
    np.testing.assert_allclose(marker_centroid(out), (W - 1 - u, v))
    p_mirrored = np.asarray(p, dtype=np.float64) * np.array([-1., 1., 1.])
    np.testing.assert_allclose(
        project(out['intrinsics'], p_mirrored), (W - 1 - u, v), atol=1e-9)
    np.testing.assert_array_equal(out['rgb'], ref['rgb'][:, ::-1])
    # flipping twice restores every array and camera field
    out = flip(out)
    for key in ('rgb', 'depth', 'depth_valid', 'semseg'):
        np.testing.assert_array_equal(out[key], ref[key])
    np.testing.assert_allclose(out['intrinsics'], ref['intrinsics'])
    np.testing.assert_allclose(out['lidar2img'], ref['lidar2img'])
    np.testing.assert_allclose(out['img_aug_matrix'], np.eye(3))
    # prob=0 records the decision and changes nothing
    out = RGBDRandomFlip(prob=0.0)(copy.deepcopy(ref))
    assert out['flip'] is False and out['flip_direction'] is None
    np.testing.assert_array_equal(out['depth'], ref['depth'])
    np.testing.assert_array_equal(out['img_aug_matrix'], np.eye(3))
    np.testing.assert_array_equal(out['intrinsics'], ref['intrinsics'])


def test_lidar2img_follows_marker_through_pipeline():
    u, v = 18, 10  # even: a 2-pixel block maps to exactly 3 pixels at 1.5x
    sample = make_sample(marker=(u, v), block=2)
    pt = lidar_point_at(sample, (u + 0.5, v + 0.5))[None]  # (1, 3)
    l2i0 = sample['lidar2img'].copy()
    points0 = sample['points'].copy()
    pipeline = [
        RGBDResize(scale=(48, 36)),
        RGBDCenterCrop(crop_size=(30, 40)),
        RGBDRandomFlip(prob=1.0),
    ]
    for t in pipeline:
        sample = t(sample)
    uv, depth = project_points(pt, sample['lidar2img'])
    assert depth[0] == pytest.approx(2.0)
    np.testing.assert_allclose(uv[0], marker_centroid(sample), atol=1e-9)
    # lidar2img = A4 @ lidar2img0 with A the accumulated pixel map
    a4 = np.eye(4)
    a4[:3, :3] = sample['img_aug_matrix']
    np.testing.assert_allclose(sample['lidar2img'], a4 @ l2i0, atol=1e-9)
    np.testing.assert_array_equal(sample['points'], points0)
    np.testing.assert_array_equal(sample['cam2world'], np.eye(4))


def test_img_aug_matrix_matches_nearest_sampling():
    """Every output depth pixel is the input pixel nearest to A^-1 (u, v).

    (One resize only: two successive nearest resizes are not one nearest
    resize of the composite map.)
    """
    np.random.seed(0)
    sample = make_sample(h=40, w=52, seed=4)
    d_in = sample['depth'].copy()
    for t in [
            RGBDRandomCrop(crop_size=(30, 40)),
            RGBDRandomFlip(prob=1.0),
            RGBDResize(scale=(37, 21))
    ]:
        sample = t(sample)
    inv = np.linalg.inv(sample['img_aug_matrix'])
    vs, us = np.mgrid[:21, :37]
    src = inv @ np.stack([us.ravel(), vs.ravel(), np.ones(us.size)])
    near = np.floor(src[:2] + 0.5)
    frac = src[:2] + 0.5 - near
    safe = np.all((frac > 1e-6) & (frac < 1 - 1e-6), axis=0)
    assert safe.mean() > 0.5
    expect = d_in[near[1].astype(int), near[0].astype(int)]
    np.testing.assert_array_equal(sample['depth'].ravel()[safe], expect[safe])


def test_random_resized_crop_box_statistics():
    np.random.seed(1)
    t = RGBDRandomResizedCrop(size=(16, 16), scale=(0.2, 1.0))
    for _ in range(20):
        out = t(make_sample(h=60, w=80))
        assert out['img_shape'] == (16, 16)
        x1, y1, x2, y2 = out['crop_bbox']
        cw, ch = x2 - x1 + 1, y2 - y1 + 1
        assert 0.2 * 4800 * 0.9 <= cw * ch <= 4800
        assert 3 / 4 * 0.9 <= cw / ch <= 4 / 3 * 1.1
        assert out['scale_factor'] == pytest.approx((16 / cw, 16 / ch))


def test_clip_gets_the_same_geometry_as_each_frame():
    frames = [make_sample(seed=s) for s in range(3)]
    clip = dict(frames[0])
    for key in ('rgb', 'depth', 'depth_valid', 'semseg'):
        clip[key] = np.stack([f[key] for f in frames])
    pipeline = [
        RGBDRandomResizedCrop(size=(12, 16)),
        RGBDRandomFlip(prob=0.5),
    ]
    np.random.seed(7)
    for t in pipeline:
        clip = t(clip)
    assert clip['rgb'].shape == (3, 12, 16, 3)
    assert clip['depth'].shape == (3, 12, 16)
    for i, frame in enumerate(frames):
        np.random.seed(7)
        for t in pipeline:
            frame = t(frame)
        for key in ('rgb', 'depth', 'depth_valid', 'semseg'):
            np.testing.assert_array_equal(clip[key][i], frame[key])
        np.testing.assert_allclose(clip['intrinsics'], frame['intrinsics'])


def test_mismatched_sizes_raise():
    sample = make_sample()
    sample['depth'] = sample['depth'][:-1]
    with pytest.raises(ValueError, match='differ in size'):
        RGBDResize(scale=(8, 8))(sample)


def test_real_nyu_frame_backprojection_consistent(samples_dir):
    """Real NYUv2 frame: K' maps every output depth pixel to its source."""
    root = samples_dir / 'nyuv2_rcnn_depth_demo'
    rgb = cv2.imread(str(root / 'demo-data' / 'images.png'))[..., ::-1]
    raw = cv2.imread(
        str(root / 'demo-data' / 'rawdepth.png'), cv2.IMREAD_UNCHANGED)
    vals = {}
    for line in (root / 'intrinsics.txt').read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ('fx', 'fy', 'cx', 'cy'):
            vals[parts[0]] = float(parts[1])
    k = np.array([[vals['fx'], 0, vals['cx']], [0, vals['fy'], vals['cy']],
                  [0, 0, 1.]])
    depth = raw.astype(np.float32) / 1000.
    sample = dict(
        rgb=np.ascontiguousarray(rgb),
        depth=depth,
        depth_valid=depth > 0,
        intrinsics=k)
    np.random.seed(5)
    for t in [RGBDRandomResizedCrop(size=64), RGBDRandomFlip(prob=1.0)]:
        sample = t(sample)
    out, k2 = sample['depth'], sample['intrinsics']
    assert set(np.unique(out)) <= set(np.unique(depth))
    np.testing.assert_array_equal(sample['depth_valid'], out > 0)
    vs, us = np.nonzero(sample['depth_valid'])
    assert len(vs) > 1000
    z = out[vs, us].astype(np.float64)
    cam = np.linalg.inv(k2) @ np.stack([us, vs, np.ones_like(us)]) * z
    assert sample['flip']
    cam[0] *= -1  # K' describes the mirrored scene: un-mirror x_cam
    src = k @ cam
    src = src[:2] / src[2]
    near = np.floor(src + 0.5)
    frac = src + 0.5 - near
    safe = np.all((frac > 1e-6) & (frac < 1 - 1e-6), axis=0)
    assert safe.mean() > 0.5
    np.testing.assert_array_equal(
        z[safe], depth[near[1].astype(int), near[0].astype(int)][safe])
