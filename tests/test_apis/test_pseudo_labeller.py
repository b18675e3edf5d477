"""mmrgbd.apis.pseudo_labeller: output conversion, loading and mm* models."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS as MMSEG_MODELS

from mmrgbd.apis import (MMModelLabeller, PseudoLabeller,
                         TorchLabeller, as_depth_map, as_semseg_map,
                         load_labeller, metres_to_mm)
from mmrgbd.datasets.depth_io import decode_depth

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]

SEG_CFG = """
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='mmseg.EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean={mean}, std={std}, bgr_to_rgb=True,
        pad_val=0, seg_pad_val=255, size_divisor=32),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                  base_channels=4, out_indices=(1, ), norm_cfg=norm_cfg),
    decode_head=dict(type='FCNHead', in_channels=8, channels=8, num_convs=1,
                     concat_input=False, num_classes=5, in_index=0,
                     norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss')),
    test_cfg=dict(mode='whole'))
""".format(mean=MEAN, std=STD)
SEG_PIPELINE = """
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 48), keep_ratio=False),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
"""


@MMSEG_MODELS.register_module(force=True)
class TinyDepthHeadForTest(torch.nn.Module):
    """Depth head protocol of mmseg's DepthEstimator: predict(x, metas)."""

    def __init__(self, in_channels):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, 1, 1)
        self.align_corners = False
        self.num_classes = 1
        self.out_channels = 1

    def predict(self, x, batch_img_metas, test_cfg):
        depth = F.softplus(self.conv(x[-1]))  # (B, 1, h, w)
        return F.interpolate(depth, size=batch_img_metas[0]['img_shape'],
                             mode='bilinear')  # (B, 1, H, W)


DEPTH_CFG = """
default_scope = 'mmseg'
model = dict(
    type='DepthEstimator',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean={mean}, std={std}, bgr_to_rgb=True),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                  base_channels=4, out_indices=(1, )),
    decode_head=dict(type='TinyDepthHeadForTest', in_channels=8),
    test_cfg=dict(mode='whole'))
""".format(mean=MEAN, std=STD)


def _random_weights(model, path, seed=0):
    """Non-trivial weights (random init gives one class everywhere)."""
    gen = torch.Generator().manual_seed(seed)
    state = {
        k: (torch.randn(v.shape, generator=gen) * 0.5
            if v.is_floating_point() and 'running' not in k else v)
        for k, v in model.state_dict().items()
    }
    torch.save({'state_dict': state}, path)
    return state


