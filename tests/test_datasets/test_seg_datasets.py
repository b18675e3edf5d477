"""Segmentation datasets (mmseg API) on the real layouts, and their depth.

Layouts are built from the real frames in ``../shared/samples`` by
``tests/real_layouts/{scannet_seg,nyuv2_labeled,sunrgbd_seg}.py``.
"""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmrgbd.datasets import (SCANNET20_CLASSES, SCANNET20_NYU40_IDS,
                             BadSampleError, NYUv2SegDataset,
                             ScanNetSegDataset, StackInputModalities,
                             SUNRGBDSegDataset, select_subset)
from mmrgbd.datasets.transforms import NormalizeDepth
from real_layouts.nyuv2_labeled import (build_nyuv2_labeled, read_splits,
                                        read_frame_vainf)
from real_layouts.scannet_seg import (build_scannet_frames_25k,
                                      build_scannet_label_filt)
from real_layouts.sunrgbd_seg import build_sunrgbd_seg

TOOLS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'

#: The ScanNet benchmark's 20 classes, copied from ScanNet's
#: BenchmarkScripts/2d_evaluation/evalPixelLevelSemanticLabeling.py
#: (CLASS_LABELS, VALID_CLASS_IDS) and Tasks/Benchmark/
#: classes_SemVoxLabel-nyu40id.txt (which spells 'refridgerator').
OFFICIAL_VALID_CLASS_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16,
                            24, 28, 33, 34, 36, 39]
OFFICIAL_CLASS_LABELS = [
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'desk', 'curtain',
    'refrigerator', 'shower curtain', 'toilet', 'sink', 'bathtub',
    'otherfurniture'
]

LOAD = [dict(type='LoadImageFromFile'),
        dict(type='mmrgbd.LoadDepthMap'),
        dict(type='LoadAnnotations')]


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def infos(ds):
    """The data-list entries (the dataset serialises its list)."""
    return [ds.get_data_info(i) for i in range(len(ds))]


def expected_scannet20(nyu40: np.ndarray) -> np.ndarray:
    """Train ids by hand from the official table: 255 unless listed."""
    out = np.full(nyu40.shape, 255, np.int64)
    for train_id, nyu_id in enumerate(OFFICIAL_VALID_CLASS_IDS):
        out[nyu40 == nyu_id] = train_id
    return out


# ----------------------------------------------------------------- ScanNet
def test_scannet20_is_the_benchmark_subset_of_nyu40(tmp_path):
    """Every nyu40 id 0..40 in a label PNG goes through mmseg's
    LoadAnnotations to the official benchmark index, or 255."""
    assert list(SCANNET20_NYU40_IDS) == OFFICIAL_VALID_CLASS_IDS
    assert [c.replace('refridgerator', 'refrigerator')
            for c in SCANNET20_CLASSES] == OFFICIAL_CLASS_LABELS
    scene = tmp_path / 'scene0000_00'
    for sub in ('color', 'label'):
        (scene / sub).mkdir(parents=True)
    label = np.repeat(np.arange(41, dtype=np.uint8)[None], 3, axis=0)
    cv2.imwrite(str(scene / 'label' / '000000.png'), label)
    cv2.imwrite(str(scene / 'color' / '000000.jpg'),
                np.zeros((3, 41, 3), np.uint8))
    (tmp_path / 'scenes.txt').write_text('scene0000_00\n')
    ds = ScanNetSegDataset(
        data_root=str(tmp_path), scene_list='scenes.txt',
        pipeline=[dict(type='LoadAnnotations')])
    assert ds.metainfo['classes'] == SCANNET20_CLASSES
    got = ds[0]['gt_seg_map'][0].astype(np.int64)
    np.testing.assert_array_equal(got, expected_scannet20(np.arange(41)))


