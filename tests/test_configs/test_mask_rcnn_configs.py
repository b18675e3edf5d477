"""Mask R-CNN on the pre-trained ViT (ViTDet backbone + simple feature
pyramid): Mask3D Tables 2-4 / 6 and Progressive Table 5.

Each shipped config runs as shipped on its dataset's real on-disk layout
(``tests/real_layouts``: ScanNet ``scannet_frames_25k`` and the NYUv2 PNG
layout, real 640x480 frames) converted to COCO JSON by
``tools/dataset_converters/scannet_instances_to_coco.py``: its unmodified
train / test pipelines, one real training step, one test step scored by the
config's mmdet ``CocoMetric``. Only widths / depth shrink: the backbone is
the pre-training demo encoder at 32 channels, 2 blocks (16 px patches)
exported with ``export_vit.py --target vitdet`` and loaded through the
config's ``init_cfg``; the pyramid and heads use 32 channels.
"""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from real_layouts.nyuv2_instances import build_nyuv2_instances_coco
from real_layouts.registry import shrink_mask_rcnn_vitdet
from real_layouts.scannet_instances import build_scannet_instances_coco

from mmrgbd.models.utils.export import export_vit, vitdet_global_blocks

REPO = Path(__file__).resolve().parents[2]
DOWNSTREAM = REPO / 'configs' / 'downstream'
#: config -> (dataset, pre-training demo, backbone prefix in its checkpoint)
CONFIGS = {
    'mask-rcnn_mask3d-vit-b-sfp_8xb2-1x_scannet.py':
    ('scannet', 'mask3d_vit-tiny_synthetic-demo.py', None),
    'mask-rcnn_progressive-vit-b-sfp_8xb2-1x_scannet.py':
    ('scannet', 'progressive_stage2_vit-tiny_synthetic-demo.py', 'backbone.'),
    'mask-rcnn_mask3d-vit-b-sfp_1xb2-1x_nyuv2.py':
    ('nyuv2', 'mask3d_vit-tiny_synthetic-demo.py', None),
}
IMG_SIZE = (800, 1088)  # the configs' ViTSAM img_size
#: the tiny encoder (pre-trained by the demo recipe with these widths)
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=128)


def _pretrained(demo, folder):
    """Runner checkpoint of a tiny pre-training demo model (random init)."""
    from mmrgbd.registry import MODELS
    from mmrgbd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(REPO / 'configs' / 'pretrain' / demo)
    if 'stage1_checkpoint' in cfg.model:
        cfg.model.stage1_checkpoint = None
    cfg.model.backbone.arch.update(ARCH)
    cfg.model.neck.in_channels = ARCH['embed_dims']
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model, _scope_='mmrgbd'))
    path = folder / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1, cfg=cfg.pretty_text),
                    state_dict=model.state_dict()), path)
    return str(path)


