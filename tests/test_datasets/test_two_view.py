"""SimIPU's second LiDAR view (random similarity) and its packing."""
import math

import numpy as np
import pytest
import torch

from mmrgbd.datasets import BadSampleError
from mmrgbd.datasets.transforms import (PackSimIPUInputs, RGBDRandomFlip,
                                        SimIPUTwoView)
from mmrgbd.datasets.transforms.two_view import rotation_matrix
from mmrgbd.registry import TRANSFORMS


def _cloud(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(n, 3)) * 5,
                           rng.uniform(0, 1, (n, 1))], 1).astype(np.float32)


def _pairwise(x):
    return np.linalg.norm(x[:, None] - x[None], axis=-1)


def test_rotation_matrix_by_hand():
    rz = rotation_matrix(2, math.pi / 2)
    assert np.allclose(rz @ [1, 0, 0], [0, 1, 0])  # x -> y
    assert np.allclose(rz @ [0, 0, 1], [0, 0, 1])
    rx = rotation_matrix(0, math.pi / 2)
    assert np.allclose(rx @ [0, 1, 0], [0, 0, 1])  # y -> z
    r = rotation_matrix([1, 1, 1], 2 * math.pi / 3)
    assert np.allclose(r @ [1, 0, 0], [0, 1, 0])  # cyclic permutation


def test_beta_is_the_stored_similarity_of_alpha():
    np.random.seed(0)
    points = _cloud()
    t = SimIPUTwoView(rot_range=(-1., 1.), scale_range=(0.8, 1.2),
                      translation_std=(1., 2., 0.5))
    out = t({'points': points.copy()})
    mat, idx, beta = out['beta_transform'], out['beta_index'], \
        out['points_beta']
    assert mat.shape == (4, 4) and mat.dtype == np.float64
    assert beta.shape == points.shape and beta.dtype == np.float32
    assert np.array_equal(out['points'], points)
    assert sorted(idx.tolist()) == list(range(len(points)))  # permutation
    assert not np.array_equal(idx, np.arange(len(points)))  # shuffled
    expected = points[idx, :3].astype(np.float64) @ mat[:3, :3].T + mat[:3, 3]
    assert np.allclose(beta[:, :3], expected, atol=1e-4)
    assert np.array_equal(beta[:, 3], points[idx, 3])  # intensity kept
    # similarity: sR with R a proper rotation about z only (no tilt)
    sr = mat[:3, :3]
    s = np.cbrt(np.linalg.det(sr))
    assert 0.8 <= s <= 1.2
    rot = sr / s
    assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.allclose(rot[2], [0, 0, 1]) and np.allclose(rot[:, 2],
                                                          [0, 0, 1])
    assert abs(math.atan2(rot[1, 0], rot[0, 0])) <= 1.
    assert np.array_equal(mat[3], [0, 0, 0, 1])
    # distances scale by s
    d_a = _pairwise(points[idx, :3].astype(np.float64))
    assert np.allclose(_pairwise(beta[:, :3].astype(np.float64)), s * d_a,
                       atol=1e-3)


def test_parameter_ranges_tilt_and_up_axis():
    np.random.seed(1)
    yaws, scales, trans = [], [], []
    t = SimIPUTwoView(rot_range=0.3, scale_range=(0.9, 1.1),
                      translation_std=0.)
    for _ in range(50):
        mat = t.sample_transform()
        s = np.cbrt(np.linalg.det(mat[:3, :3]))
        yaws.append(math.atan2(mat[1, 0], mat[0, 0]))
        scales.append(s)
        trans.append(mat[:3, 3])
    assert -0.3 <= min(yaws) < -0.1 and 0.1 < max(yaws) <= 0.3
    assert 0.9 <= min(scales) and max(scales) <= 1.1
    assert np.allclose(trans, 0)
    tilted = SimIPUTwoView(rot_range=0., tilt_range=0.1, scale_range=(1, 1))
    mat = tilted.sample_transform()
    up = mat[:3, :3] @ [0, 0, 1.]
    assert 0 < math.acos(np.clip(up[2], -1, 1)) <= 0.1 * math.sqrt(2) + 1e-9
    y_up = SimIPUTwoView(rot_range=(1.0, 1.0), scale_range=(1, 1), up_axis=1)
    assert np.allclose(y_up.sample_transform()[:3, :3] @ [0, 1., 0],
                       [0, 1, 0])


def test_fixed_number_of_points_and_no_shuffle():
    np.random.seed(2)
    small, big = _cloud(50), _cloud(500)
    t = SimIPUTwoView(num_points=128, shuffle=False, rot_range=0.,
                      scale_range=(2., 2.))
    out = t({'points': small})  # with replacement
    assert out['points'].shape == (128, 4)
    assert np.array_equal(out['beta_index'], np.arange(128))
    assert np.allclose(out['points_beta'][:, :3], 2 * out['points'][:, :3])
    out = t({'points': big})  # without replacement
    assert out['points'].shape == (128, 4)
    assert len(np.unique(out['points'][:, 0])) == 128