def test_scannet_frames_25k_real_layout(samples_dir, tmp_path):
    lay = build_scannet_frames_25k(tmp_path, samples_dir)
    train = ScanNetSegDataset(data_root=lay['data_root'],
                              scene_list='scannetv2_train.txt',
                              pipeline=LOAD)
    val = ScanNetSegDataset(data_root=lay['data_root'],
                            scene_list=lay['val_list'], pipeline=LOAD)
    # 2 train scenes x frames 000000, 000100; the val scene is separate
    assert len(train) == 4 and len(val) == 2
    assert {d['scene'] for d in infos(train)} == {'scene0000_00',
                                                     'scene0001_00'}
    assert [d['frame_idx'] for d in infos(val)] == [0, 100]
    out = train[0]
    assert out['img'].shape == (480, 640, 3)
    assert out['img_path'].endswith('scene0000_00/color/000000.jpg')
    np.testing.assert_array_equal(out['gt_seg_map'],
                                  expected_scannet20(lay['label']))
    # the real NYU depth (mm) in metres, 0 at holes
    assert out['depth'].dtype == np.float32 and 'depth' in out['seg_fields']
    assert 0.5 < np.median(out['depth'][out['depth'] > 0]) < 10
    # every 200th frame: frame 100 is dropped
    skip = ScanNetSegDataset(data_root=lay['data_root'],
                             scene_list='scannetv2_train.txt',
                             frame_skip=200)
    assert [d['frame_idx'] for d in infos(skip)] == [0, 0]
    (tmp_path / 'twice.txt').write_text('scene0000_00\nscene0000_00\n')
    with pytest.raises(BadSampleError, match='twice.txt: scene scene0000_00'):
        ScanNetSegDataset(data_root=lay['data_root'], scene_list='twice.txt')
    (tmp_path / 'missing.txt').write_text('scene0999_00\n')
    with pytest.raises(BadSampleError, match='scene0999_00/label: folder'):
        ScanNetSegDataset(data_root=lay['data_root'],
                          scene_list='missing.txt')


