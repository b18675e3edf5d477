"""The guard's table: how each shipped config runs on real-format data.

``tests/test_configs/test_every_config_on_real_layouts.py`` runs every
config under ``configs/pretrain/`` and ``configs/downstream/`` exactly as a
user would (``tools/train.py``'s runner, the config's own unmodified
pipeline, its own relative paths) from a temporary folder in which
:data:`LAYOUTS` have arranged the datasets at the places the configs name
(``data/scannet/frames/``, ``data/kitti/``, ...), in their real on-disk
format and at their real sizes. What the guard changes in a config is
fixed and the same for all (see the test module): batch size 2,
``num_workers=0``, one training iteration, the data-set size of synthetic
datasets, and the model's width / depth through the entry's ``shrink``.

**Adding a config** (a config without an entry fails the guard, so it does
not ship) is one entry in :data:`CONFIGS`, keyed by its path under
``configs/``::

    'downstream/my_config.py': Guard('nyu_mmseg', shrink_mmseg_vit),

* ``layout``: a key of :data:`LAYOUTS` (a builder writing the dataset under
  ``data/``, in ``tests/real_layouts/<dataset>.py``), or None for configs
  whose dataset needs no files (``SyntheticRGBDScenes``). A new dataset
  gets a new builder module and a new :data:`LAYOUTS` key.
* ``shrink``: makes the model small in width and depth only (tiny ViT,
  narrow ResNet, fewer sampled points); it never touches the data pipeline.
  Reuse :func:`shrink_mmrgbd_vit`, :func:`shrink_mmseg_vit`,
  :func:`shrink_mmpretrain_vit`, :func:`shrink_simipu`, ... or add one.
* ``stage1``: the config whose guard run writes ``model.stage1_checkpoint``
  (two-stage recipes).
* ``train_samples``: cap the training set (``indices``) when the shared
  layout holds more than the two samples of the one iteration.
* ``no_metric``: why the evaluator of the val/test loop cannot run on a
  fixture or on a CPU (the test step itself still runs).
* ``prepare``: ``prepare(session, cfg)`` makes files the config reads
  that another config's guard run produces (e.g. clip features), in the
  guard's folder, before the runner is built.
* ``init_keys``: for a model-level ``Pretrained`` init (a detector's
  ``init_cfg``), the key prefix of the weights the exported file holds
  (e.g. ``'backbone.'``); other ``Pretrained`` files hold their module.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from .ade20k import build_ade20k
from .imagenet import build_imagenet
from .imagenet_pseudo import build_imagenet_pseudo
from .kitti import build_kitti
from .kitti_depth import build_kitti_depth
from .nuscenes import build_nuscenes
from .nyu_depth_mmseg import build_nyu_depth_mmseg, build_nyu_mmseg_download
from .nyuv2_instances import build_nyuv2_instances_coco
from .orar import build_orar
from .own_frames import build_own_frames
from .scannet import build_scannet_data
from .scannet_instances import build_scannet_instances_coco
from .scannet_seg import build_scannet_frames_25k
from .sunrgbd import build_sunrgbd_data
from .sunrgbd_seg import build_sunrgbd_seg
from .ucf101 import build_ucf101_data
from .waymo import build_waymo


def under(folder: str, builder: Callable) -> Callable:
    """A builder taking its own root, run at ``data_dir/folder``."""

    def build(data_dir, samples_dir):
        return builder(osp.join(str(data_dir), folder), samples_dir)

    build.__doc__ = f'``{builder.__name__}`` at ``data/{folder}``.'
    return build


def build_nyuv2_seg_and_instances(root, samples_dir):
    """The NYUv2 converter layout that the segmentation (40- and 13-class
    labels: the vainf frame) and the Mask R-CNN configs (instance images,
    COCO JSONs) share at ``data/nyuv2``, the frame listed under two train
    indices (a training batch of two)."""
    return build_nyuv2_instances_coco(root, samples_dir, frame='vainf',
                                      num_train=2)


#: layout name -> builder(data_dir, samples_dir) writing under ``data_dir``
#: (the ``data/`` folder next to which the configs run)
LAYOUTS: Dict[str, Callable] = {
    'scannet': build_scannet_data,
    'sunrgbd': build_sunrgbd_data,
    'imagenet_pseudo': build_imagenet_pseudo,
    'own_frames': build_own_frames,
    'ucf101': build_ucf101_data,  # data/ucf101 videos + data/ucf101_rgbd
    'or_ar': under('or_ar', build_orar),
    'kitti': build_kitti,
    'kitti_depth': under('kitti', build_kitti_depth),  # Eigen split
    'waymo': build_waymo,
    'nuscenes': build_nuscenes,
    'ade20k': build_ade20k,
    'nyu_mmseg': build_nyu_mmseg_download,  # data/nyu
    'nyu_labeled': build_nyu_depth_mmseg,  # data/nyu_labeled
    'imagenet': under('imagenet', build_imagenet),
    # data/scannet/scannet_frames_25k (segmentation configs)
    'scannet_25k': under('scannet/scannet_frames_25k',
                         build_scannet_frames_25k),
    # data/scannet_frames_25k + COCO JSONs (Mask R-CNN configs)
    'scannet_25k_coco': under('scannet_frames_25k',
                              build_scannet_instances_coco),
    'nyuv2': under('nyuv2', build_nyuv2_seg_and_instances),
    'sunrgbd_seg': under('SUNRGBD', build_sunrgbd_seg),
}

TINY_VIT = dict(embed_dims=32, num_layers=1, num_heads=2,
                feedforward_channels=64)


# ----------------------------------------------------------------------- #
# model shrinking: width and depth only
# ----------------------------------------------------------------------- #
def keep_model(model) -> None:
    """The demos' models are small already: run them unchanged."""


