"""Training-step throughput and MFU of a pre-training config.

Builds the config's model (weights initialised, ``Pretrained`` inits
skipped) and its optim wrapper, then times full training steps -- forward,
losses, backward, optimiser step, exactly what ``BaseModel.train_step`` does
after the data preprocessor -- on synthetic, already preprocessed inputs of
the config's shapes (``rgb`` (B, 3, H, W) normalised, ``depth`` and
``depth_valid`` (B, 1, H, W), ``semseg`` (B, 1, H, W) class ids with some
``ignore_index`` pixels). Everything is seeded: the inputs, the weights and
the masks (global torch generator) are the same in every run.

It prints

* step time (median of ``--steps`` timed steps after ``--warmup``) and
  samples/s;
* peak memory: the resident-set high-water mark (``VmHWM`` of
  ``/proc/self/status``, reset through ``/proc/self/clear_refs`` before the
  warm-up) and its increase over the resident set before the first step;
  without ``/proc`` (not Linux), ``resource.getrusage`` ``ru_maxrss`` (not
  resettable: it may include the build);
* the model FLOPs of one step (forward + backward), counted with
  ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions and
  attention; PyTorch has no formula for the CPU flash-attention kernel, so
  one is registered here with PyTorch's own SDPA formulas); the optimiser's
  element-wise work is not counted, as usual for MFU;
* achieved GFLOP/s = FLOPs per step / step time;
* the machine's dense-GEMM GFLOP/s **for this step's matmuls**, measured in
  the same run: every ``mm`` / ``addmm`` / ``bmm`` / ``baddbmm`` of one step
  (forward and backward: the linear layers' shapes, operand layouts and
  dtype, after autocast) is recorded and replayed on random operands; the
  replay time gives the GEMM rate weighted by each shape's FLOP share
  (``sum(flops_i) / sum(time_i)``). Replays are interleaved with the timed
  steps, so both see the same machine load;
* last line: ``MFU`` = achieved GFLOP/s / GEMM GFLOP/s (median over the
  step / replay pairs).

Examples::

    python tools/analysis/benchmark_pretrain.py \\
        configs/pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py
    python tools/analysis/benchmark_pretrain.py \\
        configs/pretrain/mask3d_vit-b_scannet.py --batch 8 --dtype bf16
    # fused AdamW, activation checkpointing: plain config options
    python tools/analysis/benchmark_pretrain.py CONFIG \\
        --cfg-options optim_wrapper.optimizer.fused=True

Threads: PyTorch's intra-op thread count (``OMP_NUM_THREADS``) is used as
set; it is printed. The GEMM replay runs with the same threads.
"""
import argparse
import copy
import os
import platform
import resource
import statistics
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import (FlopCounterMode,
                                      sdpa_backward_flop_count,
                                      sdpa_flop_count)

aten = torch.ops.aten
GEMM_OPS = (aten.mm.default, aten.addmm.default, aten.bmm.default,
            aten.baddbmm.default)
DTYPES = dict(fp32=None, bf16='bfloat16')


def parse_args(argv=None):
    """Command line arguments."""
    parser = argparse.ArgumentParser(
        description='Training-step samples/s, FLOPs and MFU of a config')
    parser.add_argument('config', help='pre-training config file')
    parser.add_argument('--batch', type=int, default=8,
                        help='samples per step (default 8)')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32',
                        help='bf16: autocast through AutocastOptimWrapper '
                        '(as tools/train.py --amp on CPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the model forward (inductor)')
    parser.add_argument('--steps', type=int, default=5,
                        help='timed steps (default 5)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed steps first (default 2)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--profile', metavar='N', type=int, default=0,
                        help='also print the N most expensive ops of one '
                        'step (torch.profiler)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings (key=value), e.g. '
        'model.backbone.with_cp=True optim_wrapper.optimizer.fused=True')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------- #
# model, optimiser, inputs
# ---------------------------------------------------------------------- #
def _drop_pretrained(cfg) -> List[str]:
    """Remove ``Pretrained`` init configs in place (no weight files)."""
    dropped = []

    def walk(node, path):
        if isinstance(node, dict):
            init = node.get('init_cfg')
            if isinstance(init, dict) and init.get('type') == 'Pretrained':
                node['init_cfg'] = None
                dropped.append(f'{path}.init_cfg' if path else 'init_cfg')
            for k, v in node.items():
                walk(v, f'{path}.{k}' if path else k)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f'{path}[{i}]')

    walk(cfg, 'model')
    return dropped


