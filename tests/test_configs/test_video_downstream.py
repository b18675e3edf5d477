"""M3 3D's video downstream configs (Table 10), run as shipped on CPU.

Chain: the shipped video pre-training backbone (``m3mae_video_ucf101.py``,
ViT-B made tiny: width 32, 1 block, 2 heads) -> ``export_vit.py --target
mmaction2`` -> each downstream config with only the model's width / depth,
the data paths, the batch size and the worker count changed (every
transform, the optimiser constructor, the blending and the schedule as
shipped) -> one training epoch of one step, a validation and a test run
through MMEngine's runner, on the real demo video arranged in the UCF-101
layout (XVID AVI, 340x256) and the OR-AR layout (PNG frames); then the
per-clip feature extraction and the Bi-GRU stage on the features of the
trained clip model.
"""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmrgbd  # noqa: F401  (weights-only checkpoint loader)
from mmrgbd.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
DOWNSTREAM = REPO / 'configs' / 'downstream'
UCF = DOWNSTREAM / 'vit-b-p16_m3mae-pre_8xb8-16x4x1-100e_ucf101.py'
ORAR_CLIP = DOWNSTREAM / 'vit-b-p16_m3mae-pre_8xb8-16x4x1-75e_or-ar-clip.py'
ORAR_GRU = DOWNSTREAM / 'bigru_m3mae-pre_15e_or-ar.py'
PRETRAIN = REPO / 'configs' / 'pretrain' / 'm3mae_video_ucf101.py'
TOOL = REPO / 'tools' / 'model_converters' / 'export_vit.py'
C = 32  # tiny width; 1 block, 2 heads, mlp ratio 4 as shipped


