"""The segmentation fine-tuning configs as shipped (issue 11).

Each config runs its own unmodified pipelines on real frames in its dataset's
on-disk layout at the real sizes (ScanNet ``scannet_frames_25k``, the NYUv2
converter layout, SUN RGB-D with the 37-class label PNGs) for one training
step and one validation step with mmseg's ``IoUMetric``. Only the width /
depth of the networks shrinks, to the tiny pre-training demo models whose
export the configs load: the chain pre-training checkpoint -> export ->
``init_cfg`` (and, for Mask3D, the decoder read back from the pre-training
checkpoint) is checked weight by weight, with zero missing keys.
"""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from real_layouts.nyuv2_labeled import build_nyuv2_labeled
from real_layouts.scannet_seg import build_scannet_frames_25k
from real_layouts.sunrgbd_seg import build_sunrgbd_seg
from schedule_curves import lr_curve

from mmrgbd.models.utils.export import export_vit
from mmrgbd.utils import safe_load

REPO = Path(__file__).resolve().parents[2]
DOWNSTREAM = REPO / 'configs' / 'downstream'
#: config: (pre-training demo, export target, dataset, classes, input size)
CONFIGS = {
    'convnext_m3mae-vit-b_scannet20-240x320.py':
    ('m3mae', 'mmseg', 'scannet', 20, (240, 320)),
    'convnext_progressive-vit-b_scannet20-240x320.py':
    ('progressive_stage2', 'mmseg', 'scannet', 20, (240, 320)),
    'convnext_m3mae-vit-b_nyu40-640x640.py':
    ('m3mae', 'mmseg', 'nyu', 40, (640, 640)),
    'convnext_progressive-vit-b_nyu40-640x640.py':
    ('progressive_stage2', 'mmseg', 'nyu', 40, (640, 640)),
    'convnext_progressive-vit-b_sunrgbd37-640x640.py':
    ('progressive_stage2', 'mmseg', 'sunrgbd', 37, (640, 640)),
    'convnext_multimae-vit-b_nyu40-rgb-640x640.py':
    ('multimae', 'mmrgbd', 'nyu', 40, (640, 640)),
    'convnext_multimae-vit-b_nyu40-rgbd-640x640.py':
    ('multimae', 'mmrgbd', 'nyu', 40, (640, 640)),
    'convnext_multimae-vit-b_nyu40-depth-640x640.py':
    ('multimae', 'mmrgbd', 'nyu', 40, (640, 640)),
    'maedec_mask3d-vit-b_scannet20-240x320.py':
    ('mask3d', 'mmseg', 'scannet', 20, (240, 320)),
    'maedec_mask3d-vit-b_nyu13-240x320.py':
    ('mask3d', 'mmseg', 'nyu', 13, (240, 320)),
}
#: the tiny demo encoder, shrunk further for speed (width / depth only)
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
TINY_NECK = dict(in_channels=32, embed_dims=32, num_layers=1, num_heads=2)
_PRETRAINED = {}


def _pretrained(demo, tmp_path_factory):
    """A runner checkpoint of the (shrunk) pre-training demo model of a
    method with random weights, built once per module."""
    if demo not in _PRETRAINED:
        from mmrgbd.registry import MODELS
        from mmrgbd.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        cfg = Config.fromfile(REPO / 'configs' / 'pretrain' /
                              f'{demo}_vit-tiny_synthetic-demo.py')
        m = cfg.model
        m.backbone.arch = dict(TINY)
        if 'neck' in m:
            m.neck.update(TINY_NECK)
        if 'decoders' in m:  # MultiMAE: per-task decoders
            for dec in m.decoders.values():
                dec.update(in_channels=32, embed_dims=32, num_heads=2)
        if 'head' in m and 'contrast' in m.head:
            m.head.contrast.in_channels = 32
        if 'stage1_checkpoint' in m:
            m.stage1_checkpoint = None
        torch.manual_seed(0)
        model = MODELS.build(dict(m, _scope_='mmrgbd'))
        path = tmp_path_factory.mktemp('pretrain') / 'epoch_1.pth'
        torch.save(dict(meta=dict(epoch=1, cfg=cfg.pretty_text),
                        state_dict=model.state_dict()), path)
        _PRETRAINED[demo] = dict(path=str(path), state=model.state_dict())
    return _PRETRAINED[demo]


