"""M3 3D and Progressive configs: the papers' numbers, the pipelines
(inherited, never copied; every transform registered), stage-1 checkpoint
wiring, contrast pairs in every video clip, and one CPU training step per
config -- image configs on their dataset's real on-disk layout through their
own unmodified pipeline, video configs on synthetic clips through their
pipeline after the file loader (tiny ViTs)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from real_layouts.imagenet_pseudo import build_imagenet_pseudo_list
from real_layouts.scannet import build_scannet_frames
from real_layouts.sunrgbd import build_sunrgbd

from mmrgbd.models.algorithms import Stage1CheckpointError
from mmrgbd.models.losses.patch_infonce import both_visible
from mmrgbd.registry import DATASETS, MODELS, TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = osp.join(ROOT, 'configs', 'pretrain')

#: config -> its stage-1 config (None: one-stage / stage 1 itself)
CONFIGS = {
    'm3mae_stage1_scannet': None,
    'm3mae_scannet': 'm3mae_stage1_scannet',
    'm3mae_video_ucf101': None,
    'm3mae_video_ucf101_scratch-800e': None,
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
VIDEO = [n for n in CONFIGS if 'video' in n]
TINY_ARCH = dict(
    embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64)

#: the papers' base learning rates (per 256 samples): M3 3D Tables 9 and 12,
#: Progressive Sec. 7.1 and Table 13
PAPER_BASE_LR = {
    'm3mae_stage1_scannet': 1e-4,
    'm3mae_scannet': 1e-4,
    'm3mae_video_ucf101': 1e-3,
    'm3mae_video_ucf101_scratch-800e': 1e-3,
    'm3mae_video_orar': 1e-4,
    'progressive_stage1_in1k': 1.5e-4,
    'progressive_stage2_scannet': 1e-4,
    'progressive_stage2_sunrgbd': 1e-4,
}


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
# the numbers of the papers
# --------------------------------------------------------------------- #
def test_m3mae_image_configs():
    s1, s2 = load('m3mae_stage1_scannet'), load('m3mae_scannet')
    m = s1.model
    assert m.type == 'M3MAEStage1' and m.masker is None
    # Eq. 3: the L2-normalised encoder features, RGB anchors only
    assert m.head.type == 'PatchContrastHead' and m.head.num_layers == 0
    assert m.head.loss.type == 'PatchInfoNCELoss'
    assert (m.head.loss.negatives, m.head.loss.symmetric) == ('image', False)
    assert m.with_pos_embed is False  # no position shortcut (README)
    assert m.backbone.shared_encoder is False  # the config switch
    # the RGB encoder starts from self-supervised ImageNet MAE (Sec. 4.1)
    init = m.backbone.modalities.rgb.init_cfg
    assert init == dict(type='Pretrained',
                        checkpoint='checkpoints/mae_vit-b_in1k_mmrgbd.pth')
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
    assert (opt.type, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', (0.9, 0.95), 0.05)
    assert [s.type for s in s2.param_scheduler] == ['CosineAnnealingLR']
    assert s2.train_cfg.max_epochs == 100
    for cfg in (s1, s2):
        # Table 12 augmentation; depth standardised per image as MultiMAE
        assert {'RGBGaussianBlur', 'RGBColorJitter'} <= set(
            pipeline_types(cfg))
        norm = [t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'NormalizeDepth']
        assert [(t['mode'], t['trunc']) for t in norm] == [('robust', 0.1)]


def test_m3mae_video_configs():
    ucf, orar = load('m3mae_video_ucf101'), load('m3mae_video_orar')
    scratch = load('m3mae_video_ucf101_scratch-800e')
    m = ucf.model
    for mod in ('rgb', 'depth'):
        stem = m.backbone.modalities[mod]
        assert (stem.type, stem.tubelet_size, stem.num_frames) == (
            'TubeletPatchEmbed', 2, 16)
    assert m.backbone.arch == 'b' and m.backbone.patch_size == 16
    assert m.backbone.pos_embed_order == 'videomae'
    assert (m.neck.num_layers, m.neck.embed_dims, m.neck.num_heads) == (4, 384,
                                                                        6)
    assert dict(m.neck.heads) == dict(rgb=2 * 16 * 16 * 3, depth=2 * 16 * 16)
    # Table 11: RGB SurgMAE-style 0.9; depth shares RGB's positions
    assert m.masker.type == 'SharedPositionsMasker'
    assert dict(m.masker.shared) == dict(depth='rgb')
    assert m.masker.masker.type == 'InformationWeightedMasker'
    assert dict(m.masker.masker.mask_ratios) == dict(rgb=0.9)
    assert dict(m.loss_weights) == dict(rgb=1.0, depth=0.1, contrast=0.01,
                                        match=0.01)
    assert m.losses.depth.loss_type == 'mse'
    assert m.head.match.fusion is not None  # the pair tokens interact
    assert m.head.contrast.num_layers == 0
    assert m.head.contrast.loss.symmetric is False
    ds = ucf.train_dataloader.dataset
    assert (ds.num_frames, ds.frame_interval) == (16, 4)
    assert ds.clip_stride is None  # one random clip per video and epoch
    opt = optimizer(ucf)
    assert (opt.type, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', (0.9, 0.95), 0.05)
    warm, cos = ucf.param_scheduler
    assert (warm.type, warm.end) == ('LinearLR', 40)
    assert (cos.type, cos.begin, cos.end) == ('CosineAnnealingLR', 40, 100)
    # 100 epochs from self-supervised K400 VideoMAE weights; 800 from scratch
    assert ucf.train_cfg.max_epochs == 100
    for cfg in (ucf, orar):
        for mod, name in (('rgb', 'rgb'), ('depth', 'depth')):
            init = cfg.model.backbone.modalities[mod].init_cfg
            assert init == dict(
                type='Pretrained',
                checkpoint=f'checkpoints/videomae_vit-b_k400_{name}.pth')
    assert scratch.model.masker == ucf.model.masker
    assert scratch.train_cfg.max_epochs == 800
    assert scratch.param_scheduler[1].end == 800
    assert scratch.param_scheduler[1].T_max == 760
    for mod in ('rgb', 'depth'):
        assert scratch.model.backbone.modalities[mod].init_cfg is None

    m = orar.model
    assert m.masker.type == 'SharedPositionsMasker'
    assert m.masker.masker == dict(type='TubeMasker',
                                   mask_ratios=dict(rgb=0.9))
    assert dict(m.loss_weights) == dict(rgb=1.0, depth=0.5, contrast=0.2,
                                        match=0.1)
    assert orar.optim_wrapper.clip_grad.max_norm == 0.02
    assert orar.train_cfg.max_epochs == 1600
    assert orar.param_scheduler[0].end == 40  # Table 9 warm-up
    assert orar.param_scheduler[1].end == 1600


def test_progressive_configs():
    s1 = load('progressive_stage1_in1k')
    m = s1.model
    assert m.type == 'ProgressiveStage1'
    assert m.backbone.shared_encoder is False
    assert m.head.num_layers == 0 and m.head.loss.symmetric is True  # Eq. 1
    assert m.with_pos_embed is False
    assert 'init_cfg' not in m.backbone.modalities.rgb  # from scratch
    assert s1.train_dataloader.dataset.type == 'RGBDListDataset'
    loader = s1.train_dataloader.dataset.pipeline[0]
    assert (loader.type, loader.depth_unit, loader.with_semseg) == (
        'LoadRGBDFromFiles', 'mm', False)  # RGB + pseudo depth only
    assert s1.train_cfg.max_epochs == 300
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
        assert m.teacher_view == 'visible'
        assert m.stage1_with_pos_embed == s1.model.with_pos_embed
        # sigma_max is stated in robust-normalised depth units
        norm = [t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'NormalizeDepth']
        assert [t['mode'] for t in norm] == ['robust']
        opt = optimizer(cfg)
        assert (opt.type, tuple(opt.betas), opt.weight_decay) == (
            'AdamW', (0.9, 0.95), 0.05)
        assert [s.type for s in cfg.param_scheduler] == ['CosineAnnealingLR']
        assert cfg.train_cfg.max_epochs == epochs
        assert {'RGBGaussianBlur', 'RGBColorJitter'} <= set(
            pipeline_types(cfg))
    assert load('progressive_stage2_sunrgbd').train_dataloader.dataset.\
        ann_file == 'sunrgbd_train.txt'  # the official train split


@pytest.mark.parametrize('name', list(PAPER_BASE_LR))
def test_learning_rates_follow_the_per_256_base_lr(name):
    """lr = base lr x total batch / 256 (MAE / VideoMAE convention) and
    auto_scale_lr names that total batch (8 GPUs x batch per GPU)."""
    cfg = load(name)
    total = cfg.auto_scale_lr.base_batch_size
    assert total == 8 * cfg.train_dataloader.batch_size
    assert optimizer(cfg).lr * 256 / total == pytest.approx(
        PAPER_BASE_LR[name], rel=1e-9)


# --------------------------------------------------------------------- #
# pipelines: inherited, registered, not copied
# --------------------------------------------------------------------- #
@pytest.mark.parametrize('name', list(CONFIGS))
def test_every_transform_is_registered(name):
    cfg = load(name)
    for t in cfg.train_dataloader.dataset.pipeline:
        assert TRANSFORMS.get(t['type']) is not None, (name, t['type'])
        TRANSFORMS.build(t)


SCANNET = ['m3mae_stage1_scannet', 'm3mae_scannet',
           'progressive_stage2_scannet']


def test_scannet_recipes_inherit_one_pipeline():
    base = Config.fromfile(osp.join(
        ROOT, 'configs', '_base_', 'datasets', 'scannet_frames.py'))
    aug = Config.fromfile(osp.join(
        ROOT, 'configs', '_base_', 'datasets',
        'scannet_frames_rgb-jitter-blur_robust-depth.py'))
    expected = (base.scannet_loading + aug.rgb_jitter_blur +
                aug.robust_depth_normalization + base.scannet_packing)
    assert [t['type'] for t in expected][0] == 'LoadScanNetFrame'
    for name in SCANNET:
        cfg = load(name)
        assert cfg.train_dataloader.dataset.pipeline == expected
        assert cfg.train_dataloader.dataset.type == 'ScanNetFrames'
        text = open(osp.join(PRETRAIN, name + '.py')).read()
        assert 'pipeline' not in text, f'{name} repeats a pipeline'
    # Mask3D keeps its own (metric depth, no colour augmentation)
    mask3d = Config.fromfile(osp.join(PRETRAIN, 'mask3d_vit-b_scannet.py'))
    assert [t['type'] for t in mask3d.train_dataloader.dataset.pipeline] == [
        'LoadScanNetFrame', 'RGBDResize', 'RGBDRandomFlip', 'NormalizeDepth',
        'PackRGBDInputs'
    ]


# --------------------------------------------------------------------- #
# the video contrast has pairs in every clip
# --------------------------------------------------------------------- #
@pytest.mark.parametrize(
    'name', [n for n in VIDEO if n != 'm3mae_video_ucf101_scratch-800e'])
def test_no_clip_of_a_video_config_lacks_contrast_pairs(name):
    """Positions visible in both modalities for 100 clips at the config's
    token grid (independent 90 % tube masks leave none in ~10 % of the
    clips; shared positions make every visible position a pair)."""
    cfg = load(name)
    bb = cfg.model.backbone
    stem = bb.modalities.rgb
    H, W = bb.img_size
    grid = (stem.num_frames // stem.tubelet_size, H // bb.patch_size,
            W // bb.patch_size)
    masker = MODELS.build(cfg.model.masker)
    g = torch.Generator().manual_seed(0)
    grids = dict(rgb=grid, depth=grid)
    n = grid[0] * grid[1] * grid[2]
    pairs, visible = [], []
    for _ in range(10):  # 10 x 10 clips
        clips = {
            m: torch.randn(10, c, stem.num_frames, H // 8, W // 8,
                           generator=g).repeat_interleave(
                               8, dim=3).repeat_interleave(8, dim=4)
            for m, c in (('rgb', 3), ('depth', 1))
        }  # (10, C, T, H, W), content varies at 8-pixel scale
        with masker.conditioned_on(clips):
            vis = masker(10, grids, generator=g)
        pairs.append(both_visible(vis['rgb'], vis['depth']).sum(1))
        visible.append(vis['rgb'].sum(1))
    pairs, visible = torch.cat(pairs), torch.cat(visible)  # (100,)
    assert int(pairs.min()) > 0
    assert torch.equal(pairs, visible)
    assert abs(int(visible[0]) / n - 0.1) < 0.01  # 90 % hidden


# --------------------------------------------------------------------- #
# stage-1 checkpoint wiring
# --------------------------------------------------------------------- #
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
    """Tiny ViT (the real-data configs use ViT-B); video clips smaller."""
    m = cfg.model
    m.backbone.arch = TINY_ARCH
    if is_video(cfg):
        m.backbone.img_size = (48, 48)
        for mod in m.backbone.modalities.values():
            mod.num_frames = 4
    if m.get('neck'):
        m.neck.update(in_channels=32, embed_dims=32, num_layers=1,
                      num_heads=2)
    head = m.get('head')
    if head and 'type' in head:
        head.update(in_channels=32)
    elif head:
        for h in head.values():
            h.in_channels = 32
            if h.get('fusion'):
                h.fusion.num_heads = 2
    return cfg


def prepare(name):
    cfg = load(name)
    return cfg if is_demo(name) else shrink(cfg)


def save_runner_checkpoint(model, path):
    torch.save(
        dict(meta=dict(seed=np.int64(0)), state_dict=model.state_dict(),
             message_hub=dict(log=np.zeros(2))), path)


def point_pretrained_inits_at(cfg, folder):
    """Write encoder weights in the key layout the configs' ``Pretrained``
    files have (a converted MAE / VideoMAE file of the shrunk arch) and
    point the configs' init_cfg at them."""
    mods = cfg.model.backbone.modalities
    wanted = {m: c.init_cfg for m, c in mods.items()
              if c.get('init_cfg') and c.init_cfg.type == 'Pretrained'}
    if not wanted:
        return {}
    bb = dict(cfg.model.backbone)
    bb['modalities'] = {m: {k: v for k, v in c.items() if k != 'init_cfg'}
                        for m, c in mods.items()}
    torch.manual_seed(1)
    source = MODELS.build(bb)
    for m, init in wanted.items():
        path = osp.join(folder, f'{m}_pretrained.pth')
        torch.save({'state_dict': source.encoders[m].state_dict()}, path)
        init.checkpoint = path
    return {m: i.checkpoint for m, i in wanted.items()}


