"""tools/misc/browse_dataset.py on synthetic, NYUv2 and KITTI layouts."""
import os
import os.path as osp
import runpy
import shutil
import sys

import cv2
import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/misc/browse_dataset.py')
MAGENTA = np.array([255, 0, 255])


def run_browse(config, out_dir, num=1, extra=()):
    argv = sys.argv
    sys.argv = [TOOL, str(config), '--output-dir', str(out_dir), '--num',
                str(num), *extra]
    try:
        runpy.run_path(TOOL, run_name='__main__')
    finally:
        sys.argv = argv
    files = sorted(os.listdir(out_dir))
    assert len(files) == num
    return cv2.imread(osp.join(out_dir, files[0]))[..., ::-1]  # RGB


def tiles(panel, width):
    """Split a panel of equal-width tiles separated by 2 white columns."""
    n = (panel.shape[1] + 2) // (width + 2)
    return [panel[:, i * (width + 2):i * (width + 2) + width] for i in range(n)]


def test_browse_synthetic_with_points(tmp_path):
    cfg = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')
    panel = run_browse(cfg, tmp_path / 'out', 2, [
        '--cfg-options', 'train_dataloader.dataset.with_points=True',
        'train_dataloader.dataset.img_size=(60,80)'
    ])
    rgb, depth, semseg, points = tiles(panel, 80)
    assert panel.shape[0] == 60
    # points are drawn over the RGB: the tiles differ where points landed
    assert (np.abs(points.astype(int) - rgb).sum(-1) > 30).mean() > 0.02
    # invalid depth pixels are magenta
    assert (np.abs(depth.astype(int) - MAGENTA).sum(-1) < 10).any()


def _nyu_layout(samples, root):
    src = samples / 'nyuv2_rcnn_depth_demo'
    for sub in ('rgb', 'depth', 'rawdepth', 'label13'):
        os.makedirs(root / sub)
    shutil.copy(src / 'demo-data/images.png', root / 'rgb/0001.png')
    shutil.copy(src / 'demo-data/depth.png', root / 'depth/0001.png')
    shutil.copy(src / 'demo-data/rawdepth.png', root / 'rawdepth/0001.png')
    label = cv2.imread(
        str(src / 'nyuv2-meta-data_test_labels_13/new_nyu_class13_1407.png'),
        cv2.IMREAD_UNCHANGED)[45:470, 40:600]
    cv2.imwrite(str(root / 'label13/0001.png'), label)
    (root / 'test.txt').write_text('1\n')
    (root / 'train.txt').write_text('')


def test_browse_nyuv2_official_layout(samples_dir, tmp_path):
    root = tmp_path / 'nyu'
    _nyu_layout(samples_dir, root)
    cfg = tmp_path / 'nyu_cfg.py'
    cfg.write_text(f"""
default_scope = 'mmrgbd'
train_dataloader = dict(dataset=dict(
    type='NYUv2Dataset', data_root=r'{root}', split='test', num_classes=13,
    depth_source='sensor',
    pipeline=[dict(type='LoadRGBDFromFiles', with_semseg=True,
                   reduce_zero_label=True),
              dict(type='PackRGBDInputs')]))
""")
    panel = run_browse(cfg, tmp_path / 'out')
    rgb, depth, semseg = tiles(panel, 560)
    raw = cv2.imread(str(root / 'rawdepth/0001.png'), cv2.IMREAD_UNCHANGED)
    holes = raw == 0
    magenta = np.abs(depth.astype(int) - MAGENTA).sum(-1) < 10
    body = np.s_[25:]  # below the title text
    assert 0.1 < holes.mean() < 0.25
    # magenta exactly at the raw-depth holes
    assert (magenta[body] == holes[body]).mean() > 0.99
    # unlabelled (0) pixels are black in the semseg tile
    assert (semseg[body][(cv2.imread(str(root / 'label13/0001.png'),
                                     cv2.IMREAD_UNCHANGED) == 0)[body]]
            == 0).all()


def test_browse_kitti_official_layout(samples_dir, tmp_path):
    root = tmp_path / 'kitti'
    os.makedirs(root)
    os.symlink(samples_dir / 'kitti_object_vis/training', root / 'training')
    cfg = tmp_path / 'kitti_cfg.py'
    cfg.write_text(f"""
default_scope = 'mmrgbd'
train_dataloader = dict(dataset=dict(
    type='KITTIRawObjectDataset', data_root=r'{root}',
    pipeline=[dict(type='LoadRGBDFromFiles', with_depth=False),
              dict(type='LoadLiDARPoints', filter_in_image=True),
              dict(type='PackRGBDInputs')]))
""")
    panel = run_browse(cfg, tmp_path / 'out')
    width = cv2.imread(
        str(root / 'training/image_2' /
            sorted(os.listdir(root / 'training/image_2'))[0])).shape[1]
    rgb, points = tiles(panel, width)
    changed = np.abs(points.astype(int) - rgb).sum(-1) > 30
    # LiDAR lands in the lower part of the image (road, cars), not the sky
    h = changed.shape[0]
    assert changed[h // 2:].mean() > 5 * changed[:h // 4].mean()
    assert changed.mean() > 0.02


@pytest.mark.parametrize('title', [
    'depth (3% invalid)', '|err| mean 0.036', 'given depth (20%)',
    'a_very_long_single_word_title_without_spaces'
])
def test_titles_fit_their_tiles(title):
    from mmrgbd.visualization import fit_title, make_panel
    width = 80
    black = np.zeros((60, width, 3), np.uint8)
    panel = make_panel([black, black], [title, 'x'])
    first = panel[:, :width]
    lines, scale = fit_title(title, width)
    for line in lines:
        w = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
        assert w <= width - 8
    # no text pixel in the tile's last columns: nothing is cut at the edge
    assert not first[:, -3:].any()
    assert first[:, :width - 3].any()  # but the title is drawn
    # every word that fits is kept whole (wrapped, not cut)
    if ' ' in title:
        assert ' '.join(lines) == title


def test_default_output_dir_is_under_work_dirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')
    argv = sys.argv
    sys.argv = [TOOL, cfg, '--num', '1', '--cfg-options',
                'train_dataloader.dataset.img_size=(60,80)']
    try:
        runpy.run_path(TOOL, run_name='__main__')
    finally:
        sys.argv = argv
    assert os.listdir(tmp_path) == ['work_dirs']
    assert os.listdir(tmp_path / 'work_dirs' / 'browse') == [
        'sample_0000.png'
    ]
