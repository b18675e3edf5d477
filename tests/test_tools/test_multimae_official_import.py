"""Official MultiMAE checkpoints import exactly into the shipped config.

A checkpoint in the official key layout (``input_adapters``, ``encoder``,
``global_tokens``, ``output_adapters`` with the 133-row semseg class
embedding of the official pre-training) is built here with random values,
converted by ``tools/model_converters/multimae2mmrgbd.py`` and loaded
strictly into ``configs/_base_/models/multimae_vit-b.py`` (num_classes=133):

* at full ViT-B size on the meta device (shapes and key sets only);
* into a twin of the shipped config that only shrinks widths and depths,
  whose encoder features and decoder outputs equal independent forwards of
  the official architecture written in this file.
"""
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmrgbd.models.utils import get_2d_sincos_pos_embed, unpatchify
from mmrgbd.registry import MODELS
from mmrgbd.utils import register_all_modules

register_all_modules()

REPO = Path(__file__).resolve().parents[2]
MODEL_CFG = REPO / 'configs' / '_base_' / 'models' / 'multimae_vit-b.py'
K = 133  # official COCO pseudo-label classes
GRID = 14  # 224 px / 16
TASK_CHANNELS = dict(rgb=3, norm_rgb=3, depth=1, semseg=K)
TASK_PATCH = dict(rgb=16, norm_rgb=16, depth=16, semseg=4)
BLOCK = ['norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.qkv.bias',
         'attn.proj.weight', 'attn.proj.bias', 'norm2.weight', 'norm2.bias',
         'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias']


