"""Every pre-training config: the documented hyper-parameters, the model
builds, and one CPU training step runs (ViT-B reduced to a tiny ViT and small
images via config overrides; real-data configs get SyntheticRGBDScenes
samples through their own pipeline minus the file-loading transform)."""
import copy
from pathlib import Path

import numpy as np
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


@pytest.mark.parametrize('name', [
    'mask3d_vit-b_scannet.py', 'mask3d_vit-b_sunrgbd.py',
    'mask3d_vit-b_scannet_1gpu.py'
])
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
    assert not m.loss.get('norm_pred', False)  # target-only, see README
    assert m.loss_on == 'masked' and not m.with_rgb_loss
    init = m.backbone.modalities.rgb.init_cfg
    assert init.type == 'Pretrained' and \
        init.checkpoint == 'checkpoints/mae_vit-b_in1k_mmrgbd.pth'
    assert 'init_cfg' not in m.backbone.modalities.depth
    ow = cfg.optim_wrapper
    assert ow.optimizer.type == 'SGD' and ow.optimizer.lr == 0.1 and \
        ow.optimizer.momentum == 0.9
    assert cfg.train_cfg.max_epochs == 100
    if 'scannet' in name:
        ds = cfg.train_dataloader.dataset
        assert ds.frame_skip == 25 and ds.depth_unit == 'mm'
        # all 1513 scans (train + val), no pose filtering
        assert [Path(p).name for p in ds.scene_list] == [
            'scannetv2_train.txt', 'scannetv2_val.txt']
        assert ds.skip_invalid_poses is False


class _FakeRunner:
    """What ``Runner.scale_lr`` reads from a runner."""

    def __init__(self, cfg, world_size):
        from mmengine.logging import MMLogger
        self._train_dataloader = dict(cfg.train_dataloader)
        self.world_size = world_size
        self.param_schedulers = None
        self.logger = MMLogger.get_current_instance()


