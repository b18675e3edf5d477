"""M3 3D and Progressive configs: the spec's numbers, stage-1 checkpoint
wiring, and one CPU training step per config (tiny arch and small images
where ViT-B is too slow, synthetic samples through each config's own
pipeline; the demo configs as they are, with their own dataset)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from mmrgbd.models.algorithms import Stage1CheckpointError
from mmrgbd.registry import DATASETS, MODELS, TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = osp.join(ROOT, 'configs', 'pretrain')

#: config -> its stage-1 config (None: one-stage / stage 1 itself)
CONFIGS = {
    'm3mae_stage1_scannet': None,
    'm3mae_scannet': 'm3mae_stage1_scannet',
    'm3mae_video_ucf101': None,
    'm3mae_video_orar': None,
    'm3mae_stage1_vit-tiny_synthetic-demo': None,
    'm3mae_vit-tiny_synthetic-demo': 'm3mae_stage1_vit-tiny_synthetic-demo',
    'm3mae_video_vit-tiny_synthetic-demo': None,
    'progressive_stage1_in1k': None,
    'progressive_stage2_scannet': 'progressive_stage1_in1k',
    'progressive_stage2_sunrgbd': 'progressive_stage1_in1k',
    'progressive_stage1_vit-tiny_synthetic-demo': None,
    'progressive_stage2_vit-tiny_synthetic-demo':
    'progressive_stage1_vit-tiny_synthetic-demo',
}
TINY_ARCH = dict(
    embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64)


def load(name):
    return Config.fromfile(osp.join(PRETRAIN, name + '.py'))


def is_demo(name):
    return 'synthetic-demo' in name


def is_video(cfg):
    return cfg.model.type == 'M3MAEVideo'


def optimizer(cfg):
    return cfg.optim_wrapper.optimizer


def pipeline_types(cfg):
    return [t['type'] for t in cfg.train_dataloader.dataset.pipeline]


# --------------------------------------------------------------------- #
# the numbers of the spec
# --------------------------------------------------------------------- #
def test_m3mae_image_configs():
    s1, s2 = load('m3mae_stage1_scannet'), load('m3mae_scannet')
    assert s1.model.type == 'M3MAEStage1' and s1.model.masker is None
    assert s1.model.head.type == 'PatchContrastHead'
    assert s1.model.head.loss.type == 'PatchInfoNCELoss'
    assert s1.model.backbone.shared_encoder is False  # the config switch
    assert s1.train_cfg.max_epochs == 20
    m = s2.model
    assert m.type == 'M3MAE'
    assert m.masker == dict(type='RandomPatchMasker',
                            keep_ratios=dict(rgb=0.2, depth=0.2))
    assert (m.neck.type, m.neck.layout, m.neck.num_layers, m.neck.embed_dims,
            m.neck.num_heads) == ('MAEStyleDecoder', 'concat', 8, 512, 16)
    assert dict(m.neck.heads) == dict(rgb=768, depth=256)
    assert m.loss_weights.rgb == 0.1 and m.loss_weights.depth == 1.0
    assert (m.losses.rgb.loss_type, m.losses.rgb.norm_pix,
            m.losses.rgb.on) == ('mse', True, 'masked')
    assert (m.losses.depth.loss_type, m.losses.depth.on) == ('l1', 'masked')
    opt = optimizer(s2)
    assert (opt.type, tuple(opt.betas), opt.lr, opt.weight_decay) == (
        'AdamW', (0.9, 0.95), 1e-4, 0.05)
    assert [s.type for s in s2.param_scheduler] == ['CosineAnnealingLR']
    assert s2.train_cfg.max_epochs == 100
    for cfg in (s1, s2):
        assert {'RGBGaussianBlur', 'RGBColorJitter'} <= set(
            pipeline_types(cfg))


def test_m3mae_video_configs():
    ucf, orar = load('m3mae_video_ucf101'), load('m3mae_video_orar')
    m = ucf.model
    for mod in ('rgb', 'depth'):
        stem = m.backbone.modalities[mod]
        assert (stem.type, stem.tubelet_size, stem.num_frames) == (
            'TubeletPatchEmbed', 2, 16)
    assert m.backbone.arch == 'b' and m.backbone.patch_size == 16
    assert (m.neck.num_layers, m.neck.embed_dims, m.neck.num_heads) == (4, 384,
                                                                        6)
    assert dict(m.neck.heads) == dict(rgb=2 * 16 * 16 * 3, depth=2 * 16 * 16)
    assert dict(m.masker.mask_ratios) == dict(rgb=0.9, depth=0.9)
    assert dict(m.loss_weights) == dict(rgb=1.0, depth=0.1, contrast=0.01,
                                        match=0.01)
    assert m.losses.depth.loss_type == 'mse'
    ds = ucf.train_dataloader.dataset
    assert (ds.num_frames, ds.frame_interval) == (16, 4)
    opt = optimizer(ucf)
    assert (opt.type, tuple(opt.betas), opt.lr, opt.weight_decay) == (
        'AdamW', (0.9, 0.95), 1e-3, 0.05)
    warm, cos = ucf.param_scheduler
    assert (warm.type, warm.end) == ('LinearLR', 40)
    assert (cos.type, cos.begin, cos.end) == ('CosineAnnealingLR', 40, 100)
    assert ucf.train_cfg.max_epochs == 100

    m = orar.model
    assert m.masker.type == 'TubeMasker'
    assert dict(m.loss_weights) == dict(rgb=1.0, depth=0.5, contrast=0.2,
                                        match=0.1)
    assert optimizer(orar).lr == 1e-4
    assert orar.optim_wrapper.clip_grad.max_norm == 0.02
    assert orar.train_cfg.max_epochs == 1600
    assert orar.param_scheduler[1].end == 1600


def test_progressive_configs():
    s1 = load('progressive_stage1_in1k')
    assert s1.model.type == 'ProgressiveStage1'
    assert s1.model.backbone.shared_encoder is False
    assert s1.train_dataloader.dataset.type == 'RGBDListDataset'
    assert s1.train_cfg.max_epochs == 300 and optimizer(s1).lr == 1.5e-4
    for name, beta, epochs in (('progressive_stage2_scannet', 0.01, 100),
                               ('progressive_stage2_sunrgbd', 0.1, 250)):
        cfg = load(name)
        m = cfg.model
        assert m.type == 'ProgressiveStage2'
        assert dict(m.loss_weights) == dict(depth=1.0, denoise=beta,
                                            distill=1.0, rgb=0.0)
        assert dict(m.masker.keep_ratios) == dict(rgb=0.2, depth=0.2)
        assert (m.neck.layout, m.neck.num_layers, m.neck.embed_dims,
                m.neck.num_heads) == ('concat', 8, 512, 16)
        assert dict(m.neck.heads) == dict(depth=256)
        assert m.noise_mode == 'full' and m.sigma_max == 0.5
        # sigma_max is stated in robust-normalised depth units
        norm = [t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'NormalizeDepth']
        assert [t['mode'] for t in norm] == ['robust']
        opt = optimizer(cfg)
        assert (opt.type, tuple(opt.betas), opt.lr, opt.weight_decay) == (
            'AdamW', (0.9, 0.95), 1e-4, 0.05)
        assert [s.type for s in cfg.param_scheduler] == ['CosineAnnealingLR']
        assert cfg.train_cfg.max_epochs == epochs
        assert {'RGBGaussianBlur', 'RGBColorJitter'} <= set(
            pipeline_types(cfg))


@pytest.mark.parametrize(
    'name', [n for n, s1 in CONFIGS.items() if s1 is not None])
def test_stage2_default_checkpoint_is_stage1_output(name):
    """The default stage1_checkpoint is where the stage-1 config writes its
    final checkpoint; while it is absent, building fails clearly."""
    cfg, s1 = load(name), load(CONFIGS[name])
    if s1.train_cfg.type == 'IterBasedTrainLoop':
        last = f'iter_{s1.train_cfg.max_iters}.pth'
    else:
        last = f'epoch_{s1.train_cfg.max_epochs}.pth'
    assert cfg.model.stage1_checkpoint == f'work_dirs/{CONFIGS[name]}/{last}'
    if not osp.exists(osp.join(ROOT, cfg.model.stage1_checkpoint)):
        with pytest.raises(Stage1CheckpointError,
                           match=cfg.model.stage1_checkpoint):
            MODELS.build(cfg.model)


def test_demos_have_visualisation_hooks():
    for name in CONFIGS:
        cfg = load(name)
        if not is_demo(name) or 'stage1' in name or is_video(cfg):
            continue  # stage 1 has no decoder; panels are image-only
        assert [h.type for h in cfg.custom_hooks] == [
            'ReconstructionVisualizationHook'
        ]


# --------------------------------------------------------------------- #
# one training step per config
# --------------------------------------------------------------------- #
def shrink(cfg):
    """Tiny arch and image size (the real-data configs use ViT-B)."""
    m = cfg.model
    m.backbone.arch = TINY_ARCH
    if is_video(cfg):
        m.backbone.img_size = (48, 48)  # tube masks need >= 1 visible
        for mod in m.backbone.modalities.values():
            mod.num_frames = 4
    else:
        m.backbone.img_size = (32, 48)
    if m.get('neck'):
        m.neck.update(in_channels=32, embed_dims=32, num_layers=1,
                      num_heads=2)
    head = m.get('head')
    if head and 'type' in head:
        head.update(in_channels=32, hidden_channels=32)
    elif head:
        for h in head.values():
            h.in_channels = 32
            if 'hidden_channels' in h:
                h.hidden_channels = 32
    return cfg


def prepare(name):
    cfg = load(name)
    return cfg if is_demo(name) else shrink(cfg)


def save_runner_checkpoint(model, path):
    torch.save(
        dict(meta=dict(seed=np.int64(0)), state_dict=model.state_dict(),
             message_hub=dict(log=np.zeros(2))), path)


@pytest.fixture(scope='module')
def stage1_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('stage1')
    files = {}

    def get(name):
        if name not in files:
            torch.manual_seed(0)
            model = MODELS.build(prepare(name).model)
            model.init_weights()
            files[name] = str(root / f'{name}.pth')
            save_runner_checkpoint(model, files[name])
        return files[name]

    return get


def pipeline_batch(cfg, B=2):
    """Synthetic frames/clips through the config's own pipeline (loaders
    dropped, output sizes set to the shrunk model's input size)."""
    H, W = cfg.model.backbone.img_size
    video = is_video(cfg)
    transforms = []
    for t in cfg.train_dataloader.dataset.pipeline:
        t = t.copy()
        if t.type.startswith('Load') or t.type == 'ResizeRGBToDepth':
            continue  # the synthetic samples are already loaded
        if t.type == 'RGBDResize':
            t.scale = (W, H)
        if t.type == 'RGBDRandomResizedCrop':
            t.size = (H, W)
        transforms.append(TRANSFORMS.build(t))
    source = DATASETS.build(
        dict(type='SyntheticRGBDScenes', num_samples=B,
             img_size=(H + 8, W + 16), mode='clip' if video else 'frame',
             num_frames=4))
    samples = []
    for i in range(B):
        results = source[i]
        for t in transforms:
            results = t(results)
        samples.append(results)
    return pseudo_collate(samples)