# ---------------------------------------------------------------------- #
# the hyper-parameters of Table 10
# ---------------------------------------------------------------------- #
def layer_scales(cfg, depth=12):
    """lr scale per parameter name from the config's optimiser constructor
    on a ViT-B-depth recogniser of width 8."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, embed_dims=8, depth=depth,
                              num_heads=1, img_size=32, num_frames=2,
                              init_cfg=None)
    model_cfg.cls_head = dict(model_cfg.cls_head, in_channels=8)
    model = MODELS.build(dict(model_cfg, _scope_='mmaction'))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper.copy())
    names = {id(p): n for n, p in model.named_parameters()}
    scales = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            scales[names[id(p)]] = (group['lr'] / cfg.optim_wrapper.optimizer
                                    .lr, group['weight_decay'])
    return scales


@pytest.mark.parametrize('path,lr,epochs,decay,drop_path,dropout', [
    (UCF, 1e-3, 100, 0.70, 0.2, 0.5),
    (ORAR_CLIP, 6e-4, 75, 0.65, 0.1, 0.0),
])
def test_table10_clip_fine_tuning(path, lr, epochs, decay, drop_path,
                                  dropout):
    cfg = Config.fromfile(str(path))
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and tuple(opt.betas) == (0.9, 0.95)
    assert opt.weight_decay == 0.05
    assert opt.lr == pytest.approx(lr * 8 * 8 / 256)  # per 256 clips
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_cfg.max_epochs == epochs
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 5)
    assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR',
                                                       5, epochs)
    bb, head = cfg.model.backbone, cfg.model.cls_head
    assert (bb.embed_dims, bb.depth, bb.num_frames, bb.tubelet_size) == \
        (768, 12, 16, 2)
    assert bb.drop_path_rate == drop_path and head.dropout_ratio == dropout
    assert bb.init_cfg.prefix == 'backbone.'
    train = cfg.train_dataloader.dataset
    pipeline = train.get('pipeline') or train.dataset.pipeline
    sample = next(t for t in pipeline if t.type == 'SampleFrames')
    assert (sample.clip_len, sample.frame_interval) == (16, 4)
    assert any(t.type == 'Flip' and t.flip_ratio == 0.5 for t in pipeline)
    # layer-wise decay: block i gets decay ** (12 - i), the stem decay **
    # 13, the pooled norm and the classifier 1; no decay on 1-D params
    scales = layer_scales(cfg)
    for name, power in (('backbone.blocks.0.attn.qkv.weight', 12),
                        ('backbone.blocks.11.mlp.layers.1.weight', 1),
                        ('backbone.patch_embed.projection.weight', 13),
                        ('backbone.fc_norm.weight', 0),
                        ('cls_head.fc_cls.weight', 0)):
        assert scales[name][0] == pytest.approx(decay**power), name
    assert scales['backbone.blocks.3.attn.q_bias'][1] == 0.
    assert scales['backbone.blocks.3.attn.qkv.weight'][1] == 0.05


def test_ucf101_mixup_cutmix_and_test_views():
    cfg = Config.fromfile(str(UCF))
    blend = cfg.model.data_preprocessor.blending
    assert blend.type == 'RandomBatchAugment' and blend.get('probs') is None
    assert [(a.type, a.alpha, a.num_classes) for a in blend.augments] == [
        ('MixupBlending', 0.8, 101), ('CutmixBlending', 1.0, 101)]
    test = cfg.test_dataloader.dataset.pipeline
    assert next(t for t in test if t.type == 'SampleFrames').num_clips == 5
    assert any(t.type == 'ThreeCrop' for t in test)


def test_orar_stage2_table10():
    cfg = Config.fromfile(str(ORAR_GRU))
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.train_cfg.max_epochs == 15
    assert cfg.model.neck.type == 'BiGRUTemporalNeck'
    assert cfg.train_dataloader.dataset.type == 'LabelRatioDataset'
    clip = Config.fromfile(str(ORAR_CLIP))
    assert clip.train_dataloader.dataset.type == 'mmrgbd.LabelRatioDataset'
    assert cfg.train_dataloader.dataset.seed == \
        clip.train_dataloader.dataset.seed
    assert clip.model.cls_head.multi_class and \
        clip.model.cls_head.loss_cls.type == 'BCELossWithLogits'
    assert cfg.model.head.num_classes == clip.model.cls_head.num_classes == 9


# ---------------------------------------------------------------------- #
# one step of each config on the real-format layouts
# ---------------------------------------------------------------------- #
@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The shipped video pre-training backbone, tiny, exported to mmaction2
    at the fine-tuning input (16 x 224 x 224)."""
    cfg = Config.fromfile(str(PRETRAIN)).model.backbone
    cfg.arch = dict(embed_dims=C, num_layers=1, num_heads=2,
                    feedforward_channels=4 * C)
    for mod in cfg.modalities.values():
        mod.pop('init_cfg', None)
    torch.manual_seed(0)
    backbone = MODELS.build(cfg)
    backbone.init_weights()
    root = tmp_path_factory.mktemp('export')
    src = root / 'epoch_100.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in
                                backbone.state_dict().items()}), src)
    spec = importlib.util.spec_from_file_location('export_vit', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    dst = root / 'm3mae_video_rgb_mmaction2.pth'
    assert tool.main([str(src), str(dst), '--target', 'mmaction2',
                      '--num-heads', '2']) == 0
    return str(dst)


def shrink(ckpt):
    """Width / depth overrides (and the exported checkpoint)."""
    return {
        'model.backbone.embed_dims': C,
        'model.backbone.depth': 1,
        'model.backbone.num_heads': 2,
        'model.backbone.init_cfg.checkpoint': ckpt,
        'model.cls_head.in_channels': C,
        'optim_wrapper.paramwise_cfg.num_layers': 1,
    }


def loaders(batch, **paths):
    """Batch size, no workers, and the data paths per dataloader."""
    out = {}
    for split in ('train', 'val', 'test'):
        out[f'{split}_dataloader.batch_size'] = batch
        out[f'{split}_dataloader.num_workers'] = 0
        out[f'{split}_dataloader.persistent_workers'] = False
    for key, value in paths.items():
        out[key] = value
    return out


def run(path, work_dir, options):
    """Build the runner as tools/train.py does; train the (one-epoch)
    schedule with a validation, then test."""
    from mmrgbd.engine.runner import build_runner
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(options)
    cfg.merge_from_dict({
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'default_hooks.checkpoint.interval': 1, 'work_dir': str(work_dir),
        'default_hooks.logger.interval': 1})
    cfg.launcher = 'none'
    runner = build_runner(cfg)
    runner.train()
    train_loss = runner.message_hub.get_scalar('train/loss').current()
    metrics = runner.test()
    return runner, train_loss, metrics


@pytest.fixture(scope='module')
def ucf101(tmp_path_factory, samples_dir):
    from real_layouts.ucf101 import build_ucf101
    return build_ucf101(tmp_path_factory.mktemp('ucf101'), samples_dir)


@pytest.fixture(scope='module')
def orar(tmp_path_factory, samples_dir):
    from real_layouts.orar import build_orar
    return build_orar(tmp_path_factory.mktemp('or_ar'), samples_dir)


def test_ucf101_train_val_test_step(ucf101, exported, tmp_path):
    opts = dict(shrink(exported), **loaders(2, **{
        f'{s}_dataloader.dataset.{k}': v
        for s, ann in (('train', 'ann_file_train'), ('val', 'ann_file_val'),
                       ('test', 'ann_file_val'))
        for k, v in (('ann_file', ucf101[ann]),
                     ('data_prefix.video', ucf101['data_root']))}))
    runner, loss, metrics = run(UCF, tmp_path, opts)
    # mixup / cutmix soft targets + smoothing: CE near ln(101) at init
    assert abs(loss - math.log(101)) < 0.5
    assert set(metrics) >= {'acc/top1', 'acc/top5', 'acc/mean1'}
    assert 0. <= metrics['acc/top1'] <= 1.
    # the exported weights were loaded through the config's init_cfg
    # (the position table is a buffer: training does not change it)
    ckpt = torch.load(exported, weights_only=True)['state_dict']
    torch.testing.assert_close(runner.model.backbone.pos_embed,
                               ckpt['backbone.pos_embed'])
    # mmrgbd's CheckpointHook: the checkpoint reads with the weights-only
    # loader (mmengine's hook stores objects that it refuses)
    from mmrgbd.utils import safe_load
    saved = safe_load(str(tmp_path / 'epoch_1.pth'))
    assert 'backbone.blocks.0.attn.q_bias' in saved['state_dict']


def orar_paths(orar):
    paths = {'train_dataloader.dataset.dataset.ann_file':
             orar['ann_file_train'],
             'train_dataloader.dataset.dataset.data_prefix.img':
             orar['data_root']}
    for split in ('val', 'test'):
        paths[f'{split}_dataloader.dataset.ann_file'] = \
            orar[f'ann_file_{split}']
        paths[f'{split}_dataloader.dataset.data_prefix.img'] = \
            orar['data_root']
    return paths


@pytest.fixture(scope='module')
def orar_clip_run(orar, exported, tmp_path_factory):
    """Stage 1 on the OR-AR layout: batch 4 = the 4 training clips, one
    step."""
    work = tmp_path_factory.mktemp('orar_clip')
    opts = dict(shrink(exported), **loaders(4, **orar_paths(orar)))
    runner, loss, metrics = run(ORAR_CLIP, work, opts)
    return dict(runner=runner, loss=loss, metrics=metrics, work=work,
                options=opts)


def test_orar_clip_train_val_test_step(orar_clip_run):
    # 9 sigmoid BCE terms at logits ~0: ln 2
    assert abs(orar_clip_run['loss'] - math.log(2)) < 0.2
    value = orar_clip_run['metrics']['acc/mean_average_precision']
    assert 0. < value <= 1.


def test_orar_feature_extraction_and_bigru_stage(orar, orar_clip_run,
                                                 tmp_path):
    """extract_clip_features writes one row per clip in offset order (row k
    = the trained encoder's pooled feature of the k-th clip under the test
    pipeline); the Bi-GRU config trains, validates and tests on them."""
    from mmaction.registry import DATASETS
    from mmrgbd.apis.clip_features import extract_clip_features
    feats_dir = tmp_path / 'clip_features'
    written = extract_clip_features(
        str(ORAR_CLIP), str(orar_clip_run['work'] / 'epoch_1.pth'),
        [orar['ann_file_train'], orar['ann_file_test']], str(feats_dir),
        data_root=orar['data_root'],
        cfg_options=orar_clip_run['options'])
    assert sorted(written) == ['or_01', 'or_02', 'or_03']
    arrays = {v: np.load(p) for v, p in written.items()}
    assert {v: a.shape for v, a in arrays.items()} == dict(
        or_01=(2, C), or_02=(2, C), or_03=(4, C))
    # or_01 (frames 1-140) and or_03 (frames 1-280) share their first two
    # clips frame for frame: equal rows, in the same order
    np.testing.assert_allclose(arrays['or_01'], arrays['or_03'][:2],
                               rtol=1e-5, atol=1e-5)
    # row 3 of or_03 recomputed directly from the test dataset
    runner = orar_clip_run['runner']
    ds_cfg = runner.cfg.test_dataloader.dataset.copy()
    dataset = DATASETS.build(dict(ds_cfg, _scope_='mmaction'))
    idx = next(i for i in range(len(dataset))
               if dataset.get_data_info(i)['offset'] == 192)
    model = runner.model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=[dataset[idx]['inputs']],
                 data_samples=[dataset[idx]['data_samples']]), False)
        feat = model.extract_feat(data['inputs'], test_mode=True)[0]
    np.testing.assert_allclose(arrays['or_03'][3], feat[0].numpy(),
                               rtol=1e-4, atol=1e-5)

    opts = loaders(2, **{
        'model.neck.in_channels': C, 'model.neck.hidden_channels': 8,
        'model.head.in_channels': 16,
        'train_dataloader.dataset.dataset.data_root': orar['data_root'],
        'train_dataloader.dataset.dataset.feature_dir': str(feats_dir),
        'val_dataloader.dataset.data_root': orar['data_root'],
        'val_dataloader.dataset.feature_dir': str(feats_dir),
        'test_dataloader.dataset.data_root': orar['data_root'],
        'test_dataloader.dataset.feature_dir': str(feats_dir)})
    runner2, loss, metrics = run(ORAR_GRU, tmp_path / 'gru', opts)
    assert abs(loss - math.log(2)) < 0.2
    assert 0. < metrics['mAP'] <= 1.
    # the val split is not used for features above: it is or_03 too
    assert len(runner2.test_dataloader.dataset) == 1
