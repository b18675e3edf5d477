"""The depth and ImageNet downstream configs as shipped.

Each config's hyper-parameters are checked against its paper table, and each
runs its own unmodified pipelines on real frames in the dataset's on-disk
layout at the real sizes (NYUv2 640x480 in mmseg's NYU layout, KITTI
1224x370 / 1242x375 in the Eigen-split layout, ImageNet JPEGs in
mmpretrain's layout) for one training step and one test step with the
config's evaluator. Only the width / depth of the networks shrinks, to the
tiny pre-training demo encoders whose export the configs load (the chain
pre-training checkpoint -> export -> init_cfg is checked weight by weight).
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
from real_layouts.imagenet import build_imagenet
from real_layouts.kitti_depth import build_kitti_depth
from real_layouts.nyu_depth_mmseg import build_nyu_depth_mmseg
from schedule_curves import lr_curve

from mmrgbd.evaluation import DepthEstimationMetric
from mmrgbd.models.utils.export import ExportError, export_vit

REPO = Path(__file__).resolve().parents[2]
DOWNSTREAM = REPO / 'configs' / 'downstream'
NYU_CONFIGS = {
    # config: (pre-training demo config, encoder prefix, global token)
    'dpt_multimae-vit-b_nyu-depth-256x256.py':
    ('multimae_vit-tiny_synthetic-demo.py', 'backbone.encoder.', True),
    'dpt_m3mae-vit-b_nyu-depth-256x256.py':
    ('m3mae_vit-tiny_synthetic-demo.py', 'backbone.encoders.rgb.', False),
    'dpt_progressive-vit-b_nyu-depth-256x256.py':
    ('progressive_stage2_vit-tiny_synthetic-demo.py',
     'backbone.encoders.rgb.', False),
}
KITTI_CONFIG = 'densedepth_simipu-r50_kitti-eigen-352x704.py'
IN1K_CONFIG = 'vit-b-p16_multimae-pre_8xb128-coslr-100e_in1k.py'


# --------------------------------------------------- hyper-parameters
@pytest.mark.parametrize('name', sorted(NYU_CONFIGS))
def test_nyu_depth_configs_are_the_tables(name):
    """MultiMAE Table 9 = M3 3D Table 14 = Progressive Table 12."""
    cfg = Config.fromfile(DOWNSTREAM / name)
    assert cfg.custom_imports.imports == ['mmrgbd']
    m = cfg.model
    assert m.type == 'DepthEstimator'
    assert m.backbone.type == 'mmpretrain.VisionTransformer'
    assert m.backbone.out_indices == (2, 5, 8, 11)  # layers 3, 6, 9, 12
    assert m.backbone.final_norm is False
    assert m.backbone.drop_path_rate == 0.  # Table 9: no drop path
    assert m.backbone.with_cls_token is NYU_CONFIGS[name][2]
    assert m.backbone.init_cfg.prefix == 'backbone.'
    assert m.backbone.init_cfg.checkpoint == cfg.pretrained_rgb
    assert m.decode_head.type == 'mmrgbd.DPTHead'
    assert m.decode_head.loss_decode.type == 'mmrgbd.BerHuLoss'
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', 1e-4, (0.9, 0.999), 1e-4)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75
    assert cfg.train_dataloader.batch_size * 2 == 128  # 2 GPUs
    assert cfg.train_cfg.max_epochs == 2000
    train = {t.type: t for t in cfg.train_pipeline}
    assert train['RandomCrop'].crop_size == (256, 256)
    assert train['ResizeShortestEdge'].scale == 256  # 640x480 -> 341x256
    jitter = train['RandomApply']
    assert jitter.prob == 0.5
    assert dict(jitter.transforms[0]) == dict(
        type='mmpretrain.ColorJitter', brightness=0.1255, contrast=0.4,
        saturation=(0.5, 1.5), hue=0.2)
    assert train['RandomGrayscale'].prob == 0.3
    assert cfg.test_evaluator.crop_type == 'multimae_nyu'
    # 100 warm-up epochs from 1e-6, cosine to 0 at epoch 2000
    base = Config.fromfile(DOWNSTREAM / sorted(NYU_CONFIGS)[0])
    assert cfg.param_scheduler == base.param_scheduler
    if name != sorted(NYU_CONFIGS)[0]:
        return
    lrs = lr_curve(cfg, epoch_length=1, total=2000)
    assert lrs[0] == pytest.approx(1e-6)
    assert lrs[100] == pytest.approx(1e-4)
    assert lrs[100 + 950] == pytest.approx(0.5e-4, rel=1e-3)
    assert lrs[-1] < 1e-9


def test_simipu_kitti_config_is_the_papers_baseline():
    cfg = Config.fromfile(DOWNSTREAM / KITTI_CONFIG)
    m = cfg.model
    assert m.backbone.type == 'mmrgbd.StemOutputResNet'
    assert (m.backbone.depth, m.backbone.style) == (50, 'pytorch')
    loss = m.decode_head.loss_decode
    assert (loss.type, loss.lambda_, loss.alpha) == (
        'mmrgbd.ScaleInvariantLogLoss', 0.85, 10.)  # App. C
    assert m.init_cfg.checkpoint == cfg.simipu_checkpoint
    opt = cfg.optim_wrapper.optimizer
    assert (opt.lr, tuple(opt.betas), opt.weight_decay) == (
        1e-4, (0.95, 0.99), 0.01)
    # the toolbox's clip of 35 at alpha = 1 is 350 at alpha = 10
    assert cfg.optim_wrapper.clip_grad.max_norm == 35 * loss.alpha
    assert cfg.train_cfg.max_epochs == 24
    lrs = lr_curve(cfg, epoch_length=10, total=240)
    assert lrs[0] == pytest.approx(1e-4 / 25)
    assert max(lrs) == pytest.approx(1e-4, rel=1e-3)
    assert np.argmax(lrs) == pytest.approx(0.3 * 240, abs=1)
    assert lrs[-1] == pytest.approx(1e-4 / 25 / 100, rel=0.05)
    ev = cfg.test_evaluator
    assert (ev.crop_type, ev.max_depth_eval) == ('garg_kitti', 80.)


def test_in1k_config_is_multimae_table_6():
    cfg = Config.fromfile(DOWNSTREAM / IN1K_CONFIG)
    opt = cfg.optim_wrapper.optimizer
    assert opt.lr == pytest.approx(5e-4 * 1024 / 256)
    assert (tuple(opt.betas), opt.weight_decay) == ((0.9, 0.999), 0.05)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    assert cfg.train_dataloader.batch_size * 8 == 1024
    assert cfg.train_cfg.max_epochs == 100
    m = cfg.model
    assert m.backbone.drop_path_rate == 0.1
    assert m.backbone.with_cls_token is True
    assert m.backbone.out_type == 'avg_featmap'  # mean pool + LayerNorm
    assert m.head.loss.label_smooth_val == 0.1
    assert [(a.type, a.alpha) for a in m.train_cfg.augments] == [
        ('Mixup', 0.8), ('CutMix', 1.0)]
    train = [t.type for t in cfg.train_pipeline]
    assert 'RandomErasing' not in train  # MultiMAE: reprob 0
    ra = cfg.train_pipeline[train.index('RandAugment')]
    assert (ra.magnitude_level, ra.magnitude_std) == (9, 0.5)
    lrs = lr_curve(cfg, epoch_length=4, total=400)
    assert lrs[0] == pytest.approx(1e-6)  # warm-up from 1e-6
    assert lrs[20] == pytest.approx(2e-3)
    assert lrs[-1] == pytest.approx(1e-6, rel=0.05)


# ----------------------------------------------- pre-training exports
_EXPORTS = {}


def _pretrained(demo, tmp_path_factory):
    """A runner checkpoint of the tiny pre-training demo model (random
    weights) of a method, built once."""
    if demo not in _EXPORTS:
        from mmrgbd.registry import MODELS
        from mmrgbd.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        cfg = Config.fromfile(REPO / 'configs' / 'pretrain' / demo)
        if 'stage1_checkpoint' in cfg.model:
            cfg.model.stage1_checkpoint = None
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, _scope_='mmrgbd'))
        path = tmp_path_factory.mktemp('pretrain') / 'epoch_1.pth'
        torch.save(dict(meta=dict(epoch=1, cfg=cfg.pretty_text),
                        state_dict=model.state_dict()), path)
        _EXPORTS[demo] = dict(path=str(path), state=model.state_dict(),
                              heads=cfg.model.backbone.arch.num_heads)
    return _EXPORTS[demo]


def _export(demo, tmp_path, img_size):
    pre = _pretrained(demo, _export.factory)
    dst = tmp_path / 'rgb_mmpretrain.pth'
    prefix = 'backbone.' if 'progressive' in demo else None
    meta = export_vit(pre['path'], str(dst), 'mmpretrain', img_size=img_size,
                      src_prefix=prefix)
    arch = dict(meta['backbone_cfg']['arch'])
    assert arch['num_heads'] == pre['heads']  # read from the checkpoint
    return pre, str(dst), arch


@pytest.fixture(autouse=True)
def _factory(tmp_path_factory):
    _export.factory = tmp_path_factory


def _same(a, b):
    assert torch.equal(a.detach().cpu(), b.detach().cpu())


def _build(cfg, scope, data_root, num_train):
    """What the runner builds from the config in its default scope: the
    train / test datasets (``data_root`` replaced), the model with its
    ``init_weights`` and the optimiser wrapper."""
    import importlib
    registry = importlib.import_module(f'{scope}.registry')
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = data_root
    with DefaultScope.overwrite_default_scope(scope):
        train_set = registry.DATASETS.build(cfg.train_dataloader.dataset)
        test_set = registry.DATASETS.build(cfg.test_dataloader.dataset)
        assert (len(train_set), len(test_set)) == (num_train, 1)
        samples = [train_set[i] for i in range(num_train)]
        model = registry.MODELS.build(cfg.model)
        model.init_weights()
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    return samples, test_set[0], model, optim


def _train_and_test(model, cfg, train_samples, test_sample, optim):
    before = [p.detach().clone() for p in model.parameters()]
    log = model.train_step(pseudo_collate(train_samples), optim)
    loss = {k: float(torch.as_tensor(v).detach()) for k, v in log.items()}
    assert all(math.isfinite(v) for v in loss.values())
    changed = sum(not torch.equal(a, p)
                  for a, p in zip(before, model.parameters()))
    assert changed > 0.9 * len(before)
    model.eval()
    with torch.no_grad():
        outputs = model.test_step(pseudo_collate([test_sample]))
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.process(outputs, pseudo_collate([test_sample]))
    return loss, outputs, evaluator.evaluate(1)


# ------------------------------------------------------- NYUv2 depth
@pytest.mark.parametrize('name', sorted(NYU_CONFIGS))
def test_nyu_depth_config_trains_and_tests_on_real_nyu(name, samples_dir,
                                                       tmp_path):
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    demo, enc_prefix, global_token = NYU_CONFIGS[name]
    if 'progressive' in name:  # student and teacher: say which
        pre = _pretrained(demo, _export.factory)
        with pytest.raises(ExportError, match='several prefixes'):
            export_vit(pre['path'], str(tmp_path / 'x.pth'), 'mmpretrain')
    pre, ckpt, arch = _export(demo, tmp_path, 256)
    layout = build_nyu_depth_mmseg(tmp_path / 'data', samples_dir)
    cfg = Config.fromfile(DOWNSTREAM / name)
    m = cfg.model
    C, L = arch['embed_dims'], arch['num_layers']
    m.backbone.update(arch=arch, out_indices=tuple(range(L)))  # 4 layers
    m.backbone.init_cfg.checkpoint = ckpt
    m.decode_head.update(in_channels=C, channels=32,
                         post_process_channels=[C // 8, C // 4, C // 2, C])
    samples, test_sample, model, optim = _build(cfg, 'mmseg',
                                                layout['data_root'], 2)
    # the export of the pre-trained RGB encoder is in the backbone
    state = pre['state']
    _same(model.backbone.layers[1].attn.qkv.weight,
          state[enc_prefix + 'layers.1.attn.qkv.weight'])
    _same(model.backbone.layers[L - 1].ffn.layers[1].weight,
          state[enc_prefix + f'layers.{L - 1}.ffn.layers.1.weight'])
    assert (model.backbone.cls_token is not None) is global_token
    # the shipped pipelines on the real 640x480 frames
    assert samples[0]['inputs'].shape == (3, 256, 256)
    depth = samples[0]['data_samples'].gt_depth_map.data
    assert depth.shape == (1, 256, 256) and float(depth.max()) < 10.
    assert test_sample['inputs'].shape == (3, 256, 341)
    loss, outputs, metrics = _train_and_test(model, cfg, samples,
                                             test_sample, optim)
    assert set(loss) == {'loss', 'decode.loss_berhu'}
    pred = outputs[0].pred_depth_map.data
    assert pred.shape == (1, 480, 640)  # the ground truth's size
    # the test image was padded to 256 x 352; the padding is cut off
    # before the prediction is resized to 640 x 480
    assert tuple(outputs[0].metainfo['img_padding_size']) == (0, 11, 0, 0)
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([test_sample]))
        raw = model.encode_decode(data['inputs'],
                                  [outputs[0].metainfo])[..., :341]
    ref = torch.nn.functional.interpolate(raw, size=(480, 640),
                                          mode='bilinear')
    assert torch.allclose(pred, ref[0], atol=1e-5)
    gt = torch.from_numpy(layout['depth_mm'].astype(np.float32) / 1000.)
    assert torch.allclose(outputs[0].gt_depth_map.data[0], gt)
    assert set(metrics) == set(DepthEstimationMetric.METRICS)
    assert all(math.isfinite(v) for v in metrics.values())
    # the metric by hand over MultiMAE's central region (columns 80:560)
    region = np.zeros((480, 640), bool)
    region[:, 80:560] = True
    valid = region & (gt.numpy() > 1e-3) & (gt.numpy() < 10.)
    p = np.clip(pred[0].numpy()[valid], 1e-3, 10.)
    g = gt.numpy()[valid]
    ratio = np.maximum(p / g, g / p)
    # up to 2 pixels may sit on the 1.25 boundary differently in the
    # metric's float64 and this float32 ratio (seen once: 0.2005637 vs
    # 0.2005686, one pixel of 204k)
    assert metrics['d1'] == pytest.approx((ratio < 1.25).mean(),
                                          abs=2.5 / valid.sum())
    assert metrics['rmse'] == pytest.approx(
        math.sqrt(((p - g)**2).mean()), rel=1e-5)


# ------------------------------------------------------ KITTI depth
def test_simipu_kitti_config_trains_and_tests_on_real_kitti(samples_dir,
                                                            tmp_path):
    from mmdet.models.backbones import ResNet
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'simipu2mmdet3d',
        REPO / 'tools' / 'model_converters' / 'simipu2mmdet3d.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    # a SimIPU checkpoint whose image encoder is a shrunk ResNet (18 layers,
    # 16 base channels, BN eps / momentum as pre-trained)
    small = dict(depth=18, base_channels=16, stem_channels=16)
    torch.manual_seed(0)
    encoder = ResNet(**small, norm_cfg=dict(type='BN', eps=1e-3,
                                            momentum=0.01))
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    src = tmp_path / 'simipu_epoch_1.pth'
    torch.save(dict(state_dict={f'img_backbone.{k}': v for k, v in
                                encoder.state_dict().items()}), src)
    written = tool.export(str(src), str(tmp_path / 'simipu_r18'))
    layout = build_kitti_depth(tmp_path / 'kitti', samples_dir)
    cfg = Config.fromfile(DOWNSTREAM / KITTI_CONFIG)
    m = cfg.model
    m.backbone.update(small)
    m.decode_head.update(in_channels=[16, 16, 32, 64, 128],
                         up_channels=[16, 16, 32, 32, 64])
    m.init_cfg.checkpoint = written['fcos3d']
    samples, test_sample, model, optim = _build(cfg, 'mmseg',
                                                layout['data_root'], 2)
    _same(model.backbone.layer3[0].conv1.weight,
          encoder.layer3[0].conv1.weight)
    _same(model.backbone.conv1.weight, encoder.conv1.weight)
    # benchmark crop then random crop: 352 x 704; depth in metres
    assert samples[0]['inputs'].shape == (3, 352, 704)
    depth = samples[0]['data_samples'].gt_depth_map.data
    assert depth.shape == (1, 352, 704)
    assert 0 < float(depth.max()) < 90
    assert float((depth > 0).float().mean()) < 0.2  # sparse LiDAR depth
    assert test_sample['inputs'].shape == (3, 352, 1216)
    loss, outputs, metrics = _train_and_test(model, cfg, samples,
                                             test_sample, optim)
    assert set(loss) == {'loss', 'decode.loss_silog'}
    pred = outputs[0].pred_depth_map.data
    assert pred.shape == (1, 352, 1216)  # the KB-cropped ground truth
    assert 0 < float(pred.min()) and float(pred.max()) < 80.
    # flip test-time augmentation: the mean of the image and its mirror
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([test_sample]))
        img = data['inputs']
        metas = [dict(outputs[0].metainfo, img_shape=(352, 1216))]
        both = (model.encode_decode(img, metas) + model.encode_decode(
            img.flip(3), metas).flip(3)) / 2
    assert torch.allclose(pred, both[0], atol=1e-5)
    assert set(metrics) == set(DepthEstimationMetric.METRICS)
    assert all(math.isfinite(v) for v in metrics.values())


# --------------------------------------------------------- ImageNet
def test_in1k_config_trains_and_tests_on_imagenet_layout(samples_dir,
                                                         tmp_path):
    demo = 'multimae_vit-tiny_synthetic-demo.py'
    pre, ckpt, arch = _export(demo, tmp_path, 224)
    layout = build_imagenet(tmp_path / 'imagenet', samples_dir)
    cfg = Config.fromfile(DOWNSTREAM / IN1K_CONFIG)
    m = cfg.model
    m.backbone.arch = arch
    m.backbone.init_cfg.checkpoint = ckpt
    m.head.in_channels = arch['embed_dims']
    # the runner gives the model the config's data preprocessor
    m.setdefault('data_preprocessor', cfg.data_preprocessor)
    samples, test_sample, model, optim = _build(cfg, 'mmpretrain',
                                                layout['data_root'], 4)
    _same(model.backbone.layers[0].attn.qkv.weight,
          pre['state']['backbone.encoder.layers.0.attn.qkv.weight'])
    _same(model.backbone.cls_token,
          pre['state']['backbone.encoder.cls_token'])
    assert all(s['inputs'].shape == (3, 224, 224) for s in samples)
    lrs = {g['param_name']: g['lr'] for g in optim.optimizer.param_groups}
    L = arch['num_layers']
    assert lrs['backbone.patch_embed.projection.weight'] == pytest.approx(
        2e-3 * 0.65**(L + 1))
    loss, outputs, metrics = _train_and_test(model, cfg, samples,
                                             test_sample, optim)
    assert loss['loss'] == pytest.approx(math.log(1000), rel=0.05)
    assert outputs[0].pred_score.shape == (1000, )
    assert set(metrics) == {'accuracy/top1', 'accuracy/top5'}
