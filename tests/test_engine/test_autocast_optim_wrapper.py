"""AutocastOptimWrapper: bf16 autocast on CPU from a config / ``--amp``."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, build_optim_wrapper

from mmrgbd.engine.optimizers import (AutocastOptimWrapper,
                                      autocast_optim_wrapper_cfg)


class _Net(nn.Module):
    """Linear -> GELU -> Linear that records the autocast state."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 1)
        self.seen = {}

    def forward(self, x):
        self.seen['autocast'] = torch.is_autocast_enabled('cpu')
        h = self.fc1(x)  # (B, 32)
        self.seen['hidden_dtype'] = h.dtype
        return self.fc2(torch.nn.functional.gelu(h))  # (B, 1)


def _step(wrapper, model, x, y):
    with wrapper.optim_context(model):
        pred = model(x)
        loss = ((pred.float() - y)**2).mean()
    wrapper.update_params(loss)
    return loss


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 16, generator=g), torch.randn(8, 1, generator=g)


def test_bf16_autocast_in_forward_fp32_params_and_grads():
    model = _Net()
    wrapper = AutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        device_type='cpu')
    assert wrapper.cast_dtype == torch.bfloat16  # CPU default
    assert wrapper.loss_scaler is None  # bf16 needs no loss scaling
    x, y = _data()
    with wrapper.optim_context(model):
        pred = model(x)
    assert model.seen == dict(autocast=True, hidden_dtype=torch.bfloat16)
    assert pred.dtype == torch.bfloat16
    assert not torch.is_autocast_enabled('cpu')  # left after the context
    loss = ((pred.float() - y)**2).mean()
    loss.backward()
    for p in model.parameters():
        assert p.dtype == torch.float32 and p.grad.dtype == torch.float32


def test_step_equals_optim_wrapper_up_to_bf16():
    x, y = _data()
    ref, amp = _Net(), _Net()
    # SGD: the update is linear in the gradient, so it carries bf16's
    # relative error (~2**-8 per operand) and no more
    ref_w = OptimWrapper(optimizer=torch.optim.SGD(
        ref.parameters(), lr=0.1, momentum=0.9))
    amp_w = AutocastOptimWrapper(
        optimizer=torch.optim.SGD(amp.parameters(), lr=0.1, momentum=0.9),
        dtype='bfloat16', device_type='cpu')
    before = copy.deepcopy(ref.state_dict())
    for _ in range(3):
        l_ref = _step(ref_w, ref, x, y)
        l_amp = _step(amp_w, amp, x, y)
        assert torch.allclose(l_amp, l_ref, rtol=3e-2, atol=1e-3)
    assert ref.seen['hidden_dtype'] == torch.float32
    for k, p_ref in ref.state_dict().items():
        d_ref = p_ref - before[k]
        d_amp = amp.state_dict()[k] - before[k]
        assert d_ref.norm() > 1e-3  # the parameters did move ...
        # ... by the same update up to bf16 rounding
        assert (d_amp - d_ref).norm() < 0.05 * d_ref.norm(), k


def test_built_from_config_and_fp16_has_a_scaler():
    model = _Net()
    cfg = dict(type='AutocastOptimWrapper', dtype='bfloat16',
               optimizer=dict(type='AdamW', lr=1e-3))
    wrapper = build_optim_wrapper(model, cfg)
    assert isinstance(wrapper, AutocastOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16
    fp16 = AutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        dtype='float16', device_type='cpu')
    assert isinstance(fp16.loss_scaler, torch.amp.GradScaler)
    assert 'loss_scaler' in fp16.state_dict()
    with pytest.raises(ValueError, match='dtype must be one of'):
        AutocastOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            dtype='float32')


def test_loads_an_amp_state_dict_in_bf16():
    model = _Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    wrapper = AutocastOptimWrapper(optimizer=opt, device_type='cpu')
    state = OptimWrapper(optimizer=opt).state_dict()
    state['loss_scaler'] = {'scale': 1024.0}  # as AmpOptimWrapper saves
    wrapper.load_state_dict(state)  # bf16: the scaler state is dropped
    assert 'loss_scaler' not in wrapper.state_dict()


def test_cfg_conversion_keeps_the_optimizer_and_rejects_others():
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0),
               clip_grad=dict(max_norm=1.0))
    out = autocast_optim_wrapper_cfg(cfg, 'bfloat16')
    assert out == dict(type='AutocastOptimWrapper', dtype='bfloat16',
                       optimizer=dict(type='AdamW', lr=1.0),
                       clip_grad=dict(max_norm=1.0))
    assert cfg['type'] == 'OptimWrapper'  # not modified
    with pytest.raises(ValueError, match='MultiOptimWrapper'):
        autocast_optim_wrapper_cfg(dict(type='MultiOptimWrapper'))
