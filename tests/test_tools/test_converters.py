"""Dataset converters in tools/dataset_converters/."""
import importlib.util
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmrgbd.datasets import (NYUv2Dataset, RGBDVideoClipDataset,
                             ScanNetFrames, SUNRGBDDataset)
from mmrgbd.datasets.errors import BadSampleError

TOOLS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------ ScanNet .sens
def write_sens(path, colors, depths, poses, k_color, k_depth,
               depth_shift=1000.0):
    """A minimal writer of the documented .sens format (version 4)."""
    ch, cw = colors[0].shape[:2]
    dh, dw = depths[0].shape
    with open(path, 'wb') as f:
        f.write(struct.pack('<I', 4))
        name = b'StructureSensor'
        f.write(struct.pack('<Q', len(name)) + name)
        for m in (k_color, np.eye(4), k_depth, np.eye(4)):
            f.write(np.asarray(m, '<f4').tobytes())
        f.write(struct.pack('<ii', 2, 1))  # jpeg colour, zlib_ushort depth
        f.write(struct.pack('<4I', cw, ch, dw, dh))
        f.write(struct.pack('<f', depth_shift))
        f.write(struct.pack('<Q', len(colors)))
        jpegs = []
        for i, (c, d, p) in enumerate(zip(colors, depths, poses)):
            jpg = cv2.imencode('.jpg', c[..., ::-1])[1].tobytes()
            jpegs.append(jpg)
            dz = zlib.compress(np.asarray(d, '<u2').tobytes())
            f.write(np.asarray(p, '<f4').tobytes())
            f.write(struct.pack('<4Q', 1000 * i, 1000 * i + 1, len(jpg),
                                len(dz)))
            f.write(jpg + dz)
    return jpegs


def test_scannet_sens_round_trip(tmp_path):
    sens_tool = _tool('scannet_sens_to_frames')
    rng = np.random.default_rng(0)
    n = 5
    colors = [rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
              for _ in range(n)]
    depths = [rng.integers(0, 5000, (6, 8), dtype=np.uint16) for _ in range(n)]
    poses = []
    for i in range(n):
        p = np.eye(4)
        p[:3, 3] = [0.1 * i, -0.2, 1.5]
        poses.append(p)
    poses[2] = np.full((4, 4), -np.inf)  # a frame without a pose
    k_c = np.diag([14., 14., 1., 1.])
    k_c[:2, 2] = [7.5, 5.5]
    k_d = np.diag([7., 7., 1., 1.])
    k_d[:2, 2] = [3.5, 2.5]
    sens = tmp_path / 'scene0000_00.sens'
    jpegs = write_sens(sens, colors, depths, poses, k_c, k_d)
    out = tmp_path / 'frames' / 'scene0000_00'
    assert sens_tool.export_sens(str(sens), str(out), frame_skip=2) == 3
    assert sorted(p.name for p in (out / 'depth').iterdir()) == [
        '0.png', '2.png', '4.png']
    for i in (0, 2, 4):
        d = cv2.imread(str(out / 'depth' / f'{i}.png'), cv2.IMREAD_UNCHANGED)
        assert d.dtype == np.uint16
        np.testing.assert_array_equal(d, depths[i])
        assert (out / 'color' / f'{i}.jpg').read_bytes() == jpegs[i]
        np.testing.assert_allclose(
            np.loadtxt(out / 'pose' / f'{i}.txt'), poses[i], rtol=1e-6)
    np.testing.assert_allclose(
        np.loadtxt(out / 'intrinsic' / 'intrinsic_depth.txt'), k_d)
    # the export is read back by ScanNetFrames; the -inf pose is dropped
    ds = ScanNetFrames(data_root=str(tmp_path / 'frames'), frame_skip=1,
                       pipeline=[dict(type='LoadScanNetFrame')])
    assert [d['frame_idx'] for d in ds] == [0, 4] and \
        ds.num_invalid_poses == 1
    sample = ds[1]
    np.testing.assert_allclose(sample['depth'], depths[4] / 1000., rtol=1e-6)
    np.testing.assert_allclose(sample['cam2world'], poses[4], rtol=1e-6)
    assert sample['rgb'].shape == (6, 8, 3)  # colour resized to depth size
    np.testing.assert_allclose(sample['intrinsics'], k_d[:3, :3])
    # a truncated recording names the file
    data = sens.read_bytes()
    (tmp_path / 'cut.sens').write_bytes(data[:len(data) - 10])
    with pytest.raises(sens_tool.SensFormatError, match=r'cut\.sens: frame 4'):
        sens_tool.export_sens(str(tmp_path / 'cut.sens'),
                              str(tmp_path / 'cut'))


