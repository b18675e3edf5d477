"""SimIPU image-encoder export to unmodified mmdet3d MVX-Net and FCOS3D.

The SimIPU model is built from ``configs/_base_/models/simipu_r50.py``; its
state dict is saved as a runner-style checkpoint, exported with
``tools/model_converters/simipu2mmdet3d.py`` and loaded by mmdet3d's own
configs (through ``configs/downstream/*``, which only set ``init_cfg``, the
backbone style / normalisation and, for FCOS3D, ResNet-50 without DCN). The
detectors then run on the real KITTI / nuScenes samples on CPU.
"""
import copy
import importlib.util
from pathlib import Path

import mmengine
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine import Config
from mmengine.dataset import Compose, pseudo_collate

REPO = Path(__file__).resolve().parents[2]
CONVERTER = REPO / 'tools' / 'model_converters' / 'simipu2mmdet3d.py'
MVX_CFG = REPO / 'configs' / 'downstream' / 'mvxnet_simipu-r50_kitti.py'
FCOS_CFG = REPO / 'configs' / 'downstream' / 'fcos3d_simipu-r50_nus.py'
NUS_PKL = 'n015-2018-07-24-11-22-45+0800.pkl'
NUS_FRONT = 'n015-2018-07-24-11-22-45+0800__CAM_FRONT__1532402927612460.jpg'


def load_converter():
    spec = importlib.util.spec_from_file_location('simipu2mmdet3d', CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def converter():
    return load_converter()


@pytest.fixture(scope='module')
def simipu_ckpt(tmp_path_factory):
    """A runner-style checkpoint of a freshly built SimIPU ResNet-50 model.

    BN statistics and affine parameters of the image encoder are randomised,
    so that equality after loading cannot come from default initialisation.
    """
    from mmrgbd.registry import MODELS, build_in_scope
    from mmrgbd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(REPO / 'configs' / '_base_' / 'models' /
                          'simipu_r50.py').model
    model = build_in_scope(MODELS, cfg)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.img_backbone.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(
                    torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(
                    torch.rand(m.running_var.shape, generator=g) + 0.5)
    state_dict = model.state_dict()
    path = tmp_path_factory.mktemp('simipu') / 'epoch_1.pth'
    # numpy objects make it a non-weights-only runner checkpoint
    torch.save(
        dict(meta=dict(epoch=1, seed=np.int64(0)),
             state_dict=state_dict,
             message_hub=dict(log_scalars=np.zeros(3))), path)
    encoder = {
        k[len('img_backbone.'):]: v.clone()
        for k, v in state_dict.items() if k.startswith('img_backbone.')
    }
    return dict(path=str(path),
                encoder=encoder,
                style=cfg.img_backbone.style,
                mean=cfg.data_preprocessor.mean,
                std=cfg.data_preprocessor.std,
                other_keys=[
                    k for k in state_dict if not k.startswith('img_backbone.')
                ])


@pytest.fixture(scope='module')
def exported(converter, simipu_ckpt, tmp_path_factory):
    prefix = tmp_path_factory.mktemp('export') / 'simipu_r50'
    converter.main([simipu_ckpt['path'], str(prefix)])
    return dict(mvxnet=f'{prefix}_mvxnet.pth', fcos3d=f'{prefix}_fcos3d.pth')


def test_export_files_are_weights_only(exported, simipu_ckpt):
    encoder = simipu_ckpt['encoder']
    assert len(encoder) > 300  # ResNet-50 incl. BN buffers
    for name, prefix in (('mvxnet', 'img_backbone.'), ('fcos3d', 'backbone.')):
        ckpt = torch.load(exported[name], weights_only=True)
        assert set(ckpt) == {'state_dict', 'meta'}
        sd = ckpt['state_dict']
        assert list(sd) == [prefix + k for k in encoder]
        for k, v in encoder.items():
            assert torch.equal(sd[prefix + k], v), k
        meta = ckpt['meta']
        assert meta['prefix'] == prefix and meta['target'] == name
        assert meta['num_tensors'] == len(encoder)
        assert meta['source'] == simipu_ckpt['path']
    # nothing but the image encoder is exported
    assert simipu_ckpt['other_keys'] and not any(
        k.startswith('pts_backbone') for k in sd)


def test_export_loader_rules(converter, simipu_ckpt, tmp_path):
    # a file holding other pickled objects is refused, naming it ...
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(obj=converter.argparse.Namespace(
        a=1))), evil)
    with pytest.raises(RuntimeError, match='evil.pth: refused'):
        converter.export(str(evil), str(tmp_path / 'x'))
    assert not (tmp_path / 'x_mvxnet.pth').exists()
    # ... and a plain state dict is read weights-only
    plain = tmp_path / 'plain.pth'
    torch.save({'img_backbone.conv1.weight': torch.ones(2, 3, 1, 1)}, plain)
    out = converter.export(str(plain), str(tmp_path / 'y'))
    sd = torch.load(out['fcos3d'], weights_only=True)['state_dict']
    assert list(sd) == ['backbone.conv1.weight']
    # wrong prefix: the error names the file and the top-level modules
    with pytest.raises(ValueError,
                       match=r"plain.pth: no weights under "
                       r"'encoder\.'.*\['img_backbone'\]"):
        converter.export(str(plain), str(tmp_path / 'z'), 'encoder.')
    torch.save({'img_backbone.fc.weight': torch.ones(2)}, plain)
    with pytest.raises(ValueError, match='not an mmdet.ResNet'):
        converter.export(str(plain), str(tmp_path / 'z'))


