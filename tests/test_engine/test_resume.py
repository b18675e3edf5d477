"""--resume continues a run bitwise, also after SIGKILL, and a kill during a
checkpoint save never leaves nothing to resume.

Real tools/train.py runs of the Mask3D demo (shrunk), in this process or in
a forked child that gets SIGKILL (forked: no interpreter start-up per run).
"""
import glob
import multiprocessing
import os
import os.path as osp
import runpy
import shutil
import signal
import sys
import time
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub

from mmrgbd.engine.hooks import find_resume_checkpoint
from mmrgbd.engine.runner import RGBDRunner
from mmrgbd.utils import safe_load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')

# The demo with a tiny model. drop_path draws from the global torch
# generator every step, so a resume that does not restore the RNG states
# diverges. 100 samples / batch 4: an epoch ends at iteration 25, inside the
# resumed part.
SMALL = f"""
_base_ = [{DEMO!r}]
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64),
        drop_path_rate=0.2),
    neck=dict(in_channels=32, embed_dims=32, num_layers=1, num_heads=2))
train_dataloader = dict(batch_size=4, dataset=dict(num_samples=100))
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=10, max_keep_ckpts=2))
custom_hooks = []
"""


def _cmd(config, work_dir, max_iters, *extra):
    return [
        sys.executable, osp.join(ROOT, 'tools/train.py'), str(config),
        '--work-dir', str(work_dir), '--keep-schedule', *extra,
        '--cfg-options', f'train_cfg.max_iters={max_iters}'
    ]


def _train(config, work_dir, max_iters, *extra):
    """tools/train.py in this process (no interpreter start-up); returns
    the log of the run."""
    argv = sys.argv
    hubs = dict(MessageHub._instance_dict)
    # a unique experiment name: runs started in the same second must not
    # share MMEngine's logger / message hub instances
    sys.argv = _cmd(config, work_dir, max_iters, *extra)[1:] + [
        f'experiment_name=run_{uuid.uuid4().hex[:8]}'
    ]
    try:
        runpy.run_path(osp.join(ROOT, 'tools/train.py'), run_name='__main__')
    finally:
        sys.argv = argv
        MessageHub._instance_dict.clear()  # later tests: no runner state
        MessageHub._instance_dict.update(hubs)
    logs = sorted(glob.glob(osp.join(str(work_dir), '*', '*.log')),
                  key=osp.getmtime)
    with open(logs[-1]) as f:
        return f.read()


def _kill_when(config, work_dir, max_iters, extra, pattern, delay=0.0,
               timeout=600):
    """Run tools/train.py in a forked process (no interpreter start-up) and
    SIGKILL it ``delay`` s after its log shows a line matching ``pattern``.

    Returns:
        str: The log of the killed run.
    """
    known = set(glob.glob(osp.join(str(work_dir), '*', '*.log')))
    proc = multiprocessing.get_context('fork').Process(
        target=_train, args=(config, work_dir, max_iters, *extra))
    proc.start()
    start, log, text = time.time(), None, ''
    try:
        while not any(pattern(line) for line in text.splitlines()):
            assert proc.is_alive(), f'ended before the kill: {text[-3000:]}'
            assert time.time() - start < timeout, text[-3000:]
            if log is None:
                new = set(glob.glob(osp.join(str(work_dir), '*',
                                             '*.log'))) - known
                log = new.pop() if new else None
            if log is not None:
                with open(log) as f:
                    text = f.read()
            time.sleep(0.005)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(60)
    finally:
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == -signal.SIGKILL, text[-3000:]
    return text


def _assert_bitwise_equal(path_a, path_b):
    a, b = safe_load(path_a), safe_load(path_b)
    differing = [
        k for k in a['state_dict']
        if not torch.equal(a['state_dict'][k], b['state_dict'][k])
    ]
    assert not differing, f'{len(differing)} tensors differ: {differing[:5]}'
    for sa, sb in zip(a['optimizer']['state'].values(),
                      b['optimizer']['state'].values()):
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key


@pytest.fixture(scope='module')
def small_config(tmp_path_factory):
    path = tmp_path_factory.mktemp('cfg') / 'mask3d_small.py'
    path.write_text(SMALL)
    return path


@pytest.fixture(scope='module')
def straight(small_config, tmp_path_factory):
    """40 iterations without interruption."""
    work = tmp_path_factory.mktemp('straight')
    _train(small_config, work, 40)
    return work


def test_resume_continues_bitwise(small_config, straight, tmp_path):
    first = tmp_path / 'first'
    # --resume on an empty work dir says so (in the log) and starts afresh
    log = _train(small_config, first, 20, '--resume')
    assert 'nothing to resume' in log and 'starts from scratch' in log
    assert 'latest checkpoint None' not in log
    # last_checkpoint is relative: a copied work dir resumes its own files
    assert (first / 'last_checkpoint').read_text() == 'iter_20.pth'
    copy = tmp_path / 'copy'
    shutil.copytree(first, copy)
    shutil.rmtree(first)
    log = _train(small_config, copy, 40, '--resume')
    assert f'Resuming from {copy}/iter_20.pth' in log
    assert 'Restored the RNG states of iteration 20' in log
    _assert_bitwise_equal(straight / 'iter_40.pth', copy / 'iter_40.pth')


