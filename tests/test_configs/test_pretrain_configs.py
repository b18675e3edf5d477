"""Every pre-training config: the documented hyper-parameters, the model
builds, and one CPU training step runs (ViT-B reduced to a tiny ViT and small
images via config overrides; real-data configs get SyntheticRGBDScenes
samples through their own pipeline minus the file-loading transform)."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

from mmrgbd.registry import DATASETS, MODELS, TRANSFORMS
from mmrgbd.utils import register_all_modules

register_all_modules()

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'pretrain'
#: this file covers the Mask3D and MultiMAE configs (other methods' configs
#: are tested next to their algorithms)
CONFIGS = sorted(
    p.name for p in CONFIG_DIR.glob('*.py')
    if p.name.startswith(('mask3d_', 'multimae_')))
TINY = dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64)


def load(name):
    return Config.fromfile(str(CONFIG_DIR / name))


def test_all_expected_configs_exist():
    assert set(CONFIGS) >= {
        'mask3d_vit-b_scannet.py', 'mask3d_vit-b_sunrgbd.py',
        'mask3d_vit-tiny_synthetic-demo.py',
        'multimae_vit-b_rgb-depth-semseg_1600e_in1k.py',
        'multimae_vit-b_rgb-depth-semseg_400e_in1k.py',
        'multimae_vit-b_rgb-depth_1600e_in1k.py',
        'multimae_vit-tiny_synthetic-demo.py'
    }


@pytest.mark.parametrize(
    'name', ['mask3d_vit-b_scannet.py', 'mask3d_vit-b_sunrgbd.py'])
def test_mask3d_vit_b_hyper_parameters(name):
    cfg = load(name)
    m = cfg.model
    assert m.type == 'Mask3D' and m.backbone.arch == 'b'
    assert tuple(m.backbone.img_size) == (240, 320)
    assert m.backbone.patch_size == 16 and not m.backbone.shared_encoder
    assert m.masker == dict(
        type='ComplementaryMasker', rgb_keep=0.2, depth_keep=0.2)
    assert (m.neck.layout, m.neck.embed_dims, m.neck.num_layers,
            m.neck.num_heads) == ('fused', 512, 8, 16)
    assert dict(m.neck.heads) == dict(depth=256)
    assert m.loss.loss_type == 'mse' and m.loss.norm_pix
    assert m.loss_on == 'masked' and not m.with_rgb_loss
    init = m.backbone.modalities.rgb.init_cfg
    assert init.type == 'Pretrained' and \
        init.checkpoint == 'checkpoints/mae_vit-b_in1k_mmrgbd.pth'
    assert 'init_cfg' not in m.backbone.modalities.depth
    ow = cfg.optim_wrapper
    assert ow.optimizer.type == 'SGD' and ow.optimizer.lr == 0.1 and \
        ow.optimizer.momentum == 0.9 and ow.accumulative_counts == 2
    assert cfg.train_dataloader.batch_size == 64  # x 2 accumulation = 128
    assert cfg.train_cfg.max_epochs == 100
    # lr x0.99 every 1000 iterations
    sched_cfg = [dict(s) for s in cfg.param_scheduler]
    assert len(sched_cfg) == 1
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = PARAM_SCHEDULERS.build(dict(sched_cfg[0], optimizer=opt))
    lrs = []
    for _ in range(2001):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    assert lrs[999] == pytest.approx(0.1)
    assert lrs[1000] == pytest.approx(0.099)
    assert lrs[2000] == pytest.approx(0.1 * 0.99**2)
    if 'scannet' in name:
        assert cfg.train_dataloader.dataset.frame_skip == 25
        assert cfg.train_dataloader.dataset.depth_unit == 'mm'


@pytest.mark.parametrize('name,epochs,tasks', [
    ('multimae_vit-b_rgb-depth-semseg_1600e_in1k.py', 1600,
     {'rgb', 'rgb_normpix', 'depth', 'semseg'}),
    ('multimae_vit-b_rgb-depth-semseg_400e_in1k.py', 400,
     {'rgb', 'rgb_normpix', 'depth', 'semseg'}),
    ('multimae_vit-b_rgb-depth_1600e_in1k.py', 1600,
     {'rgb', 'rgb_normpix', 'depth'}),
])
def test_multimae_vit_b_hyper_parameters(name, epochs, tasks):
    cfg = load(name)
    m = cfg.model
    assert m.type == 'MultiMAE' and m.backbone.arch == 'b'
    assert m.backbone.shared_encoder and m.backbone.num_global_tokens == 1
    assert set(m.backbone.modalities) == tasks - {'rgb_normpix'}
    assert m.masker == dict(
        type='DirichletTokenBudgetMasker', num_visible=98, alpha=1.0)
    assert set(m.decoders) == tasks and set(m.losses) == tasks
    for dec in m.decoders.values():
        assert (dec.embed_dims, dec.num_layers, dec.num_heads) == (256, 2, 8)
    assert m.losses.rgb.loss_type == 'mse' and not m.losses.rgb.get(
        'norm_pix', False)
    assert m.losses.rgb_normpix.norm_pix
    assert m.losses.depth.loss_type == 'l1'
    assert all(loss.get('on', 'masked') == 'masked'
               for loss in m.losses.values())
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.weight_decay == 0.05
    assert opt.lr == pytest.approx(1e-4 * 2048 / 256)
    assert cfg.auto_scale_lr.base_batch_size == 2048
    assert cfg.train_dataloader.batch_size == 256  # x 8 GPUs
    warm, cos = cfg.param_scheduler
    assert warm.type == 'LinearLR' and warm.by_epoch and \
        warm.convert_to_iter_based and (warm.begin, warm.end) == (0, 40)
    assert cos.type == 'CosineAnnealingLR' and cos.convert_to_iter_based \
        and (cos.begin, cos.end) == (40, epochs)
    assert cfg.train_cfg.max_epochs == epochs
    pipe = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    crop = pipe['RGBDRandomResizedCrop']
    assert crop.size == 224 and tuple(crop.scale) == (0.2, 1.0)
    assert tuple(crop.ratio) == pytest.approx((0.75, 4 / 3), abs=1e-3)
    assert pipe['RGBDRandomFlip'].prob == 0.5
    assert pipe['NormalizeDepth'].mode == 'robust'


def _shrink(cfg, name):
    """Tiny ViT and small images through config overrides."""
    m = cfg.model
    m.backbone.arch = dict(TINY)
    for mod in m.backbone.modalities.values():
        mod.pop('init_cfg', None)
    if m.type == 'Mask3D':
        m.backbone.img_size = (32, 48)
        m.backbone.patch_size = 8
        m.neck.update(in_channels=32, embed_dims=32, num_layers=1,
                      num_heads=2, heads=dict(depth=8 * 8))
        size = dict(img=(32, 48))
    else:
        m.backbone.img_size = 32
        m.backbone.patch_size = 8
        m.masker.num_visible = 8
        for dec in m.decoders.values():
            dec.update(in_channels=32, embed_dims=32, num_layers=1,
                       num_heads=2)
            dec.out_channels = dec.out_channels // 4  # 16 -> 8 px patches
        size = dict(img=(32, 32))
    pipeline = []
    for t in copy.deepcopy(cfg.train_dataloader.dataset.pipeline):
        if t.type.startswith('Load'):
            continue  # SyntheticRGBDScenes samples are already loaded
        if t.type == 'RGBDResize':
            t.scale = size['img'][::-1]  # (w, h)
        if t.type == 'RGBDRandomResizedCrop':
            t.size = size['img'][0]
        pipeline.append(t)
    return pipeline


def _batch(cfg, pipeline, n=2):
    ds_cfg = cfg.train_dataloader.dataset
    if ds_cfg.type == 'SyntheticRGBDScenes':
        ds_cfg = dict(ds_cfg, num_samples=n, pipeline=pipeline)
        ds_cfg['img_size'] = (32, 48) if cfg.model.type == 'Mask3D' \
            else (40, 48)
        dataset = DATASETS.build(ds_cfg)
        return pseudo_collate([dataset[i] for i in range(n)])
    source = DATASETS.build(
        dict(type='SyntheticRGBDScenes', num_samples=n, img_size=(40, 56)))
    transforms = [TRANSFORMS.build(t) for t in pipeline]
    samples = []
    for i in range(n):
        results = source[i]
        for t in transforms:
            results = t(results)
        samples.append(results)
    return pseudo_collate(samples)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_and_trains_one_step(name):
    cfg = load(name)
    if 'tiny' in name:
        # the demo as configured builds (its real size) ...
        full = MODELS.build(cfg.model)
        assert sum(p.numel() for p in full.parameters()) < 5e6
        del full
    torch.manual_seed(0)
    pipeline = _shrink(cfg, name)
    model = MODELS.build(cfg.model)
    model.init_weights()
    data = _batch(cfg, pipeline)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    if 'paramwise_cfg' in cfg.optim_wrapper:
        # no weight decay on the global token, mask tokens, embeddings, norms
        decay = {id(g['params'][0]): g['weight_decay']
                 for g in optim.optimizer.param_groups}
        norms = {
            id(p)
            for mod in model.modules()
            if isinstance(mod, torch.nn.LayerNorm) for p in mod.parameters()
        }
        for pname, param in model.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = id(param) in norms or pname.endswith('.bias') or \
                pname.split('.')[-1] in ('cls_token', 'mask_token') or \
                '.modality_embed.' in pname
            assert (decay[id(param)] == 0) == no_decay, pname
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    optim.initialize_count_status(model, 0, 10)
    enc = model.backbone.encoders['rgb'] if type(model).__name__ == 'Mask3D' \
        else model.backbone.encoder
    weight = enc.layers[0].attn.qkv.weight
    before = weight.detach().clone()
    for step in range(accumulate):
        if step:
            # accumulation: no update before the last accumulated step
            assert torch.equal(weight, before)
        log = model.train_step(data, optim)
    if type(model).__name__ == 'Mask3D':
        expected = {'loss_depth'}
    else:
        expected = {f'loss_{k}' for k in cfg.model.decoders}
    assert set(log) == expected | {'loss'}
    assert torch.isfinite(log['loss'])
    assert not torch.equal(weight, before)


def _load_converter():
    import importlib.util
    path = CONFIG_DIR.parents[1] / 'tools' / 'model_converters' / \
        'mae2mmrgbd.py'
    if not path.is_file():
        pytest.skip(f'{path} not found')
    spec = importlib.util.spec_from_file_location('mae2mmrgbd', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(
    'name', ['mask3d_vit-b_scannet.py', 'mask3d_vit-b_sunrgbd.py'])
def test_mask3d_rgb_encoder_init_from_converted_mae(name, tmp_path):
    """The configs' init_cfg loads a mae2mmrgbd.py output into the RGB
    encoder only (tiny fake MAE checkpoint with the official key names)."""
    conv = _load_converter()
    cfg = load(name)
    init = cfg.model.backbone.modalities.rgb.init_cfg
    _shrink(cfg, name)
    # a fake official MAE file: timm-style keys with tiny shapes
    g = torch.Generator().manual_seed(0)
    C, P = TINY['embed_dims'], cfg.model.backbone.patch_size
    shapes = {
        'cls_token': (1, 1, C),
        'pos_embed': (1, 1 + 16, C),
        'patch_embed.proj.weight': (C, 3, P, P),
        'patch_embed.proj.bias': (C, ),
        'norm.weight': (C, ),
        'norm.bias': (C, ),
        'mask_token': (1, 1, C),
        'decoder_embed.weight': (16, C),
    }
    block = {
        'norm1.weight': (C, ), 'norm1.bias': (C, ),
        'attn.qkv.weight': (3 * C, C), 'attn.qkv.bias': (3 * C, ),
        'attn.proj.weight': (C, C), 'attn.proj.bias': (C, ),
        'norm2.weight': (C, ), 'norm2.bias': (C, ),
        'mlp.fc1.weight': (2 * C, C), 'mlp.fc1.bias': (2 * C, ),
        'mlp.fc2.weight': (C, 2 * C), 'mlp.fc2.bias': (C, ),
    }
    assert set(block) == set(conv.TIMM_BLOCK_KEYS)
    shapes.update({f'blocks.0.{k}': s for k, s in block.items()})
    mae = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    src, dst = tmp_path / 'mae.pth', tmp_path / 'mae_mmrgbd.pth'
    torch.save({'model': mae}, src)
    assert conv.main([str(src), str(dst)]) == 0
    cfg.model.backbone.modalities.rgb.init_cfg = dict(
        init, checkpoint=str(dst))
    model = MODELS.build(cfg.model)
    model.init_weights()
    rgb = model.backbone.encoders['rgb']
    assert torch.equal(rgb.layers[0].attn.qkv.weight,
                       mae['blocks.0.attn.qkv.weight'])
    assert torch.equal(rgb.patch_embed.projection.weight,
                       mae['patch_embed.proj.weight'])
    assert torch.equal(rgb.ln1.weight, mae['norm.weight'])
    # the depth encoder is not initialised from the RGB file
    depth_qkv = model.backbone.encoders['depth'].layers[0].attn.qkv.weight
    assert not torch.equal(depth_qkv, mae['blocks.0.attn.qkv.weight'])
