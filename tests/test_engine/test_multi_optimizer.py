import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import CosineAnnealingLR, OptimWrapper

import mmrgbd.engine  # noqa: F401
from mmrgbd.engine.optimizers import MultiOptimizer
from mmrgbd.registry import OPTIM_WRAPPER_CONSTRUCTORS


class TwoBranch(nn.Module):

    def __init__(self):
        super().__init__()
        self.img_backbone = nn.Linear(3, 2)
        self.pts_backbone = nn.Linear(3, 2)

    def forward(self, x):
        return (self.img_backbone(x) ** 2).sum() + \
            (self.pts_backbone(x) ** 2).sum()


CFG = dict(
    type='OptimWrapper',
    clip_grad=dict(max_norm=1e6),
    optimizer=dict(branches=dict(
        img=dict(prefixes='img_backbone',
                 optimizer=dict(type='SGD', lr=0.03, momentum=0.9,
                                weight_decay=1e-4)),
        lidar=dict(prefixes=['pts_backbone'],
                   optimizer=dict(type='AdamW', lr=1e-3, betas=(0.95, 0.99),
                                  weight_decay=0.01)))))


def build(model, cfg=CFG):
    return OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='MultiOptimWrapperConstructor',
             optim_wrapper_cfg=copy.deepcopy(cfg)))(model)


def test_each_branch_steps_like_its_own_optimizer():
    torch.manual_seed(0)
    model = TwoBranch()
    ref = copy.deepcopy(model)
    wrapper = build(model)
    assert isinstance(wrapper, OptimWrapper)
    assert isinstance(wrapper.optimizer, MultiOptimizer)
    assert wrapper.optimizer.defaults['lr'] == 0.03
    sgd = torch.optim.SGD(ref.img_backbone.parameters(), lr=0.03,
                          momentum=0.9, weight_decay=1e-4)
    adamw = torch.optim.AdamW(ref.pts_backbone.parameters(), lr=1e-3,
                              betas=(0.95, 0.99), weight_decay=0.01)
    x = torch.randn(5, 3)
    for _ in range(3):
        wrapper.update_params(model(x))
        sgd.zero_grad()
        adamw.zero_grad()
        ref(x).backward()
        sgd.step()
        adamw.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)


def test_scheduler_scales_both_branches():
    model = TwoBranch()
    wrapper = build(model)
    sched = CosineAnnealingLR(wrapper, T_max=10, eta_min=0, by_epoch=False)
    for _ in range(5):
        wrapper.update_params(model(torch.randn(2, 3)))
        sched.step()
    lrs = {g['branch']: g['lr'] for g in wrapper.optimizer.param_groups}
    assert lrs['img'] == pytest.approx(0.03 * 0.5)
    assert lrs['lidar'] == pytest.approx(1e-3 * 0.5)
    # the real sub-optimizers see the scheduled lr
    assert wrapper.optimizer.optimizers['img'].param_groups[0]['lr'] == \
        pytest.approx(0.015)


def test_state_dict_round_trip_resumes_identically():
    torch.manual_seed(1)
    model = TwoBranch()
    wrapper = build(model)
    x = torch.randn(4, 3)
    wrapper.update_params(model(x))
    state = copy.deepcopy(wrapper.state_dict())
    model2 = copy.deepcopy(model)
    wrapper2 = build(model2)
    wrapper2.load_state_dict(state)
    wrapper.update_params(model(x))
    wrapper2.update_params(model2(x))
    for p, q in zip(model.parameters(), model2.parameters()):
        torch.testing.assert_close(p, q)
    with pytest.raises(KeyError, match='branches do not match'):
        wrapper2.optimizer.load_state_dict({'img': state['img']})


def test_gradient_clipping_applies_across_branches():
    model = TwoBranch()
    cfg = copy.deepcopy(CFG)
    cfg['clip_grad'] = dict(max_norm=1e-3)
    wrapper = build(model, cfg)
    loss = model(torch.full((2, 3), 100.))
    wrapper.backward(loss)
    wrapper.step()  # clips before stepping
    total = torch.norm(torch.stack(
        [p.grad.norm() for p in model.parameters()]))
    assert total <= 1e-3 * 1.01


def test_parameters_outside_every_branch_are_an_error():
    model = TwoBranch()
    model.extra = nn.Linear(1, 1)
    with pytest.raises(ValueError, match='extra.weight'):
        build(model)