def shrink_mmrgbd_vit(model) -> None:
    """mmrgbd's ViT pre-training models: a 32-d, 1-block, 2-head ViT and
    1-block decoders / heads of the same width (patch size, image size,
    frames, masking and losses unchanged)."""
    model.backbone.arch = dict(TINY_VIT)
    decoders = [model.get('neck')] + list(model.get('decoders', {}).values())
    for dec in decoders:
        if dec:
            dec.update(in_channels=32, embed_dims=32, num_layers=1,
                       num_heads=2)
    head = model.get('head')
    heads = [head] if head and 'type' in head else list((head or {}).values())
    for h in heads:
        h.in_channels = 32
        if h.get('fusion'):
            h.fusion.num_heads = 2


def shrink_simipu(model) -> None:
    """SimIPU ResNet-50 + PointNet++: a 4-stage ResNet-18 of 8 base
    channels (C5 at stride 32 as shipped), the shipped SA layers (radii,
    group sizes, D-FPS / FS / F-FPS + D-FPS) with few channels and
    512 / 256 / 128 + 128 sampled points, 32-d projection MLPs."""
    model.img_backbone.update(depth=18, base_channels=8)
    model.pts_backbone.sa_cfg.update(
        num_points=(512, 256, (128, 128)),
        fps_sample_range_lists=((-1), (-1), (256, -1)),
        sa_channels=(((8, ), (8, ), (8, )), ((8, ), (8, ), (8, )),
                     ((8, ), (8, ), (16, ))),
        aggregation_channels=(16, 16, 32))
    model.intra_proj.update(in_channels=32, hid_channels=32)
    model.inter_pts_proj.update(in_channels=32, hid_channels=32)
    model.inter_img_proj.update(in_channels=64, hid_channels=32)


def shrink_mmseg_vit(model) -> None:
    """mmseg ViT-B/16 (UPerNet or depth head): 32-d, 4 blocks (one per
    output level), 2 heads; neck and heads 16-32 channels."""
    model.backbone.update(embed_dims=32, num_layers=4, num_heads=2,
                          out_indices=(0, 1, 2, 3))
    model.neck.update(in_channels=[32] * 4, out_channels=32)
    head = model.decode_head
    if head.type == 'VPDDepthHead':
        head.update(in_channels=[32] * 4, embed_dim=8, feature_dim=64,
                    num_deconv_filters=(16, 16, 16))
    else:
        head.update(in_channels=[32] * 4, channels=16)
    if model.get('auxiliary_head'):
        model.auxiliary_head.update(in_channels=32, channels=16)


def shrink_mmpretrain_vit(model) -> None:
    """mmpretrain ViT-B/16 classifier: 32-d, 1 block, 2 heads (a frozen
    backbone stays frozen: ``frozen_stages`` = all blocks)."""
    bb = model.backbone
    bb.arch = dict(TINY_VIT)
    if bb.get('frozen_stages', 0) > TINY_VIT['num_layers']:
        bb.frozen_stages = TINY_VIT['num_layers']
    model.head.in_channels = 32
    if model.get('neck') and 'input_features' in model.neck:
        model.neck.input_features = 32


