"""tools/analysis/benchmark_pretrain.py: FLOP counting, the recorded GEMMs
and one end-to-end run on the tiny demo (no timings are asserted)."""
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / 'configs/pretrain/multimae_vit-tiny_synthetic-demo.py')


def _tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_pretrain', ROOT / 'tools/analysis/benchmark_pretrain.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_gemms_are_recorded_and_counted():
    tool = _tool()
    lin = torch.nn.Linear(16, 32)
    x = torch.randn(8, 16, requires_grad=True)
    rec = tool.GemmRecorder()
    with FlopCounterMode(display=False) as counter, rec:
        lin(x).sum().backward()
    # forward x W^T, backward dX = dY W and dW = dY^T X: 3 x 2*8*16*32
    assert counter.get_total_flops() == 3 * 2 * 8 * 16 * 32
    assert sum(tool.gemm_flops(c) for c in rec.calls) == 3 * 2 * 8 * 16 * 32
    assert len(rec.calls) == 3 and rec.calls[0]['bias'] == (32, )
    replay = tool.GemmReplay(rec.calls, torch.Generator().manual_seed(0))
    assert replay.flops == 3 * 2 * 8 * 16 * 32
    wall, cpu = replay.run()
    assert wall > 0 and cpu >= 0


def test_cpu_flash_attention_is_counted():
    """torch has no FLOP formula for the CPU flash-attention kernel: without
    the tool's mapping SDPA would count 0 on a CPU."""
    tool = _tool()
    q, k, v = (torch.randn(2, 4, 10, 8) for _ in range(3))
    with FlopCounterMode(display=False) as plain:
        F.scaled_dot_product_attention(q, k, v)
    with FlopCounterMode(display=False,
                         custom_mapping=tool.FLOP_FORMULAS) as counter:
        F.scaled_dot_product_attention(q, k, v)
    expected = sdpa_flop_count(q.shape, k.shape, v.shape)
    assert expected > 0 and plain.get_total_flops() in (0, expected)
    assert counter.get_total_flops() == expected


def test_demo_end_to_end_fp32_and_bf16_gemms(capsys):
    tool = _tool()
    out = tool.main([DEMO, '--batch', '2', '--steps', '1', '--warmup', '0'])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"MFU: {out['mfu']:.3f}" and out['mfu'] > 0
    assert out['flops'] > 0 and out['samples_per_s'] > 0
    # bf16: the recorded GEMMs (and so the reference replay) are bf16
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO)
    args = tool.parse_args([DEMO, '--dtype', 'bf16'])
    model, wrapper, _ = tool.build(cfg, args)
    assert type(wrapper).__name__ == 'AutocastOptimWrapper'
    inputs = tool.synthetic_inputs(model, 2, torch.Generator())
    flops, kinds, calls = tool.count_step(model, wrapper, inputs)
    assert calls and {c['dtype'] for c in calls} == {torch.bfloat16}
    assert flops == sum(kinds.values()) and kinds['matmul'] == sum(
        tool.gemm_flops(c) for c in calls)
