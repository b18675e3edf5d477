"""End-to-end checks of tools/train.py and tools/dist_train.sh on CPU."""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')
# shrink the demo so a run takes seconds
FAST = [
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.num_samples=16',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2'
]


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env['OMP_NUM_THREADS'] = '1'
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(cmd, **kwargs):
    proc = subprocess.run(
        cmd, cwd=ROOT, env=kwargs.pop('env', _env()), capture_output=True,
        text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _last_log(work_dir):
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    assert logs, f'no log in {work_dir}'
    with open(logs[-1]) as f:
        return f.read()


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU (gloo) path')
def test_dist_train_two_cpu_processes(tmp_path):
    env = _env()
    env['PORT'] = str(_free_port())
    env['TORCHRUN'] = f'{sys.executable} -m torch.distributed.run'
    work_dir = str(tmp_path / 'ddp')
    _run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', work_dir,
          '--cfg-options', 'train_cfg.max_iters=2'] + FAST, env=env)
    log = _last_log(work_dir)
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log
    assert "'backend': 'gloo'" in log or 'backend=gloo' in log or \
        "backend='gloo'" in log
    assert 'Iter(train) [2/2]' in log and 'loss_depth' in log
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))


def test_train_then_resume_with_amp(tmp_path):
    work_dir = str(tmp_path / 'single')
    _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir,
          '--cfg-options', 'train_cfg.max_iters=2'] + FAST)
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    # a runner checkpoint holds more than weights: refused by weights_only
    with pytest.raises(Exception):
        torch.load(ckpt, weights_only=True)
    proc = _run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir,
        '--resume', ckpt, '--amp', '--cfg-options', 'train_cfg.max_iters=4'
    ] + FAST)
    log = _last_log(work_dir)
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [4/4]' in log
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    # --amp trains with autocast on CPU too (bf16), no fp32 fallback
    assert "type='AutocastOptimWrapper'" in log
    assert 'training runs in fp32' not in proc.stderr
    # the reconstruction hook drew the last iteration of each run
    assert osp.isfile(osp.join(work_dir, 'vis', 'iter_000004_0.png'))
    # benchmark the runner checkpoint with tools/test.py (trusted load)
    proc = _run([
        sys.executable, 'tools/test.py', CONFIG,
        osp.join(work_dir, 'iter_4.pth'), '--work-dir', work_dir,
        '--cfg-options', 'test_dataloader.dataset.num_samples=4'
    ])
    assert 'recon/rmse' in proc.stdout and 'recon/abs_rel' in proc.stdout


def _train_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'train_tool', osp.join(ROOT, 'tools/train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _merged(tool, *argv):
    from mmengine.config import Config
    saved = sys.argv
    sys.argv = ['train.py', CONFIG, *argv]
    try:
        args = tool.parse_args()
    finally:
        sys.argv = saved
    return tool.merge_args(Config.fromfile(CONFIG), args)


def test_auto_scale_lr_on_a_config_without_a_base(tmp_path):
    """--auto-scale-lr used to set the flag on a copy (a silent no-op)."""
    from mmengine.logging import MessageHub

    from mmrgbd.engine.runner import RGBDRunner
    tool = _train_tool()
    cfg, _ = _merged(tool, '--auto-scale-lr', '--work-dir', str(tmp_path),
                     '--cfg-options', 'train_dataloader.batch_size=16')
    # the demo sets no base: its own batch of 8 on one process is the base
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=8)
    hubs = dict(MessageHub._instance_dict)
    try:
        runner = RGBDRunner.from_cfg(cfg)
        optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
        runner.scale_lr(optim_wrapper, runner.auto_scale_lr)
    finally:
        MessageHub._instance_dict.clear()
        MessageHub._instance_dict.update(hubs)
    # batch 16 against the base of 8: twice the config's own lr (5e-4)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(5e-4)
    assert optim_wrapper.param_groups[0]['lr'] == pytest.approx(1e-3)
    # a config's own base is kept
    cfg, _ = _merged(tool, '--auto-scale-lr', '--cfg-options',
                     'auto_scale_lr.base_batch_size=4')
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=4)