def _layout(dataset, root, samples_dir):
    """The dataset's real layout; the number of train / val frames."""
    if dataset == 'scannet':
        return build_scannet_frames_25k(root, samples_dir)['data_root'], 4, 2
    if dataset == 'nyu':
        out = build_nyuv2_labeled(root, samples_dir, frame='vainf')
        return out['data_root'], 1, 1
    return build_sunrgbd_seg(root, samples_dir)['data_root'], 2, 1


def _default(arg):
    import inspect

    from mmrgbd.models.backbones import MultiModalViT
    return inspect.signature(MultiModalViT).parameters[arg].default


def _plain(v):
    return list(v) if isinstance(v, (list, tuple)) else v


def _miou_by_hand(pred, gt, num_classes):
    """mmseg's mIoU (in %) over the labelled pixels: the mean IoU of the
    classes in the prediction or the label (others are NaN, skipped)."""
    valid = gt != 255
    ious = []
    for c in range(num_classes):
        p, g = (pred == c) & valid, (gt == c) & valid
        union = (p | g).sum()
        if union:
            ious.append((p & g).sum() / union)
    return 100 * float(np.mean(ious))


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_seg_config_trains_and_validates_on_its_real_layout(
        name, samples_dir, tmp_path, tmp_path_factory):
    from mmseg.registry import DATASETS, MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    demo, target, dataset, K, size = CONFIGS[name]
    pre = _pretrained(demo, tmp_path_factory)
    cfg = Config.fromfile(DOWNSTREAM / name)
    m = cfg.model
    prefix = 'backbone.' if demo.startswith('progressive') else None
    ckpt = tmp_path / 'encoder.pth'
    if target == 'mmrgbd':
        mods = list(m.backbone.in_modalities)
        meta = export_vit(pre['path'], str(ckpt), 'mmrgbd', mods,
                          img_size=size, src_prefix=prefix)
        # what the config sets is what the pre-trained encoder is
        for k, v in meta['backbone_cfg'].items():
            if k not in ('type', 'arch', 'modalities'):
                got = m.backbone[k] if k in m.backbone else _default(k)
                assert _plain(got) == v, k
        m.backbone.arch = dict(meta['backbone_cfg']['arch'], num_heads=2)
    else:
        meta = export_vit(pre['path'], str(ckpt), 'mmseg', img_size=size,
                          src_prefix=prefix)
        for k in ('img_size', 'patch_size', 'in_channels', 'with_cls_token',
                  'final_norm', 'qkv_bias'):
            assert _plain(m.backbone[k]) == meta['backbone_cfg'][k], k
        m.backbone.update(embed_dims=32, num_layers=2, num_heads=2,
                          mlp_ratio=meta['backbone_cfg']['mlp_ratio'])
    assert m.backbone.init_cfg.checkpoint == cfg.get(
        'pretrained', cfg.get('pretrained_rgb'))
    m.backbone.init_cfg.checkpoint = str(ckpt)
    head = m.decode_head
    assert head.num_classes == K
    head.in_channels = 32 * len(m.backbone.get('out_modalities', [0]))
    if head.type == 'mmrgbd.ConvNeXtAdapterHead':
        assert (head.embed_dims, head.preds_per_patch, head.num_blocks) == (
            6144, 16, 4)
        head.update(embed_dims=16 * 8, num_blocks=1)
    else:  # Mask3D: the pre-training decoder, read back from the checkpoint
        assert head.decoder_checkpoint == cfg.pretrained_decoder
        head.decoder.update(embed_dims=32, num_layers=1, num_heads=2)
        head.decoder_checkpoint = pre['path']
    data_root, n_train, n_val = _layout(dataset, tmp_path / 'data',
                                        samples_dir)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = data_root
    with DefaultScope.overwrite_default_scope('mmseg'):
        train_set = DATASETS.build(cfg.train_dataloader.dataset)
        val_set = DATASETS.build(cfg.val_dataloader.dataset)
        assert (len(train_set), len(val_set)) == (n_train, n_val)
        samples = [train_set[i % n_train] for i in range(2)]
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    if head.type == 'mmrgbd.ConvNeXtAdapterHead':
        # layer-wise lr decay over the 2 blocks: embeddings 0.75^3, block i
        # 0.75^(2 - i), the head (and the final norm) 1
        lrs = {g['param_name']: g['lr'] for g in optim.optimizer.param_groups}
        embed = next(k for k in lrs if 'patch_embed.projection.weight' in k)
        block0 = next(k for k in lrs if 'layers.0.' in k)
        assert lrs[embed] == pytest.approx(1e-4 * 0.75**3)
        assert lrs[block0] == pytest.approx(1e-4 * 0.75**2)
        assert lrs['decode_head.proj.weight'] == pytest.approx(1e-4)
    # zero missing keys: the export loads strictly and is what the
    # backbone holds after init_weights
    exported = safe_load(str(ckpt))['state_dict']
    own = model.backbone.state_dict()
    assert set(exported) == set(own)
    for k, v in exported.items():
        assert torch.equal(own[k], v), k
    state = pre['state']
    if target == 'mmrgbd':
        for mod in mods:
            stem = 'encoders.' + mod if 'encoders.' + mod + '.layers.0.ln1.' \
                'weight' in own else 'encoder'
            assert torch.equal(
                own[f'{stem}.layers.1.attn.qkv.weight'],
                state[f'backbone.{stem}.layers.1.attn.qkv.weight'])
    else:
        key = 'layers.1.ffn.layers.1.weight'  # same name in mmseg
        src = next(k for k in state if k.endswith('rgb.' + key)
                   and k.startswith(prefix or 'backbone.'))
        assert torch.equal(own[key], state[src])
    if head.type == 'mmrgbd.MAEDecoderSegHead':
        dec = model.decode_head.decoder.state_dict()
        loaded = [k for k in dec if not k.startswith('heads.')]
        assert len(loaded) > 10
        for k in loaded:
            assert torch.equal(dec[k], state['neck.' + k]), k
    # the shipped pipelines on the real frames
    C = 3 * ('rgb' in m.backbone.get('in_modalities', ['rgb'])) + \
        ('depth' in m.backbone.get('in_modalities', []))
    for s in samples:
        assert s['inputs'].shape[0] == C
        lab = s['data_samples'].gt_sem_seg.data
        assert lab.shape[1:] == s['inputs'].shape[1:]
        vals = set(lab.unique().tolist()) - {255}
        assert vals and max(vals) < K
    if size == (240, 320):
        assert all(s['inputs'].shape[1:] == size for s in samples)
    # one training step: finite CE, (nearly) every parameter moves
    before = [p.detach().clone() for p in model.parameters()]
    log = model.train_step(pseudo_collate(samples), optim)
    assert set(log) == {'loss', 'decode.loss_ce', 'decode.acc_seg'}
    assert math.isfinite(float(log['loss']))
    # CE at init is near chance (ln K): the head starts unbiased
    assert float(log['decode.loss_ce']) == pytest.approx(math.log(K),
                                                         rel=0.5)
    moved = sum(not torch.equal(a, p) for a, p in zip(before,
                                                      model.parameters()))
    assert moved > 0.9 * len(before)
    # one validation step with the config's IoUMetric
    model.eval()
    val = val_set[0]
    with torch.no_grad():
        outputs = model.val_step(pseudo_collate([val]))
    pred = outputs[0].pred_sem_seg.data[0].numpy()
    gt = outputs[0].gt_sem_seg.data[0].numpy()
    assert pred.shape == gt.shape == tuple(outputs[0].ori_shape)
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = val_set.metainfo
    evaluator.process(outputs, pseudo_collate([val]))
    metrics = evaluator.evaluate(1)
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    assert metrics['mIoU'] == pytest.approx(_miou_by_hand(pred, gt, K),
                                            abs=0.006)  # rounded to 0.01