@pytest.mark.parametrize('name,gpus', [
    ('mask3d_vit-b_scannet.py', 8),
    ('mask3d_vit-b_sunrgbd.py', 8),
    ('mask3d_vit-b_scannet_1gpu.py', 1),
])
def test_mask3d_batch_and_lr_agree(name, gpus):
    """The documented launch trains the paper's batch of 128 per optimiser
    update at lr 0.1, with and without --auto-scale-lr (the 8-GPU launch
    gave 64 x 8 x 2 = 1024 at lr 0.1 before); fewer GPUs with
    --auto-scale-lr scale the lr linearly."""
    from mmengine.runner import Runner
    cfg = load(name)
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    assert gpus * cfg.train_dataloader.batch_size * accumulate == 128
    for world, lr in ((gpus, 0.1), (max(gpus // 2, 1), None)):
        model = torch.nn.Linear(2, 2)
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        Runner.scale_lr(_FakeRunner(cfg, world), wrapper,
                        dict(cfg.auto_scale_lr, enable=True))
        batch = world * cfg.train_dataloader.batch_size * accumulate
        expected = lr if lr is not None else 0.1 * batch / 128
        assert wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(
            expected)


@pytest.mark.parametrize('name', [
    'mask3d_vit-b_scannet.py', 'mask3d_vit-b_scannet_1gpu.py'
])
def test_mask3d_lr_decays_every_1000_optimiser_updates(name):
    """The built optim wrapper (with its gradient accumulation) and
    scheduler, stepped as the train loop steps them: the lr of the k-th
    optimiser update is 0.1 * 0.99 ** (k // 1000), also when one update
    takes two iterations (before, StepLR counted iterations and decayed
    every 500 updates on one GPU)."""
    cfg = load(name)
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    model = torch.nn.Linear(1, 1, bias=False)
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    iters = 1005 * accumulate
    wrapper.initialize_count_status(model, 0, iters)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper))
        for s in copy.deepcopy(cfg.param_scheduler)
    ]
    update_lrs = []
    x = torch.ones(1, 1)
    for _ in range(iters):
        before = model.weight.detach().clone()
        lr = wrapper.get_lr()['lr'][0]
        wrapper.update_params(model(x).sum())
        if not torch.equal(before, model.weight):  # an optimiser update
            update_lrs.append(lr)
        for s in schedulers:  # ParamSchedulerHook: after every iteration
            s.step()
    assert len(update_lrs) == 1005
    for k in (0, 499, 500, 999, 1000, 1004):
        assert update_lrs[k] == pytest.approx(0.1 * 0.99**(k // 1000)), k


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
    # official: warm-up from lr 1e-6; weight decay on every parameter
    assert warm.start_factor * opt.lr == pytest.approx(1e-6)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    # official loss averaging: per sample, then over the batch
    assert all(loss.reduction == 'per_sample'
               for loss in m.losses.values())
    pipe = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    crop = pipe['RGBDRandomResizedCrop']
    assert crop.interpolation == 'bicubic' and crop.backend == 'pillow'
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
    else:
        # one weight decay for every parameter (MultiMAE: as official)
        wd = cfg.optim_wrapper.optimizer.get('weight_decay', 0)
        for group in optim.optimizer.param_groups:
            assert group.get('weight_decay', wd) == wd
        if cfg.model.type == 'MultiMAE':
            assert wd == 0.05
            names = {id(p): n for n, p in model.named_parameters()}
            decayed = {
                names[id(p)]
                for g in optim.optimizer.param_groups for p in g['params']
                if g['weight_decay'] == 0.05
            }
            for key in ('backbone.encoder.cls_token',
                        'backbone.encoder.layers.0.ln1.weight',
                        'backbone.encoder.layers.0.attn.qkv.bias',
                        'backbone.stems.semseg.patch_embed.class_embed.weight',
                        'neck.rgb.mask_token', 'neck.rgb.modality_embed.rgb'):
                if key in names.values():
                    assert key in decayed, key
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


@pytest.mark.parametrize('name', [
    'multimae_vit-b_rgb-depth-semseg_1600e_in1k.py',
    'multimae_vit-b_rgb-depth_1600e_in1k.py'
])
def test_multimae_crop_resizes_rgb_bicubic_as_pil(name):
    """The configs' RGBDRandomResizedCrop resizes RGB with PIL's bicubic
    filter (the official code resizes its PIL crops with PIL's default,
    bicubic); depth and labels stay nearest."""
    from PIL import Image

    from mmrgbd.datasets.transforms.geometry import nearest_resize
    crop_cfg = next(t for t in load(name).train_dataloader.dataset.pipeline
                    if t.type == 'RGBDRandomResizedCrop')
    crop = TRANSFORMS.build(crop_cfg)
    rng = np.random.default_rng(0)
    h, w = 300, 400
    yy, xx = np.mgrid[:h, :w]
    rgb = np.stack([(xx * 0.6) % 256, (yy * 0.8) % 256,
                    (xx + yy) * 0.3 % 256], -1)
    rgb = (rgb + rng.integers(0, 40, (h, w, 3))).clip(0, 255).astype(
        np.uint8)
    depth = rng.random((h, w)).astype(np.float32) + 0.5
    semseg = rng.integers(0, 133, (h, w))
    sample = dict(rgb=rgb.copy(), depth=depth.copy(),
                  depth_valid=np.ones((h, w), bool), semseg=semseg.copy())
    np.random.seed(3)
    out = crop(sample)
    x1, y1, x2, y2 = out['crop_bbox']
    box = (x1, y1, x2 + 1, y2 + 1)
    ref = np.asarray(Image.fromarray(rgb).crop(box).resize(
        (224, 224), Image.BICUBIC))
    assert out['rgb'].shape == (224, 224, 3)
    np.testing.assert_array_equal(out['rgb'], ref)
    # not the bilinear of before
    bilinear = np.asarray(Image.fromarray(rgb).crop(box).resize(
        (224, 224), Image.BILINEAR))
    assert np.abs(out['rgb'].astype(int) - bilinear).max() > 3
    np.testing.assert_array_equal(
        out['depth'],
        nearest_resize(depth[y1:y2 + 1, x1:x2 + 1], (224, 224)))
    np.testing.assert_array_equal(
        out['semseg'],
        nearest_resize(semseg[y1:y2 + 1, x1:x2 + 1], (224, 224)))