def test_resume_after_sigkill_is_bitwise(small_config, straight, tmp_path):
    work = tmp_path / 'killed'
    _kill_when(small_config, work, 40, (),
               lambda line: 'Iter(train) [25/40]' in line)
    assert find_resume_checkpoint(str(work)) == str(work / 'iter_20.pth')
    log = _train(small_config, work, 40, '--resume')
    assert 'Restored the RNG states of iteration 20' in log
    _assert_bitwise_equal(straight / 'iter_40.pth', work / 'iter_40.pth')


@pytest.mark.skipif(not hasattr(signal, 'SIGKILL'), reason='POSIX only')
def test_kill_during_save_leaves_a_resumable_checkpoint(tmp_path):
    """SIGKILL at varied delays after a save starts (checkpoint every
    iteration, one kept, as the demos): each next --resume succeeds."""
    config = tmp_path / 'demo_every_iter.py'
    # the demo's own model: a 26 MB checkpoint takes a while to write
    config.write_text(f"""
_base_ = [{DEMO!r}]
train_dataloader = dict(batch_size=2, dataset=dict(num_samples=2000))
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=1))
custom_hooks = []
""")
    work = tmp_path / 'work'
    resumed_from = []
    for trial, delay in enumerate([0.0, 0.05, 0.15]):
        extra = ('--resume', ) if trial else ()
        target = 3 * (trial + 1)
        out = _kill_when(
            config, work, 1000, extra,
            lambda line, t=target: f'Saving checkpoint at {t} iterations' in
            line, delay)
        if trial:
            assert 'Resuming from' in out, out[-3000:]
        path = find_resume_checkpoint(str(work))
        assert path is not None
        ckpt = safe_load(path)  # complete: loads, nothing truncated
        assert ckpt['meta']['iter'] in (target - 1, target)
        resumed_from.append(ckpt['meta']['iter'])
    log = _train(config, work, resumed_from[-1] + 1, '--resume')
    assert f'resumed epoch: 0, iter: {resumed_from[-1]}' in log
    assert not glob.glob(str(work / '*.partial'))  # stale parts removed
    assert sorted(os.listdir(work)).count(
        f'iter_{resumed_from[-1] + 1}.pth') == 1


def _runner(small_config, work_dir, **options):
    cfg = Config.fromfile(str(small_config))
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(options)
    return RGBDRunner.from_cfg(cfg)


def test_old_checkpoint_kept_until_successor_is_safe(small_config, tmp_path,
                                                     monkeypatch):
    """A crash between writing and renaming a checkpoint keeps the previous
    one named in last_checkpoint (MMEngine deletes it before writing)."""
    runner = _runner(
        small_config, tmp_path, **{
            'train_cfg.max_iters': 3,
            'default_hooks.checkpoint.interval': 1,
            'default_hooks.checkpoint.max_keep_ckpts': 1,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False
        })
    real_replace = os.replace

    def crash_on_third(src, dst):
        if str(dst).endswith('iter_3.pth'):
            raise KeyboardInterrupt('simulated kill before the rename')
        return real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_2.pth'
    assert safe_load(str(tmp_path / 'iter_2.pth'))['meta']['iter'] == 2
    assert (tmp_path / 'iter_3.pth.partial').is_file()
    assert not (tmp_path / 'iter_3.pth').exists()
    assert not (tmp_path / 'iter_1.pth').exists()  # older one: deleted
    # resuming removes the stale part (the work dir is also the output
    # dir: listed once, removed once) and completes iteration 3
    monkeypatch.setattr(os, 'replace', real_replace)
    runner = _runner(
        small_config, tmp_path, resume=True, **{
            'train_cfg.max_iters': 3,
            'default_hooks.checkpoint.interval': 1,
            'default_hooks.checkpoint.max_keep_ckpts': 1,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False
        })
    runner.train()
    assert not glob.glob(str(tmp_path / '*.partial'))
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_3.pth'
    assert safe_load(str(tmp_path / 'iter_3.pth'))['meta']['iter'] == 3


def test_resume_warns_about_what_cannot_continue(small_config, straight,
                                                 tmp_path):
    ckpt = safe_load(str(straight / 'iter_40.pth'))
    ckpt['meta']['world_size'] = 2
    ckpt['rng_states'] = ckpt['rng_states'] * 2
    torch.save(ckpt, tmp_path / 'iter_40.pth')
    (tmp_path / 'last_checkpoint').write_text('iter_40.pth')
    runner = _runner(
        small_config, tmp_path, resume=True, **{
            'train_cfg.max_iters': 30,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False
        })
    runner.train()
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    assert 'is at iteration 40 but train_cfg.max_iters=30: nothing is left ' \
        'to train' in log
    assert 'was written by 2 processes and this run has 1' in log
    assert 'RNG states are not restored' in log


def test_last_checkpoint_resolution(tmp_path):
    """Relative to the work dir; an absolute path of another (copied-from)
    work dir falls back to the file of the same name here; a missing file is
    named."""
    work = tmp_path / 'work'
    work.mkdir()
    assert find_resume_checkpoint(str(work)) is None  # nothing saved yet
    (work / 'iter_4.pth').write_bytes(b'x')
    (work / 'last_checkpoint').write_text('iter_4.pth')
    assert find_resume_checkpoint(str(work)) == str(work / 'iter_4.pth')
    original = tmp_path / 'original' / 'iter_4.pth'  # MMEngine's format
    (work / 'last_checkpoint').write_text(str(original))
    assert find_resume_checkpoint(str(work)) == str(work / 'iter_4.pth')
    (work / 'last_checkpoint').write_text('iter_8.pth')
    with pytest.raises(FileNotFoundError, match='names iter_8.pth'):
        find_resume_checkpoint(str(work))