def _mmseg_model(cfg_path, state):
    """The same model built independently in the mmseg scope."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(cfg_path)
    model = MMSEG_MODELS.build(cfg.model)
    model.load_state_dict(state)
    model.cfg = cfg
    return model.eval()


def _rgb(h=40, w=56, seed=0):
    yy, xx = np.mgrid[:h, :w]
    noise = np.random.default_rng(seed).integers(0, 60, (h, w, 3))
    rgb = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 2], -1)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)  # (H, W, 3)


# ----------------------------------------------------------- conversions
def test_as_depth_map():
    half = as_depth_map(np.full((1, 3, 4), 2.5, np.float32), (6, 8))
    assert half.shape == (6, 8) and half.dtype == np.float32
    np.testing.assert_allclose(half, 2.5)
    pred = torch.tensor([[[[1., np.nan], [-2., np.inf]]]])  # (1, 1, 2, 2)
    np.testing.assert_array_equal(as_depth_map(pred, (2, 2)),
                                  [[1., 0.], [0., 0.]])
    with pytest.raises(ValueError, match=r'one \(h, w\) map, got shape '
                       r'\(2, 4, 4\)'):
        as_depth_map(np.zeros((2, 4, 4)), (4, 4))


def test_as_semseg_map_ids_logits_and_resize():
    ids = torch.tensor([[[0, 1], [2, 255]]])  # (1, 2, 2)
    out = as_semseg_map(ids, (4, 4))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(
        out, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 255, 255]])
    logits = np.zeros((1, 3, 2, 3), np.float32)  # (1, K, h, w)
    logits[0, 2, 0, :] = 1  # row 0 -> class 2
    logits[0, 1, 1, 1:] = 1  # row 1, cols 1-2 -> class 1
    np.testing.assert_array_equal(as_semseg_map(logits, (2, 3), 3),
                                  [[2, 2, 2], [0, 1, 1]])
    # nearest resize samples pixel centres: 3 -> 2 columns keeps 0 and 2
    np.testing.assert_array_equal(
        as_semseg_map(np.array([[4, 5, 6]]), (1, 2)), [[4, 6]])
    with pytest.raises(ValueError, match='3 class scores, expected '
                       'num_classes=4'):
        as_semseg_map(logits, (2, 3), num_classes=4)
    with pytest.raises(ValueError, match=r'float shape \(2, 3\)'):
        as_semseg_map(np.zeros((2, 3), np.float32), (2, 3))
    with pytest.raises(ValueError, match=r'integer shape \(3, 2, 2\)'):
        as_semseg_map(np.zeros((3, 2, 2), np.int64), (2, 2))
    with pytest.raises(ValueError, match=r'\[7\] outside 0..4'):
        as_semseg_map(np.array([[0, 7], [255, 1]]), (2, 2), num_classes=5)
    with pytest.raises(ValueError, match=r'\[-1, 300\] outside 0..254'):
        as_semseg_map(np.array([[-1, 300]]), (1, 2))


def test_metres_to_mm_round_trip():
    depth = np.array([[1.2344, 1.2346, np.nan, -1.], [70., 0., 0.001, 3.]])
    mm = metres_to_mm(depth)
    assert mm.dtype == np.uint16
    np.testing.assert_array_equal(mm, [[1234, 1235, 0, 0], [65534, 0, 1,
                                                            3000]])
    back, valid = decode_depth(mm, 'mm')
    np.testing.assert_array_equal(valid, mm > 0)
    np.testing.assert_allclose(back[valid], mm[valid] / 1000., rtol=1e-6)


# ------------------------------------------------------- torch and callables
class FirstChannel(torch.nn.Module):
    """Returns the (normalised) red channel."""

    def forward(self, x):
        return x[:, :1]  # (1, 1, H, W)


def test_torch_labeller_normalises_and_pseudo_labeller_converts():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 51  # 0.2
    lab = TorchLabeller(FirstChannel(), mean=[0.1, 0, 0], std=[0.5, 1, 1])
    np.testing.assert_allclose(lab(rgb).numpy(), (0.2 - 0.1) / 0.5,
                               rtol=1e-6)
    with pytest.raises(ValueError, match='both mean and std'):
        TorchLabeller(FirstChannel(), mean=[0, 0, 0])
    depth = PseudoLabeller(lab, 'depth')(rgb)
    assert depth.shape == (4, 5)
    np.testing.assert_allclose(depth, 0.2, rtol=1e-6)
    seg = PseudoLabeller(lambda x: np.ones((2, 2), np.uint8), 'semseg', 2)
    np.testing.assert_array_equal(seg(rgb), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r'uint8 \(H, W, 3\) RGB frame'):
        seg(rgb[..., 0])
    with pytest.raises(ValueError, match='num_classes must be in 1..255'):
        PseudoLabeller(lab, 'semseg', num_classes=256)


def test_load_labeller_import_paths(tmp_path, monkeypatch):
    (tmp_path / 'user_labellers.py').write_text(
        'import numpy as np\n'
        'import torch\n'
        'class Scale(torch.nn.Module):\n'
        '    def __init__(self):\n'
        '        super().__init__()\n'
        '        self.s = torch.nn.Parameter(torch.ones(1))\n'
        '    def forward(self, x):\n'
        '        return self.s * (1 + x.mean(dim=1, keepdim=True))\n'
        'def build(levels=3):\n'
        '    return lambda rgb: (rgb[..., 0] // 128).astype(np.int32)\n'
        'def not_a_factory(rgb):\n'
        '    return rgb[..., 1].astype(np.float32) / 100\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.save({'state_dict': {'s': torch.tensor([3.0])}}, tmp_path / 'w.pth')
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[0, :, 0] = 200
    rgb[..., 1] = 150
    depth = load_labeller('depth', 'user_labellers:Scale',
                          checkpoint=str(tmp_path / 'w.pth'))
    assert isinstance(depth.fn, TorchLabeller)
    np.testing.assert_allclose(
        depth(rgb), 3.0 * (1 + rgb.mean(-1) / 255.), rtol=1e-6)
    seg = load_labeller('semseg', 'user_labellers:build', num_classes=2)
    np.testing.assert_array_equal(seg(rgb), rgb[..., 0] // 128)
    plain = load_labeller('depth', 'user_labellers:not_a_factory')
    np.testing.assert_allclose(plain(rgb), 1.5)
    assert load_labeller('depth') is None
    with pytest.raises(ValueError, match='module:name'):
        load_labeller('depth', 'no_colon')
    with pytest.raises(ValueError, match="one of \\('depth', 'semseg'\\)"):
        load_labeller('normals', 'user_labellers:build')
    with pytest.raises(ValueError, match='not both'):
        load_labeller('depth', 'user_labellers:Scale', config='x.py')
    with pytest.raises(ValueError, match='checkpoint needs a model'):
        load_labeller('depth', checkpoint=str(tmp_path / 'w.pth'))
    with pytest.raises(ValueError, match='weights need a torch model'):
        load_labeller('semseg', 'user_labellers:build',
                      checkpoint=str(tmp_path / 'w.pth'))
    torch.save({'other': torch.zeros(1)}, tmp_path / 'bad.pth')
    with pytest.raises(RuntimeError, match='bad.pth: the weights do not fit'):
        load_labeller('depth', 'user_labellers:Scale',
                      checkpoint=str(tmp_path / 'bad.pth'))


# ------------------------------------------------------------- mm* models
@pytest.mark.parametrize('with_pipeline', [True, False])
def test_mmseg_encoder_decoder_config(tmp_path, with_pipeline):
    cfg_path = tmp_path / 'seg.py'
    cfg_path.write_text(SEG_CFG + (SEG_PIPELINE if with_pipeline else ''))
    unloaded = load_labeller('semseg', config=str(cfg_path))
    state = _random_weights(unloaded.fn.model, tmp_path / 'seg.pth')
    lab = load_labeller('semseg', config=str(cfg_path),
                        checkpoint=str(tmp_path / 'seg.pth'), num_classes=5)
    assert isinstance(lab.fn, MMModelLabeller)
    rgb = _rgb()
    got = lab(rgb)
    assert got.shape == (40, 56) and got.dtype == np.int64
    assert len(np.unique(got)) >= 2  # the weights give a non-trivial map
    # reference: mmseg's own inference from the image file (BGR loader)
    cv2.imwrite(str(tmp_path / 'img.png'), rgb[..., ::-1])
    ref_model = _mmseg_model(cfg_path, state)
    if not with_pipeline:  # the minimal dict == a pipeline without resize
        ref_model.cfg.test_pipeline = [
            dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
    from mmseg.apis import inference_model
    ref = inference_model(ref_model, str(tmp_path / 'img.png'))
    np.testing.assert_array_equal(got, ref.pred_sem_seg.data[0].numpy())
    # feeding RGB instead of BGR would change the prediction
    swapped = lab(np.ascontiguousarray(rgb[..., ::-1]))
    assert (swapped != got).any()


def test_mmseg_depth_estimator_config(tmp_path):
    cfg_path = tmp_path / 'depth.py'
    cfg_path.write_text(DEPTH_CFG)
    unloaded = load_labeller('depth', config=str(cfg_path))
    state = _random_weights(unloaded.fn.model, tmp_path / 'depth.pth', 1)
    lab = load_labeller('depth', config=str(cfg_path),
                        checkpoint=str(tmp_path / 'depth.pth'))
    rgb = _rgb(32, 48, seed=1)
    got = lab(rgb)
    assert got.shape == (32, 48) and got.dtype == np.float32
    # reference: normalise the RGB frame by hand and call predict()
    model = _mmseg_model(cfg_path, state)
    x = (torch.from_numpy(rgb).float() - torch.tensor(MEAN)) / torch.tensor(
        STD)
    with torch.no_grad():
        ref = model.predict(x.permute(2, 0, 1)[None])[0]  # (1, 3, H, W) in
    ref = ref.pred_depth_map.data[0].numpy()  # (H, W)
    assert ref.std() > 1e-3  # not a constant map
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    # a semseg labeller on a depth model says what the data sample holds
    seg = load_labeller('semseg', config=str(cfg_path),
                        checkpoint=str(tmp_path / 'depth.pth'))
    with pytest.raises(ValueError, match='gave no pred_sem_seg .*'
                       'pred_depth_map'):
        seg(rgb)