def _build(cfg_path, checkpoint):
    from mmdet3d.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(cfg_path)  # custom_imports enables the CPU ops
    cfg.model.init_cfg.checkpoint = checkpoint
    init_default_scope('mmdet3d')
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        model = MODELS.build(cfg.model)
    model.cfg = cfg
    return model


def _assert_loaded(module, encoder, new=None):
    """Every encoder weight loaded; keys not in it only those naming
    ``new`` (zero-initialised)."""
    sd = module.state_dict()
    assert set(encoder) <= set(sd)
    extra = set(sd) - set(encoder)
    assert all(new is not None and new in k for k in extra), sorted(extra)
    assert all(not sd[k].any() for k in extra)
    for k, v in encoder.items():
        assert torch.equal(sd[k], v), k
    return extra


@pytest.fixture(scope='module')
def mvxnet(exported, simipu_ckpt):
    model = _build(MVX_CFG, exported['mvxnet'])
    assert not torch.equal(model.img_backbone.conv1.weight,
                           simipu_ckpt['encoder']['conv1.weight'])
    model.init_weights()
    return model.eval()


def test_mvxnet_weights_style_and_normalisation(mvxnet, simipu_ckpt):
    _assert_loaded(mvxnet.img_backbone, simipu_ckpt['encoder'])
    # style and normalisation follow the SimIPU encoder (see the config)
    assert mvxnet.img_backbone.style == simipu_ckpt['style'] == 'pytorch'
    assert mvxnet.img_backbone.layer1[0].conv1.stride == (1, 1)
    assert mvxnet.img_backbone.layer2[0].conv2.stride == (2, 2)
    pre = mvxnet.data_preprocessor
    assert pre._channel_conversion  # BGR files -> RGB as in pre-training
    assert torch.allclose(pre.mean.flatten(),
                          torch.tensor(simipu_ckpt['mean']))
    assert torch.allclose(pre.std.flatten(), torch.tensor(simipu_ckpt['std']))


@pytest.fixture(scope='module')
def kitti_batch(mvxnet, samples_dir, tmp_path_factory):
    """mmdet3d's MVX-Net test pipeline on the real KITTI 000008 sample.

    The scan (already cropped to the camera view) is subsampled to 4000
    points and the image is resized to 636x192 for speed.
    """
    from mmdet3d.structures import get_box_type
    demo = samples_dir / 'mmdet3d_kitti_demo'
    points = np.fromfile(demo / '000008.bin', np.float32).reshape(-1, 4)
    keep = np.random.default_rng(0).choice(len(points), 4000, replace=False)
    pts_file = tmp_path_factory.mktemp('kitti') / '000008.bin'
    points[np.sort(keep)].tofile(pts_file)
    cam = mmengine.load(demo / '000008.pkl')['data_list'][0]['images']['CAM2']
    pipeline = copy.deepcopy(mvxnet.cfg.test_dataloader.dataset.pipeline)
    assert pipeline[2]['type'] == 'MultiScaleFlipAug3D'
    pipeline[2]['img_scale'] = (640, 192)
    box_type, box_mode = get_box_type('LiDAR')
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        transforms = Compose(pipeline)
    data = transforms(dict(lidar_points=dict(lidar_path=str(pts_file)),
                                  img_path=str(demo / '000008.png'),
                                  cam2img=np.array(cam['cam2img']),
                                  lidar2img=np.array(cam['lidar2img']),
                                  box_type_3d=box_type,
                                  box_mode_3d=box_mode))
    return pseudo_collate([data]), np.array(cam['lidar2img'])