@pytest.fixture(scope='module')
def stage1_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('stage1')
    files = {}

    def get(name):
        if name not in files:
            cfg = prepare(name)
            point_pretrained_inits_at(cfg, str(root))
            torch.manual_seed(0)
            model = MODELS.build(cfg.model)
            model.init_weights()
            files[name] = str(root / f'{name}.pth')
            save_runner_checkpoint(model, files[name])
        return files[name]

    return get


@pytest.fixture(scope='module')
def real_layouts(tmp_path_factory, samples_dir):
    """The datasets' on-disk layouts at real sizes (real frames)."""
    root = tmp_path_factory.mktemp('layouts')
    scannet = build_scannet_frames(root / 'scannet', samples_dir)
    imagenet = build_imagenet_pseudo_list(root / 'imagenet', samples_dir)
    sun = build_sunrgbd(root / 'SUNRGBD', samples_dir)
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location(
        'sunrgbd_infos',
        osp.join(ROOT, 'tools', 'dataset_converters', 'sunrgbd_infos.py'))
    infos = module_from_spec(spec)
    spec.loader.exec_module(infos)
    infos.main([sun['data_root'],
                osp.join(sun['data_root'], 'sunrgbd_train.txt'),
                '--split-file', sun['train_split']])
    return dict(ScanNetFrames=dict(data_root=scannet['data_root'],
                                   scene_list=scannet['scene_list']),
                RGBDListDataset=dict(data_root=imagenet['data_root'],
                                     ann_file=imagenet['ann_file']),
                SUNRGBDDataset=dict(data_root=sun['data_root']),
                sun=sun)