def test_scannet_label_filt_converter_and_colour_size(samples_dir, tmp_path):
    """Raw ScanNet ids (uint16, 1296x968) -> nyu40 via the tsv for every
    100th frame; the dataset then reads them, with the 640x480 depth
    resized to the colour grid."""
    lay = build_scannet_label_filt(tmp_path, samples_dir)
    tool = _tool('scannet_labels_to_nyu40')
    lut = tool.read_nyu40_lut(lay['tsv'])
    assert lut[1] == 1 and lut[2] == 5 and lut[26] == 29 and lut[6] == 0
    n = tool.convert_scenes(lay['data_root'], lay['tsv'], frame_skip=100)
    assert n == 2  # frames 0 and 100; 50 skipped
    label_dir = tmp_path / 'scene0000_00' / 'label'
    assert sorted(p.name for p in label_dir.iterdir()) == ['0.png', '100.png']
    written = cv2.imread(str(label_dir / '0.png'), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint8
    np.testing.assert_array_equal(written, lay['expected_nyu40'])
    # ids beyond the tsv are unannotated
    np.testing.assert_array_equal(
        tool.convert_label(np.array([[1, 9999]], np.uint16), lut), [[1, 0]])
    ds = ScanNetSegDataset(data_root=lay['data_root'],
                           scene_list=lay['scene_list'], pipeline=LOAD)
    out = ds[1]
    assert out['img'].shape[:2] == out['gt_seg_map'].shape == (968, 1296)
    assert out['depth'].shape == (968, 1296)
    np.testing.assert_array_equal(out['gt_seg_map'],
                                  expected_scannet20(lay['expected_nyu40']))
    (tmp_path / 'bad.tsv').write_text('idx\tname\n1\twall\n')
    with pytest.raises(BadSampleError, match=r'bad\.tsv: expected the col'):
        tool.read_nyu40_lut(str(tmp_path / 'bad.tsv'))


# ------------------------------------------------------------------- NYUv2
def test_vainf_labels_decode_consistently(samples_dir):
    """The decoded 40-class map of the vainf frame maps through the official
    class13Mapping.mat onto its decoded 13-class map."""
    from scipy.io import loadmat
    m13 = loadmat(str(samples_dir / 'nyuv2_labeled_vainf' /
                      'class13Mapping.mat'))['classMapping13']
    lut13 = np.concatenate([[0], np.asarray(m13['labels13'][0, 0]).ravel()])
    v = read_frame_vainf(samples_dir)
    assert set(np.unique(v['label40'])) - {0}  # real classes, not void
    np.testing.assert_array_equal(lut13[v['label40']], v['label13'])


@pytest.mark.parametrize('frame,num_classes', [('vainf', 40), ('vainf', 13),
                                               ('1407', 13)])
def test_nyuv2_seg_real_frames(samples_dir, tmp_path, frame, num_classes):
    lay = build_nyuv2_labeled(tmp_path, samples_dir, frame)
    ds = NYUv2SegDataset(data_root=lay['data_root'], split='test',
                         num_classes=num_classes, pipeline=LOAD)
    assert len(ds.metainfo['classes']) == num_classes
    out = ds[0]
    assert out['img'].shape == (480, 640, 3)
    assert out['img_path'].endswith(f'rgb/{lay["test_id"]:04d}.png')
    label = lay[f'label{num_classes}'].astype(np.int64)
    expect = np.where(label > 0, label - 1, 255)
    np.testing.assert_array_equal(out['gt_seg_map'], expect)
    raw = NYUv2SegDataset(data_root=lay['data_root'], split='test',
                          num_classes=num_classes, depth_source='sensor',
                          pipeline=LOAD)[0]['depth']
    holes = (raw == 0).mean()
    assert 0.12 < holes < 0.5  # raw Kinect holes (+ the pasted border)
    assert (out['depth'] > 0).all()  # the filled depth has none


@pytest.fixture
def logged(monkeypatch):
    """Messages the segmentation datasets log."""
    from mmrgbd.datasets.seg import base
    messages = []
    monkeypatch.setattr(base, 'print_log',
                        lambda msg, **kw: messages.append(msg))
    return messages


def test_nyuv2_official_split_sizes(samples_dir, tmp_path, logged):
    """795 / 654 frames from the real splits.mat; other sizes are flagged."""
    train, test = read_splits(samples_dir)
    (tmp_path / 'train.txt').write_text('\n'.join(map(str, train)))
    (tmp_path / 'test.txt').write_text('\n'.join(map(str, test)))
    sizes = {s: len(NYUv2SegDataset(data_root=str(tmp_path), split=s))
             for s in ('train', 'test')}
    assert sizes == dict(train=795, test=654)
    assert logged == []
    (tmp_path / 'test.txt').write_text('1\n2\n')
    NYUv2SegDataset(data_root=str(tmp_path), split='test')
    assert logged[0].startswith(
        'NYUv2SegDataset: 2 samples, the official split has 654')


# --------------------------------------------------------------- SUN RGB-D
def test_sunrgbd_seg_real_layout(samples_dir, tmp_path, logged):
    lay = build_sunrgbd_seg(tmp_path, samples_dir)
    ds = SUNRGBDSegDataset(data_root=lay['data_root'],
                           ann_file=lay['train_ann'], split='train',
                           pipeline=LOAD)
    assert 'the official split has 5285' in logged[0]
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 37
    out = ds[1]
    assert out['img_path'].endswith('NYU0002/image/NYU0002.jpg')
    label = lay['label'].astype(np.int64)
    np.testing.assert_array_equal(out['gt_seg_map'],
                                  np.where(label > 0, label - 1, 255))
    # SUN RGB-D's bit-rotated depth decoded to metres
    d = out['depth'][out['depth'] > 0]
    assert 0.3 < np.median(d) < 8
    (tmp_path / 'nolabel.txt').write_text('kv1/NYUdata/NYU0001 -\n')
    with pytest.raises(BadSampleError, match=r'nolabel\.txt: entry 1'):
        SUNRGBDSegDataset(data_root=lay['data_root'], ann_file='nolabel.txt')


# -------------------------------------------------------------- data_ratio
def test_data_ratio_is_a_fixed_seeded_nested_subset(samples_dir, tmp_path):
    a = select_subset(795, 0.2, seed=0)
    assert len(a) == 159 and (np.diff(a) > 0).all()
    np.testing.assert_array_equal(a, select_subset(795, 0.2, seed=0))
    assert not np.array_equal(a, select_subset(795, 0.2, seed=1))
    assert set(a) <= set(select_subset(795, 0.4, seed=0))  # nested
    np.testing.assert_array_equal(select_subset(5, 1.0), np.arange(5))
    assert len(select_subset(3, 0.01)) == 1
    with pytest.raises(ValueError, match=r'data_ratio must be in \(0, 1\]'):
        select_subset(10, 0)
    train, _ = read_splits(samples_dir)
    (tmp_path / 'train.txt').write_text('\n'.join(map(str, train)))
    paths = [[d['img_path'] for d in infos(NYUv2SegDataset(
        data_root=str(tmp_path), data_ratio=0.2,
        data_ratio_seed=seed))] for seed in (0, 0, 3)]
    assert len(paths[0]) == 159 and paths[0] == paths[1] != paths[2]
    expected = [f'{train[i]:04d}.png' for i in a]
    assert [p.split('/')[-1] for p in paths[0]] == expected


# --------------------------------------------------------------- transforms
def test_depth_follows_every_geometric_transform(samples_dir, tmp_path):
    """mmseg's Resize / RandomResize / RandomCrop / RandomFlip move the depth
    exactly as the image (both nearest here, so they must stay equal)."""
    from mmcv.transforms import Compose
    lay = build_nyuv2_labeled(tmp_path, samples_dir, '1407')
    info = NYUv2SegDataset(data_root=lay['data_root'], split='test',
                           num_classes=13).get_data_info(0)
    depth_mm = cv2.imread(info['depth_path'], cv2.IMREAD_UNCHANGED)
    code = np.stack([depth_mm % 256, depth_mm // 256,
                     np.zeros_like(depth_mm)], -1).astype(np.uint8)
    img_path = str(tmp_path / 'code.png')
    cv2.imwrite(img_path, code)
    pipe = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='mmrgbd.LoadDepthMap'),
        dict(type='RandomResize', scale=(640, 480), ratio_range=(0.5, 1.5),
             keep_ratio=True, interpolation='nearest'),
        dict(type='RandomCrop', crop_size=(200, 300)),
        dict(type='RandomFlip', prob=1.0),
    ])
    for seed in range(3):
        np.random.seed(seed)
        out = pipe(dict(info, img_path=img_path))
        img = out['img'].astype(np.int64)
        assert out['depth'].shape == img.shape[:2] == (200, 300)
        np.testing.assert_allclose(out['depth'] * 1000,
                                   img[..., 0] + 256 * img[..., 1],
                                   atol=1e-3)
    assert out['flip'] and 'depth' in out['seg_fields']