def shrink_mvxnet(model) -> None:
    """MVX-Net: ResNet-18 of 8 base channels and a 16-channel FPN on the
    image side; 16-channel voxel encoder / PointFusion and sparse encoder,
    one block per SECOND stage, a 64-channel anchor head (the voxel grid,
    anchors and assigners unchanged)."""
    model.img_backbone.update(depth=18, base_channels=8)
    model.img_neck.update(in_channels=[8, 16, 32, 64], out_channels=16)
    vfe = model.pts_voxel_encoder
    vfe.feat_channels = [16, 16]
    vfe.fusion_layer.update(img_channels=16, pts_channels=16,
                            mid_channels=16, out_channels=16)
    model.pts_middle_encoder.update(
        in_channels=16, base_channels=8, output_channels=16,
        encoder_channels=((8, ), (8, 8, 8), (16, 16, 16), (16, 16, 16)))
    model.pts_backbone.update(in_channels=32, out_channels=[16, 32],
                              layer_nums=[1, 1])
    model.pts_neck.update(in_channels=[16, 32], out_channels=[32, 32])
    model.pts_bbox_head.update(in_channels=64, feat_channels=64)


def shrink_fcos3d(model) -> None:
    """FCOS3D: the shipped ResNet-50 (its bottlenecks carry the recipe's
    DCNv2 in stages 3-4, which ResNet-18's basic blocks cannot) at 4 base
    channels, a 32-channel FPN and head (32 channels keep the head's
    GroupNorm(32) valid)."""
    model.backbone.update(base_channels=4)
    model.neck.update(in_channels=[16, 32, 64, 128], out_channels=32)
    head = model.bbox_head
    head.update(in_channels=32, feat_channels=32, cls_branch=(32, ),
                dir_branch=(32, ), attr_branch=(32, ),
                reg_branch=tuple((32, ) if b else () for b in
                                 head.reg_branch))


def shrink_dpt(model) -> None:
    """DPT on an mmpretrain ViT-B/16: 32-d, 4 blocks (one per DPT level),
    2 heads; the DPT head 32 channels, reassemble 4 / 8 / 16 / 32."""
    model.backbone.update(arch=dict(TINY_VIT, num_layers=4),
                          out_indices=(0, 1, 2, 3))
    model.decode_head.update(in_channels=32, channels=32,
                             post_process_channels=[4, 8, 16, 32])


def shrink_densedepth(model) -> None:
    """DenseDepth on SimIPU's ResNet-50: ResNet-18 of 16 base / stem
    channels and a decoder of 16-64 channels."""
    model.backbone.update(depth=18, base_channels=16, stem_channels=16)
    model.decode_head.update(in_channels=[16, 16, 32, 64, 128],
                             up_channels=[16, 16, 32, 32, 64])


def shrink_mmaction_vit(model) -> None:
    """mmaction2 ViT-B/16 video classifier: 32-d, 1 block, 2 heads (clip
    length, tubelets, patch size unchanged)."""
    model.backbone.update(embed_dims=32, depth=1, num_heads=2)
    model.cls_head.in_channels = 32


def shrink_bigru(model) -> None:
    """Bi-GRU over clip features: features of the guard's shrunk clip
    model (32-d, see :func:`extract_orar_clip_features`), 8 hidden units
    per direction."""
    model.neck.update(in_channels=32, hidden_channels=8)
    model.head.in_channels = 16


def shrink_seg_vit(model) -> None:
    """The ViT-B/16 segmentation fine-tunings (mmseg or mmrgbd dense
    multi-modal ViT; ConvNeXt adapter or Mask3D's MAE decoder head): a
    32-d, 1-block, 2-head ViT; the adapter head 128-d (8 per predicted
    sub-patch, 16 per patch as shipped) with 1 block; the MAE decoder as
    the guard's shrunk pre-training neck (32-d, 1 block, 2 heads)."""
    bb = model.backbone
    if bb.type == 'VisionTransformer':  # mmseg
        bb.update(embed_dims=32, num_layers=1, num_heads=2)
    else:
        bb.arch = dict(TINY_VIT)
    head = model.decode_head
    head.in_channels = 32 * len(bb.get('out_modalities', ['rgb']))
    if 'decoder' in head:
        head.decoder.update(embed_dims=32, num_layers=1, num_heads=2)
    else:
        head.update(embed_dims=8 * head.preds_per_patch, num_blocks=1)


