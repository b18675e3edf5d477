"""Activation checkpointing (``with_cp``) and the decoders' visible-only
projections: the same outputs and gradients, less work."""
import copy

import pytest
import torch

from mmrgbd.models.utils import run_blocks
from mmrgbd.registry import MODELS

B, C, GRID = 2, 8, (2, 3)
N = GRID[0] * GRID[1]


def _visible():
    # 3 encoded tokens per sample in total, split differently
    rgb = torch.tensor([[1, 0, 0, 1, 0, 0], [0, 0, 1, 0, 0, 0]]).bool()
    depth = torch.tensor([[0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1]]).bool()
    return dict(rgb=rgb, depth=depth)


def _feats(num_global=1, with_ids=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    vis = _visible()
    tokens = {m: torch.randn(B, N, C, generator=g) * vis[m][..., None]
              for m in vis}
    feats = dict(tokens=tokens, visible=vis,
                 global_tokens=torch.randn(B, num_global, C, generator=g),
                 grid_sizes={m: GRID for m in vis})
    if with_ids:
        allvis = torch.cat([vis['rgb'], vis['depth']], 1)  # (B, 2N)
        feats['ids_keep'] = torch.stack(
            [row.nonzero()[:, 0] for row in allvis])  # (B, 3)
    return feats


def _leaf(feats):
    """Copy of feats whose tokens require grad (as the encoder output)."""
    out = dict(feats)
    out['tokens'] = {m: t.clone().requires_grad_()
                     for m, t in feats['tokens'].items()}
    out['global_tokens'] = feats['global_tokens'].clone().requires_grad_()
    return out


def _count_calls(blocks):
    """Count the forwards of each block (module hooks do not see the
    recomputation, so ``forward`` itself is wrapped)."""
    calls = []

    def counted(forward):
        def wrapper(*args, **kwargs):
            calls.append(1)
            return forward(*args, **kwargs)
        return wrapper

    for b in blocks:
        b.forward = counted(b.forward)
    return calls


def _grads(module, feats):
    return [p.grad.clone() for p in module.parameters()
            if p.grad is not None] + \
        [t.grad for t in feats['tokens'].values()]


def _check_cp(build, run, blocks_of):
    """Outputs and gradients equal with and without checkpointing, and the
    blocks really run twice (forward + recompute) with it."""
    torch.manual_seed(0)
    plain = build(False)
    cp = copy.deepcopy(plain)
    cp.with_cp = True
    plain.train(), cp.train()
    results = []
    for model in (plain, cp):
        calls = _count_calls(blocks_of(model))
        feats = _leaf(_feats())
        out = run(model, feats)
        out.square().sum().backward()
        results.append((out.detach(), _grads(model, feats), len(calls)))
    (o1, g1, n1), (o2, g2, n2) = results
    assert torch.allclose(o1, o2, atol=1e-6)
    assert len(g1) == len(g2) and len(g1) > 3
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, atol=1e-6)
    n_blocks = len(list(blocks_of(plain)))
    assert n1 == n_blocks and n2 == 2 * n_blocks  # recomputed in backward


def test_run_blocks_checkpoints_and_keeps_gradients():
    torch.manual_seed(0)
    blocks = torch.nn.ModuleList(
        [torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.GELU())
         for _ in range(3)])
    x = torch.randn(2, 5, 4, requires_grad=True)
    calls = _count_calls(blocks)
    y1 = run_blocks(blocks, x)
    g1 = torch.autograd.grad(y1.sum(), [x, *blocks.parameters()])
    assert len(calls) == 3
    y2 = run_blocks(blocks, x, with_cp=True)
    g2 = torch.autograd.grad(y2.sum(), [x, *blocks.parameters()])
    assert len(calls) == 3 + 6
    assert torch.equal(y1, y2)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, atol=1e-7)
    with torch.no_grad():  # nothing to recompute: plain forward
        run_blocks(blocks, x, with_cp=True)
    assert len(calls) == 12