def build(cfg, args):
    """The model (train mode) and its optim wrapper."""
    from mmrgbd.engine.optimizers import autocast_optim_wrapper_cfg
    from mmrgbd.engine.optimizers.fused import fused_or_foreach
    from mmrgbd.registry import MODELS, build_in_scope
    init_default_scope('mmrgbd')
    # quiet: init_weights logs every parameter at INFO
    MMLogger.get_instance('benchmark_pretrain', log_level='WARNING')
    model_cfg = copy.deepcopy(cfg.model)
    dropped = _drop_pretrained(model_cfg)
    model = build_in_scope(MODELS, model_cfg)
    model.init_weights()
    model.train()
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if DTYPES[args.dtype] is not None:
        wrapper_cfg = autocast_optim_wrapper_cfg(wrapper_cfg,
                                                 DTYPES[args.dtype])
    fused_or_foreach(wrapper_cfg, 'cpu')
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    return model, optim_wrapper, dropped


def synthetic_inputs(model, batch: int,
                     generator: torch.Generator) -> Dict[str, torch.Tensor]:
    """Preprocessed inputs of the backbone's modalities and sizes."""
    backbone = model.backbone
    size = None
    for m in backbone.modalities:
        stem = backbone.stem(m)
        grid = stem.grid_size
        p = backbone.patch_size
        size = (grid[0] * p, grid[1] * p)
        break
    if size is None:
        raise ValueError('the backbone has no modality')
    H, W = size
    inputs = {}
    for m, mcfg in backbone.modality_cfgs.items():
        kind = mcfg.get('type', 'image')
        if kind == 'semseg':
            k = int(mcfg['num_classes'])
            ignore = int(mcfg.get('ignore_index', 255))
            sem = torch.randint(0, k, (batch, 1, H, W), generator=generator)
            hole = torch.rand(batch, 1, H, W, generator=generator) < 0.1
            inputs[m] = sem.masked_fill(hole, ignore)  # (B, 1, H, W) int64
        elif kind == 'image':
            c = int(mcfg.get('in_channels', 3))
            inputs[m] = torch.randn(batch, c, H, W, generator=generator)
        else:
            raise ValueError(f'modality {m!r} of type {kind!r}: no '
                             'synthetic input for it in this benchmark')
    if 'depth' in inputs:
        inputs['depth_valid'] = torch.rand(
            batch, 1, H, W, generator=generator) > 0.05  # (B, 1, H, W)
    return inputs


def train_step(model, optim_wrapper, inputs, forward=None):
    """``BaseModel.train_step`` after the data preprocessor."""
    forward = model if forward is None else forward
    with optim_wrapper.optim_context(model):
        losses = forward(inputs, None, mode='loss')
    loss, log_vars = model.parse_losses(losses)
    optim_wrapper.update_params(loss)
    return log_vars


# ---------------------------------------------------------------------- #
# FLOPs and the GEMMs of a step
# ---------------------------------------------------------------------- #
def _cpu_flash_fwd(query_shape, key_shape, value_shape, *args, **kwargs):
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_flash_bwd(grad_out_shape, query_shape, key_shape, value_shape,
                   *args, **kwargs):
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape,
                                    value_shape)


FLOP_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_fwd,
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
    _cpu_flash_bwd,
}