def test_stack_input_modalities(samples_dir, tmp_path):
    lay = build_nyuv2_labeled(tmp_path, samples_dir, '1407')
    ds = NYUv2SegDataset(data_root=lay['data_root'], split='test',
                         num_classes=13, depth_source='sensor', pipeline=LOAD)
    sample = ds[0]
    bgr, depth = sample['img'].copy(), sample['depth'].copy()
    out = StackInputModalities(('rgb', 'depth')).transform(dict(sample))
    img = out['img']
    assert img.shape == (480, 640, 4) and img.dtype == np.float32
    np.testing.assert_array_equal(img[..., :3], bgr[..., ::-1])  # RGB order
    ref = NormalizeDepth(mode='robust', trunc=0.1).transform(
        dict(depth=depth, depth_valid=depth > 0))['depth']
    np.testing.assert_allclose(img[..., 3], ref, atol=1e-6)
    valid = depth > 0
    assert (img[..., 3][~valid] == 0).all()
    d = np.sort(depth[valid].astype(np.float64))
    k = int(len(d) * 0.1)
    mean, std = d[k:len(d) - k].mean(), d[k:len(d) - k].std()
    np.testing.assert_allclose(img[..., 3][valid],
                               (depth[valid] - mean) / std, rtol=1e-4,
                               atol=1e-4)
    only = StackInputModalities(('depth', )).transform(dict(sample))
    assert only['img'].shape == (480, 640, 1)
    assert only['input_modalities'] == ('depth', )
    with pytest.raises(KeyError, match='add LoadDepthMap'):
        StackInputModalities().transform(dict(img=bgr))
    with pytest.raises(ValueError, match='distinct entries'):
        StackInputModalities(('rgb', 'normals'))
