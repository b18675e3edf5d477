"""MAEStyleDecoder and CrossAttentionTaskDecoder: token placement, shapes,
masking of the context."""
import math

import pytest
import torch
import torch.nn.functional as F

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


def test_fused_hidden_token_values_do_not_matter():
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


def test_fused_overlapping_tokens_are_averaged():
    """Mask3D's ablations with p_c + p_d > 1 show RGB and depth at the same
    position: the decoder input there is the mean of both tokens (it raised
    before)."""
    dec = _tiny_mae('fused')
    vis = _complementary()
    both = dict(rgb=vis['rgb'] | vis['depth'], depth=vis['depth'].clone())
    both['depth'][0, 0] = True  # (0, 0): rgb and depth; (0, 1) too
    feats = _feats(both)
    seen = _capture_first_block(dec)
    dec(feats)
    pos = get_2d_sincos_pos_embed(16, GRID)
    with torch.no_grad():
        emb = {
            m: dec.decoder_embed[m](feats['tokens'][m]) +
            dec.modality_embed[m]
            for m in ('rgb', 'depth')
        }
        for b, n in [(0, 0), (0, 1), (1, 0), (1, 5)]:
            assert both['rgb'][b, n] and both['depth'][b, n]
            exp = (emb['rgb'][b, n] + emb['depth'][b, n]) / 2 + pos[n]
            assert torch.allclose(seen['x'][b, n], exp, atol=1e-5), (b, n)
        # rgb only at (0, 3); nothing at (1, 1): the mask token
        assert torch.allclose(seen['x'][0, 3], emb['rgb'][0, 3] + pos[3],
                              atol=1e-5)
        assert torch.allclose(seen['x'][1, 1], dec.mask_token[0, 0] + pos[1],
                              atol=1e-5)


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
    # queries: visible depth tokens + mask tokens, plus the (row-first)
    # sin-cos position and the task's modality embedding, as official
    pos = get_2d_sincos_pos_embed(16, GRID, 'hw')
    with torch.no_grad():
        q = dec.build_queries(feats)
        exp = torch.where(vis['depth'][..., None],
                          dec.proj_context(feats['tokens']['depth']),
                          dec.mask_token.expand(B, N, -1)) + pos + \
            dec.modality_embed['depth']
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
    pos = get_2d_sincos_pos_embed(16, GRID, 'hw')
    # semseg is a context modality (absent from this input): its task
    # embedding is added, as official
    exp = dec.mask_token.expand(B, N, -1) + pos + dec.modality_embed['semseg']
    assert torch.allclose(q, exp, atol=1e-6)
    other = _tiny_cross(task='normal', out_channels=48)
    assert torch.allclose(other.build_queries(feats),
                          other.mask_token.expand(B, N, -1) + pos, atol=1e-6)
    out.sum().backward()
    assert dec.proj_context.weight.grad.abs().sum() > 0
    assert dec.mask_token.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='none of the context'):
        _tiny_cross(context_modalities=('normal', ))(feats)


# ------------------------------------------------- official MultiMAE decoder
def _ln(x, w, b):
    return F.layer_norm(x, (x.shape[-1], ), w, b, 1e-6)


def _mha(q_in, kv_in, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o, heads,
         mask=None):
    """Plain multi-head attention, written for these tests."""
    Bq, Q, D = q_in.shape
    d = D // heads
    q = F.linear(q_in, w_q, b_q).view(Bq, Q, heads, d).transpose(1, 2)
    k = F.linear(kv_in, w_k, b_k).view(Bq, -1, heads, d).transpose(1, 2)
    v = F.linear(kv_in, w_v, b_v).view(Bq, -1, heads, d).transpose(1, 2)
    att = q @ k.transpose(-2, -1) * d**-0.5  # (B, h, Q, L)
    if mask is not None:
        att = att.masked_fill(~mask[:, None, None, :], float('-inf'))
    x = (att.softmax(-1) @ v).transpose(1, 2).reshape(Bq, Q, D)
    return F.linear(x, w_o, b_o)


