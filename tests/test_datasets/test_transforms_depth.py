"""Depth normalisation: hand-computed stats, degenerate frames, inverse."""
import numpy as np
import pytest
import torch

from mmrgbd.datasets.errors import BadSampleError
from mmrgbd.datasets.transforms.depth import (NormalizeDepth,
                                              denormalize_depth,
                                              robust_depth_stats)
from mmrgbd.registry import TRANSFORMS


def small_sample():
    """3x4 depth: valid 1..9 and an outlier 100; two invalid pixels."""
    depth = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 100, 0, 1000]],
                     dtype=np.float32)
    valid = np.ones((3, 4), bool)
    valid[2, 2] = valid[2, 3] = False  # the 1000 is marked invalid: ignored
    return dict(depth=depth, depth_valid=valid, depth_path='/data/d.png')


def test_registered():
    assert TRANSFORMS.get('NormalizeDepth') is NormalizeDepth


def test_robust_equals_hand_computation():
    out = NormalizeDepth(mode='robust', trunc=0.1)(small_sample())
    # 10 valid values, k = floor(10 * 0.1) = 1: drop 1 and 100, keep 2..9
    mean = 5.5
    std = np.sqrt((3.5**2 + 2.5**2 + 1.5**2 + 0.5**2) * 2 / 8)  # sqrt(5.25)
    expect = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 100, 0, 0]],
                      dtype=np.float64)
    expect = (expect - mean) / std
    expect[2, 2:] = 0
    assert out['depth'].dtype == np.float32
    np.testing.assert_allclose(out['depth'], expect, rtol=1e-6)
    assert out['depth_norm']['mode'] == 'robust'
    assert out['depth_norm']['mean'] == pytest.approx(5.5)
    assert out['depth_norm']['std'] == pytest.approx(np.sqrt(5.25))
    # trunc=0 keeps the outlier
    out = NormalizeDepth(mode='robust', trunc=0.0)(small_sample())
    vals = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 100.])
    assert out['depth_norm']['mean'] == pytest.approx(vals.mean())
    assert out['depth_norm']['std'] == pytest.approx(vals.std())


@pytest.mark.parametrize('depth,valid', [
    (np.zeros((4, 5), np.float32), np.zeros((4, 5), bool)),
    (np.full((4, 5), 2.5, np.float32), np.ones((4, 5), bool)),
    (np.pad(np.ones((1, 1), np.float32), ((0, 3), (0, 4))),
     np.pad(np.ones((1, 1), bool), ((0, 3), (0, 4)))),
])
def test_degenerate_frames_give_zeros_not_nan(depth, valid):
    out = NormalizeDepth(mode='robust')(dict(depth=depth, depth_valid=valid))
    assert np.isfinite(out['depth']).all()
    np.testing.assert_array_equal(out['depth'], 0)
    assert out['depth_norm']['std'] == 1.0
    assert np.isfinite(out['depth_norm']['mean'])


def test_robust_stats_function():
    mean, std, ok = robust_depth_stats(np.array([]))
    assert (mean, std, ok) == (0.0, 1.0, False)
    mean, std, ok = robust_depth_stats(np.array([3., 1., 2., 10.]), 0.25)
    assert ok and mean == pytest.approx(2.5) and std == pytest.approx(0.5)


def test_metric_and_log():
    out = NormalizeDepth(mode='metric', max_depth=10.)(small_sample())
    d, v = small_sample()['depth'], small_sample()['depth_valid']
    np.testing.assert_allclose(out['depth'], np.where(v, d / 10., 0))
    assert out['depth_norm'] == dict(mode='metric', shift=0.0, scale=10.0)
    out = NormalizeDepth(mode='metric', shift=1., scale=2.)(small_sample())
    np.testing.assert_allclose(out['depth'], np.where(v, (d - 1) / 2, 0))
    out = NormalizeDepth(mode='log')(small_sample())
    with np.errstate(divide='ignore'):
        np.testing.assert_allclose(
            out['depth'], np.where(v, np.log(d), 0), rtol=1e-6)


@pytest.mark.parametrize('mode', ['robust', 'metric', 'log'])
def test_denormalize_round_trip(mode):
    sample = small_sample()
    d, v = sample['depth'].copy(), sample['depth_valid']
    out = NormalizeDepth(mode=mode)(sample)
    back = denormalize_depth(out['depth'], out['depth_norm'], valid=v)
    np.testing.assert_allclose(back, np.where(v, d, 0), rtol=1e-5)
    back_t = denormalize_depth(
        torch.from_numpy(out['depth']), out['depth_norm'],
        valid=torch.from_numpy(v))
    np.testing.assert_allclose(back_t.numpy(), back, rtol=1e-6)


def test_clip_per_frame_and_whole_clip():
    a = small_sample()['depth']
    clip = np.stack([a, 2 * a])  # second frame twice as far
    valid = np.stack([small_sample()['depth_valid']] * 2)
    per = NormalizeDepth(per_frame=True)(
        dict(depth=clip.copy(), depth_valid=valid))
    assert per['depth_norm']['mean'] == pytest.approx([5.5, 11.0])
    # robust normalisation is scale invariant: both frames give the same
    np.testing.assert_allclose(per['depth'][0], per['depth'][1], rtol=1e-6)
    whole = NormalizeDepth(per_frame=False)(
        dict(depth=clip.copy(), depth_valid=valid))
    assert np.isscalar(whole['depth_norm']['mean'])
    assert not np.allclose(whole['depth'][0], whole['depth'][1])
    for res in (per, whole):
        back = denormalize_depth(res['depth'], res['depth_norm'], valid)
        np.testing.assert_allclose(back, np.where(valid, clip, 0), rtol=1e-5)


def test_valid_defaults_to_positive_depth():
    depth = np.array([[0., 1.], [2., 3.]], np.float32)
    out = NormalizeDepth(mode='metric', max_depth=2.)(dict(depth=depth))
    np.testing.assert_allclose(out['depth'], [[0, 0.5], [1, 1.5]])


def test_bad_values_raise_with_path():
    sample = small_sample()
    sample['depth'][0, 0] = np.nan
    with pytest.raises(BadSampleError, match=r'^/data/d.png: .*non-finite'):
        NormalizeDepth()(sample)
    sample = small_sample()
    sample['depth'][0, 1] = 0.0  # valid but zero: log undefined
    with pytest.raises(BadSampleError, match='positive'):
        NormalizeDepth(mode='log')(sample)
    with pytest.raises(ValueError, match='mode'):
        NormalizeDepth(mode='minmax')