#: Mask R-CNN's pyramid / head width in the guard
MASK_RCNN_WIDTH = 32


def shrink_mask_rcnn_vitdet(model) -> None:
    """Mask R-CNN on ViTDet (ViTSAM + simple feature pyramid): a 32-d,
    2-block, 2-head ViTSAM with window attention in the first block and
    global attention in the last (ViT-B: global in 2, 5, 8, 11; global
    attention over the ~3400 tokens of an 800 x 1067 input is what costs
    on a CPU); pyramid, RPN and RoI heads 32 channels."""
    w = MASK_RCNN_WIDTH
    model.backbone.arch = dict(embed_dims=32, num_layers=2, num_heads=2,
                               feedforward_channels=128,
                               global_attn_indexes=[1])
    model.neck.update(in_channels=32, out_channels=w)
    model.rpn_head.update(in_channels=w, feat_channels=w)
    model.roi_head.bbox_roi_extractor.out_channels = w
    model.roi_head.bbox_head.update(in_channels=w, fc_out_channels=2 * w)
    model.roi_head.mask_roi_extractor.out_channels = w
    model.roi_head.mask_head.update(in_channels=w, conv_out_channels=w)


MASK3D_PRETRAIN = 'pretrain/mask3d_vit-b_scannet_1gpu.py'


def link_mask3d_decoder(session, cfg) -> None:
    """The Mask3D fine-tunings read the pre-training decoder from the
    pre-training run's checkpoint (``pretrained_decoder``, the work_dir of
    ``mask3d_vit-b_scannet_1gpu.py``): the checkpoint that config's guard
    run wrote is placed there."""
    pre = session.run(MASK3D_PRETRAIN)
    target = cfg.model.decode_head.decoder_checkpoint
    os.makedirs(osp.dirname(target), exist_ok=True)
    if osp.lexists(target):
        os.remove(target)
    os.symlink(osp.abspath(pre['checkpoint']), target)


ORAR_CLIP = 'downstream/vit-b-p16_m3mae-pre_8xb8-16x4x1-75e_or-ar-clip.py'


def extract_orar_clip_features(session, cfg) -> None:
    """Stage 2 of the OR-AR recipe reads the clip model's features: run
    ``extract_clip_features`` (what ``tools/misc/extract_clip_features.py``
    does) with the checkpoint of the clip config's guard run on the clip
    lists of the train and test splits (val holds the test videos), into
    the Bi-GRU config's ``feature_dir``."""
    from mmrgbd.apis.clip_features import extract_clip_features
    clip = session.run(ORAR_CLIP)
    ds = cfg.test_dataloader.dataset
    ann_files = [osp.join(ds.data_root, d.ann_file) for d in (
        cfg.train_dataloader.dataset.dataset, ds)]
    extract_clip_features(
        session.config_path(ORAR_CLIP), clip['checkpoint'], ann_files,
        osp.join(ds.data_root, ds.feature_dir),
        cfg_options=dict(model=clip['cfg'].model.to_dict()))


# ----------------------------------------------------------------------- #
# the table
# ----------------------------------------------------------------------- #
@dataclass(frozen=True)
class Guard:
    """How one config runs in the guard (see the module docstring)."""
    layout: Optional[str]
    shrink: Callable
    stage1: Optional[str] = None
    train_samples: Optional[int] = None
    no_metric: Optional[str] = None
    init_keys: Optional[str] = None
    prepare: Optional[Callable] = None


NUSCENES_METRIC = (
    "NuScenesMetric evaluates through the nuScenes devkit, which needs the "
    "dataset's database tables (v1.0-trainval/*.json, ~400 MB of scene, "
    "sample and annotation records) for the sample tokens; a one-sample "
    "fixture cannot provide them")

KITTI_METRIC = (
    "KittiMetric's official KITTI evaluation computes rotated box IoUs with "
    'a numba CUDA kernel (mmdet3d rotate_iou_gpu_eval), which cannot run '
    'without a CUDA driver')

