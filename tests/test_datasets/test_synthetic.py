"""Tests of the procedural ray-cast dataset ``SyntheticRGBDScenes``."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmrgbd.datasets import BadSampleError, SyntheticRGBDScenes, check_sample
from mmrgbd.datasets import synthetic as syn
from mmrgbd.datasets.transforms.lidar import (points_in_image_mask,
                                              project_points)
from mmrgbd.registry import DATASETS

REPO = Path(__file__).resolve().parents[2]
HW = (60, 80)
CLS = {name: i for i, name in enumerate(syn.SYNTHETIC_CLASSES)}


def _dataset(**kwargs):
    cfg = dict(num_samples=4, img_size=HW, seed=3)
    cfg.update(kwargs)
    return SyntheticRGBDScenes(**cfg)


def _back_project(sample, frame=None):
    """World points (H, W, 3) of every pixel from depth, K and cam2world."""
    depth = sample['depth'] if frame is None else sample['depth'][frame]
    pose = sample['cam2world'] if frame is None else sample['cam2world'][frame]
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    pix = np.stack([u, v, np.ones_like(u)], -1)  # (H, W, 3)
    cam = pix @ np.linalg.inv(sample['intrinsics']).T * depth[..., None]
    return cam @ pose[:3, :3].T + pose[:3, 3]  # (H, W, 3)


def _digest(sample):
    h = hashlib.sha1()
    for key in ('rgb', 'depth', 'depth_valid', 'semseg', 'cam2world',
                'points'):
        h.update(np.ascontiguousarray(sample[key]).tobytes())
    return h.hexdigest()


def test_registered_and_metainfo():
    ds = DATASETS.build(
        dict(type='SyntheticRGBDScenes', num_samples=2, img_size=HW))
    assert isinstance(ds, SyntheticRGBDScenes) and len(ds) == 2
    meta = ds.metainfo
    assert len(meta['classes']) == 10 == len(meta['palette'])
    assert meta['classes'][:3] == ('floor', 'wall', 'ceiling')
    assert ds.depth_unit == 'm' and ds.depth_source == 'synthetic'


def test_cast_rays_hand_computed():
    scene = syn.SyntheticScene(
        size=(4.0, 3.0, 2.5),
        boxes_lo=[(2.0, 1.0, 0.0)],
        boxes_hi=[(3.0, 2.0, 1.0)],
        spheres=[(1.0, 2.0, 1.0, 0.5)],
        obj_class=[0, 2, 1, 1, 1, 1, CLS['box'], CLS['ball']],
        color1=np.full((8, 3), 0.5),
        color2=np.full((8, 3), 0.2),
        texture=np.zeros(8),
        tex_scale=np.ones(8),
        nir_ratio=np.full(8, 1.0),
        light=(2.0, 1.5, 2.4),
        noise_tile=np.zeros((32, 32)))
    origin = np.array([0.5, 1.5, 0.5])
    d = np.array(
        [
            [1, 0, 0],  # box face x = 2
            [0, 0, -1],  # floor
            [0, 0, 1],  # ceiling
            [-1, 0, 0],  # wall x = 0
            [0, 1, 0],  # wall y = 3, passes beside the sphere
            [1, 0, -1],  # floor, oblique (t in units of the direction)
            [0.5, 0.5, 0.5],  # towards the sphere centre, |d| = sqrt(3) / 2
        ],
        dtype=np.float32)
    t, obj, axis = syn.cast_rays(scene, origin, [d[:, 0], d[:, 1], d[:, 2]])
    expected_t = [1.5, 0.5, 2.0, 0.5, 1.5, 0.5, 1 - 0.5 / (3**0.5 / 2)]
    np.testing.assert_allclose(t, expected_t, rtol=1e-5)
    assert obj.tolist() == [6, 0, 1, 2, 5, 0, 7]
    assert axis.tolist() == [0, 2, 2, 0, 1, 2, 3]


def test_look_rotation_is_opencv_camera():
    rot = syn.look_rotation(0.3, -0.2)
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(rot), 1.0)
    fwd = [
        np.cos(0.3) * np.cos(-0.2),
        np.sin(0.3) * np.cos(-0.2),
        np.sin(-0.2)
    ]
    np.testing.assert_allclose(rot[:, 2], fwd, atol=1e-12)
    assert rot[2, 1] < 0  # image y points down in the world
    assert abs(rot[2, 0]) < 1e-12  # no roll: image x is horizontal


def test_determinism_in_process_and_across_processes():
    a = _dataset(with_points=True)
    b = _dataset(with_points=True)
    s1, s2 = a[1], b[1]
    for key in ('rgb', 'depth', 'depth_valid', 'semseg', 'intrinsics',
                'cam2world', 'points', 'lidar2img'):
        np.testing.assert_array_equal(s1[key], s2[key])
    other = a[2]
    assert not np.array_equal(s1['rgb'], other['rgb'])
    assert not np.array_equal(s1['depth'], other['depth'])
    reseeded = _dataset(seed=4, with_points=True)[1]
    assert not np.array_equal(s1['rgb'], reseeded['rgb'])
    # The sample depends on its index, not on its position in a subset.
    sub = _dataset(with_points=True, indices=[1])
    assert _digest(sub[0]) == _digest(s1)
    # Another interpreter (as a DataLoader worker would be) gives the same.
    code = ('import hashlib, numpy as np; '
            'from mmrgbd.datasets.synthetic import render_sample; '
            f's = render_sample(3, 1, {HW}, with_points=True); '
            'h = hashlib.sha1(); '
            "[h.update(np.ascontiguousarray(s[k]).tobytes()) for k in "
            "('rgb', 'depth', 'depth_valid', 'semseg', 'cam2world', "
            "'points')]; print(h.hexdigest())")
    out = subprocess.run([sys.executable, '-c', code],
                         cwd=REPO,
                         capture_output=True,
                         text=True,
                         check=True,
                         env=dict(os.environ, PYTHONHASHSEED='123'))
    assert out.stdout.strip().splitlines()[-1] == _digest(s1)


def test_frame_contract_depth_and_semantics():
    ds = _dataset(num_samples=6)
    valid_fracs, classes_seen, per_sample = [], set(), []
    for i in range(len(ds)):
        s = ds[i]
        check_sample(s)  # dtypes, shapes, depth_valid == (depth > 0)
        assert s['rgb'].shape == HW + (3, ) and s['rgb'].dtype == np.uint8
        assert s['depth'].dtype == np.float32 and s['depth'].shape == HW
        assert s['depth_valid'].dtype == np.bool_
        assert s['semseg'].dtype == np.int64 and s['semseg'].shape == HW
        assert s['intrinsics'].dtype == np.float64
        assert s['cam2world'].shape == (4, 4)
        assert s['ori_shape'] == s['img_shape'] == HW
        assert s['depth_unit'] == 'm' and s['depth_source'] == 'synthetic'
        assert s['rgb_path'] == f'synthetic://3/{i}'
        assert np.all(s['depth'][~s['depth_valid']] == 0)
        valid_fracs.append(s['depth_valid'].mean())
        assert s['semseg'].min() >= 0 and s['semseg'].max() < 10
        classes_seen |= set(np.unique(s['semseg']).tolist())
        per_sample.append(len(np.unique(s['semseg'])))
        assert s['rgb'].std() > 10  # textured and shaded, not flat
        # every valid depth is a point inside the room, in metres
        size = syn.sample_scene(3, i).size
        world = _back_project(s)[s['depth_valid']]
        assert np.all(world > -1e-3) and np.all(world < size + 1e-3)
        assert s['depth'][s['depth_valid']].min() > 0.05
    assert 0.5 < min(valid_fracs) and max(valid_fracs) < 0.995
    assert 0.7 < np.mean(valid_fracs) < 0.98
    assert {CLS['floor'], CLS['wall']} <= classes_seen
    assert len(classes_seen) >= 6
    assert min(per_sample) >= 2 and np.mean(per_sample) >= 3


def test_depth_lies_on_the_scene_geometry():
    ds = _dataset(num_samples=5)
    checked = dict(floor=0, wall=0, ball=0, boxes=0)
    for i in range(len(ds)):
        s = ds[i]
        scene = syn.sample_scene(3, i)
        world = _back_project(s)
        valid, sem = s['depth_valid'], s['semseg']
        floor = world[valid & (sem == CLS['floor'])]
        np.testing.assert_allclose(floor[:, 2], 0, atol=2e-3)
        ceiling = world[valid & (sem == CLS['ceiling'])]
        np.testing.assert_allclose(ceiling[:, 2], scene.size[2], atol=2e-3)
        wall = world[valid & (sem == CLS['wall'])]
        to_wall = np.minimum(
            np.abs(wall[:, :2]).min(1),
            np.abs(wall[:, :2] - scene.size[:2]).min(1))
        assert np.all(to_wall < 2e-3)
        ball = world[valid & (sem == CLS['ball'])]
        if len(ball):
            c, r = scene.spheres[:, :3], scene.spheres[:, 3]
            off = np.abs(np.linalg.norm(ball[:, None] - c, axis=-1) - r)
            assert np.all(off.min(1) < 2e-3)
        boxy = world[valid & (sem >= CLS['door']) & (sem != CLS['ball'])]
        if len(boxy):
            lo, hi = scene.boxes_lo, scene.boxes_hi
            inside = np.all(
                (boxy[:, None] > lo - 2e-3) & (boxy[:, None] < hi + 2e-3), -1)
            face = np.minimum(np.abs(boxy[:, None] - lo),
                              np.abs(boxy[:, None] - hi)).min(-1) < 2e-3
            assert np.all((inside & face).any(1))
        checked['floor'] += len(floor)
        checked['wall'] += len(wall)
        checked['ball'] += len(ball)
        checked['boxes'] += len(boxy)
    assert all(n > 0 for n in checked.values()), checked


def test_lidar_points_project_onto_matching_depth():
    ds = _dataset(num_samples=3, with_points=True)
    for i in range(len(ds)):
        s = ds[i]
        check_sample(s)
        pts, lidar2img = s['points'], s['lidar2img']
        assert pts.dtype == np.float32 and pts.shape[1] == 4
        assert np.all((pts[:, 3] >= 0) & (pts[:, 3] <= 1))
        K4 = np.eye(4)
        K4[:3, :3] = s['intrinsics']
        np.testing.assert_allclose(lidar2img, K4 @ s['lidar2cam'])
        # all points are inside the room (a 360 degree scan)
        lidar2world = s['cam2world'] @ s['lidar2cam']
        world = pts[:, :3] @ lidar2world[:3, :3].T + lidar2world[:3, 3]
        size = syn.sample_scene(3, i).size
        assert np.all(world > -0.03) and np.all(world < size + 0.03)
        uv, z = project_points(pts, lidar2img)
        in_img = points_in_image_mask(pts, lidar2img, HW)
        assert (z <= 0).sum() > len(pts) / 4  # many points behind camera
        assert in_img.sum() > 50
        col = np.round(uv[in_img, 0]).astype(int).clip(0, HW[1] - 1)
        row = np.round(uv[in_img, 1]).astype(int).clip(0, HW[0] - 1)
        d_img = s['depth'][row, col]
        ok = s['depth_valid'][row, col]
        assert ok.mean() > 0.7
        err = np.abs(d_img[ok] - z[in_img][ok])
        assert np.mean(err < 0.03 + 0.01 * z[in_img][ok]) > 0.9, err


def _wall_scene(color, nir_ratio, texture=0):
    """A 4 x 3 x 2.5 m room whose faces all share one material."""
    return syn.SyntheticScene(
        size=(4.0, 3.0, 2.5),
        boxes_lo=np.zeros((0, 3)),
        boxes_hi=np.zeros((0, 3)),
        spheres=np.zeros((0, 4)),
        obj_class=[0, 2, 1, 1, 1, 1],
        color1=np.tile(color, (6, 1)),
        color2=np.full((6, 3), 0.1),
        texture=np.full(6, texture),
        tex_scale=np.full(6, 0.5),
        nir_ratio=np.full(6, nir_ratio),
        light=(2.0, 1.5, 2.4),
        noise_tile=np.zeros((32, 32)))


def test_lidar_reflectivity_follows_the_albedo_by_hand():
    """Reflectivity = nir_ratio x Rec. 709 luminance of the local albedo,
    clipped to [0, 1]; the intensity of a scan is that times |cos
    incidence| (on the old data it was a per-object draw independent of
    the colour)."""
    ones = np.ones(3, np.float32)
    p = [np.array([1.0, 2.0], np.float32), ones[:2] * 0, ones[:2]]
    axis = np.array([1, 1], np.int8)
    obj = np.array([2, 3], np.int16)
    red = _wall_scene([1.0, 0.0, 0.0], 1.2)
    np.testing.assert_allclose(
        syn.lidar_reflectivity(red, p, axis, obj), [0.2126 * 1.2] * 2,
        rtol=1e-6)
    grey = _wall_scene([0.5, 0.5, 0.5], 0.8)
    np.testing.assert_allclose(
        syn.lidar_reflectivity(grey, p, axis, obj), [0.4, 0.4], rtol=1e-6)
    white = _wall_scene([1.0, 1.0, 1.0], 1.25)
    assert np.all(syn.lidar_reflectivity(white, p, axis, obj) == 1.0)
    # stripes of period 0.5 m along x on the y = 0 wall: alternating albedo
    striped = _wall_scene([0.9, 0.9, 0.9], 1.0, texture=2)
    xs = np.array([0.25, 0.75, 1.25], np.float32)
    refl = syn.lidar_reflectivity(
        striped, [xs, xs * 0, xs * 0 + 1], np.ones(3, np.int8),
        np.full(3, 4, np.int16))
    assert refl[0] == pytest.approx(refl[2]) and refl[1] != \
        pytest.approx(refl[0])
    assert sorted([refl[0], refl[1]]) == pytest.approx([0.1, 0.9], rel=1e-5)
    # a scan of the grey room: intensity = 0.4 |cos incidence|
    pose = np.eye(4)
    pose[:3, 3] = (2.0, 1.5, 1.2)
    pts = syn.scan_lidar(grey, pose, None, num_beams=3, num_azimuths=8)
    rng = np.linalg.norm(pts[:, :3], axis=1)
    x, y, z = (pts[:, k] + pose[k, 3] for k in range(3))
    # |cos| of the face each ray hits: the coordinate across that face
    on_x = np.isclose(x, 0, atol=1e-4) | np.isclose(x, 4, atol=1e-4)
    on_y = np.isclose(y, 0, atol=1e-4) | np.isclose(y, 3, atol=1e-4)
    comp = np.where(on_x, pts[:, 0], np.where(on_y, pts[:, 1], pts[:, 2]))
    np.testing.assert_allclose(pts[:, 3], 0.4 * np.abs(comp) / rng,
                               rtol=1e-4)


def test_lidar_intensity_is_predictable_from_the_image():
    """On rendered rooms the intensity at a point correlates with the
    image's brightness where the point projects (pooled over 6 rooms; the
    old colour-independent reflectivity gave about zero), and the images themselves
    did not change with the LiDAR model (same number of random draws)."""
    ds = _dataset(num_samples=6, img_size=(96, 128), with_points=True)
    grey_all, intensity = [], []
    for i in range(len(ds)):
        s = ds[i]
        in_img = points_in_image_mask(s['points'], s['lidar2img'], (96, 128))
        uv, _ = project_points(s['points'][in_img], s['lidar2img'])
        col = np.round(uv[:, 0]).astype(int).clip(0, 127)
        row = np.round(uv[:, 1]).astype(int).clip(0, 95)
        grey = s['rgb'][row, col].astype(np.float64) @ [0.2126, 0.7152,
                                                        0.0722]
        grey_all.append(grey)
        intensity.append(s['points'][in_img, 3])
    corr = np.corrcoef(np.concatenate(grey_all),
                       np.concatenate(intensity))[0, 1]
    assert corr > 0.3, corr
    without = syn.render_sample(3, 0, (96, 128))
    np.testing.assert_array_equal(ds[0]['rgb'], without['rgb'])


def _two_object_map():
    """40 x 50 labels: wall (face 2) above floor (face 0), a cabinet (object
    6, 10 x 10 px) and a ball (object 7, 2 x 2 px) on the floor."""
    inst = np.full((40, 50), 2, np.int16)
    inst[20:] = 0
    inst[22:32, 5:15] = 6
    inst[30:32, 40:42] = 7
    cls = np.array([CLS['floor'], CLS['ceiling'], CLS['wall'], CLS['wall'],
                    CLS['wall'], CLS['wall'], CLS['cabinet'], CLS['ball']])
    return cls[inst], inst


def test_pseudo_labels_error_model_by_hand():
    """Each error of the documented pseudo-labeller model on its own:
    whole-segment confusions among the listed classes (faces never), small
    objects missed into their surroundings, boundaries displaced while
    interiors stay; all off = the ground truth."""
    gt, inst = _two_object_map()
    rng = np.random.default_rng(0)
    off = dict(confusion_prob=0., min_area=0., boundary_jitter=0.)
    np.testing.assert_array_equal(
        syn.simulate_pseudo_labels(gt, inst, rng, **off), gt)
    seen = set()
    for seed in range(20):
        out = syn.simulate_pseudo_labels(
            gt, inst, np.random.default_rng(seed),
            **dict(off, confusion_prob=1.))
        cab = np.unique(out[inst == 6])
        assert len(cab) == 1  # the whole segment, not pixels
        assert cab[0] in syn.PSEUDO_LABEL_CONFUSIONS[CLS['cabinet']]
        assert np.unique(out[inst == 7]).tolist() == [CLS['box']]
        np.testing.assert_array_equal(out[inst < 6], gt[inst < 6])
        seen.add(int(cab[0]))
    assert seen == set(syn.PSEUDO_LABEL_CONFUSIONS[CLS['cabinet']])
    # 4 px < 0.004 * 2000 = 8 px: the ball is missed (floor around it)
    out = syn.simulate_pseudo_labels(gt, inst, rng,
                                     **dict(off, min_area=0.004))
    assert np.all(out[inst == 7] == CLS['floor'])
    np.testing.assert_array_equal(out[inst != 7], gt[inst != 7])
    # boundaries move by a few pixels, interiors far from them stay
    moved = [syn.simulate_pseudo_labels(
        gt, inst, np.random.default_rng(seed),
        **dict(off, boundary_jitter=0.04)) for seed in range(5)]
    assert any(not np.array_equal(m, gt) for m in moved)
    for m in moved:
        assert np.all(m[:8] == CLS['wall']) and np.all(m[36:] == CLS['floor'])
        assert set(np.unique(m)) <= set(np.unique(gt))


def test_pseudo_labels_of_rendered_rooms():
    """semseg_source='pseudo' changes the labels only (images, depth and
    rooms as with ground truth), is deterministic, and agrees with the
    ground truth on most but not all pixels (the model's defaults: about
    90 % over these rooms)."""
    gt = _dataset(num_samples=12, img_size=(96, 128))
    pseudo = _dataset(num_samples=12, img_size=(96, 128),
                      semseg_source='pseudo')
    agree = []
    for i in range(len(gt)):
        g, p = gt[i], pseudo[i]
        for key in ('rgb', 'depth', 'depth_valid', 'cam2world'):
            np.testing.assert_array_equal(g[key], p[key])
        assert p['semseg'].dtype == np.int64
        agree.append((g['semseg'] == p['semseg']).mean())
    np.testing.assert_array_equal(pseudo[3]['semseg'],
                                  _dataset(num_samples=12, img_size=(96, 128),
                                           semseg_source='pseudo')[3]['semseg'])
    assert 0.8 < np.mean(agree) < 0.97, agree
    assert min(agree) < 0.95  # some room has a visible labelling error


def test_clip_mode_smooth_trajectory():
    T = 6
    ds = _dataset(num_samples=2, mode='clip', num_frames=T, frame_interval=4)
    s = ds[0]
    check_sample(s)
    assert s['rgb'].shape == (T, ) + HW + (3, )
    assert s['depth'].shape == s['depth_valid'].shape == (T, ) + HW
    assert s['semseg'].shape == (T, ) + HW
    poses = s['cam2world']
    assert poses.shape == (T, 4, 4)
    rot = poses[:, :3, :3]
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1),
                               np.broadcast_to(np.eye(3), (T, 3, 3)),
                               atol=1e-9)
    step = np.diff(poses[:, :3, 3], axis=0)  # (T-1, 3)
    dist = np.linalg.norm(step, axis=1)
    assert np.all(dist > 1e-3) and np.all(dist < 0.15)
    assert np.abs(np.diff(step, axis=0)).max() < 0.02  # near-constant speed
    angles = [
        np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1))
        for a, b in zip(rot[:-1], rot[1:])
    ]
    assert max(angles) < 0.1  # radians per frame step
    assert not np.array_equal(s['rgb'][0], s['rgb'][-1])
    for f in (0, T - 1):  # each frame is rendered from its own pose
        world = _back_project(s, f)
        floor = s['depth_valid'][f] & (s['semseg'][f] == CLS['floor'])
        assert floor.sum() > 0
        np.testing.assert_allclose(world[floor][:, 2], 0, atol=2e-3)


def test_num_classes_maps_the_rest_to_ignore():
    full = _dataset(num_samples=3)
    few = _dataset(num_samples=3, num_classes=4)
    assert few.metainfo['classes'] == syn.SYNTHETIC_CLASSES[:4]
    changed = 0
    for i in range(3):
        a, b = full[i]['semseg'], few[i]['semseg']
        np.testing.assert_array_equal(b[a < 4], a[a < 4])
        assert np.all(b[a >= 4] == 255)
        changed += int((a >= 4).sum())
    assert changed > 0


def test_cache_dir_round_trip(tmp_path):
    ds = _dataset(cache_dir=str(tmp_path), with_points=True)
    first = ds[2]
    files = list(tmp_path.rglob('*.npz'))
    assert len(files) == 1 and files[0].name == '00000002.npz'
    again = _dataset(cache_dir=str(tmp_path), with_points=True)[2]
    assert _digest(again) == _digest(first)
    # the cache is really read: an edited entry comes back edited
    with np.load(files[0]) as f:
        arrays = {k: f[k] for k in f.files}
    arrays['depth'] = arrays['depth'] * 2
    np.savez(files[0], **arrays)
    edited = _dataset(cache_dir=str(tmp_path), with_points=True)[2]
    np.testing.assert_array_equal(edited['depth'], first['depth'] * 2)
    # an unreadable entry is re-rendered and rewritten
    files[0].write_bytes(b'not an npz')
    repaired = _dataset(cache_dir=str(tmp_path), with_points=True)[2]
    assert _digest(repaired) == _digest(first)
    with np.load(files[0]) as f:
        np.testing.assert_array_equal(f['depth'], first['depth'])
    # other generation arguments use another cache folder
    _dataset(cache_dir=str(tmp_path))[2]
    assert len(list(tmp_path.rglob('*.npz'))) == 2


def test_bad_arguments_and_errors(monkeypatch):
    with pytest.raises(ValueError, match='mode'):
        _dataset(mode='video')
    with pytest.raises(ValueError, match='frame mode'):
        _dataset(mode='clip', with_points=True)
    with pytest.raises(ValueError, match='num_classes'):
        _dataset(num_classes=11)
    with pytest.raises(ValueError, match='semseg_source'):
        _dataset(semseg_source='mask2former')

    def broken(seed, index, *args, **kwargs):
        if index == 0:
            raise RuntimeError('boom')
        return real(seed, index, *args, **kwargs)

    real = syn.render_sample
    monkeypatch.setattr(syn, 'render_sample', broken)
    with pytest.raises(BadSampleError, match=r'^synthetic://3/0: .*boom'):
        _dataset()[0]
    skipping = _dataset(skip_bad_samples=True)
    s = skipping[0]
    # the refetch index is random and may hit index 0 again
    assert s['rgb_path'] != 'synthetic://3/0' and skipping.num_skipped >= 1


def test_pipeline_packs_inputs():
    from mmrgbd.datasets.transforms.formatting import PackRGBDInputs
    ds = _dataset(num_samples=1, with_points=True, pipeline=[PackRGBDInputs()])
    out = ds[0]
    inputs, sample = out['inputs'], out['data_samples']
    assert tuple(inputs['rgb'].shape) == (3, ) + HW
    assert tuple(inputs['depth'].shape) == (1, ) + HW
    assert tuple(inputs['semseg'].shape) == (1, ) + HW
    assert inputs['points'].shape[1] == 4
    assert sample.metainfo['depth_unit'] == 'm'
    assert sample.metainfo['rgb_path'] == 'synthetic://3/0'


def test_lidar_stays_aligned_through_geometric_transforms():
    """Crop + resize + flip keep ``lidar2img`` consistent with the depth."""
    np.random.seed(0)  # the transforms draw from numpy's global generator
    ds = _dataset(num_samples=3,
                  with_points=True,
                  pipeline=[
                      dict(type='RGBDRandomResizedCrop', size=(48, 48)),
                      dict(type='RGBDRandomFlip', prob=1.0)
                  ])
    for i in range(len(ds)):
        s = ds[i]
        assert s['depth'].shape == (48, 48) and s['flip']
        uv, z = project_points(s['points'], s['lidar2img'])
        in_img = points_in_image_mask(s['points'], s['lidar2img'], (48, 48))
        col = np.round(uv[in_img, 0]).astype(int).clip(0, 47)
        row = np.round(uv[in_img, 1]).astype(int).clip(0, 47)
        ok = s['depth_valid'][row, col]
        err = np.abs(s['depth'][row, col][ok] - z[in_img][ok])
        assert ok.sum() > 50
        assert np.mean(err < 0.03 + 0.01 * z[in_img][ok]) > 0.85