class GemmRecorder(TorchDispatchMode):
    """Records every matmul of the traced code (shape, layout, dtype)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    @staticmethod
    def _layout(t: torch.Tensor) -> str:
        # 'T' when the last two dims are transposed in memory
        return 'T' if t.dim() >= 2 and t.stride(-2) == 1 and \
            t.stride(-1) != 1 else 'N'

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in GEMM_OPS:
            bias = func in (aten.addmm.default, aten.baddbmm.default)
            a, b = (args[1], args[2]) if bias else (args[0], args[1])
            self.calls.append(
                dict(op=func, a=tuple(a.shape), b=tuple(b.shape),
                     la=self._layout(a), lb=self._layout(b), dtype=a.dtype,
                     bias=tuple(args[0].shape) if bias else None))
        return func(*args, **kwargs)


def gemm_flops(call: dict) -> int:
    """2 * (batch) * M * K * N of a recorded matmul."""
    a, b = call['a'], call['b']
    batch = a[0] if len(a) == 3 else 1
    return 2 * batch * a[-2] * a[-1] * b[-1]


class GemmReplay:
    """Runs a step's recorded matmuls on random operands of the same
    shapes, layouts and dtype."""

    def __init__(self, calls: List[dict], generator: torch.Generator):
        self.calls = []
        cache = {}

        def operand(shape, layout, dtype):
            key = (shape, layout, dtype)
            if key not in cache:
                if layout == 'T':
                    t = torch.randn(*shape[:-2], shape[-1], shape[-2],
                                    generator=generator).transpose(-1, -2)
                else:
                    t = torch.randn(*shape, generator=generator)
                cache[key] = t.to(dtype)
            return cache[key]

        for c in calls:
            a = operand(c['a'], c['la'], c['dtype'])
            b = operand(c['b'], c['lb'], c['dtype'])
            bias = None if c['bias'] is None else \
                operand(c['bias'], 'N', c['dtype'])
            self.calls.append((c['op'], a, b, bias))
        self.flops = sum(gemm_flops(c) for c in calls)

    def run(self) -> Tuple[float, float]:
        """Wall and process-CPU seconds of one replay of every matmul of
        the step."""
        t0, c0 = time.perf_counter(), time.process_time()
        for op, a, b, bias in self.calls:
            if bias is None:
                op(a, b)
            else:
                op(bias, a, b)
        return time.perf_counter() - t0, time.process_time() - c0


def count_step(model, optim_wrapper, inputs):
    """FLOPs (total and per kind) and the matmuls of forward + backward."""
    recorder = GemmRecorder()
    counter = FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS)
    with counter, recorder:
        with optim_wrapper.optim_context(model):
            losses = model(inputs, None, mode='loss')
        loss, _ = model.parse_losses(losses)
        loss.backward()
    optim_wrapper.zero_grad()
    kinds = defaultdict(int)
    for op, n in counter.get_flop_counts()['Global'].items():
        name = str(op)
        if any(g in name for g in ('mm', 'addmm', 'bmm', 'baddbmm')) and \
                'scaled' not in name:
            kinds['matmul'] += n
        elif 'convolution' in name:
            kinds['conv'] += n
        elif 'scaled_dot_product' in name or 'attention' in name:
            kinds['attention'] += n
        else:
            kinds['other'] += n
    return counter.get_total_flops(), dict(kinds), recorder.calls


# ---------------------------------------------------------------------- #
# memory
# ---------------------------------------------------------------------- #
def _status_kb(key: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> str:
    """Reset the RSS high-water mark; returns the method used."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        if _status_kb('VmHWM') is not None:
            return 'VmHWM (/proc/self/status, reset via clear_refs)'
    except OSError:
        pass
    return 'ru_maxrss (getrusage; not resettable, includes the build)'


def current_rss_mib() -> float:
    kb = _status_kb('VmRSS')
    if kb is None:
        import psutil  # noqa: F401 (only off Linux)
        return psutil.Process().memory_info().rss / 2**20
    return kb / 1024


def peak_rss_mib() -> float:
    kb = _status_kb('VmHWM')
    if kb is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return kb / 1024