# ------------------------------------------------- the papers' tables
def _lr_curve(cfg, epoch_length, total):
    """The learning rate of each iteration; every scheduler of these
    configs is epoch-based, converted to iterations."""
    assert all(s.get('convert_to_iter_based') for s in cfg.param_scheduler)
    return lr_curve(cfg, epoch_length, total)


#: config: (epochs, GPUs, colour jitter, Gaussian blur, flip, LSJ)
CONVNEXT_TABLES = {
    # M3 3D Table 13
    'convnext_m3mae-vit-b_scannet20-240x320.py': (50, 1, 0, 1, 1, 0),
    'convnext_m3mae-vit-b_nyu40-640x640.py': (200, 4, 1, 0, 0, 0),
    # Progressive Table 14
    'convnext_progressive-vit-b_scannet20-240x320.py': (60, 1, 0, 1, 1, 0),
    'convnext_progressive-vit-b_nyu40-640x640.py': (200, 4, 1, 0, 0, 0),
    'convnext_progressive-vit-b_sunrgbd37-640x640.py': (60, 4, 0, 1, 1, 0),
    # MultiMAE Table 8 (NYUv2): LSJ + colour jitter (App. B.2)
    'convnext_multimae-vit-b_nyu40-rgb-640x640.py': (200, 4, 1, 0, 1, 1),
    'convnext_multimae-vit-b_nyu40-rgbd-640x640.py': (200, 4, 1, 0, 1, 1),
    'convnext_multimae-vit-b_nyu40-depth-640x640.py': (200, 4, 1, 0, 1, 1),
}


