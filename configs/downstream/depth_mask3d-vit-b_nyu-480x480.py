# Monocular depth on NYUv2 (mmseg's NYU layout and protocol) with a ViT-B/16
# initialised from the RGB encoder of an mmrgbd pre-training (here Mask3D):
# mmseg's DepthEstimator with the ViT + MultiLevelNeck of its UPerNet-ViT
# config and its VPD depth head, evaluated with mmrgbd's
# DepthEstimationMetric (mmseg's DepthMetric raises for depth_metrics=[...]
# and crops at fixed indices; see mmrgbd/evaluation/depth_metric.py).
#
# 1. python tools/model_converters/export_vit.py \
#        work_dirs/mask3d_vit-b_scannet/epoch_100.pth \
#        checkpoints/mask3d_vit-b_rgb_mmseg-480.pth --target mmseg \
#        --img-size 480
# 2. python tools/train.py configs/downstream/depth_mask3d-vit-b_nyu-480x480.py
#
# Data: mmseg's NYU layout (data/nyu/images/{train,test}/*.jpg,
# annotations/{train,test}/*.png uint16 mm), read with mmseg's own
# LoadDepthAnnotation (depth_rescale_factor=1e-3: metres). The labeled
# 795 / 654 frames arranged by nyuv2_png_to_mmseg_depth.py are PNGs: set the
# dataloaders' dataset.data_root and dataset.img_suffix='.png'.
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py',
    'mmseg::_base_/datasets/nyu.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_25k.py',
]

pretrained_rgb = 'checkpoints/mask3d_vit-b_rgb_mmseg-480.pth'
crop_size = (480, 480)

model = dict(
    type='DepthEstimator',
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        img_size=crop_size,
        drop_path_rate=0.1,
        final_norm=True,
        with_cls_token=False,  # Mask3D encoders have no class token
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_rgb)),
    # ViT features at 1/4, 1/8, 1/16, 1/32 from the MultiLevelNeck of the
    # base config feed mmseg's VPD depth head (feature_dim = 8 * embed_dim)
    decode_head=dict(
        _delete_=True,
        type='VPDDepthHead',
        in_channels=[768, 768, 768, 768],
        embed_dim=192,
        feature_dim=1536,
        max_depth=10.),
    auxiliary_head=None,
    test_cfg=dict(mode='slide_flip', crop_size=crop_size, stride=(160, 160)))

# mmseg's NYU train pipeline uses Albu (albumentations, not part of the
# pinned stack); the same geometry with mmseg's own PhotoMetricDistortion:
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='RandomDepthMix', prob=0.25),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PhotoMetricDistortion'),
    dict(
        type='PackSegInputs',
        meta_keys=('img_path', 'depth_map_path', 'ori_shape', 'img_shape',
                   'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                   'category_id')),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))

# Eigen crop, 1 mm - 10 m, metrics averaged per image (NYUv2 protocol);
# silog as in BTS / KITTI (100 * sqrt(var(log error))).
val_evaluator = dict(
    _delete_=True,
    type='mmrgbd.DepthEstimationMetric',
    min_depth_eval=1e-3,
    max_depth_eval=10.,
    crop_type='nyu_crop')
test_evaluator = val_evaluator

# mmrgbd's hook: its checkpoints load in tools/test.py (weights-only
# loading refuses the HistoryBuffer objects MMEngine's hook pickles)
default_hooks = dict(
    checkpoint=dict(
        type='mmrgbd.CheckpointHook',
        save_best='rmse',
        rule='less',
        max_keep_ckpts=1))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
