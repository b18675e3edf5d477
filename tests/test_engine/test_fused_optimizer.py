"""Fused optimisers in the pre-training schedules, foreach where torch has
no fused kernel."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmrgbd.engine.optimizers import fused as fused_mod
from mmrgbd.engine.optimizers.fused import fused_or_foreach, supports_fused

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
SCHEDULES = ['multimae_adamw_1600e.py', 'multimae_adamw_400e.py',
             'mask3d_sgd_100e.py']


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(),
                               torch.nn.Linear(8, 2))


@pytest.mark.parametrize('schedule', SCHEDULES)
def test_schedules_build_a_fused_optimizer_with_the_foreach_update(schedule):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/schedules', schedule)).optim_wrapper
    assert cfg.optimizer.fused is True
    fell_back = fused_or_foreach(cfg, 'cpu')
    assert fell_back == []  # torch 2.14 has CPU kernels: stays fused
    models, wrappers = [], []
    for fused in (True, False):
        c = copy.deepcopy(cfg)
        c.optimizer.fused = fused
        if not fused:
            c.optimizer.foreach = True
        model = _net()
        models.append(model)
        wrappers.append(build_optim_wrapper(model, c.to_dict()))
    assert wrappers[0].optimizer.defaults['fused'] is True
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        for model, wrapper in zip(models, wrappers):
            wrapper.update_params(model(x).square().mean())
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unsupported_fused_falls_back_to_foreach(monkeypatch):
    assert supports_fused('AdamW', 'cpu') and supports_fused('SGD', 'cuda')
    assert not supports_fused('RMSprop', 'cpu')  # torch has no fused one
    assert not supports_fused('AdamW', 'npu')
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0,
                                                   fused=True))
    with pytest.warns(UserWarning, match="AdamW.*'npu'.*foreach"):
        assert fused_or_foreach(cfg, 'npu') == ['AdamW']
    assert cfg['optimizer'] == dict(type='AdamW', lr=1.0, fused=False,
                                    foreach=True)
    # a torch whose fused kernels are CUDA-only (< 2.4) on a CPU machine;
    # the nested optimisers of a multi-optimiser constructor are found too
    monkeypatch.setattr(fused_mod, 'fused_devices', lambda: ['cuda'])
    nested = dict(constructor='MultiOptimWrapperConstructor',
                  a=dict(optimizer=dict(type='SGD', lr=0.1, fused=True)),
                  b=dict(optimizer=dict(type='AdamW', lr=0.1)))
    with pytest.warns(UserWarning):
        assert fused_or_foreach(nested, 'cpu') == ['SGD']
    assert nested['a']['optimizer']['foreach'] is True
    assert 'foreach' not in nested['b']['optimizer']  # fused not asked
    built = build_optim_wrapper(_net(), dict(
        type='OptimWrapper', optimizer=nested['a']['optimizer']))
    assert built.optimizer.defaults['foreach'] is True


def test_build_runner_applies_the_fallback(monkeypatch):
    import mmengine.device

    from mmrgbd.engine.runner import launch
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    from mmrgbd.engine.runner.rgbd_runner import RGBDRunner
    monkeypatch.setattr(fused_mod, 'fused_devices', lambda: ['cuda'])
    monkeypatch.setattr(RGBDRunner, 'from_cfg', classmethod(
        lambda cls, cfg: cfg))
    cfg = Config(dict(optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', fused=True))))
    with pytest.warns(UserWarning, match='foreach'):
        out = launch.build_runner(cfg)
    assert out.optim_wrapper.optimizer.foreach is True
