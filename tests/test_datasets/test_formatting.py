"""PackRGBDInputs: shapes, dtypes, layout and metainfo."""
import numpy as np
import pytest
import torch

from mmrgbd.datasets.transforms.formatting import PackRGBDInputs
from mmrgbd.registry import TRANSFORMS
from mmrgbd.structures import RGBDDataSample


def make_sample(t=None):
    rng = np.random.default_rng(0)
    lead = () if t is None else (t, )
    depth = rng.random(lead + (6, 8)).astype(np.float32)
    return dict(
        rgb=rng.integers(0, 256, lead + (6, 8, 3)).astype(np.uint8),
        depth=depth,
        depth_valid=depth > 0.3,
        semseg=rng.integers(0, 5, lead + (6, 8)).astype(np.uint8),
        points=rng.normal(size=(10, 4)),
        rgb_path='/d/rgb.png',
        depth_path='/d/depth.png',
        depth_unit='mm',
        depth_source='sensor',
        intrinsics=np.eye(3) * 2,
        img_aug_matrix=np.eye(3),
        ori_shape=(12, 16),
        img_shape=(6, 8),
        flip=False,
        flip_direction=None,
        depth_norm=dict(mode='metric', shift=0., scale=10.),
        sample_idx=3,
        not_a_meta_key=123)


def test_registered():
    assert TRANSFORMS.get('PackRGBDInputs') is PackRGBDInputs


def test_pack_frame():
    sample = make_sample()
    packed = PackRGBDInputs()(sample)
    inputs, ds = packed['inputs'], packed['data_samples']
    assert set(inputs) == {'rgb', 'depth', 'depth_valid', 'semseg', 'points'}
    assert inputs['rgb'].shape == (3, 6, 8)
    assert inputs['rgb'].dtype == torch.uint8
    # channel c of pixel (y, x) is rgb[y, x, c]
    assert inputs['rgb'][2, 4, 5] == sample['rgb'][4, 5, 2]
    assert inputs['depth'].shape == (1, 6, 8)
    assert inputs['depth'].dtype == torch.float32
    np.testing.assert_array_equal(inputs['depth'][0].numpy(), sample['depth'])
    assert inputs['depth_valid'].dtype == torch.bool
    assert inputs['depth_valid'].shape == (1, 6, 8)
    assert inputs['semseg'].dtype == torch.int64
    np.testing.assert_array_equal(inputs['semseg'][0].numpy(),
                                  sample['semseg'])
    assert inputs['points'].shape == (10, 4)
    assert inputs['points'].dtype == torch.float32
    assert isinstance(ds, RGBDDataSample)
    assert ds.rgb_path == '/d/rgb.png' and ds.depth_unit == 'mm'
    assert ds.sample_idx == 3 and ds.img_shape == (6, 8)
    np.testing.assert_array_equal(ds.intrinsics, np.eye(3) * 2)
    assert ds.depth_norm['scale'] == 10.
    assert 'not_a_meta_key' not in ds.metainfo_keys()
    # missing meta keys are skipped
    assert 'lidar2img' not in ds.metainfo_keys()
    assert 'cam2world' not in ds.metainfo_keys()


def test_pack_clip_layout():
    sample = make_sample(t=4)
    packed = PackRGBDInputs()(sample)['inputs']
    assert packed['rgb'].shape == (3, 4, 6, 8)
    assert packed['rgb'][1, 2, 3, 4] == sample['rgb'][2, 3, 4, 1]
    assert packed['depth'].shape == (1, 4, 6, 8)
    assert packed['depth_valid'].shape == (1, 4, 6, 8)
    np.testing.assert_array_equal(packed['depth'][0, 3].numpy(),
                                  sample['depth'][3])


def test_missing_modalities_and_custom_meta_keys():
    sample = dict(depth=np.ones((4, 4), np.float32), rgb_path='x',
                  depth_path='y')
    packed = PackRGBDInputs(meta_keys=('depth_path', 'flip'))(sample)
    assert set(packed['inputs']) == {'depth'}
    assert packed['data_samples'].metainfo == {'depth_path': 'y'}


def test_bad_rgb_raises():
    sample = make_sample()
    sample['rgb'] = sample['rgb'].astype(np.float32)
    with pytest.raises(TypeError, match='uint8'):
        PackRGBDInputs()(sample)
    sample = make_sample()
    sample['rgb'] = sample['rgb'][..., :2]
    with pytest.raises(ValueError, match='rgb must be'):
        PackRGBDInputs()(sample)
