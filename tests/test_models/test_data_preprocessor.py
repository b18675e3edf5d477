"""RGBDDataPreprocessor: normalisation, batching, collate formats, errors."""
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

from mmrgbd.datasets.transforms.formatting import PackRGBDInputs
from mmrgbd.models.data_preprocessors import RGBDDataPreprocessor
from mmrgbd.registry import MODELS

MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


def packed_sample(seed, h=8, w=10, n_points=7, t=None):
    rng = np.random.default_rng(seed)
    lead = () if t is None else (t, )
    depth = rng.random(lead + (h, w)).astype(np.float32) * 5
    depth[..., 0, :] = 0
    return PackRGBDInputs()(dict(
        rgb=rng.integers(0, 256, lead + (h, w, 3)).astype(np.uint8),
        depth=depth,
        depth_valid=depth > 0,
        semseg=rng.integers(0, 4, lead + (h, w)).astype(np.int64),
        points=rng.normal(size=(n_points, 4)).astype(np.float32),
        sample_idx=seed))


def test_registered():
    pre = MODELS.build(dict(type='RGBDDataPreprocessor'))
    assert isinstance(pre, RGBDDataPreprocessor)


def test_pseudo_collate_normalisation_and_types():
    samples = [packed_sample(0, n_points=7), packed_sample(1, n_points=5)]
    data = pseudo_collate(samples)
    out = RGBDDataPreprocessor()(data, training=True)
    inputs = out['inputs']
    rgb = inputs['rgb']
    assert rgb.shape == (2, 3, 8, 10) and rgb.dtype == torch.float32
    # hand check one value per channel
    raw = samples[1]['inputs']['rgb']
    for c in range(3):
        expect = (float(raw[c, 3, 4]) - MEAN[c]) / STD[c]
        assert rgb[1, c, 3, 4].item() == pytest.approx(expect, rel=1e-6)
    assert inputs['depth'].shape == (2, 1, 8, 10)
    assert inputs['depth'].dtype == torch.float32
    torch.testing.assert_close(inputs['depth'][0], samples[0]['inputs'][
        'depth'])
    assert inputs['depth_valid'].dtype == torch.bool
    assert inputs['semseg'].dtype == torch.int64
    assert inputs['semseg'].shape == (2, 1, 8, 10)
    assert isinstance(inputs['points'], list)
    assert [p.shape for p in inputs['points']] == [(7, 4), (5, 4)]
    assert len(out['data_samples']) == 2
    assert out['data_samples'][1].sample_idx == 1
    assert out['data_samples'][0].batch_input_shape == (8, 10)


def test_default_collate_gives_the_same_result():
    samples = [packed_sample(0), packed_sample(1)]  # equal point counts
    pre = RGBDDataPreprocessor()
    a = pre(pseudo_collate(samples))['inputs']
    b = pre(default_collate(samples))['inputs']
    for key in ('rgb', 'depth', 'depth_valid', 'semseg'):
        torch.testing.assert_close(a[key], b[key])
    assert isinstance(b['points'], list) and len(b['points']) == 2
    torch.testing.assert_close(a['points'][1], b['points'][1])


def test_video_layout():
    samples = [packed_sample(s, t=3) for s in range(2)]
    out = RGBDDataPreprocessor()(pseudo_collate(samples))['inputs']
    assert out['rgb'].shape == (2, 3, 3, 8, 10)
    raw = samples[0]['inputs']['rgb']
    expect = (float(raw[2, 1, 5, 6]) - MEAN[2]) / STD[2]
    assert out['rgb'][0, 2, 1, 5, 6].item() == pytest.approx(expect, 1e-6)
    assert out['depth'].shape == (2, 1, 3, 8, 10)


def test_depth_mean_std_only_on_valid_pixels():
    samples = [packed_sample(0)]
    pre = RGBDDataPreprocessor(depth_mean=2.0, depth_std=4.0)
    out = pre(pseudo_collate(samples))['inputs']
    d = samples[0]['inputs']['depth']
    v = samples[0]['inputs']['depth_valid']
    expect = torch.where(v, (d - 2.0) / 4.0, torch.zeros_like(d))
    torch.testing.assert_close(out['depth'][0], expect)
    assert (out['depth'][0][~v] == 0).all()


def test_mismatched_shapes_raise_naming_the_modality():
    samples = [packed_sample(0, h=8), packed_sample(1, h=6)]
    with pytest.raises(ValueError, match="'rgb'.*differ in shape"):
        RGBDDataPreprocessor()(pseudo_collate(samples))
    only_depth = [
        dict(inputs=dict(depth=torch.zeros(1, 4, 4)), data_samples=None),
        dict(inputs=dict(depth=torch.zeros(1, 4, 5)), data_samples=None)
    ]
    with pytest.raises(ValueError, match="'depth'"):
        RGBDDataPreprocessor()(pseudo_collate(only_depth))


def test_train_step_through_mmengine():
    """BaseModel.train_step calls the preprocessor; gradients flow."""

    class TinyModel(BaseModel):

        def __init__(self):
            super().__init__(data_preprocessor=dict(
                type='mmrgbd.RGBDDataPreprocessor'))
            self.conv = torch.nn.Conv2d(4, 1, 1)

        def forward(self, inputs, data_samples=None, mode='loss'):
            x = torch.cat([inputs['rgb'], inputs['depth']], dim=1)
            pred = self.conv(x)  # (B, 1, H, W)
            err = (pred - inputs['depth'])[inputs['depth_valid']]
            return dict(loss_depth=err.pow(2).mean())

    model = TinyModel()
    assert isinstance(model.data_preprocessor, RGBDDataPreprocessor)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    data = pseudo_collate([packed_sample(0), packed_sample(1)])
    before = model.conv.weight.detach().clone()
    log_vars = model.train_step(data, optim)
    assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(before, model.conv.weight)