def official_decoder_reference(dec, feats):
    """The official SpatialOutputAdapter forward, from the paper / code
    description, on this decoder's parameters: context = proj(tokens) + pos
    + task embedding (visible only) and the projected global token; queries
    = the task's context tokens with mask tokens at hidden positions (pos +
    task embedding included); x = xattn(qnorm(q), cnorm(ctx)) (no residual);
    x = x + mlp(out_norm(x)); timm blocks; out_proj (no norm)."""
    sd = {k: v.detach() for k, v in dec.state_dict().items()}
    D, h = dec.embed_dims, dec.cross_attn.num_heads
    ctx, mask, queries = [], [], None
    for m in dec.context_modalities:
        if m not in feats['tokens']:
            continue
        tok = F.linear(feats['tokens'][m], sd['proj_context.weight'],
                       sd['proj_context.bias'])
        grid = feats['grid_sizes'][m]
        emb = get_2d_sincos_pos_embed(D, grid, 'hw') + \
            sd[f'modality_embed.{m}'][0]
        vis = feats['visible'][m]
        full = torch.where(vis[..., None], tok, sd['mask_token']) + emb
        if m == dec.task:
            queries = full
        ctx.append(tok + emb)
        mask.append(vis)
    glob = feats['global_tokens']
    ctx.append(F.linear(glob, sd['proj_context.weight'],
                        sd['proj_context.bias']))
    mask.append(torch.ones(glob.shape[:2], dtype=torch.bool))
    ctx, mask = torch.cat(ctx, 1), torch.cat(mask, 1)
    w_kv, b_kv = sd['cross_attn.kv.weight'], sd['cross_attn.kv.bias']
    x = _mha(
        _ln(queries, sd['query_norm.weight'], sd['query_norm.bias']),
        _ln(ctx, sd['context_norm.weight'], sd['context_norm.bias']),
        sd['cross_attn.q.weight'], sd['cross_attn.q.bias'], w_kv[:D],
        b_kv[:D], w_kv[D:], b_kv[D:], sd['cross_attn.proj.weight'],
        sd['cross_attn.proj.bias'], h, mask)
    y = _ln(x, sd['mlp_norm.weight'], sd['mlp_norm.bias'])
    y = F.linear(F.gelu(F.linear(y, sd['mlp.layers.0.0.weight'],
                                 sd['mlp.layers.0.0.bias'])),
                 sd['mlp.layers.1.weight'], sd['mlp.layers.1.bias'])
    x = x + y
    for i in range(len(dec.layers)):
        p = {k[len(f'layers.{i}.'):]: v for k, v in sd.items()
             if k.startswith(f'layers.{i}.')}
        w, b = p['attn.qkv.weight'], p['attn.qkv.bias']
        y = _ln(x, p['ln1.weight'], p['ln1.bias'])
        x = x + _mha(y, y, w[:D], b[:D], w[D:2 * D], b[D:2 * D], w[2 * D:],
                     b[2 * D:], p['attn.proj.weight'], p['attn.proj.bias'],
                     h)
        y = _ln(x, p['ln2.weight'], p['ln2.bias'])
        y = F.linear(F.gelu(F.linear(y, p['ffn.layers.0.0.weight'],
                                     p['ffn.layers.0.0.bias'])),
                     p['ffn.layers.1.weight'], p['ffn.layers.1.bias'])
        x = x + y
    return F.linear(x, sd['head.weight'], sd['head.bias'])


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def test_cross_attention_decoder_equals_official_reference():
    """No residual around the cross-attention, no norm before the output
    projection, queries with position and task embeddings: the decoder
    equals a hand-written forward of the official output adapter."""
    dec = _tiny_cross()
    _randomise(dec)  # norms and tokens away from their init values
    feats = _feats(_budget_visible(), num_global=1)
    out = dec(feats)
    ref = official_decoder_reference(dec, feats)
    assert out.shape == ref.shape == (B, N, 16)
    assert torch.allclose(out, ref, atol=1e-4), (out - ref).abs().max()
    assert not hasattr(dec, 'norm')  # no LayerNorm before the head