def test_mvxnet_image_and_fusion_forward_on_kitti(mvxnet, kitti_batch):
    collated, lidar2img = kitti_batch
    with torch.no_grad():
        batch = mvxnet.data_preprocessor(copy.deepcopy(collated), False)
        inputs = batch['inputs']
        metas = [s.metainfo for s in batch['data_samples']]
        imgs = inputs['imgs']  # (1, 3, 192, 640): 192x636 padded to 32
        assert imgs.shape == (1, 3, 192, 640)
        np.testing.assert_allclose(metas[0]['lidar2img'], lidar2img)
        img_feats = mvxnet.extract_img_feat(imgs, metas)
        assert [tuple(f.shape) for f in img_feats
                ] == [(1, 256, 192 // s, 640 // s)
                      for s in (4, 8, 16, 32)] + [(1, 256, 3, 10)]
        # dynamic voxels (mmcv CPU kernel) + DynamicVFE with PointFusion
        # (image features sampled at the projected points; mmrgbd's CPU
        # dynamic scatter)
        vox = inputs['voxels']
        feats, coors = mvxnet.pts_voxel_encoder(vox['voxels'], vox['coors'],
                                                inputs['points'], img_feats,
                                                metas)
        blind, _ = mvxnet.pts_voxel_encoder(vox['voxels'], vox['coors'],
                                            inputs['points'],
                                            [f * 0 for f in img_feats], metas)
    # hand count of the occupied voxels
    # (float32 like mmcv's dynamic_voxelize kernel)
    pts = inputs['points'][0][:, :3].numpy()
    pc_range = np.array([0, -40, -3, 70.4, 40, 1], np.float32)
    size = np.array([0.05, 0.05, 0.1], np.float32)
    cells = np.floor((pts - pc_range[:3]) / size).astype(np.int64)
    grid = np.round((pc_range[3:] - pc_range[:3]) / size).astype(np.int64)
    cells = cells[((cells >= 0) & (cells < grid)).all(1)]
    num_voxels = len(np.unique(cells, axis=0))
    assert 1000 < num_voxels <= 4000
    assert feats.shape == (num_voxels, 128) and coors.shape == (num_voxels, 4)
    assert torch.isfinite(feats).all()
    # the image branch (our encoder) changes the fused point features
    changed = (feats - blind).abs().amax(dim=1) > 1e-6
    assert changed.float().mean() > 0.9


def test_mvxnet_full_forward_on_kitti(mvxnet, kitti_batch):
    # the SparseEncoder (mmcv SubMConv3d / SparseConv3d) runs on CPU through
    # mmrgbd.ops.sparse_conv, enabled by the config's custom_imports
    collated, _ = kitti_batch
    seen = {}

    def keep(module, args, output):
        seen['coors'], seen['bev'] = args[1], output

    handle = mvxnet.pts_middle_encoder.register_forward_hook(keep)
    # the LiDAR head is untrained (scores ~ its 0.01 prior, below
    # score_thr=0.1): keep every box so decoding and rotated NMS are checked
    head_cfg = mvxnet.pts_bbox_head.test_cfg
    score_thr, head_cfg['score_thr'] = head_cfg['score_thr'], 0.0
    try:
        with torch.no_grad():
            results = mvxnet.test_step(copy.deepcopy(collated))
    finally:
        handle.remove()
        head_cfg['score_thr'] = score_thr
    # real KITTI grid 41x1600x1408 -> (1, 128 * 2, 200, 176) BEV map
    coors, bev = seen['coors'], seen['bev']
    assert 1000 < len(coors) <= 4000
    assert bev.shape == (1, 256, 200, 176)
    assert torch.isfinite(bev).all()
    # features only near the voxels: three stride-2 convs move a site by at
    # most one cell beyond y // 8, x // 8
    near = torch.zeros(200, 176, dtype=torch.bool)
    cy, cx = coors[:, 2].long() // 8, coors[:, 3].long() // 8
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            near[(cy + dy).clamp(0, 199), (cx + dx).clamp(0, 175)] = True
    occupied = bev[0].abs().amax(0) > 0  # (200, 176)
    assert occupied.sum() > 100
    assert not (occupied & ~near).any()
    pred = results[0].pred_instances_3d
    assert pred.bboxes_3d.tensor.shape[1] == 7
    assert 0 < len(pred.scores_3d) == len(pred.labels_3d) <= 50
    assert torch.isfinite(pred.bboxes_3d.tensor).all()
    assert torch.isfinite(pred.scores_3d).all()
    assert ((pred.scores_3d >= 0) & (pred.scores_3d <= 1)).all()
    assert set(pred.labels_3d.tolist()) <= {0, 1, 2}


def test_fcos3d_on_nuscenes_cam_front(exported, simipu_ckpt, samples_dir):
    from mmdet3d.structures import get_box_type
    model = _build(FCOS_CFG, exported['fcos3d'])
    # the paper's FCOS3D: only ResNet-101 -> ResNet-50; DCNv2 in stages 3-4
    # (mmcv's CPU kernel), trainable SyncBN
    assert model.backbone.depth == 50
    assert model.backbone.dcn['type'] == 'DCNv2'
    assert model.backbone.stage_with_dcn == (False, False, True, True)
    assert isinstance(model.backbone.bn1, torch.nn.SyncBatchNorm)
    assert not model.backbone.norm_eval
    assert model.backbone.style == simipu_ckpt['style']
    assert model.data_preprocessor._channel_conversion
    model.init_weights()
    # the plain ResNet fills every weight but the DCN offset / mask convs
    # (zero: each DCNv2 starts as the plain conv with a 0.5 mask)
    extra = _assert_loaded(model.backbone, simipu_ckpt['encoder'],
                           new='conv2.conv_offset')
    assert len(extra) == 2 * (6 + 3)  # weight + bias, blocks of stages 3-4
    model.eval()

    demo = samples_dir / 'mmdet3d_nuscenes_demo'
    cam = mmengine.load(demo / NUS_PKL)['data_list'][0]['images']['CAM_FRONT']
    assert cam['img_path'] == NUS_FRONT
    cam = dict(cam, img_path=str(demo / NUS_FRONT))
    pipeline = copy.deepcopy(model.cfg.test_dataloader.dataset.pipeline)
    assert pipeline[1]['type'] == 'mmdet.Resize'
    pipeline[1]['scale_factor'] = 0.125  # 1600x900 -> 200x113 (rounded)
    box_type, box_mode = get_box_type('Camera')
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        transforms = Compose(pipeline)
    data = transforms(dict(images=dict(CAM_FRONT=cam),
                                  box_type_3d=box_type,
                                  box_mode_3d=box_mode))
    with torch.no_grad():
        results = model.test_step(pseudo_collate([data]))
    res = results[0]
    assert res.img_shape == (113, 200)
    np.testing.assert_allclose(res.cam2img, cam['cam2img'])
    pred = res.pred_instances_3d
    assert pred.bboxes_3d.tensor.shape[1] == 9  # x y z l h w yaw vx vy
    assert len(pred.scores_3d) == len(pred.labels_3d) == len(pred.attr_labels)
    assert len(pred.scores_3d) <= model.test_cfg.max_per_img
    assert torch.isfinite(pred.bboxes_3d.tensor).all()


def test_mvxnet_recipe_optimiser_and_syncbn(mvxnet):
    """The official SimIPU MVX-Net recipe: AdamW for the LiDAR branch, SGD
    for the image encoder + FPN, one clip; trainable SyncBN reverted to
    BatchNorm in distributed CPU runs (RGBDRunner), kept otherwise."""
    from mmengine.optim import build_optim_wrapper

    from mmrgbd.engine.runner.rgbd_runner import revert_sync_bn_without_cuda
    from mmrgbd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = mvxnet.cfg
    # checkpoints that tools/test.py and --resume load weights-only
    for c in (cfg, Config.fromfile(FCOS_CFG)):
        assert c.default_hooks.checkpoint.type == 'mmrgbd.CheckpointHook'
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        wrapper = build_optim_wrapper(mvxnet, cfg.optim_wrapper)
    opts = wrapper.optimizer.optimizers
    assert isinstance(opts['pts'], torch.optim.AdamW)
    assert opts['pts'].defaults['lr'] == 0.003
    assert opts['pts'].defaults['betas'] == (0.95, 0.99)
    assert isinstance(opts['img'], torch.optim.SGD)
    assert opts['img'].defaults['lr'] == 0.005
    assert wrapper.clip_grad_kwargs['max_norm'] == 35
    img = {id(p) for m in (mvxnet.img_backbone, mvxnet.img_neck)
           for p in m.parameters()}  # frozen stem too (no grad: no step)
    in_img = {id(p) for g in opts['img'].param_groups for p in g['params']}
    assert in_img == img
    # SyncBN in the image encoder, no norm in the FPN (official)
    assert isinstance(mvxnet.img_backbone.bn1, torch.nn.SyncBatchNorm)
    assert mvxnet.img_neck.lateral_convs[0].norm is None
    backbone = copy.deepcopy(mvxnet.img_backbone)
    assert revert_sync_bn_without_cuda(backbone, False) is backbone
    assert isinstance(backbone.bn1, torch.nn.SyncBatchNorm)
    if not torch.cuda.is_available():
        reverted = revert_sync_bn_without_cuda(backbone, True)
        assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                       for m in reverted.modules())
        assert torch.equal(reverted.bn1.running_mean,
                           mvxnet.img_backbone.bn1.running_mean)