# ---------------------------------------------------------------------- #
def profile_step(model, optim_wrapper, inputs, top: int) -> None:
    """Print the ``top`` ops by self CPU time of one training step."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_step(model, optim_wrapper, inputs)
    print(prof.key_averages().table(
        sort_by='self_cpu_time_total', row_limit=top))


def _median(xs):
    return statistics.median(xs) if xs else float('nan')


def main(argv=None):
    args = parse_args(argv)
    if args.steps < 1:
        raise SystemExit('--steps must be at least 1')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model, optim_wrapper, dropped = build(cfg, args)
    gen = torch.Generator().manual_seed(args.seed)
    inputs = synthetic_inputs(model, args.batch, gen)
    shapes = {k: tuple(v.shape) for k, v in inputs.items()}

    flops, kinds, calls = count_step(model, optim_wrapper, inputs)
    replay = GemmReplay(calls, gen)
    forward = None
    if args.compile:
        forward = torch.compile(model)

    # deterministic masks: the global generator drives the masker
    torch.manual_seed(args.seed)
    memory_method = reset_peak_rss()
    rss_before = current_rss_mib()
    for _ in range(args.warmup):
        train_step(model, optim_wrapper, inputs, forward)
        replay.run()
    step_s, gemm_s, step_cpu, gemm_cpu = [], [], [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        log_vars = train_step(model, optim_wrapper, inputs, forward)
        step_s.append(time.perf_counter() - t0)
        step_cpu.append(time.process_time() - c0)
        wall, cpu = replay.run()
        gemm_s.append(wall)
        gemm_cpu.append(cpu)
    peak = peak_rss_mib()
    if args.profile:
        profile_step(model, optim_wrapper, inputs, args.profile)

    step = _median(step_s)
    achieved = flops / step / 1e9
    gemm_rate = replay.flops / _median(gemm_s) / 1e9
    # MFU of each (step, replay) pair: both saw about the same load
    mfu = _median([g / s * flops / replay.flops
                   for s, g in zip(step_s, gemm_s)])
    mfu_cpu = _median([g / s * flops / replay.flops
                       for s, g in zip(step_cpu, gemm_cpu)])
    losses = {k: round(float(v), 4) for k, v in log_vars.items()}
    opt = optim_wrapper.optimizer
    fused = opt.defaults.get('fused')
    print(f'config: {args.config}')
    print(f'model: {type(model).__name__}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M '
          f'parameters; optimiser {type(opt).__name__} (fused={fused}, '
          f"foreach={opt.defaults.get('foreach')}); wrapper "
          f'{type(optim_wrapper).__name__}')
    if dropped:
        print(f'skipped Pretrained init: {", ".join(dropped)}')
    print(f'inputs: {shapes}')
    print(f'dtype: {args.dtype}, compile: {args.compile}, batch: '
          f'{args.batch}, threads: {torch.get_num_threads()}, machine: '
          f'{platform.machine()} {torch.backends.cpu.get_cpu_capability()}'
          f', torch {torch.__version__}')
    try:
        load = os.getloadavg()
        print(f'load average (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} '
              f'{load[2]:.2f}')
    except OSError:
        pass
    print(f'losses (last step): {losses}')
    print(f'FLOPs per step (forward + backward): {flops / 1e9:.1f} G = '
          + ', '.join(f'{k} {v / 1e9:.1f} G' for k, v in sorted(
              kinds.items())))
    print(f'matmuls per step: {len(calls)} calls, {replay.flops / 1e9:.1f} '
          f'GFLOP')
    print(f'step time: median {1e3 * step:.0f} ms (min {1e3 * min(step_s):.0f}'
          f', max {1e3 * max(step_s):.0f}) over {args.steps} steps after '
          f'{args.warmup} warm-up')
    print(f'samples/s: {args.batch / step:.2f}')
    print(f'peak memory: {peak:.0f} MiB resident ({peak - rss_before:+.0f} '
          f'MiB over the {rss_before:.0f} MiB before the first step); '
          f'method: {memory_method}')
    print(f'achieved: {achieved:.1f} GFLOP/s')
    print(f'dense GEMM (this step\'s matmuls replayed, same dtype, same '
          f'run): {gemm_rate:.1f} GFLOP/s; non-matmul time '
          f'{1e3 * (step - _median(gemm_s)):.0f} ms per step')
    cpu = _median(step_cpu)
    print(f'process CPU time (robust to other processes on the machine, '
          f'{torch.get_num_threads()} thread(s)): step {1e3 * cpu:.0f} ms, '
          f'{flops / cpu / 1e9:.1f} GFLOP/s, GEMM '
          f'{replay.flops / _median(gemm_cpu) / 1e9:.1f} GFLOP/s, MFU '
          f'{mfu_cpu:.3f}')
    print(f'MFU: {mfu:.3f}')
    return dict(step_s=step, samples_per_s=args.batch / step,
                gflops=achieved, gemm_gflops=gemm_rate, mfu=mfu,
                mfu_cpu=mfu_cpu, flops=flops, peak_mib=peak)


if __name__ == '__main__':
    main(sys.argv[1:])