def dataset_batch(cfg, B=2):
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.num_samples = B
    dataset = DATASETS.build(ds_cfg)
    return pseudo_collate([dataset[i] for i in range(B)])


@pytest.mark.parametrize('name', list(CONFIGS))
def test_one_cpu_training_step(name, stage1_files):
    cfg = prepare(name)
    if CONFIGS[name] is not None:
        cfg.model.stage1_checkpoint = stage1_files(CONFIGS[name])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    data = dataset_batch(cfg) if is_demo(name) else pipeline_batch(cfg)
    trainable = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]
    before = {n: p.detach().clone() for n, p in trainable}
    log = model.train_step(data, optim)
    assert log and all(torch.isfinite(v) for v in log.values()), log
    assert 'loss' in log
    changed = [n for n, p in trainable if not torch.equal(p, before[n])]
    assert any(n.startswith('backbone.') for n in changed)
    if getattr(model, 'teacher', None) is not None:
        assert not model.teacher.training
    expected = {
        'M3MAEStage1': {'loss_patch_nce'},
        'ProgressiveStage1': {'loss_patch_nce'},
        'M3MAE': {'loss_rgb', 'loss_depth'},
        'M3MAEVideo': {'loss_rgb', 'loss_depth', 'loss_patch_nce',
                       'loss_match', 'acc_match'},
        'ProgressiveStage2': {'loss_depth', 'loss_denoise', 'loss_distill'},
    }[cfg.model.type]
    assert expected <= set(log)