# ------------------------------------------------------------- NYUv2 .mat
def test_nyuv2_converter_with_in_memory_mat(samples_dir, tmp_path):
    """The converter takes any mapping of the v7.3 datasets; here a dict of
    arrays in the transposed HDF5 layout."""
    nyu_tool = _tool('nyuv2_mat_to_png')
    meta = samples_dir / 'nyuv2_labeled_vainf'
    lut40, lut13 = nyu_tool.load_class_maps(
        str(meta / 'classMapping40.mat'), str(meta / 'class13Mapping.mat'))
    splits = nyu_tool.load_splits(str(meta / 'splits.mat'))
    assert len(splits[0]) == 795 and len(splits[1]) == 654
    assert 1407 in set(splits[1].tolist())
    from scipy.io import loadmat
    m40 = loadmat(meta / 'classMapping40.mat')
    names894 = [str(x[0]) for x in m40['allClassName'][0]]
    floor894 = names894.index('floor') + 1  # 894-class id of 'floor'
    assert floor894 == 11
    rng = np.random.default_rng(0)
    n, h, w = 3, 6, 8
    rgb = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 9.9, (n, h, w)).astype(np.float32)
    raw = depth.copy()
    raw[:, 0, :] = 0  # holes
    labels = rng.integers(0, 895, (n, h, w)).astype(np.uint16)
    labels[:, :, 0] = floor894
    labels[:, :, 1] = 0
    mat = dict(
        images=rgb.transpose(0, 3, 2, 1),  # (N, 3, W, H) as stored
        depths=depth.transpose(0, 2, 1),
        rawDepths=raw.transpose(0, 2, 1),
        labels=labels.transpose(0, 2, 1))
    assert nyu_tool.convert(mat, str(tmp_path), lut40, lut13, splits) == 3
    # frames 1, 2 are test frames and 3 a train frame in the official split
    assert (tmp_path / 'test.txt').read_text().split() == ['1', '2']
    assert (tmp_path / 'train.txt').read_text().split() == ['3']
    for i in range(n):
        name = f'{i + 1:04d}.png'
        got = cv2.imread(str(tmp_path / 'rgb' / name))[..., ::-1]
        np.testing.assert_array_equal(got, rgb[i])
        d = cv2.imread(str(tmp_path / 'depth' / name), cv2.IMREAD_UNCHANGED)
        assert d.dtype == np.uint16
        assert np.abs(d / 1000. - depth[i]).max() <= 0.0005 + 1e-6
        r = cv2.imread(str(tmp_path / 'rawdepth' / name), cv2.IMREAD_UNCHANGED)
        assert (r[0] == 0).all() and (r[1:] > 0).all()
        l40 = cv2.imread(str(tmp_path / 'label40' / name), -1)
        l13 = cv2.imread(str(tmp_path / 'label13' / name), -1)
        # 'floor' (894 id 11) -> NYU-40 id 2 'floor' -> NYU-13 id 5 'floor'
        assert (l40[:, 0] == 2).all() and (l13[:, 0] == 5).all()
        assert (l40[:, 1] == 0).all() and (l13[:, 1] == 0).all()
        lab = labels[i].astype(np.int64)
        m = lab > 0
        np.testing.assert_array_equal(l40[m], m40['mapClass'][0][lab[m] - 1])
    # read back through the dataset: train ids are 0-based, 255 = unlabelled
    ds = NYUv2Dataset(data_root=str(tmp_path), split='test', num_classes=13,
                      pipeline=[dict(type='LoadRGBDFromFiles',
                                     with_semseg=True,
                                     reduce_zero_label=True)])
    out = ds[0]
    assert (out['semseg'][:, 0] == 4).all() and (out['semseg'][:, 1] == 255
                                                 ).all()
    np.testing.assert_allclose(out['depth'], depth[0], atol=6e-4)