def test_bad_input_and_arguments():
    t = SimIPUTwoView()
    with pytest.raises(BadSampleError, match='a.bin: frame 7: empty point'):
        t({'points': np.zeros((0, 4), np.float32), 'points_path': 'a.bin',
           'frame_id': 7})
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        t({'points': np.zeros((5, 2), np.float32)})
    with pytest.raises(ValueError, match='scale_range'):
        SimIPUTwoView(scale_range=(0., 1.))
    with pytest.raises(ValueError, match='low <= high'):
        SimIPUTwoView(rot_range=(1., -1.))
    with pytest.raises(ValueError, match='up_axis'):
        SimIPUTwoView(up_axis=3)
    with pytest.raises(ValueError, match='num_points'):
        SimIPUTwoView(num_points=0)
    with pytest.raises(ValueError, match='mirror'):
        SimIPUTwoView(mirror='always')
    with pytest.raises(ValueError, match='mirror probability'):
        SimIPUTwoView(mirror=1.5)
    with pytest.raises(KeyError, match='RGBDRandomFlip'):
        SimIPUTwoView(mirror='image_flip')({'points': _cloud()})


def test_rotation_about_a_centre_then_scale():
    """Official order: rotate about c, scale about the origin, translate."""
    np.random.seed(4)
    c = np.array([35.2, 0., -1.])
    t = SimIPUTwoView(rot_range=(0.5, 0.5), scale_range=(1.2, 1.2),
                      translation_std=0., rot_center=c)
    mat = t.sample_transform()
    rot = rotation_matrix(2, 0.5)
    p = np.array([[40., 3., 0.5], [0., 0., 0.], [35.2, 0., -1.]])
    by_hand = 1.2 * ((p - c) @ rot.T + c)
    assert np.allclose(p @ mat[:3, :3].T + mat[:3, 3], by_hand)
    assert np.allclose(by_hand[2], 1.2 * c)  # the centre only scales


@pytest.mark.parametrize('flip', [True, False])
def test_view_beta_mirrored_exactly_with_the_image(flip):
    """mirror='image_flip': beta gets y -> -y iff the image was flipped
    horizontally (the official RandomFlip3D synced with the image), and T
    holds the reflection so that beta == T(alpha[index])."""
    np.random.seed(5)
    points = _cloud()
    results = {'points': points.copy(), 'rgb': np.zeros((8, 12, 3), np.uint8),
               'lidar2img': np.eye(4)}
    results = RGBDRandomFlip(prob=float(flip))(results)
    t = SimIPUTwoView(rot_range=(0.3, 0.3), scale_range=(1., 1.),
                      mirror='image_flip')
    out = t(results)
    mat, idx = out['beta_transform'], out['beta_index']
    assert out['beta_mirror'] is flip
    assert bool(np.linalg.det(mat[:3, :3]) < 0) is flip
    expected = points[idx, :3].astype(np.float64) @ mat[:3, :3].T + mat[:3, 3]
    assert np.allclose(out['points_beta'][:, :3], expected, atol=1e-4)
    # the mirror is y -> -y applied after the yaw of 0.3 rad
    rot = rotation_matrix(2, 0.3)
    if flip:
        rot = np.diag([1., -1., 1.]) @ rot
    assert np.allclose(mat[:3, :3], rot)
    # a vertical image flip does not mirror the LiDAR view
    results = RGBDRandomFlip(prob=1., direction='vertical')(
        {'points': points.copy(), 'rgb': np.zeros((8, 12, 3), np.uint8)})
    assert not t(results)['beta_mirror']


def test_independent_mirror_probability():
    np.random.seed(6)
    t = SimIPUTwoView(mirror=0.5)
    dets = [np.linalg.det(t({'points': _cloud(20)})['beta_transform'][:3, :3])
            for _ in range(200)]
    frac = np.mean(np.array(dets) < 0)
    assert 0.4 < frac < 0.6
    assert not any(
        np.linalg.det(SimIPUTwoView()({'points': _cloud(20)})
                      ['beta_transform'][:3, :3]) < 0 for _ in range(20))


def test_pack_carries_view_beta_and_transform():
    np.random.seed(3)
    pipeline = [
        TRANSFORMS.build(dict(type='SimIPUTwoView', num_points=64)),
        TRANSFORMS.build(dict(type='PackSimIPUInputs')),
    ]
    results = {'points': _cloud(), 'rgb': np.zeros((8, 12, 3), np.uint8),
               'lidar2img': np.eye(4)}
    for t in pipeline:
        results = t(results)
    inputs, ds = results['inputs'], results['data_samples']
    assert inputs['points'].shape == inputs['points_beta'].shape == (64, 4)
    assert inputs['points_beta'].dtype == torch.float32
    assert inputs['rgb'].shape == (3, 8, 12)
    assert ds.beta_transform.shape == (4, 4)
    assert np.array_equal(ds.lidar2img, np.eye(4))
    mat = ds.beta_transform
    # view beta is T(view alpha) in the packed tensors too
    a = inputs['points'].double().numpy()[:, :3]
    b = inputs['points_beta'].double().numpy()[:, :3]
    assert np.allclose(np.sort(np.linalg.norm(b - mat[:3, 3], axis=1)),
                       np.sort(np.cbrt(np.linalg.det(mat[:3, :3])) *
                               np.linalg.norm(a, axis=1)), atol=1e-3)
    assert isinstance(pipeline[1], PackSimIPUInputs)
