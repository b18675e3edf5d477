"""RGB-only photometric transforms."""
import copy

import mmcv
import numpy as np
import pytest

from mmrgbd.datasets.transforms.photometric import (RandomGrayscale,
                                                    RGBColorJitter,
                                                    RGBGaussianBlur)
from mmrgbd.registry import TRANSFORMS


def make_sample(t=None, seed=0):
    rng = np.random.default_rng(seed)
    lead = () if t is None else (t, )
    depth = rng.random(lead + (20, 24)).astype(np.float32) * 4
    depth[..., :3, :] = 0
    return dict(
        rgb=rng.integers(0, 256, lead + (20, 24, 3)).astype(np.uint8),
        depth=depth,
        depth_valid=depth > 0,
        semseg=rng.integers(0, 5, lead + (20, 24)).astype(np.int64),
        intrinsics=np.eye(3))


ALL = [
    lambda: RGBColorJitter(
        brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
    lambda: RGBGaussianBlur(sigma=(0.5, 2.0), prob=1.0),
    lambda: RandomGrayscale(prob=1.0),
]


def test_registered():
    for name in ('RGBColorJitter', 'RGBGaussianBlur', 'RandomGrayscale',
                 'RGBRandomGrayscale'):
        assert TRANSFORMS.get(name) is not None
    assert TRANSFORMS.get('RandomGrayscale') is RandomGrayscale


@pytest.mark.parametrize('make', ALL)
@pytest.mark.parametrize('t', [None, 3])
def test_only_rgb_changes(make, t):
    np.random.seed(0)
    sample = make_sample(t)
    ref = copy.deepcopy(sample)
    out = make()(sample)
    assert out['rgb'].shape == ref['rgb'].shape
    assert out['rgb'].dtype == np.uint8
    assert not np.array_equal(out['rgb'], ref['rgb'])
    for key in ('depth', 'depth_valid', 'semseg', 'intrinsics'):
        assert out[key].dtype == ref[key].dtype
        np.testing.assert_array_equal(out[key], ref[key])  # bit-identical
    assert set(out) == set(ref)


@pytest.mark.parametrize('make', ALL)
def test_clip_frames_share_parameters(make):
    """Identical frames stay identical: one draw of parameters per clip."""
    frame = make_sample()['rgb']
    clip = dict(rgb=np.stack([frame] * 4))
    for seed in range(3):
        np.random.seed(seed)
        out = make()(copy.deepcopy(clip))['rgb']
        for t in range(1, 4):
            np.testing.assert_array_equal(out[t], out[0])
        # and equal to the single-frame result with the same seed
        np.random.seed(seed)
        single = make()(dict(rgb=frame.copy()))['rgb']
        np.testing.assert_array_equal(out[0], single)


def test_grayscale_weights_rgb_order():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 100  # pure red
    out = RandomGrayscale(prob=1.0)(dict(rgb=rgb))['rgb']
    # 0.299 * 100 = 29.9 -> 29 (mmcv truncates), all three channels equal
    assert out.shape == (2, 2, 3)
    assert np.all(out == 29)
    np.random.seed(0)
    untouched = RandomGrayscale(prob=0.0)(dict(rgb=rgb.copy()))['rgb']
    np.testing.assert_array_equal(untouched, rgb)


def test_color_jitter_brightness_is_mmcv_brightness():
    rgb = make_sample()['rgb']
    np.random.seed(4)
    out = RGBColorJitter(brightness=(1.5, 1.5))(dict(rgb=rgb.copy()))['rgb']
    np.testing.assert_array_equal(
        out, mmcv.adjust_brightness(rgb, 1.5, backend='pillow'))


def test_blur_prob_and_sigma_range():
    rgb = make_sample()['rgb']
    np.random.seed(0)
    skipped = sum(
        np.array_equal(
            RGBGaussianBlur(prob=0.5)(dict(rgb=rgb.copy()))['rgb'], rgb)
        for _ in range(40))
    assert 8 <= skipped <= 32
    with pytest.raises(ValueError, match='sigma'):
        RGBGaussianBlur(sigma=(2.0, 1.0))


def test_missing_rgb_is_a_no_op():
    sample = dict(depth=np.ones((4, 4), np.float32))
    assert RGBColorJitter(brightness=0.5)(sample) is sample


def test_wrapper_builds_any_img_transform_from_config():
    t = TRANSFORMS.build(
        dict(
            type='RGBOnlyWrapper',
            impl=dict(type='mmpretrain.Solarize', thr=128, prob=1.0)))
    sample = make_sample()
    ref = copy.deepcopy(sample)
    out = t(sample)
    # solarize: values >= 128 are inverted, the rest kept
    expect = np.where(ref['rgb'] >= 128, 255 - ref['rgb'], ref['rgb'])
    np.testing.assert_array_equal(out['rgb'], expect)
    np.testing.assert_array_equal(out['depth'], ref['depth'])
