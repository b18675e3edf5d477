"""tools/pretrain_two_stage.sh runs the synthetic two-stage demos end to end
(a few iterations), and a bad stage-1 checkpoint stops stage 2 before
training."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmrgbd.engine.runner import RGBDRunner
from mmrgbd.models.algorithms import Stage1CheckpointError
from mmrgbd.utils import safe_load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'pretrain_two_stage.sh')
DEMOS = {
    'm3mae': ('configs/pretrain/m3mae_stage1_vit-tiny_synthetic-demo.py',
              'configs/pretrain/m3mae_vit-tiny_synthetic-demo.py'),
    'progressive':
    ('configs/pretrain/progressive_stage1_vit-tiny_synthetic-demo.py',
     'configs/pretrain/progressive_stage2_vit-tiny_synthetic-demo.py'),
}
# shrink the demos so each stage takes seconds
FAST = [
    '--cfg-options', 'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.num_samples=8', 'default_hooks.logger.interval=1'
]


def _env(work_dir):
    env = dict(os.environ)
    env['OMP_NUM_THREADS'] = '1'
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['PYTHON'] = sys.executable
    env['WORK_DIR'] = str(work_dir)
    env['STAGE2_ARGS'] = '--cfg-options custom_hooks.0.interval=1'
    return env


def _log(work_dir):
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    assert logs, f'no log in {work_dir}'
    with open(logs[-1]) as f:
        return f.read()


def _state(path):
    # a real runner checkpoint loads weights-only (allow-listed bookkeeping)
    return safe_load(path, 'cpu')['state_dict']


@pytest.mark.parametrize('method', list(DEMOS))
def test_two_stage_script_runs_the_demos(tmp_path, method):
    stage1, stage2 = DEMOS[method]
    proc = subprocess.run(['bash', SCRIPT, stage1, stage2] + FAST,
                          cwd=ROOT, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    work1 = tmp_path / osp.splitext(osp.basename(stage1))[0]
    work2 = tmp_path / osp.splitext(osp.basename(stage2))[0]
    ckpt1 = str(work1 / 'iter_2.pth')
    # relative to the work dir (a copied work dir resumes its own files)
    assert (work1 / 'last_checkpoint').read_text().strip() == 'iter_2.pth'
    log1, log2 = _log(work1), _log(work2)
    assert 'Iter(train) [2/2]' in log1 and 'loss_patch_nce' in log1
    assert 'Iter(train) [2/2]' in log2
    assert 'student backbone: loaded' in log2 and ckpt1 in log2
    assert f'[two-stage] stage 2: {stage2}' in out
    assert osp.isfile(work2 / 'iter_2.pth')
    assert glob.glob(str(work2 / 'vis' / '*.png'))  # reconstruction panels
    s1, s2 = _state(ckpt1), _state(str(work2 / 'iter_2.pth'))
    enc = 'backbone.encoders.depth.layers.0.attn.qkv.weight'
    assert enc in s1 and enc in s2
    if method == 'm3mae':
        assert 'loss_rgb' in log2 and 'loss_depth' in log2
    else:
        assert 'teacher: loaded' in log2
        for term in ('loss_depth', 'loss_denoise', 'loss_distill'):
            assert term in log2
        # the frozen teacher is saved with stage 2 and is still stage 1
        for k, v in s1.items():
            if k.startswith('backbone.'):
                torch.testing.assert_close(s2['teacher.' + k[9:]], v)
        assert not torch.equal(s2[enc], s1[enc])  # the student trained


def test_bad_stage1_checkpoint_stops_stage2_before_training(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, DEMOS['progressive'][1]))
    cfg.work_dir = str(tmp_path / 'work')
    missing = str(tmp_path / 'stage1' / 'iter_300.pth')
    cfg.model.stage1_checkpoint = missing
    with pytest.raises(Stage1CheckpointError) as e:
        RGBDRunner.from_cfg(cfg)  # builds the model: nothing trained yet
    assert str(e.value).startswith(missing) and 'not found' in str(e.value)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


def test_script_usage_without_configs():
    proc = subprocess.run(['bash', SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert 'STAGE1_CONFIG STAGE2_CONFIG [NUM_PROCS]' in proc.stderr
