"""Mask3D's downstream ADE20K recipe (paper supplement, Tab. 14)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'downstream' / \
    'upernet_mask3d-vit-b_ade20k-512x512.py'


def test_ade20k_schedule_is_the_papers():
    """AdamW lr 1e-4, 256k iterations, batch 16 on 8 GPUs (mmseg's base had
    lr 6e-5 and 160k); the linear decay reaches 0 at iteration 256k."""
    cfg = Config.fromfile(str(CONFIG))
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.lr == pytest.approx(1e-4)
    assert cfg.train_cfg.max_iters == 256000
    assert cfg.train_dataloader.batch_size * 8 == 16
    p = torch.nn.Parameter(torch.zeros(1))
    optim = torch.optim.AdamW([p], lr=opt.lr)
    scheds = [PARAM_SCHEDULERS.build(dict(s, optimizer=optim))
              for s in cfg.param_scheduler]
    assert [s.end for s in scheds] == [1500, 256000]
    assert scheds[-1].begin == 1500
    assert scheds[-1].power == 1.0 and scheds[-1].eta_min == 0.0
