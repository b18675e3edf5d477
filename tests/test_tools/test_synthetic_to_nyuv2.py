"""tools/dataset_converters/synthetic_to_nyuv2.py: synthetic rooms in the
NYUv2 PNG layout, read back by NYUv2SegDataset."""
import cv2
import numpy as np
import pytest

from mmrgbd.datasets import NYUv2SegDataset
from mmrgbd.datasets.nyuv2 import NYU13_CLASSES, NYU40_CLASSES
from mmrgbd.datasets.synthetic import SYNTHETIC_CLASSES, render_sample
from real_layouts.files import load_tool


def test_frames_are_the_rendered_rooms(tmp_path):
    tool = load_tool('synthetic_to_nyuv2')
    tool.main([str(tmp_path), '--num-train', '2', '--num-test', '1',
               '--img-size', '48', '64', '--seed', '3'])
    assert (tmp_path / 'train.txt').read_text() == '1\n2\n'
    assert (tmp_path / 'test.txt').read_text() == '3\n'
    # frame 3 (the test frame) is synthetic sample 2 of seed 3
    ref = render_sample(3, 2, (48, 64), with_depth_gt=True)
    read = {
        d: cv2.imread(str(tmp_path / d / '0003.png'), cv2.IMREAD_UNCHANGED)
        for d in ('rgb', 'depth', 'rawdepth', 'label40', 'label13')
    }
    assert np.array_equal(read['rgb'][..., ::-1], ref['rgb'])  # BGR file
    assert read['depth'].dtype == np.uint16
    assert np.array_equal(read['depth'],
                          np.round(ref['depth_gt'] * 1000).astype(np.uint16))
    assert (read['depth'] > 0).all()  # the filled depth has no holes
    raw = read['rawdepth']
    assert np.array_equal(raw > 0, ref['depth_valid'])
    assert np.array_equal(raw[raw > 0], read['depth'][raw > 0])
    # labels by class name: synthetic -> NYU-40 -> NYU-13
    to40 = dict(ball='otherprop')
    to13 = dict(door='wall', cabinet='furniture', box='objects',
                ball='objects')
    for c, name in enumerate(SYNTHETIC_CLASSES):
        at = ref['semseg'] == c
        if not at.any():
            continue
        assert (read['label40'][at] ==
                NYU40_CLASSES.index(to40.get(name, name)) + 1).all(), name
        assert (read['label13'][at] ==
                NYU13_CLASSES.index(to13.get(name, name)) + 1).all(), name
    # the layout is what the NYUv2 segmentation configs read
    ds = NYUv2SegDataset(data_root=str(tmp_path), split='test',
                         num_classes=13, lazy_init=False)
    assert len(ds) == 1 and ds[0]['seg_map_path'].endswith('0003.png')


def test_40_to_13_map_is_the_official_file(samples_dir):
    from scipy.io import loadmat
    m13 = loadmat(str(samples_dir / 'nyuv2_labeled_vainf' /
                      'class13Mapping.mat'))['classMapping13']
    official = np.asarray(m13['labels13'][0, 0]).ravel().tolist()
    assert list(load_tool('synthetic_to_nyuv2').NYU40_TO_13) == official


def test_empty_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match='num_test'):
        load_tool('synthetic_to_nyuv2').write_synthetic_nyuv2(
            str(tmp_path), 2, 0)