def test_decoder_uses_the_backbones_encoded_tokens_exactly():
    """With a shared MultiModalViT the decoder takes the encoder outputs
    from ``encoded_tokens`` (no concatenation + gather of the full layout):
    its output and every gradient equal those of the gather path."""
    from mmrgbd.models.backbones import MultiModalViT
    torch.manual_seed(0)
    backbone = MultiModalViT(
        arch=dict(embed_dims=C, num_layers=1, num_heads=2,
                  feedforward_channels=16),
        img_size=(GRID[0] * 4, GRID[1] * 4), patch_size=4,
        modalities=dict(rgb=dict(in_channels=3), depth=dict(in_channels=1)),
        shared_encoder=True, num_global_tokens=1)
    backbone.init_weights()
    dec = _tiny_cross()
    _randomise(dec)
    x = dict(rgb=torch.randn(B, 3, GRID[0] * 4, GRID[1] * 4),
             depth=torch.randn(B, 1, GRID[0] * 4, GRID[1] * 4))
    runs = []
    for keep in (True, False):
        backbone.zero_grad()
        dec.zero_grad()
        feats = backbone(x, _budget_visible())
        assert feats['encoded_tokens'].shape == (B, 4, C)
        if not keep:
            feats = {k: v for k, v in feats.items() if k != 'encoded_tokens'}
        out = dec(feats)
        out.pow(2).sum().backward()
        grads = {n: p.grad.clone() for n, p in
                 list(backbone.named_parameters(prefix='backbone')) +
                 list(dec.named_parameters(prefix='decoder'))
                 if p.grad is not None}
        runs.append((out.detach(), grads))
    (out_a, grads_a), (out_b, grads_b) = runs
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-6)
    assert grads_a.keys() == grads_b.keys()
    # the gradient reaches the encoder through the encoded tokens
    enc = [n for n in grads_a if n.startswith('backbone.')]
    assert enc and any(grads_a[n].abs().sum() > 0 for n in enc)
    for n in grads_a:
        torch.testing.assert_close(grads_a[n], grads_b[n], rtol=0,
                                   atol=1e-6, msg=n)


def test_decoder_init_as_official():
    """Official init: xavier for every linear layer with the fused qkv / kv
    split per matrix, zero biases, zero mask token, task embeddings
    trunc-normal(0.02)."""
    dec = MODELS.build(
        dict(type='CrossAttentionTaskDecoder', task='rgb', out_channels=48,
             in_channels=64, embed_dims=256, num_heads=8, num_layers=1))
    dec.init_weights()
    D = 256
    kv = dec.cross_attn.kv.weight  # (2D, D): split -> bound sqrt(6/(2D))
    bound = math.sqrt(6. / (D + D))
    assert kv.abs().max() <= bound and kv.abs().max() > 0.95 * bound
    assert kv.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    qkv = dec.layers[0].attn.qkv.weight  # (3D, D)
    assert qkv.abs().max() <= bound and qkv.abs().max() > 0.95 * bound
    proj = dec.cross_attn.proj.weight  # plain xavier, D x D: same bound
    assert proj.abs().max() <= bound
    fc1 = dec.mlp.layers[0][0].weight  # (4D, D)
    assert fc1.abs().max() <= math.sqrt(6. / (5 * D))
    assert dec.cross_attn.kv.bias.abs().max() == 0
    assert dec.layers[0].ffn.layers[1].bias.abs().max() == 0
    assert dec.mask_token.abs().max() == 0
    emb = torch.cat(list(dec.modality_embed.values()), -1)  # (1, 1, 768)
    assert emb.std().item() == pytest.approx(0.02, rel=0.15)


def test_mae_decoder_init_splits_qkv():
    dec = MODELS.build(
        dict(type='MAEStyleDecoder', in_channels=64, embed_dims=128,
             num_layers=1, num_heads=4, heads=dict(depth=16)))
    dec.init_weights()
    qkv = dec.layers[0].attn.qkv.weight  # (384, 128)
    bound = math.sqrt(6. / 256)
    assert qkv.abs().max() <= bound and qkv.abs().max() > 0.95 * bound
    assert qkv.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