def test_overriding_max_iters_stretches_the_schedule():
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS
    tool = _train_tool()
    cfg, changes = _merged(tool, '--cfg-options', 'train_cfg.max_iters=40')
    linear, cosine = cfg.param_scheduler
    assert (linear.begin, linear.end) == (0, 3)  # 50 of 600 -> 3 of 40
    assert (cosine.begin, cosine.end, cosine.T_max) == (3, 40, 37)
    assert cfg.default_hooks.checkpoint.interval == 40
    assert len(changes) == 3
    # the LR now runs the whole schedule: warm-up, peak, cosine to eta_min
    param = torch.nn.Parameter(torch.zeros(1))
    optim = OptimWrapper(torch.optim.AdamW([param], lr=1e-3))
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=optim))
        for s in cfg.param_scheduler
    ]
    lrs = []
    for _ in range(40):
        lrs.append(optim.param_groups[0]['lr'])
        for s in schedulers:
            s.step()
    assert lrs[0] == pytest.approx(1e-5)
    assert max(lrs) > 6e-4 and lrs[-1] < 2e-5
    # explicit schedule overrides win; --keep-schedule keeps everything
    cfg, _ = _merged(tool, '--cfg-options', 'train_cfg.max_iters=40',
                     'default_hooks.checkpoint.interval=5')
    assert cfg.default_hooks.checkpoint.interval == 5
    cfg, changes = _merged(tool, '--keep-schedule', '--cfg-options',
                           'train_cfg.max_iters=40')
    assert changes == [] and cfg.param_scheduler[1].end == 600
    # a 1-iteration run keeps a valid schedule (empty parts are dropped)
    cfg, _ = _merged(tool, '--cfg-options', 'train_cfg.max_iters=1')
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 1)]


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU fallback')
def test_a_config_amp_optim_wrapper_trains_fp32_without_cuda():
    """A config's own AmpOptimWrapper (e.g. mmpretrain's linear-probe
    recipe) asserts a GPU when built: without CUDA every launcher, the
    single-process one included, turns it into a plain fp32 OptimWrapper
    (it used to happen for torchrun only)."""
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper, build_optim_wrapper

    from mmrgbd.engine.runner import setup_distributed_for_device
    cfg = Config(dict(optim_wrapper=dict(
        type='AmpOptimWrapper', loss_scale='dynamic',
        optimizer=dict(type='SGD', lr=0.1))))
    with pytest.warns(UserWarning, match='AmpOptimWrapper needs CUDA'):
        setup_distributed_for_device(cfg, 'none')
    assert cfg.optim_wrapper == dict(type='OptimWrapper',
                                     optimizer=dict(type='SGD', lr=0.1))
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 1), cfg.optim_wrapper)
    assert type(wrapper) is OptimWrapper


def test_amp_selects_the_autocast_wrapper():
    """--amp used to need CUDA (AmpOptimWrapper) and fell back to fp32."""
    tool = _train_tool()
    plain, _ = _merged(tool)
    cfg, _ = _merged(tool, '--amp')
    assert plain.optim_wrapper.type == 'OptimWrapper'
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    # the optimiser and its settings are kept
    assert cfg.optim_wrapper.optimizer == plain.optim_wrapper.optimizer


def test_finish_distributed_tears_down_the_process_group(tmp_path):
    """tools/train.py and tools/test.py end with finish_distributed(): a
    barrier, then the process group is destroyed (a rank exiting with live
    gloo threads could abort after a finished run); without a group it does
    nothing."""
    import torch.distributed as dist

    from mmrgbd.engine.runner import finish_distributed
    assert not dist.is_initialized()
    finish_distributed()  # no group: a no-op
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1)
    try:
        assert dist.is_initialized()
        finish_distributed()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
