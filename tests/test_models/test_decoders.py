"""MAEStyleDecoder and CrossAttentionTaskDecoder: token placement, shapes,
masking of the context."""
import pytest
import torch

from mmrgbd.models.necks import CrossAttentionTaskDecoder, MAEStyleDecoder
from mmrgbd.models.necks.cross_attention_decoder import CrossAttention
from mmrgbd.models.utils import get_2d_sincos_pos_embed
from mmrgbd.registry import MODELS

B, C, GRID = 2, 8, (2, 3)
N = GRID[0] * GRID[1]


def _feats(visible, mods=('rgb', 'depth'), num_global=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = {}
    for m in mods:
        t = torch.randn(B, N, C, generator=g)
        tokens[m] = t * visible[m][..., None]  # zeros at hidden positions
    return dict(
        tokens=tokens,
        visible=visible,
        global_tokens=torch.randn(B, num_global, C, generator=g)
        if num_global else None,
        grid_sizes={m: GRID
                    for m in mods})


def _complementary():
    rgb = torch.tensor([[1, 0, 0, 1, 0, 0], [0, 0, 1, 0, 0, 0]]).bool()
    depth = torch.tensor([[0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1]]).bool()
    return dict(rgb=rgb, depth=depth)


def _capture_first_block(dec):
    seen = {}

    def hook(module, args):
        seen['x'] = args[0].detach().clone()

    dec.layers[0].register_forward_pre_hook(hook)
    return seen


def _tiny_mae(layout, heads=dict(depth=16, rgb=48)):
    dec = MODELS.build(
        dict(
            type='MAEStyleDecoder',
            in_channels=C,
            embed_dims=16,
            num_layers=1,
            num_heads=2,
            layout=layout,
            heads=heads))
    dec.init_weights()
    return dec


def test_fused_places_visible_tokens_and_mask_tokens():
    torch.manual_seed(0)
    dec = _tiny_mae('fused')
    vis = _complementary()
    feats = _feats(vis)
    seen = _capture_first_block(dec)
    out = dec(feats)
    assert set(out) == {'depth', 'rgb'}
    assert out['depth'].shape == (B, N, 16) and out['rgb'].shape == (B, N, 48)
    x = seen['x']
    assert x.shape == (B, N, 16)
    pos = get_2d_sincos_pos_embed(16, GRID)  # (N, 16)
    with torch.no_grad():
        for b in range(B):
            for n in range(N):
                if vis['rgb'][b, n]:
                    tok = feats['tokens']['rgb'][b, n]
                    exp = dec.decoder_embed['rgb'](tok)
                    exp = exp + dec.modality_embed['rgb'][0, 0]
                elif vis['depth'][b, n]:
                    exp = dec.decoder_embed['depth'](
                        feats['tokens']['depth'][b, n])
                    exp = exp + dec.modality_embed['depth'][0, 0]
                else:
                    exp = dec.mask_token[0, 0]
                assert torch.allclose(x[b, n], exp + pos[n], atol=1e-5), (b, n)


def test_fused_hidden_token_values_do_not_matter_and_overlap_raises():
    dec = _tiny_mae('fused')
    vis = _complementary()
    feats = _feats(vis)
    ref = dec(feats)
    noisy = _feats(vis, seed=1)
    for m in ('rgb', 'depth'):
        # keep visible values, random junk at hidden positions
        noisy['tokens'][m] = torch.where(vis[m][..., None],
                                         feats['tokens'][m],
                                         torch.randn(B, N, C))
    out = dec(noisy)
    for m in ref:
        assert torch.allclose(ref[m], out[m], atol=1e-6)
    # a changed visible token changes the output
    noisy['tokens']['depth'][0, 1] += 1.0
    assert not torch.allclose(dec(noisy)['depth'], ref['depth'])
    bad = dict(vis, depth=vis['depth'] | vis['rgb'])
    with pytest.raises(ValueError, match='complementary'):
        dec(_feats(bad))


def test_concat_layout_sequence_and_heads():
    dec = _tiny_mae('concat')
    vis = dict(
        rgb=torch.rand(B, N) > 0.5, depth=torch.rand(B, N) > 0.5)
    feats = _feats(vis)
    seen = _capture_first_block(dec)
    out = dec(feats)
    assert out['rgb'].shape == (B, N, 48) and out['depth'].shape == (B, N, 16)
    x = seen['x']
    assert x.shape == (B, 2 * N, 16)
    pos = get_2d_sincos_pos_embed(16, GRID)
    with torch.no_grad():
        for i, m in enumerate(('rgb', 'depth')):
            proj = dec.decoder_embed[m](feats['tokens'][m])
            exp = torch.where(vis[m][..., None], proj,
                              dec.mask_token.expand(B, N, -1))
            exp = exp + dec.modality_embed[m] + pos
            assert torch.allclose(x[:, i * N:(i + 1) * N], exp, atol=1e-5)
    # gradients reach every used parameter
    sum(o.sum() for o in out.values()).backward()
    assert dec.mask_token.grad.abs().sum() > 0
    assert dec.modality_embed['depth'].grad.abs().sum() > 0
    assert dec.decoder_embed['rgb'].weight.grad.abs().sum() > 0


def test_decoders_registered():
    assert MODELS.get('MAEStyleDecoder') is MAEStyleDecoder
    assert MODELS.get('CrossAttentionTaskDecoder') is \
        CrossAttentionTaskDecoder


def test_mae_decoder_config_errors():
    with pytest.raises(ValueError, match='not in modalities'):
        MAEStyleDecoder(layout='concat', heads=dict(normal=10))
    with pytest.raises(ValueError, match='layout'):
        MAEStyleDecoder(layout='stack')
    dec = _tiny_mae('fused')
    feats = _feats(_complementary())
    feats['grid_sizes']['depth'] = (3, 2)
    with pytest.raises(ValueError, match='one grid'):
        dec(feats)


def _tiny_cross(task='depth', out_channels=16, **kwargs):
    dec = MODELS.build(
        dict(
            type='CrossAttentionTaskDecoder',
            task=task,
            out_channels=out_channels,
            in_channels=C,
            embed_dims=16,
            num_heads=2,
            num_layers=2,
            **kwargs))
    dec.init_weights()
    return dec


def _budget_visible():
    # per sample total 4 visible tokens, split differently (Dirichlet-like)
    rgb = torch.tensor([[1, 1, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0]]).bool()
    depth = torch.tensor([[0, 0, 0, 1, 0, 0], [1, 0, 1, 0, 1, 1]]).bool()
    return dict(rgb=rgb, depth=depth)


def test_cross_attention_queries_and_context():
    dec = _tiny_cross()
    vis = _budget_visible()
    feats = _feats(vis, num_global=1)
    seen = {}

    def hook(module, args):
        seen['q'], seen['ctx'], seen['mask'] = args

    dec.cross_attn.register_forward_pre_hook(hook)
    out = dec(feats)
    assert out.shape == (B, N, 16)
    assert seen['q'].shape == (B, N, 16)  # one query per depth patch
    assert seen['ctx'].shape == (B, 1 + 2 * N, 16)  # global + rgb + depth
    assert seen['mask'][:, 0].all()  # the global token is always attended
    assert torch.equal(seen['mask'][:, 1:],
                       torch.cat([vis['rgb'], vis['depth']], 1))
    # queries: visible depth tokens + mask tokens, plus the sin-cos pos-embed
    pos = get_2d_sincos_pos_embed(16, GRID)
    with torch.no_grad():
        q = dec.build_queries(feats)
        exp = torch.where(vis['depth'][..., None],
                          dec.proj_context(feats['tokens']['depth']),
                          dec.mask_token.expand(B, N, -1)) + pos
        assert torch.allclose(q, exp, atol=1e-5)
        ctx, _ = dec.build_context(feats)
        exp_rgb = dec.proj_context(feats['tokens']['rgb']) + pos + \
            dec.modality_embed['rgb']
        assert torch.allclose(ctx[:, 1:1 + N], exp_rgb, atol=1e-5)


def test_cross_attention_ignores_hidden_context():
    dec = _tiny_cross()
    vis = _budget_visible()
    feats = _feats(vis, num_global=1)
    ref = dec(feats)
    junk = dict(feats, tokens={
        m: torch.where(vis[m][..., None], t, torch.randn_like(t))
        for m, t in feats['tokens'].items()
    })
    assert torch.allclose(dec(junk), ref, atol=1e-5)
    feats['tokens']['rgb'][0, 0] += 1.0  # visible in sample 0 only
    out = dec(feats)
    assert not torch.allclose(out[0], ref[0])
    assert torch.allclose(out[1], ref[1], atol=1e-5)


def test_masked_cross_attention_equals_gathered_attention():
    torch.manual_seed(0)
    attn = CrossAttention(16, 2)
    q = torch.randn(B, 5, 16)
    ctx = torch.randn(B, 7, 16)
    mask = torch.tensor([[1, 0, 1, 1, 0, 0, 1], [0, 1, 0, 0, 0, 0, 0]]).bool()
    out = attn(q, ctx, mask)
    for b in range(B):
        ref = attn(q[b:b + 1], ctx[b:b + 1, mask[b]])
        assert torch.allclose(out[b:b + 1], ref, atol=1e-5)


def test_cross_attention_task_not_an_input():
    dec = _tiny_cross(task='semseg', out_channels=4 * 4 * 3)
    vis = _budget_visible()
    feats = _feats(vis)
    out = dec(feats)
    assert out.shape == (B, N, 48)
    assert dec.task_grid(feats) == GRID
    q = dec.build_queries(feats)
    pos = get_2d_sincos_pos_embed(16, GRID)
    assert torch.allclose(q, dec.mask_token.expand(B, N, -1) + pos,
                          atol=1e-6)
    out.sum().backward()
    assert dec.proj_context.weight.grad.abs().sum() > 0
    assert dec.mask_token.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='none of the context'):
        _tiny_cross(context_modalities=('normal', ))(feats)