MASK_RCNN_METRIC = (
    "the shipped test score threshold (0.5) keeps no detection of a model "
    "after one training step (class scores ~1/21), and mmdet's CocoMetric "
    "returns no metrics for an empty result set; "
    "tests/test_configs/test_mask_rcnn_configs.py scores the config's "
    "CocoMetric with the threshold lowered, and on the ground truth")

CONFIGS: Dict[str, Guard] = {
    # ---------------------------------------------------------- Mask3D
    'pretrain/mask3d_vit-b_scannet.py':
    Guard('scannet', shrink_mmrgbd_vit, train_samples=2),
    'pretrain/mask3d_vit-b_scannet_1gpu.py':
    Guard('scannet', shrink_mmrgbd_vit, train_samples=2),
    'pretrain/mask3d_vit-b_sunrgbd.py': Guard('sunrgbd', shrink_mmrgbd_vit),
    'pretrain/mask3d_vit-b_own-rgbd-frames.py':
    Guard('own_frames', shrink_mmrgbd_vit),
    'pretrain/mask3d_vit-tiny_synthetic-demo.py': Guard(None, keep_model),
    # -------------------------------------------------------- MultiMAE
    'pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py':
    Guard('imagenet_pseudo', shrink_mmrgbd_vit),
    'pretrain/multimae_vit-b_rgb-depth-semseg_400e_in1k.py':
    Guard('imagenet_pseudo', shrink_mmrgbd_vit),
    'pretrain/multimae_vit-b_rgb-depth_1600e_in1k.py':
    Guard('imagenet_pseudo', shrink_mmrgbd_vit),
    'pretrain/multimae_vit-tiny_synthetic-demo.py': Guard(None, keep_model),
    # ----------------------------------------------------------- M3 3D
    'pretrain/m3mae_stage1_scannet.py': Guard('scannet', shrink_mmrgbd_vit),
    'pretrain/m3mae_scannet.py':
    Guard('scannet', shrink_mmrgbd_vit,
          stage1='pretrain/m3mae_stage1_scannet.py'),
    'pretrain/m3mae_video_ucf101.py':
    Guard('ucf101', shrink_mmrgbd_vit, train_samples=2),
    'pretrain/m3mae_video_ucf101_scratch-800e.py':
    Guard('ucf101', shrink_mmrgbd_vit, train_samples=2),
    'pretrain/m3mae_video_orar.py':
    Guard('or_ar', shrink_mmrgbd_vit, train_samples=2),
    'pretrain/m3mae_stage1_vit-tiny_synthetic-demo.py':
    Guard(None, keep_model),
    'pretrain/m3mae_vit-tiny_synthetic-demo.py':
    Guard(None, keep_model,
          stage1='pretrain/m3mae_stage1_vit-tiny_synthetic-demo.py'),
    'pretrain/m3mae_video_vit-tiny_synthetic-demo.py':
    Guard(None, keep_model),
    # ----------------------------------------------------- Progressive
    'pretrain/progressive_stage1_in1k.py':
    Guard('imagenet_pseudo', shrink_mmrgbd_vit),
    'pretrain/progressive_stage2_scannet.py':
    Guard('scannet', shrink_mmrgbd_vit,
          stage1='pretrain/progressive_stage1_in1k.py'),
    'pretrain/progressive_stage2_sunrgbd.py':
    Guard('sunrgbd', shrink_mmrgbd_vit,
          stage1='pretrain/progressive_stage1_in1k.py'),
    'pretrain/progressive_stage1_vit-tiny_synthetic-demo.py':
    Guard(None, keep_model),
    'pretrain/progressive_stage2_vit-tiny_synthetic-demo.py':
    Guard(None, keep_model,
          stage1='pretrain/progressive_stage1_vit-tiny_synthetic-demo.py'),
    # ---------------------------------------------------------- SimIPU
    'pretrain/simipu_r50_kitti.py': Guard('kitti', shrink_simipu),
    'pretrain/simipu_r50_waymo.py': Guard('waymo', shrink_simipu),
    'pretrain/simipu_r18-tiny_synthetic-demo.py': Guard(None, keep_model),
    # ------------------------------------------------------ downstream
    'downstream/upernet_mask3d-vit-b_ade20k-512x512.py':
    Guard('ade20k', shrink_mmseg_vit),
    'downstream/depth_mask3d-vit-b_nyu-480x480.py':
    Guard('nyu_mmseg', shrink_mmseg_vit),
    'downstream/vit-b-p16_mask3d-pre_8xb128-coslr-100e_in1k.py':
    Guard('imagenet', shrink_mmpretrain_vit, train_samples=2),
    'downstream/vit-b-p16_mask3d-pre_8xb2048-linear-coslr-90e_in1k.py':
    Guard('imagenet', shrink_mmpretrain_vit, train_samples=2),
    'downstream/mvxnet_simipu-r50_kitti.py':
    Guard('kitti', shrink_mvxnet, no_metric=KITTI_METRIC,
          init_keys='img_backbone.'),
    'downstream/vit-b-p16_multimae-pre_8xb128-coslr-100e_in1k.py':
    Guard('imagenet', shrink_mmpretrain_vit, train_samples=2),
    'downstream/dpt_multimae-vit-b_nyu-depth-256x256.py':
    Guard('nyu_labeled', shrink_dpt),
    'downstream/dpt_m3mae-vit-b_nyu-depth-256x256.py':
    Guard('nyu_labeled', shrink_dpt),
    'downstream/dpt_progressive-vit-b_nyu-depth-256x256.py':
    Guard('nyu_labeled', shrink_dpt),
    'downstream/densedepth_simipu-r50_kitti-eigen-352x704.py':
    Guard('kitti_depth', shrink_densedepth, init_keys='backbone.'),
    'downstream/vit-b-p16_m3mae-pre_8xb8-16x4x1-100e_ucf101.py':
    Guard('ucf101', shrink_mmaction_vit),
    ORAR_CLIP: Guard('or_ar', shrink_mmaction_vit, train_samples=2),
    'downstream/bigru_m3mae-pre_15e_or-ar.py':
    Guard('or_ar', shrink_bigru, prepare=extract_orar_clip_features),
    'downstream/fcos3d_simipu-r50_nus.py':
    Guard('nuscenes', shrink_fcos3d, no_metric=NUSCENES_METRIC,
          init_keys='backbone.'),
    # ------------------------------- segmentation (ConvNeXt / MAE decoder)
    'downstream/convnext_m3mae-vit-b_scannet20-240x320.py':
    Guard('scannet_25k', shrink_seg_vit, train_samples=2),
    'downstream/convnext_progressive-vit-b_scannet20-240x320.py':
    Guard('scannet_25k', shrink_seg_vit, train_samples=2),
    'downstream/convnext_m3mae-vit-b_nyu40-640x640.py':
    Guard('nyuv2', shrink_seg_vit),
    'downstream/convnext_progressive-vit-b_nyu40-640x640.py':
    Guard('nyuv2', shrink_seg_vit),
    'downstream/convnext_progressive-vit-b_sunrgbd37-640x640.py':
    Guard('sunrgbd_seg', shrink_seg_vit),
    'downstream/convnext_multimae-vit-b_nyu40-rgb-640x640.py':
    Guard('nyuv2', shrink_seg_vit),
    'downstream/convnext_multimae-vit-b_nyu40-rgbd-640x640.py':
    Guard('nyuv2', shrink_seg_vit),
    'downstream/convnext_multimae-vit-b_nyu40-depth-640x640.py':
    Guard('nyuv2', shrink_seg_vit),
    'downstream/maedec_mask3d-vit-b_scannet20-240x320.py':
    Guard('scannet_25k', shrink_seg_vit, train_samples=2,
          prepare=link_mask3d_decoder),
    'downstream/maedec_mask3d-vit-b_nyu13-240x320.py':
    Guard('nyuv2', shrink_seg_vit, prepare=link_mask3d_decoder),
    # ------------------------------------------ Mask R-CNN (ViTDet + SFP)
    'downstream/mask-rcnn_mask3d-vit-b-sfp_8xb2-1x_scannet.py':
    Guard('scannet_25k_coco', shrink_mask_rcnn_vitdet,
          no_metric=MASK_RCNN_METRIC),
    'downstream/mask-rcnn_progressive-vit-b-sfp_8xb2-1x_scannet.py':
    Guard('scannet_25k_coco', shrink_mask_rcnn_vitdet,
          no_metric=MASK_RCNN_METRIC),
    'downstream/mask-rcnn_mask3d-vit-b-sfp_1xb2-1x_nyuv2.py':
    Guard('nyuv2', shrink_mask_rcnn_vitdet,
          no_metric=MASK_RCNN_METRIC),
}
