"""Real 2-process gloo runs of the Mask3D demo: every rank draws its own
masks and noise, logged losses are means over ranks, and 1 process x batch
8 sees the same masks as 2 processes x batch 4.

The runs record per iteration and rank (``_ddp_recorder.DDPRecorderHook``)
the samples' dataset indices, a hash of every sample's mask, a hash of the
global torch generator state and the losses.
"""
import glob
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys
import uuid

import pytest
import torch
from mmengine.logging import MessageHub

from mmrgbd.utils import safe_load

from test_train_tools import _env as tool_env  # same folder
from test_train_tools import _free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))
DEMO = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')
ITERS = 4
# The demo, smaller, with the recorder. The flip is off here: it is drawn in
# each process's data workers, whose seeds depend on the rank (see
# test_same_global_batch_same_losses).
CONFIG = f"""
_base_ = [{DEMO!r}]
custom_imports = dict(imports=['_ddp_recorder'], allow_failed_imports=False)
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=64, num_layers=2,
                            num_heads=2, feedforward_channels=128)),
    neck=dict(in_channels=64, embed_dims=64, num_layers=1, num_heads=2))
train_dataloader = dict(
    num_workers=1,
    dataset=dict(
        num_samples=64,
        pipeline=[
            dict(type='RGBDRandomFlip', prob=0.0),
            dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
            dict(type='PackRGBDInputs'),
        ]))
train_cfg = dict(max_iters={ITERS})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ITERS}))
custom_hooks = [dict(type='DDPRecorderHook')]
"""


def _env():
    env = tool_env()
    env['PYTHONPATH'] = HERE + os.pathsep + env['PYTHONPATH']  # recorder
    return env


def _run(cmd, env):
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def _records(work_dir, rank):
    with open(osp.join(work_dir, f'record_rank{rank}.json')) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp('ddp_cfg') / 'mask3d_ddp.py'
    path.write_text(CONFIG)
    return str(path)


@pytest.fixture(scope='module')
def two_procs(config, tmp_path_factory):
    """2 processes x batch 4 with tools/dist_train.sh (gloo on CPU)."""
    work = str(tmp_path_factory.mktemp('two'))
    env = _env()
    env['PORT'] = str(_free_port())
    env['TORCHRUN'] = f'{sys.executable} -m torch.distributed.run'
    out = _run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
                work, '--cfg-options', 'train_dataloader.batch_size=4'], env)
    return dict(work=work, out=out, ranks=[_records(work, r)
                                           for r in (0, 1)])


@pytest.fixture(scope='module')
def one_proc(config, tmp_path_factory):
    """1 process x batch 8 (tools/train.py run in this process)."""
    work = str(tmp_path_factory.mktemp('one'))
    argv, path = sys.argv, list(sys.path)
    hubs = dict(MessageHub._instance_dict)
    sys.argv = [
        'train.py', config, '--work-dir', work, '--cfg-options',
        'train_dataloader.batch_size=8',
        f'experiment_name=one_{uuid.uuid4().hex[:8]}'
    ]
    sys.path.insert(0, HERE)  # custom_imports of the recorder
    try:
        runpy.run_path(osp.join(ROOT, 'tools/train.py'), run_name='__main__')
    finally:
        sys.argv, sys.path[:] = argv, path
        MessageHub._instance_dict.clear()
        MessageHub._instance_dict.update(hubs)
    out = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    return dict(work=work, out=out, ranks=[_records(work, 0)])


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU (gloo) path')
def test_ranks_draw_different_masks_and_noise(two_procs):
    rank0, rank1 = two_procs['ranks']
    assert len(rank0) == len(rank1) == ITERS
    identical = 0
    for r0, r1 in zip(rank0, rank1):
        assert r0['iter'] == r1['iter']
        assert not set(r0['sample_idx']) & set(r1['sample_idx'])  # sharded
        assert len(r0['masks']) == len(r1['masks']) == 4
        identical += sum(m0 == m1 for m0 in r0['masks'] for m1 in r1['masks'])
        # the global generators (noise, dropout) differ per rank too
        assert r0['rng'] != r1['rng']
    assert identical == 0  # 0 of 4 x 4 x ITERS mask pairs are equal


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU (gloo) path')
def test_logged_loss_is_the_mean_over_ranks(two_procs):
    rank0, rank1 = two_procs['ranks']
    log = open(glob.glob(osp.join(two_procs['work'], '*', '*.log'))[0]).read()
    logged_lines = re.findall(r'Iter\(train\) \[\s*(\d+)/\d+\].*? loss: '
                              r'([0-9.]+)', log)
    assert len(logged_lines) == ITERS
    means = []
    for (it, value), r0, r1 in zip(logged_lines, rank0, rank1):
        mean = (r0['local'] + r1['local']) / 2
        means.append(mean)
        assert abs(r0['local'] - r1['local']) > 1e-4  # different batches
        for r in (r0, r1):
            assert r['logged'] == pytest.approx(mean, abs=1e-6)
            assert r['backward'] == r['local']  # back-propagated: local
        # the log shows the running mean (log_processor window of 10)
        assert float(value) == pytest.approx(
            sum(means) / len(means), abs=6e-5)
    assert 'Global batch size: 8 (4 per process x 2 processes)' in \
        two_procs['out']


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU (gloo) path')
def test_same_global_batch_same_masks(one_proc, two_procs):
    """Masks are a function of (seed, iteration, sample): the 1 x 8 and the
    2 x 4 run draw the same mask for every sample of every global batch."""
    one = one_proc['ranks'][0]
    rank0, rank1 = two_procs['ranks']
    assert 'Global batch size: 8 (8 per process x 1 process)' in \
        one_proc['out']
    for o, r0, r1 in zip(one, rank0, rank1):
        single = dict(zip(o['sample_idx'], o['masks']))
        split = dict(zip(r0['sample_idx'] + r1['sample_idx'],
                         r0['masks'] + r1['masks']))
        assert single == split


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU (gloo) path')
def test_same_global_batch_same_losses(one_proc, two_procs):
    """Same samples, same masks, same initial weights: the losses and the
    trained weights agree within float tolerance.

    Measured with a scratch patch that normalises MaskedReconstructionLoss
    by the all-reduced count (x world size): losses agree to 1.2e-7 and the
    weights after 4 iterations to 9.7e-7; with today's per-rank counts the
    losses differ by up to 6.8e-4 and the weights by 5.6e-5.

    What legitimately still differs in real runs: augmentations drawn in the
    data workers (here the flip, switched off) use worker seeds that depend
    on the rank and the number of workers, so a sample is flipped
    differently in the two set-ups; each draw has the same distribution, so
    both runs are equally valid samples of the same training process.
    """
    one = one_proc['ranks'][0]
    rank0, rank1 = two_procs['ranks']
    for o, r0, r1 in zip(one, rank0, rank1):
        assert r0['logged'] == pytest.approx(o['logged'], abs=1e-5)
    a = safe_load(osp.join(one_proc['work'], f'iter_{ITERS}.pth'))
    b = safe_load(osp.join(two_procs['work'], f'iter_{ITERS}.pth'))
    for k, v in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][k], v, atol=1e-5,
                                   rtol=1e-4)
