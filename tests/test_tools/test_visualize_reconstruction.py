"""tools/misc/visualize_reconstruction.py on a real NYUv2 frame."""
import os
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config

from mmrgbd.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/misc/visualize_reconstruction.py')
CONFIG = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')


def test_panel_for_one_real_frame(samples_dir, tmp_path):
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'ckpt.pth'
    # runner-style: holds numpy metadata (allow-listed, loaded weights-only)
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(iter=1, hist=np.arange(3))), ckpt)
    demo = samples_dir / 'nyuv2_rcnn_depth_demo/demo-data'
    out = tmp_path / 'panel.png'
    argv = sys.argv
    sys.argv = [TOOL, CONFIG, str(ckpt), '--rgb', str(demo / 'images.png'),
                '--depth', str(demo / 'rawdepth.png'), '--depth-unit', 'mm',
                '--out', str(out)]
    try:
        runpy.run_path(TOOL, run_name='__main__')
    finally:
        sys.argv = argv
    panel = cv2.imread(str(out))
    # resized to the model's 96x128 input: rgb, given, gt, pred, error tiles
    assert panel.shape == (96, 5 * 128 + 4 * 2, 3)


def test_default_output_is_under_work_dirs(samples_dir, tmp_path,
                                           monkeypatch):
    cfg = Config.fromfile(CONFIG)
    ckpt = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), ckpt)
    demo = samples_dir / 'nyuv2_rcnn_depth_demo/demo-data'
    run = tmp_path / 'run'
    run.mkdir()
    monkeypatch.chdir(run)
    argv = sys.argv
    sys.argv = [TOOL, CONFIG, str(ckpt), '--rgb', str(demo / 'images.png'),
                '--depth', str(demo / 'depth.png'), '--depth-unit', 'mm']
    try:
        runpy.run_path(TOOL, run_name='__main__')
    finally:
        sys.argv = argv
    out = run / 'work_dirs/visualize_reconstruction' / \
        'mask3d_vit-tiny_synthetic-demo_images.png'
    assert os.listdir(run) == ['work_dirs'] and out.is_file()