def _layout(dataset, root, samples_dir):
    """The real layout and its COCO JSONs (train, val / test) written by
    the converter (``tests/real_layouts``, shared with the guard)."""
    if dataset == 'scannet':
        return build_scannet_instances_coco(root, samples_dir,
                                            frame_ids=(0, 100))
    return build_nyuv2_instances_coco(root, samples_dir)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_trains_and_tests_on_the_real_layout(name, samples_dir,
                                                    tmp_path):
    from mmdet.registry import DATASETS, MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    dataset, demo, prefix = CONFIGS[name]
    # pre-train (tiny, random) -> export as the ViTDet backbone
    src = _pretrained(demo, tmp_path)
    ckpt = tmp_path / 'vitdet.pth'
    meta = export_vit(src, str(ckpt), 'vitdet', img_size=IMG_SIZE,
                      src_prefix=prefix)
    arch = dict(meta['backbone_cfg']['arch'])
    assert arch == dict(ARCH, global_attn_indexes=vitdet_global_blocks(2))
    # 2 blocks: window attention in the first, global in the last (ViT-B:
    # global in blocks 2, 5, 8, 11); global attention over the ~3400 tokens
    # of an 800 x 1067 input is what costs time on CPU
    arch['global_attn_indexes'] = [1]
    root = tmp_path / 'data'
    _layout(dataset, root, samples_dir)

    cfg = Config.fromfile(DOWNSTREAM / name)
    # checkpoints that tools/test.py and --resume load weights-only
    assert cfg.default_hooks.checkpoint.type == 'mmrgbd.CheckpointHook'
    assert not cfg.default_hooks.checkpoint.by_epoch
    # the guard's shrink (tiny widths / depth; everything else as shipped)
    # is the exported encoder's
    shrink_mask_rcnn_vitdet(cfg.model)
    assert cfg.model.backbone.arch == arch
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = str(root)
    cfg.val_evaluator.ann_file = str(
        root / Path(cfg.val_evaluator.ann_file).name)
    with DefaultScope.overwrite_default_scope('mmdet'):
        train_set = DATASETS.build(cfg.train_dataloader.dataset)
        val_set = DATASETS.build(cfg.val_dataloader.dataset)
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = val_set.metainfo

    # the exported encoder fills every backbone weight (zero missing keys;
    # ViTDet's new relative position biases are written as its zero init)
    exported = torch.load(ckpt, weights_only=True)['state_dict']
    own = model.backbone.state_dict()
    assert set(own) == {k[len('backbone.'):] for k in exported}
    rel = [k for k in own if '.attn.rel_pos_' in k]
    for k, v in exported.items():
        if k[len('backbone.'):] not in rel:
            torch.testing.assert_close(own[k[len('backbone.'):]], v,
                                       rtol=0, atol=0)
    # (block 0 is windowed here, global in the export: ViTSAM resizes them)
    assert len(rel) == 4 and all(not own[k].any() for k in rel)

    # the unmodified pipelines on the real 640x480 frames: short side
    # 640-800 (training), 800 x 1067 (test)
    n = len(train_set)
    samples = [train_set[i % n]
               for i in range(cfg.train_dataloader.batch_size)]
    for s in samples:
        h, w = s['inputs'].shape[-2:]
        assert 640 <= h <= 800 and w == round(h * 4 / 3)
        assert len(s['data_samples'].gt_instances) > 0
    val_sample = val_set[0]
    assert tuple(val_sample['inputs'].shape) == (3, 800, 1067)

    # one training step: every loss finite, the backbone moves
    before = model.backbone.layers[0].attn.qkv.weight.detach().clone()
    model.train()
    log = model.train_step(pseudo_collate(samples), optim)
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox',
            'loss_mask'} <= set(log)
    assert all(math.isfinite(float(v.detach())) for v in log.values())
    assert not torch.equal(before, model.backbone.layers[0].attn.qkv.weight)

    # one test step through the config's CocoMetric; the shipped score
    # threshold (0.5) keeps nothing of an untrained model, so it is lowered
    # to score its boxes and masks
    model.eval()
    model.test_cfg.rcnn.score_thr = 0.0
    with torch.no_grad():
        outputs = model.test_step(pseudo_collate([val_sample]))
    pred = outputs[0].pred_instances
    assert len(pred) > 0 and pred.masks.shape[-2:] == (480, 640)
    evaluator.process(outputs, pseudo_collate([val_sample]))
    metrics = evaluator.evaluate(1)
    for key in ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50'):
        assert 0.0 <= metrics[f'coco/{key}'] <= 1.0

    # the same metric scores the ground truth as detections perfectly: the
    # config's class list and the JSON's category ids agree (the test
    # pipeline loads the annotations after the resize: original scale)
    # (CocoMetric scores every image of the JSON: all are passed)
    for i in range(len(val_set)):
        sample = val_set[i]
        truth = sample['data_samples'].clone()
        gt = truth.gt_instances
        assert (gt.masks.height, gt.masks.width) == (480, 640)
        truth.pred_instances = gt.clone()
        truth.pred_instances.bboxes = gt.bboxes.tensor
        truth.pred_instances.scores = torch.ones(len(gt))
        truth.pred_instances.masks = torch.from_numpy(
            gt.masks.to_ndarray()).bool()
        evaluator.process([truth], pseudo_collate([sample]))
    metrics = evaluator.evaluate(len(val_set))
    assert metrics['coco/segm_mAP'] == pytest.approx(1.0)
    assert metrics['coco/bbox_mAP'] == pytest.approx(1.0)