def test_nyuv2_converter_needs_h5py(tmp_path, monkeypatch):
    nyu_tool = _tool('nyuv2_mat_to_png')
    monkeypatch.setitem(sys.modules, 'h5py', None)  # import h5py fails
    with pytest.raises(ImportError, match='pip install h5py'):
        nyu_tool.open_labeled_mat(str(tmp_path / 'x.mat'))


def write_v73_mat(path, **arrays):
    """Write arrays like MATLAB ``save(path, '-v7.3')``: an HDF5 file with a
    512-byte userblock holding the MAT header, one dataset per variable
    with its ``MATLAB_class``, dimensions reversed (MATLAB is column-major).
    """
    import h5py
    classes = {np.dtype('uint8'): 'uint8', np.dtype('uint16'): 'uint16',
               np.dtype('float32'): 'single'}
    with h5py.File(path, 'w', userblock_size=512) as f:
        for name, arr in arrays.items():
            ds = f.create_dataset(name, data=arr, chunks=True,
                                  compression='gzip')
            ds.attrs['MATLAB_class'] = np.bytes_(classes[arr.dtype])
    text = b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 ' \
        b'00:00:00 2024 HDF5 schema 1.00 .'
    header = text.ljust(116) + b'\0' * 8 + struct.pack('<H', 0x0200) + b'IM'
    with open(path, 'r+b') as f:
        f.write(header)


