"""tools/dataset_converters/nyuv2_png_to_mmseg_depth.py on the real NYUv2
frame: the mmseg layout it arranges, links or copies, and its errors."""
import os

import cv2
import numpy as np
import pytest
from real_layouts.nyu_depth_mmseg import build_nyu_depth_mmseg, load_arranger


def test_arranges_the_official_split(samples_dir, tmp_path):
    layout = build_nyu_depth_mmseg(tmp_path, samples_dir)
    root = layout['data_root']
    assert sorted(os.listdir(f'{root}/images/train')) == ['0001.png',
                                                          '0002.png']
    assert os.listdir(f'{root}/annotations/test') == ['1407.png']
    link = f'{root}/annotations/test/1407.png'
    assert os.path.islink(link)
    depth = cv2.imread(link, cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (480, 640)
    assert np.array_equal(depth, layout['depth_mm'])
    # --copy writes files; the raw depth folder can be chosen
    arrange = load_arranger()
    counts = arrange(layout['png_root'], str(tmp_path / 'copy'), copy=True)
    assert counts == dict(train=2, test=1)
    assert not os.path.islink(tmp_path / 'copy/images/train/0001.png')
    with pytest.raises(FileNotFoundError, match='rawdepth/0001.png'):
        arrange(layout['png_root'], str(tmp_path / 'raw'), depth='rawdepth')


def test_missing_lists_and_frames_are_named(tmp_path):
    arrange = load_arranger()
    with pytest.raises(FileNotFoundError, match='train.txt'):
        arrange(str(tmp_path), str(tmp_path / 'out'))
    (tmp_path / 'train.txt').write_text('7\n')
    (tmp_path / 'test.txt').write_text('')
    with pytest.raises(FileNotFoundError, match='0007.png: frame 7'):
        arrange(str(tmp_path), str(tmp_path / 'out'))