def real_batch(cfg, paths, B=2):
    """B samples of the config's dataset on the real layout, through the
    config's own pipeline (only the data paths are changed)."""
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.update(paths[ds_cfg.type])
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) >= B
    return pseudo_collate([dataset[i] for i in range(B)])


def clip_batch(cfg, B=2):
    """Synthetic clips through the config's pipeline after LoadRGBDClip
    (the clips are already arrays); the crop size is the shrunk input."""
    H, W = cfg.model.backbone.img_size
    T = cfg.model.backbone.modalities.rgb.num_frames
    transforms = []
    for t in cfg.train_dataloader.dataset.pipeline:
        t = t.copy()
        if t.type == 'LoadRGBDClip':
            continue
        if t.type == 'RGBDRandomResizedCrop':
            t.size = (H, W)
        transforms.append(TRANSFORMS.build(t))
    assert [t.type for t in cfg.train_dataloader.dataset.pipeline][0] == \
        'LoadRGBDClip'
    source = DATASETS.build(
        dict(type='SyntheticRGBDScenes', num_samples=B,
             img_size=(H + 8, W + 16), mode='clip', num_frames=T))
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
def test_one_cpu_training_step(name, stage1_files, real_layouts, tmp_path):
    cfg = prepare(name)
    pretrained = point_pretrained_inits_at(cfg, str(tmp_path))
    if CONFIGS[name] is not None:
        cfg.model.stage1_checkpoint = stage1_files(CONFIGS[name])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for m, path in pretrained.items():  # ImageNet MAE / K400 VideoMAE init
        ref = torch.load(path, weights_only=True)['state_dict']
        got = model.backbone.encoders[m].state_dict()
        for k in ('layers.0.attn.qkv.weight', 'patch_embed.projection.weight'):
            assert torch.equal(got[k], ref[k]), (m, k)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    if is_demo(name):
        data = dataset_batch(cfg)
    elif is_video(cfg):
        data = clip_batch(cfg)
    else:
        data = real_batch(cfg, real_layouts)
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


def test_sunrgbd_pretraining_never_draws_a_test_frame(real_layouts):
    """The SUN RGB-D config reads the official train split only."""
    cfg = load('progressive_stage2_sunrgbd')
    sun = real_layouts['sun']
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.update(real_layouts['SUNRGBDDataset'])
    dataset = DATASETS.build(ds_cfg)
    drawn = {dataset.get_data_info(i)['sample_dir']
             for i in range(len(dataset))}
    assert drawn == set(sun['train_dirs'].split(','))
    assert not drawn & set(sun['test_dirs'].split(','))
    sample = dataset[0]
    assert sample['inputs']['rgb'].shape == (3, 240, 320)