def test_nyuv2_converter_cli_on_real_hdf5(samples_dir, tmp_path):
    """The CLI opens a MATLAB v7.3 (HDF5) file end-to-end; the class maps
    and the split are the official .mat files."""
    import h5py
    from scipy.io import loadmat
    nyu_tool = _tool('nyuv2_mat_to_png')
    meta = samples_dir / 'nyuv2_labeled_vainf'
    # the official split: 795 train + 654 test, disjoint, covering 1..1449
    train, test = nyu_tool.load_splits(str(meta / 'splits.mat'))
    assert len(train) == 795 and len(test) == 654
    assert sorted(np.concatenate([train, test]).tolist()) == list(
        range(1, 1450))
    n, h, w = 12, 6, 8
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 9.9, (n, h, w)).astype(np.float32)
    raw = np.where(rng.random((n, h, w)) < 0.2, 0, depth).astype(np.float32)
    labels = rng.integers(0, 895, (n, h, w)).astype(np.uint16)
    mat_path = tmp_path / 'nyu_depth_v2_labeled.mat'
    write_v73_mat(mat_path,
                  images=rgb.transpose(0, 3, 2, 1),  # (N, 3, W, H)
                  depths=depth.transpose(0, 2, 1),  # (N, W, H)
                  rawDepths=raw.transpose(0, 2, 1),
                  labels=labels.transpose(0, 2, 1))
    assert h5py.is_hdf5(mat_path) and \
        mat_path.read_bytes()[:10] == b'MATLAB 7.3'
    out = tmp_path / 'nyuv2'
    proc = subprocess.run([
        sys.executable, str(TOOLS / 'nyuv2_mat_to_png.py'), str(mat_path),
        str(out), '--map40', str(meta / 'classMapping40.mat'), '--map13',
        str(meta / 'class13Mapping.mat'), '--splits',
        str(meta / 'splits.mat')
    ], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f'wrote {n} frames' in proc.stderr
    assert len(list((out / 'rgb').iterdir())) == n
    # the lists keep the official split restricted to the 12 frames
    split = loadmat(meta / 'splits.mat')
    for name, key in (('train', 'trainNdxs'), ('test', 'testNdxs')):
        listed = [int(x) for x in (out / f'{name}.txt').read_text().split()]
        official = [int(k) for k in split[key].ravel() if k <= n]
        assert listed == official
    got_train = [int(x) for x in (out / 'train.txt').read_text().split()]
    got_test = [int(x) for x in (out / 'test.txt').read_text().split()]
    assert sorted(got_train + got_test) == list(range(1, n + 1))
    assert got_train and got_test
    # one frame against the arrays (H != W, so a missed transpose fails)
    i = 4
    name = f'{i + 1:04d}.png'
    np.testing.assert_array_equal(
        cv2.imread(str(out / 'rgb' / name))[..., ::-1], rgb[i])
    d = cv2.imread(str(out / 'depth' / name), cv2.IMREAD_UNCHANGED)
    assert d.shape == (h, w) and d.dtype == np.uint16
    np.testing.assert_array_equal(
        d, np.round(depth[i].astype(np.float64) * 1000.))
    r = cv2.imread(str(out / 'rawdepth' / name), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(r == 0, raw[i] == 0)
    lut40 = np.concatenate(
        [[0], loadmat(meta / 'classMapping40.mat')['mapClass'].ravel()])
    lut13 = np.concatenate([[0], loadmat(meta / 'class13Mapping.mat')[
        'classMapping13']['labels13'][0, 0].ravel()])
    l40 = cv2.imread(str(out / 'label40' / name), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(l40, lut40[labels[i]])
    l13 = cv2.imread(str(out / 'label13' / name), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(l13, lut13[lut40[labels[i]]])


def test_nyuv2_open_rejects_bad_files(tmp_path):
    from scipy.io import savemat
    nyu_tool = _tool('nyuv2_mat_to_png')
    v5 = tmp_path / 'v5.mat'
    savemat(v5, dict(images=np.zeros((1, 3, 4, 2), np.uint8)))
    with pytest.raises(BadSampleError, match=r'v5\.mat: not a MATLAB v7\.3'):
        nyu_tool.open_labeled_mat(str(v5))
    with pytest.raises(BadSampleError, match='none.mat: file does not exist'):
        nyu_tool.open_labeled_mat(str(tmp_path / 'none.mat'))
    partial = tmp_path / 'partial.mat'
    write_v73_mat(partial, images=np.zeros((1, 3, 4, 2), np.uint8))
    with pytest.raises(BadSampleError, match=r"missing datasets \['depths', "
                       r"'labels'\] \(found \['images'\]\)"):
        nyu_tool.open_labeled_mat(str(partial))
    # depths stored (N, H, W) instead of MATLAB's transposed (N, W, H)
    mat = dict(images=np.zeros((1, 3, 4, 2), np.uint8),
               depths=np.zeros((1, 2, 4), np.float32),
               labels=np.zeros((1, 4, 2), np.uint16))
    with pytest.raises(ValueError, match=r'depths must be \(N, W, H\) = '
                       r'\(1, 4, 2\)'):
        nyu_tool.convert(mat, str(tmp_path / 'o'), np.zeros(895, np.uint8),
                         np.zeros(41, np.uint8))


# ------------------------------------------------------------- SUN RGB-D
def _sun_sample(root, rel, with_bfx=True):
    d = root / rel
    subs = ['image', 'depth'] + (['depth_bfx'] if with_bfx else [])
    for sub in subs:
        (d / sub).mkdir(parents=True)
    name = rel.split('/')[-1]
    cv2.imwrite(str(d / 'image' / f'{name}.jpg'),
                np.zeros((6, 8, 3), np.uint8))
    mm = np.full((6, 8), 1234, np.uint32)
    rotated = ((mm << 3) | (mm >> 13)) & 0xFFFF  # SUN RGB-D storage
    for sub in subs[1:]:
        cv2.imwrite(str(d / sub / f'{name}.png'), rotated.astype(np.uint16))
    (d / 'intrinsics.txt').write_text('5 0 4\n0 5 3\n0 0 1\n')


def test_sunrgbd_infos(tmp_path):
    tool = _tool('sunrgbd_infos')
    root = tmp_path / 'SUNRGBD'
    _sun_sample(root, 'kv1/NYUdata/NYU0001')
    _sun_sample(root, 'kv2/align_kv2/2014-xx_b')
    _sun_sample(root, 'realsense/lg/broken', with_bfx=False)
    (root / 'labels').mkdir()
    cv2.imwrite(str(root / 'labels' / 'img-000002.png'),
                np.full((6, 8), 5, np.uint8))
    order = tmp_path / 'order.txt'
    order.write_text('/n/fs/sun3d/data/SUNRGBD/kv2/align_kv2/2014-xx_b\n'
                     '/n/fs/sun3d/data/SUNRGBD/kv1/NYUdata/NYU0001/\n')
    lines, problems = tool.build_infos(str(root), label_dir='labels',
                                       label_order=str(order))
    assert lines == ['kv1/NYUdata/NYU0001 labels/img-000002.png',
                     'kv2/align_kv2/2014-xx_b -']
    assert len(problems) == 2
    assert problems[0].endswith('labels/img-000001.png: label file missing')
    assert problems[1].endswith('broken/depth_bfx: folder is missing')
    split = tmp_path / 'split.txt'
    split.write_text('SUNRGBD/kv2/align_kv2/2014-xx_b\n')
    tool.main([str(root), str(root / 'val.txt'), '--split-file', str(split)])
    assert (root / 'val.txt').read_text() == 'kv2/align_kv2/2014-xx_b -\n'
    tool.main([str(root), str(root / 'all.txt'), '--label-dir', 'labels',
               '--label-order', str(order)])
    ds = SUNRGBDDataset(
        data_root=str(root), ann_file='all.txt',
        pipeline=[dict(type='LoadRGBDFromFiles', with_semseg=True,
                       reduce_zero_label=True)])
    out = ds[0]
    np.testing.assert_allclose(out['depth'], 1.234, rtol=1e-6)
    assert (out['semseg'] == 4).all()
    np.testing.assert_allclose(out['intrinsics'], [[5, 0, 4], [0, 5, 3],
                                                   [0, 0, 1]])


# ---------------------------------------------------------------- UCF-101
def test_ucf101_extract_with_pseudo_depth(samples_dir, tmp_path, monkeypatch):
    tool = _tool('ucf101_extract_frames')
    video = samples_dir / 'mmaction2_demo_video' / 'demo.mp4'
    src = tmp_path / 'UCF-101' / 'Demo'
    src.mkdir(parents=True)
    (src / 'v_Demo_g01_c01.mp4').symlink_to(video)
    # the user's labeller, given as an import path, with local weights
    pkg = tmp_path / 'userpkg'
    pkg.mkdir()
    (pkg / 'tiny_depth.py').write_text(
        'import torch\n'
        'class TinyDepth(torch.nn.Module):\n'
        '    def __init__(self):\n'
        '        super().__init__()\n'
        '        self.scale = torch.nn.Parameter(torch.ones(1))\n'
        '    def forward(self, x):\n'
        '        return self.scale * (1 + x.mean(dim=1, keepdim=True))\n')
    monkeypatch.syspath_prepend(str(pkg))
    ckpt = tmp_path / 'w.pth'
    torch.save({'state_dict': {'scale': torch.tensor([2.0])}}, ckpt)
    out = tmp_path / 'ucf_rgbd'
    total = tool.main([
        str(tmp_path / 'UCF-101'), str(out), '--frame-interval', '10',
        '--max-frames', '3', '--labeller', 'tiny_depth:TinyDepth',
        '--labeller-checkpoint', str(ckpt)
    ])
    assert total == 3
    vdir = out / 'Demo' / 'v_Demo_g01_c01'
    names = sorted(p.name for p in (vdir / 'rgb').iterdir())
    assert names == ['000000.jpg', '000010.jpg', '000020.jpg']
    # decode the same frames independently and apply the formula
    cap = cv2.VideoCapture(str(video))
    frames = []
    for i in range(21):
        ok, bgr = cap.read()
        assert ok
        if i % 10 == 0:
            frames.append(bgr[..., ::-1])
    cap.release()
    for name, rgb in zip(names, frames):
        assert rgb.shape == (256, 340, 3)
        d = cv2.imread(str(vdir / 'depth' / name.replace('.jpg', '.png')),
                       cv2.IMREAD_UNCHANGED)
        expected = 2.0 * (1 + rgb.astype(np.float64).mean(-1) / 255.)
        assert d.dtype == np.uint16
        assert np.abs(d / 1000. - expected).max() <= 0.0006
        jpg = cv2.imread(str(vdir / 'rgb' / name))[..., ::-1]
        assert np.abs(jpg.astype(int) - rgb).mean() < 3  # JPEG q=95
    ds = RGBDVideoClipDataset(
        data_root=str(out), num_frames=3, frame_interval=1,
        depth_source='pseudo', pipeline=[dict(type='LoadRGBDClip')])
    clip = ds[0]
    assert ds.get_data_info(0)['video'] == 'Demo/v_Demo_g01_c01'
    assert clip['depth'].shape == (3, 256, 340)
    assert 2.0 <= clip['depth'].min() and clip['depth'].max() <= 4.0


def test_ucf101_frames_errors(tmp_path):
    tool = _tool('ucf101_extract_frames')
    with pytest.raises(IOError, match='missing.mp4: OpenCV cannot open'):
        next(tool.iter_frames(str(tmp_path / 'missing.mp4')))