def load_converter():
    path = REPO / 'tools' / 'model_converters' / 'multimae2mmrgbd.py'
    spec = importlib.util.spec_from_file_location('multimae2mmrgbd', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official_pos_emb(dims):
    """(1, D, 14, 14) fixed sin-cos as the official files store it (row
    index in the first half of the channels)."""
    emb = get_2d_sincos_pos_embed(dims, (GRID, GRID), 'hw')  # (196, D)
    return emb.transpose(0, 1).reshape(1, dims, GRID, GRID)


def block_shapes(dims, hidden):
    return {
        'norm1.weight': (dims, ), 'norm1.bias': (dims, ),
        'attn.qkv.weight': (3 * dims, dims), 'attn.qkv.bias': (3 * dims, ),
        'attn.proj.weight': (dims, dims), 'attn.proj.bias': (dims, ),
        'norm2.weight': (dims, ), 'norm2.bias': (dims, ),
        'mlp.fc1.weight': (hidden, dims), 'mlp.fc1.bias': (hidden, ),
        'mlp.fc2.weight': (dims, hidden), 'mlp.fc2.bias': (dims, ),
    }


def official_checkpoint(dims, layers, dec_dims, dec_layers, make):
    """Official pre-training key layout; ``make(shape)`` gives a tensor."""
    sd = {'global_tokens': make((1, 1, dims))}
    for task, ch in (('rgb', 3), ('depth', 1)):
        sd[f'input_adapters.{task}.proj.weight'] = make((dims, ch, 16, 16))
        sd[f'input_adapters.{task}.proj.bias'] = make((dims, ))
        sd[f'input_adapters.{task}.pos_emb'] = official_pos_emb(dims)
    sd['input_adapters.semseg.class_emb.weight'] = make((K, 64))
    sd['input_adapters.semseg.proj.weight'] = make((dims, 64, 4, 4))
    sd['input_adapters.semseg.proj.bias'] = make((dims, ))
    sd['input_adapters.semseg.pos_emb'] = official_pos_emb(dims)
    for i in range(layers):
        for k, shape in block_shapes(dims, 4 * dims).items():
            sd[f'encoder.{i}.{k}'] = make(shape)
    for name in ('rgb', 'norm_rgb', 'depth', 'semseg'):
        a = f'output_adapters.{name}.'
        d = dec_dims
        for t in ('rgb', 'depth', 'semseg'):
            sd[f'{a}task_embeddings.{t}'] = make((1, 1, d))
        sd[a + 'mask_token'] = make((1, 1, d))
        sd[a + 'pos_emb'] = official_pos_emb(d)
        for k, shape in {
                'decoder.q.weight': (d, d), 'decoder.q.bias': (d, ),
                'decoder.kv.weight': (2 * d, d), 'decoder.kv.bias': (2 * d, ),
                'decoder.proj.weight': (d, d), 'decoder.proj.bias': (d, ),
                'context_norm.weight': (d, ), 'context_norm.bias': (d, ),
                'query_norm.weight': (d, ), 'query_norm.bias': (d, ),
                'out_norm.weight': (d, ), 'out_norm.bias': (d, ),
                'mlp.fc1.weight': (4 * d, d), 'mlp.fc1.bias': (4 * d, ),
                'mlp.fc2.weight': (d, 4 * d), 'mlp.fc2.bias': (d, ),
                'proj_context.weight': (d, dims),
                'proj_context.bias': (d, ),
        }.items():
            sd[a + k] = make(shape)
        for i in range(dec_layers):
            for k, shape in block_shapes(d, 4 * d).items():
                sd[f'{a}decoder_transformer.{i}.{k}'] = make(shape)
        out = TASK_CHANNELS[name] * TASK_PATCH[name]**2
        sd[a + 'out_proj.weight'] = make((out, d))
        sd[a + 'out_proj.bias'] = make((out, ))
    return sd


def test_full_size_official_checkpoint_loads_strictly_into_shipped_config():
    """ViT-B/16 shapes, 133 official class rows: the converted state dict
    (backbone and the four decoders) loads strictly into the unmodified
    shipped config; the class embedding has 134 rows (133 + ignore)."""
    conv = load_converter()
    sd = official_checkpoint(768, 12, 256, 2,
                             lambda s: torch.empty(s, device='meta'))
    out, report, suggested = conv.convert_multimae(sd, with_decoders=True)
    report.check()
    assert suggested['modalities']['semseg']['num_classes'] == K
    cfg = Config.fromfile(str(MODEL_CFG))
    assert cfg.num_classes == K
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    result = model.load_state_dict(out, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    emb = model.backbone.stems['semseg'].patch_embed.class_embed.weight
    assert emb.shape == (K + 1, 64)
    assert model.neck['rgb_normpix'].head.weight.shape == (768, 256)


# ------------------------------------------------ official forward, by hand
def _ln(x, sd, key):
    return F.layer_norm(x, (x.shape[-1], ), sd[key + '.weight'],
                        sd[key + '.bias'], 1e-6)


def _attention(q_in, kv_in, wq, bq, wk, bk, wv, bv, wo, bo, heads):
    B, Q, D = q_in.shape
    d = D // heads
    q = F.linear(q_in, wq, bq).view(B, Q, heads, d).transpose(1, 2)
    k = F.linear(kv_in, wk, bk).view(B, -1, heads, d).transpose(1, 2)
    v = F.linear(kv_in, wv, bv).view(B, -1, heads, d).transpose(1, 2)
    att = (q @ k.transpose(-2, -1) * d**-0.5).softmax(-1)
    return F.linear((att @ v).transpose(1, 2).reshape(B, Q, D), wo, bo)


def _timm_block(x, sd, p, heads):
    D = x.shape[-1]
    w, b = sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias']
    h = _ln(x, sd, p + 'norm1')
    x = x + _attention(h, h, w[:D], b[:D], w[D:2 * D], b[D:2 * D],
                       w[2 * D:], b[2 * D:], sd[p + 'attn.proj.weight'],
                       sd[p + 'attn.proj.bias'], heads)
    return x + _mlp(_ln(x, sd, p + 'norm2'), sd, p + 'mlp')


def _mlp(x, sd, p):
    x = F.gelu(F.linear(x, sd[p + '.fc1.weight'], sd[p + '.fc1.bias']))
    return F.linear(x, sd[p + '.fc2.weight'], sd[p + '.fc2.bias'])


def _flat_pos(pos):
    return pos.flatten(2).transpose(1, 2)  # (1, 196, D)


def official_encoder(sd, inputs, visible, layers, heads):
    """The official input adapters and encoder, one sample at a time:
    returns per sample ``{task: {position: token}}`` and the global token.
    Semseg enters at 1/4 resolution (56x56, what the official loader gives);
    a label of 255 maps to a zero 64-d embedding (the row the converter
    adds; the official pre-training data has no such label)."""
    tokens = {}
    for task in ('rgb', 'depth'):
        x = F.conv2d(inputs[task], sd[f'input_adapters.{task}.proj.weight'],
                     sd[f'input_adapters.{task}.proj.bias'], stride=16)
        tokens[task] = x.flatten(2).transpose(1, 2) + _flat_pos(
            sd[f'input_adapters.{task}.pos_emb'])
    labels = inputs['semseg'][:, 0, ::4, ::4]  # (B, 56, 56)
    table = sd['input_adapters.semseg.class_emb.weight']
    table = torch.cat([table, table.new_zeros(1, 64)])
    emb = table[torch.where(labels == 255, K, labels)].permute(0, 3, 1, 2)
    x = F.conv2d(emb, sd['input_adapters.semseg.proj.weight'],
                 sd['input_adapters.semseg.proj.bias'], stride=4)
    tokens['semseg'] = x.flatten(2).transpose(1, 2) + _flat_pos(
        sd['input_adapters.semseg.pos_emb'])
    results = []
    for b in range(inputs['rgb'].shape[0]):
        seq, where = [], []
        for task in ('rgb', 'depth', 'semseg'):
            for n in torch.nonzero(visible[task][b])[:, 0].tolist():
                seq.append(tokens[task][b, n])
                where.append((task, n))
        x = torch.stack(seq + [sd['global_tokens'][0, 0]])[None]
        for i in range(layers):
            x = _timm_block(x, sd, f'encoder.{i}.', heads)
        results.append(({w: x[0, j] for j, w in enumerate(where)}, x[0, -1]))
    return results


def official_decoder(sd, name, task, enc, heads, dec_layers):
    """The official output adapter for one sample (``enc`` from
    :func:`official_encoder`): an image (C, H, W)."""
    a = f'output_adapters.{name}.'
    by_task, glob = enc
    D = sd[a + 'mask_token'].shape[-1]
    pos = _flat_pos(sd[a + 'pos_emb'])[0]  # (196, D)

    def proj(t):
        return F.linear(t, sd[a + 'proj_context.weight'],
                        sd[a + 'proj_context.bias'])

    context = [proj(glob)]
    for (t, n), tok in by_task.items():
        emb = sd[a + f'task_embeddings.{t}'][0, 0]
        context.append(proj(tok) + pos[n] + emb)
    queries = []
    for n in range(GRID * GRID):
        tok = by_task.get((task, n))
        q = proj(tok) if tok is not None else sd[a + 'mask_token'][0, 0]
        queries.append(q + pos[n] + sd[a + f'task_embeddings.{task}'][0, 0])
    ctx, q = torch.stack(context)[None], torch.stack(queries)[None]
    kv_w, kv_b = sd[a + 'decoder.kv.weight'], sd[a + 'decoder.kv.bias']
    x = _attention(_ln(q, sd, a + 'query_norm'),
                   _ln(ctx, sd, a + 'context_norm'),
                   sd[a + 'decoder.q.weight'], sd[a + 'decoder.q.bias'],
                   kv_w[:D], kv_b[:D], kv_w[D:], kv_b[D:],
                   sd[a + 'decoder.proj.weight'],
                   sd[a + 'decoder.proj.bias'], heads)
    x = x + _mlp(_ln(x, sd, a + 'out_norm'), sd, a + 'mlp')
    for i in range(dec_layers):
        x = _timm_block(x, sd, f'{a}decoder_transformer.{i}.', heads)
    x = F.linear(x, sd[a + 'out_proj.weight'], sd[a + 'out_proj.bias'])
    c, p = TASK_CHANNELS[name], TASK_PATCH[name]
    # official layout: 'b (nh nw) (c ph pw) -> b c (nh ph) (nw pw)'
    x = x.reshape(GRID, GRID, c, p, p).permute(2, 0, 3, 1, 4)
    return x.reshape(c, GRID * p, GRID * p)


def test_official_checkpoint_gives_official_outputs(tmp_path):
    """Twin of the shipped config (widths and depths shrunk, everything
    else as shipped: 224 px, 16 px patches, 133 classes, four decoders).
    The converted official file loads strictly (``--with-decoders``), the
    encoder tokens and global token equal the official encoder forward and
    every decoder output equals the official adapter, for masks with
    per-sample varying budgets and ignore pixels in the semseg input."""
    conv = load_converter()
    dims, layers, heads, dec_dims, dec_layers = 32, 2, 2, 16, 2
    g = torch.Generator().manual_seed(0)
    sd = official_checkpoint(
        dims, layers, dec_dims, dec_layers,
        lambda s: torch.randn(s, generator=g, dtype=torch.float64) * 0.1)
    for k in list(sd):  # norms near 1, as trained; float64 throughout, so
        # that the comparison is exact up to rounding
        if 'norm' in k and k.endswith('weight'):
            sd[k] = sd[k] + 1
        sd[k] = sd[k].double()
    src, dst = tmp_path / 'official.pth', tmp_path / 'mmrgbd.pth'
    torch.save({'model': sd}, src)
    assert conv.main([str(src), str(dst), '--with-decoders']) == 0
    converted = torch.load(dst, weights_only=True)['state_dict']

    cfg = Config.fromfile(str(MODEL_CFG))
    cfg.model.backbone.arch = dict(
        embed_dims=dims, num_layers=layers, num_heads=heads,
        feedforward_channels=4 * dims)
    for dec in cfg.model.decoders.values():
        dec.update(in_channels=dims, embed_dims=dec_dims,
                   num_layers=dec_layers, num_heads=heads)
    model = MODELS.build(cfg.model).double().eval()
    model.load_state_dict(converted, strict=True)
    sem = model.backbone.stems['semseg'].patch_embed
    assert sem.num_classes == K and sem.class_embed.weight.shape[0] == K + 1
    assert torch.equal(sem.class_embed.weight[K], torch.zeros(64))

    B = 2
    inputs = dict(
        rgb=torch.randn(B, 3, 224, 224, generator=g, dtype=torch.float64),
        depth=torch.randn(B, 1, 224, 224, generator=g, dtype=torch.float64),
        semseg=torch.randint(0, K, (B, 1, 224, 224), generator=g))
    inputs['semseg'][:, :, :64, :100] = 255  # unlabelled pixels
    visible = model.masker(
        B, model.grid_sizes(inputs),
        generator=torch.Generator().manual_seed(3))
    counts = [[int(visible[t][b].sum()) for t in visible] for b in range(B)]
    assert counts[0] != counts[1] and sum(counts[0]) == 98

    with torch.no_grad():
        feats = model.extract_feat(inputs, visible)
        ref = official_encoder(sd, inputs, visible, layers, heads)
        for b in range(B):
            for (task, n), tok in ref[b][0].items():
                assert torch.allclose(feats['tokens'][task][b, n], tok,
                                      atol=1e-9), (b, task, n)
            assert torch.allclose(feats['global_tokens'][b, 0], ref[b][1],
                                  atol=1e-9)
        names = dict(rgb='rgb', rgb_normpix='norm_rgb', depth='depth',
                     semseg='semseg')
        for ours, theirs in names.items():
            dec = model.decoders[ours]
            pred = dec(feats)  # (B, 196, p*p*C)
            p = TASK_PATCH[theirs]
            img = unpatchify(pred, p, (GRID, GRID))  # (B, C, 14p, 14p)
            for b in range(B):
                exp = official_decoder(sd, theirs, dec.task, ref[b], heads,
                                       dec_layers)
                assert torch.allclose(img[b], exp, rtol=1e-9,
                                      atol=1e-9), (ours, b)