@pytest.mark.parametrize('name', sorted(CONVNEXT_TABLES))
def test_convnext_configs_are_the_tables(name):
    """AdamW (0.9, 0.999), lr 1e-4, layer decay 0.75, weight decay 0.05,
    drop path 0.1, batch 8, 1 warm-up epoch from 1e-6 then cosine to 0,
    the table's epochs, size and augmentations."""
    epochs, gpus, jitter, blur, flip, lsj = CONVNEXT_TABLES[name]
    cfg = Config.fromfile(DOWNSTREAM / name)
    size = CONFIGS[name][4]
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', 1e-4, (0.9, 0.999), 0.05)
    assert cfg.optim_wrapper.constructor == \
        'mmrgbd.BackboneLayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.backbone.img_size == size
    assert cfg.model.data_preprocessor.size == size
    # checkpoints that tools/test.py loads weights-only (best by mIoU)
    ckpt = cfg.default_hooks.checkpoint
    assert (ckpt.type, ckpt.save_best) == ('mmrgbd.CheckpointHook', 'mIoU')
    assert cfg.train_dataloader.batch_size * gpus == 8
    assert cfg.train_cfg.max_epochs == epochs
    types = [t.type for t in cfg.train_pipeline]
    jitters = [t for t in cfg.train_pipeline if t.type == 'RandomApply']
    assert len(jitters) == jitter
    if jitter:  # MultiMAE App. B.2's parameters, p 0.5
        j = jitters[0]
        assert j.prob == 0.5
        assert (j.transforms[0].brightness, j.transforms[0].contrast,
                j.transforms[0].saturation, j.transforms[0].hue) == (
                    0.4, 0.4, 0.2, 0.1)
    assert ('mmpretrain.GaussianBlur' in types) == bool(blur)
    assert ('RandomFlip' in types) == bool(flip)
    assert ('RandomResize' in types) == bool(lsj)
    if lsj:
        r = cfg.train_pipeline[types.index('RandomResize')]
        assert (r.scale, r.ratio_range) == (size, (0.1, 2.0))
    # resize-pad evaluation (MultiMAE App. B.2) / exact 240x320
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    assert test['Resize'].scale in (size, size[::-1])
    lrs = _lr_curve(cfg, epoch_length=10, total=10 * epochs)
    assert lrs[0] == pytest.approx(1e-6)
    assert lrs[10] == pytest.approx(1e-4)
    assert lrs[-1] < 1e-4 * 1e-3
    mid = 10 + (10 * (epochs - 1)) // 2
    assert lrs[mid] == pytest.approx(0.5e-4, rel=0.02)


@pytest.mark.parametrize('name', ['maedec_mask3d-vit-b_scannet20-240x320.py',
                                  'maedec_mask3d-vit-b_nyu13-240x320.py'])
def test_mask3d_configs_are_the_paper(name):
    """Mask3D Sec. 4.1: batch 8 (1 GPU), 80 epochs, lr 0.01, poly 0.9,
    240x320, the pre-training decoder (8 blocks, 512-d, 16 heads)."""
    cfg = Config.fromfile(DOWNSTREAM / name)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum) == ('SGD', 0.01, 0.9)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_cfg.max_epochs == 80
    assert cfg.default_hooks.checkpoint.type == 'mmrgbd.CheckpointHook'
    (poly, ) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.end) == ('PolyLR', 0.9, 80)
    pre = Config.fromfile(REPO / 'configs' / '_base_' / 'models' /
                          'mask3d_vit-b.py').model.neck
    dec = cfg.model.decode_head.decoder
    for k in ('type', 'embed_dims', 'num_layers', 'num_heads', 'mlp_ratio'):
        assert dec[k] == pre[k], k
    assert cfg.model.decode_head.in_channels == pre.in_channels
    lrs = _lr_curve(cfg, epoch_length=10, total=800)
    assert lrs[0] == pytest.approx(0.01)
    # mmengine's PolyLR reaches 0 at the last iteration (T - 1 = 799)
    assert lrs[400] == pytest.approx(0.01 * (1 - 400 / 799)**0.9, rel=1e-6)
    assert lrs[799] == 0.
