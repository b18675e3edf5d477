"""PadRGBDDataPreprocessor: images of different sizes in one batch."""
import pytest
import torch

from mmrgbd.models.data_preprocessors import (PadRGBDDataPreprocessor,
                                              RGBDDataPreprocessor)
from mmrgbd.structures import RGBDDataSample


def _batch():
    g = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (3, 40, 70), generator=g, dtype=torch.uint8),
            torch.randint(0, 256, (3, 50, 60), generator=g, dtype=torch.uint8)]
    samples = [RGBDDataSample(metainfo=dict(img_shape=(40, 70))),
               RGBDDataSample(metainfo=dict(img_shape=(50, 60)))]
    points = [torch.zeros(5, 4), torch.zeros(5, 4)]
    return dict(inputs=dict(rgb=imgs, points=points), data_samples=samples)


def test_pads_to_batch_max_rounded_up_with_zero_after_normalisation():
    pre = PadRGBDDataPreprocessor(pad_size_divisor=32)
    data = _batch()
    out = pre(data)
    rgb = out['inputs']['rgb']
    assert rgb.shape == (2, 3, 64, 96)  # max (50, 70) rounded up to 32
    plain = RGBDDataPreprocessor()
    for i, img in enumerate(data['inputs']['rgb']):
        h, w = img.shape[-2:]
        ref = plain(dict(inputs=dict(rgb=[img])))['inputs']['rgb'][0]
        assert torch.allclose(rgb[i, :, :h, :w], ref)  # content unchanged
        pad = torch.ones_like(rgb[i], dtype=torch.bool)
        pad[:, :h, :w] = False
        assert torch.all(rgb[i][pad] == 0)  # the mean colour
    for s, shape in zip(out['data_samples'], [(40, 70), (50, 60)]):
        assert tuple(s.img_shape) == shape  # the unpadded size is kept
        assert s.pad_shape == (64, 96) and s.batch_input_shape == (64, 96)
    assert [p.shape for p in out['inputs']['points']] == [(5, 4), (5, 4)]


def test_plain_preprocessor_refuses_and_divisor_checks():
    with pytest.raises(ValueError, match='differ in shape'):
        RGBDDataPreprocessor()(_batch())
    with pytest.raises(ValueError, match='pad_size_divisor'):
        PadRGBDDataPreprocessor(pad_size_divisor=0)
    out = PadRGBDDataPreprocessor(pad_size_divisor=1)(_batch())
    assert out['inputs']['rgb'].shape == (2, 3, 50, 70)
