"""tools/misc/pseudo_label.py: depth + semseg pseudo labels of RGB images."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmrgbd.datasets import RGBDListDataset
from mmrgbd.datasets.depth_io import read_depth, read_label, read_rgb
from mmrgbd.datasets.errors import BadSampleError

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'misc' / 'pseudo_label.py'

SEG_CFG = """
model = dict(
    type='mmseg.EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                  base_channels=4, out_indices=(1, )),
    decode_head=dict(type='FCNHead', in_channels=8, channels=8, num_convs=1,
                     concat_input=False, num_classes=5, in_index=0,
                     loss_decode=dict(type='CrossEntropyLoss')),
    test_cfg=dict(mode='whole'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
"""

USER_MODULE = """
import numpy as np
import torch


class TinyDepth(torch.nn.Module):
    # depth (m) = scale * (1 + mean of the [0, 1] channels)
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        d = self.scale * (1 + x.mean(dim=1, keepdim=True))
        return d  # (1, 1, H, W)


def two_maps(rgb):
    return np.zeros((2,) + rgb.shape[:2], np.float32)
"""


def _tool():
    spec = importlib.util.spec_from_file_location('pseudo_label', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """An RGB folder, a user module on sys.path, an mmseg config + weights."""
    rng = np.random.default_rng(0)
    rgb_dir = tmp_path / 'rgb'
    (rgb_dir / 'sub').mkdir(parents=True)
    yy, xx = np.mgrid[:32, :48]
    base = np.stack([xx * 5, yy * 7, xx + yy], -1)
    imgs = {}
    for name, ext in (('a', '.png'), ('sub/b', '.jpg')):
        img = np.clip(base + rng.integers(0, 40, (32, 48, 3)), 0,
                      255).astype(np.uint8)
        cv2.imwrite(str(rgb_dir / f'{name}{ext}'), img[..., ::-1])
        imgs[name] = rgb_dir / f'{name}{ext}'
    (rgb_dir / 'notes.txt').write_text('not an image')
    pkg = tmp_path / 'userpkg'
    pkg.mkdir()
    (pkg / 'pl_user_models.py').write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(pkg))
    torch.save({'state_dict': {'scale': torch.tensor([2.0])}},
               tmp_path / 'depth.pth')
    cfg_path = tmp_path / 'seg.py'
    cfg_path.write_text(SEG_CFG)
    init_default_scope('mmseg')
    from mmseg.registry import MODELS
    model = MODELS.build(Config.fromfile(cfg_path).model)
    gen = torch.Generator().manual_seed(0)
    state = {
        k: (torch.randn(v.shape, generator=gen) * 0.5
            if v.is_floating_point() and 'running' not in k else v)
        for k, v in model.state_dict().items()
    }
    torch.save(state, tmp_path / 'seg.pth')  # a bare state dict
    model.load_state_dict(state)
    model.cfg = Config.fromfile(cfg_path)
    return dict(rgb_dir=rgb_dir, imgs=imgs, pkg=pkg, cfg=cfg_path,
                seg_model=model.eval(), out=tmp_path / 'out', tmp=tmp_path)


def test_depth_and_semseg_pseudo_labels(setup):
    from mmseg.apis import inference_model
    s = setup
    n = _tool().main([
        str(s['rgb_dir']), str(s['out']),
        '--depth-labeller', 'pl_user_models:TinyDepth',
        '--depth-checkpoint', str(s['tmp'] / 'depth.pth'),
        '--semseg-config', str(s['cfg']),
        '--semseg-checkpoint', str(s['tmp'] / 'seg.pth'),
        '--num-classes', '5', '--depth-format', 'mm'
    ])
    assert n == 2
    lines = (s['out'] / 'pseudo_labels.txt').read_text().splitlines()
    assert lines == [
        '../rgb/a.png depth/a.png semseg/a.png',
        '../rgb/sub/b.jpg depth/sub/b.png semseg/sub/b.png'
    ]
    expected = {}
    for name, path in s['imgs'].items():
        rgb = read_rgb(path)  # decoded as the tool decodes it (JPEG too)
        depth, valid = read_depth(s['out'] / 'depth' / f'{name}.png', 'mm')
        ref_depth = 2.0 * (1 + rgb.astype(np.float64).mean(-1) / 255.)
        assert valid.all()
        assert np.abs(depth - ref_depth).max() <= 0.0005 + 1e-6
        seg = read_label(s['out'] / 'semseg' / f'{name}.png')
        assert seg.dtype == np.uint8 and seg.shape == (32, 48)
        ref_seg = inference_model(s['seg_model'], str(path))
        ref_seg = ref_seg.pred_sem_seg.data[0].numpy()  # (H, W)
        assert len(np.unique(ref_seg)) >= 2
        np.testing.assert_array_equal(seg, ref_seg)
        expected[name] = (rgb, depth, ref_seg)
    ds = RGBDListDataset(
        data_root=str(s['out']), ann_file='pseudo_labels.txt',
        depth_unit='mm', depth_source='pseudo',
        pipeline=[dict(type='LoadRGBDFromFiles', with_semseg=True)])
    assert len(ds) == 2
    for i, name in enumerate(('a', 'sub/b')):
        sample = ds[i]
        rgb, depth, ref_seg = expected[name]
        np.testing.assert_array_equal(sample['rgb'], rgb)
        np.testing.assert_array_equal(sample['depth'], depth)
        np.testing.assert_array_equal(sample['semseg'], ref_seg)
        assert sample['depth_source'] == 'pseudo'


def test_semseg_only_and_cli_script(setup):
    s = setup
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(s['pkg'])] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    proc = subprocess.run([
        sys.executable, str(TOOL), str(s['rgb_dir']), str(s['out']),
        '--semseg-config', str(s['cfg']),
        '--semseg-checkpoint', str(s['tmp'] / 'seg.pth')
    ], capture_output=True, text=True, env=env, cwd=str(s['tmp']))
    assert proc.returncode == 0, proc.stderr
    assert 'labelled 2 images' in proc.stderr
    assert 'no list file: RGBDListDataset needs depth' in proc.stderr
    assert not (s['out'] / 'pseudo_labels.txt').exists()
    assert not (s['out'] / 'depth').exists()
    seg = read_label(s['out'] / 'semseg' / 'a.png')
    from mmseg.apis import inference_model
    ref = inference_model(s['seg_model'], str(s['imgs']['a']))
    np.testing.assert_array_equal(seg, ref.pred_sem_seg.data[0].numpy())


def test_errors(setup):
    s = setup
    tool = _tool()
    dep = ['--depth-labeller', 'pl_user_models:TinyDepth']
    with pytest.raises(FileNotFoundError,
                       match='missing: RGB folder does not exist'):
        tool.main([str(s['tmp'] / 'missing'), str(s['out'])] + dep)
    with pytest.raises(SystemExit):  # no labeller at all
        tool.main([str(s['rgb_dir']), str(s['out'])])
    # a model returning two maps: the error names the image and the shape
    with pytest.raises(ValueError, match=r'rgb/a\.png: depth labeller: .*'
                       r'got shape \(2, 32, 48\)'):
        tool.main([str(s['rgb_dir']), str(s['out']),
                   '--depth-labeller', 'pl_user_models:two_maps'])
    # the segmentor predicts >= 2 classes (checked above): not 1 class
    with pytest.raises(ValueError, match=r'a\.png: semseg labeller: .*'
                       r'outside 0\.\.0'):
        tool.main([str(s['rgb_dir']), str(s['out']),
                   '--semseg-config', str(s['cfg']),
                   '--semseg-checkpoint', str(s['tmp'] / 'seg.pth'),
                   '--num-classes', '1'])
    # an unreadable image is named
    data = (s['rgb_dir'] / 'a.png').read_bytes()
    (s['rgb_dir'] / 'a.png').write_bytes(data[:len(data) // 2])
    with pytest.raises(BadSampleError, match=r'rgb/a\.png: truncated PNG'):
        tool.main([str(s['rgb_dir']), str(s['out'])] + dep)
    (s['rgb_dir'] / 'a.bmp').write_bytes(b'BM not really')
    with pytest.raises(ValueError, match=r'a\.png: same name as .*a\.bmp'):
        tool.find_images(str(s['rgb_dir']))


def _relative_depth(rgb):
    """A relative-depth labeller (values in (0, 1], many below 1e-3)."""
    v = rgb.astype(np.float64).mean(-1) / 255.  # (H, W)
    return (1e-4 + 0.9999 * v**3).astype(np.float32)


@pytest.mark.parametrize('fmt,unit,suffix', [('uint16', 'mm', '.png'),
                                             ('float', 'm', '.npy')])
def test_pseudo_depth_keeps_precision_round_trip(tmp_path, fmt, unit,
                                                 suffix):
    """Relative pseudo depth survives writing and reading back through
    RGBDListDataset: the default full-range uint16 PNG to 1 / 65534 of the
    image's largest depth (up to the per-image factor that MultiMAE's robust
    standardisation removes), float exactly. Millimetres (before: the only
    format) lose it: values below 0.5e-3 become invalid."""
    rgb_dir = tmp_path / 'rgb'
    rgb_dir.mkdir()
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[:40, :50]
    img = np.stack([xx * 5, yy * 6, (xx + yy) * 2], -1) % 256
    img = (img + g.integers(0, 30, img.shape)).clip(0, 255)
    img[:, :15] //= 16  # a dark band: relative depth below 1e-3
    img = img.astype(np.uint8)
    cv2.imwrite(str(rgb_dir / 'a.png'), img[..., ::-1])
    out = tmp_path / 'out'
    assert _tool().pseudo_label_folder(
        str(rgb_dir), str(out), depth_labeller=_relative_depth,
        depth_format=fmt) == 1
    assert (out / 'pseudo_labels.txt').read_text().split()[1] == \
        f'depth/a{suffix}'
    ds = RGBDListDataset(
        data_root=str(out), ann_file='pseudo_labels.txt', depth_unit=unit,
        depth_source='pseudo', pipeline=[dict(type='LoadRGBDFromFiles')])
    sample = ds[0]
    ref = _relative_depth(read_rgb(rgb_dir / 'a.png')).astype(np.float64)
    assert (ref < 5e-4).mean() > 0.05  # the values mm would lose
    assert sample['depth_valid'].all()
    got = sample['depth'].astype(np.float64)
    if fmt == 'float':
        np.testing.assert_array_equal(got, ref.astype(np.float32))
        return
    scale = got.max() / ref.max()  # the per-image factor
    # half a level of rounding plus float32 reading: below one level
    assert np.abs(got / scale - ref).max() <= ref.max() / 65534
    # standardised per image (as NormalizeDepth 'robust'), the factor goes
    std = [(d - d.mean()) / d.std() for d in (got, ref)]
    assert np.abs(std[0] - std[1]).max() < 1e-3
    mm, _ = read_depth_after_mm(ref, tmp_path)
    assert (mm == 0).mean() > 0.05  # millimetres: small depths invalid


def read_depth_after_mm(depth, tmp_path):
    from mmrgbd.apis import metres_to_mm
    cv2.imwrite(str(tmp_path / 'mm.png'), metres_to_mm(depth))
    return read_depth(tmp_path / 'mm.png', 'mm')


def test_full_range_encoding_by_hand():
    from mmrgbd.apis import depth_to_uint16_full_range, encode_pseudo_depth
    depth = np.array([[0., 0.5, 2.0], [np.nan, 1e-9, -1.]])
    v, scale = depth_to_uint16_full_range(depth)
    assert scale == pytest.approx(65534 / 2.0)
    np.testing.assert_array_equal(v, [[0, 16384, 65534], [0, 1, 0]])
    assert v.dtype == np.uint16
    arr, suffix, unit = encode_pseudo_depth(depth, 'float')
    assert (suffix, unit, arr.dtype) == ('.npy', 'm', np.float32)
    assert encode_pseudo_depth(depth, 'mm')[0].tolist() == [[0, 500, 2000],
                                                            [0, 0, 0]]
    with pytest.raises(ValueError, match='depth format'):
        encode_pseudo_depth(depth, 'png')