def _mae(with_cp):
    dec = MODELS.build(dict(type='MAEStyleDecoder', in_channels=C,
                            embed_dims=16, num_layers=2, num_heads=2,
                            layout='fused', heads=dict(depth=16, rgb=48),
                            with_cp=with_cp))
    dec.init_weights()
    return dec


def _cross(with_cp):
    dec = MODELS.build(dict(type='CrossAttentionTaskDecoder', task='depth',
                            out_channels=16, in_channels=C, embed_dims=16,
                            num_heads=2, num_layers=2, with_cp=with_cp))
    dec.init_weights()
    return dec


def test_mae_decoder_with_cp_same_outputs_and_gradients():
    _check_cp(_mae, lambda m, f: torch.cat(list(m(f).values()), -1),
              lambda m: m.layers)


def test_cross_attention_decoder_with_cp_same_outputs_and_gradients():
    _check_cp(_cross, lambda m, f: m(f), lambda m: m.layers)


def test_vit_encoder_with_cp_same_outputs_and_gradients():
    cfg = dict(type='MultiModalViT', arch=dict(embed_dims=16, num_layers=2,
                                               num_heads=2,
                                               feedforward_channels=32),
               img_size=(8, 12), patch_size=4,
               modalities=dict(rgb=dict(in_channels=3),
                               depth=dict(in_channels=1)))
    torch.manual_seed(0)
    plain = MODELS.build(cfg)
    plain.init_weights()
    cp = copy.deepcopy(plain)
    cp.encoder.with_cp = True
    g = torch.Generator().manual_seed(3)
    inputs = dict(rgb=torch.randn(B, 3, 8, 12, generator=g),
                  depth=torch.randn(B, 1, 8, 12, generator=g))
    results = []
    for model in (plain, cp):
        model.train()
        calls = _count_calls(model.encoder.layers)
        out = model(inputs, visible=_visible())
        loss = sum(t.square().sum() for t in out['tokens'].values())
        loss.backward()
        results.append((out['tokens']['depth'].detach(),
                        [p.grad.clone() for p in model.parameters()
                         if p.grad is not None], len(calls)))
    (o1, g1, n1), (o2, g2, n2) = results
    assert torch.allclose(o1, o2, atol=1e-6)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, atol=1e-6)
    assert (n1, n2) == (2, 4)


def test_cross_attention_gathered_context_equals_masked_context():
    """With the backbone's ids_keep only the encoded tokens (+ global) are
    projected and attended to; the result equals the masked full layout."""
    dec = _cross(False).eval()
    rows = []
    dec.proj_context.register_forward_hook(
        lambda mod, args, out: rows.append(args[0].shape[:-1].numel()))
    full = _leaf(_feats(with_ids=False))
    gathered = _leaf(_feats(with_ids=True))
    out_full = dec(full)
    n_full = sum(rows)
    rows.clear()
    out_gathered = dec(gathered)
    assert torch.allclose(out_full, out_gathered, atol=1e-5)
    # full: every position of both modalities + global, then the task's
    # tokens again; gathered: the 3 encoded tokens + 1 global per sample
    assert n_full == B * (2 * N + 1) + B * N
    assert sum(rows) == B * (3 + 1)
    out_full.square().sum().backward()
    out_gathered.square().sum().backward()
    for m in full['tokens']:
        assert torch.allclose(full['tokens'][m].grad,
                              gathered['tokens'][m].grad, atol=1e-5)


def test_mae_decoder_projects_only_visible_tokens():
    dec = _mae(False).eval()
    rows = []
    for lin in dec.decoder_embed.values():
        lin.register_forward_hook(
            lambda mod, args, out: rows.append(args[0].shape[:-1].numel()))
    feats = _feats()
    out = dec(feats)
    vis = _visible()
    assert sum(rows) == int(vis['rgb'].sum() + vis['depth'].sum())  # 6
    # hidden tokens never reach the output: garbage there changes nothing
    noisy = copy.deepcopy(feats)
    for m, t in noisy['tokens'].items():
        t[~vis[m]] = 1e4
    out2 = dec(noisy)
    for m in out:
        assert torch.equal(out[m], out2[m])

