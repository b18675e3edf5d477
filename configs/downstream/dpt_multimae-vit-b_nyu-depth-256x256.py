# NYUv2 monocular depth with a DPT head on the RGB encoder of a MultiMAE
# pre-training: MultiMAE (Bachmann et al., ECCV 2022), App. B.3 and Table 9
# ("NYUv2 depth" column); the result is Table 1, NYUv2 (D), delta_1 = 86.4.
#
#   data        NYUv2 labeled, 795 train / 654 test frames (640x480), in
#               mmseg's NYU layout with PNG images (see 0. below)
#   input       resize the short side to 256 (341x256), random crop 256x256,
#               horizontal flip, colour jitter (brightness 0.1255, contrast
#               0.4, saturation 0.5-1.5, hue 0.2; p = 0.5), grey p = 0.3
#   model       mmseg DepthEstimator: mmpretrain ViT-B/16 (layers 3, 6, 9, 12,
#               no final norm, no drop path) + mmrgbd.DPTHead, linear output
#               in metres, reverse Huber loss (mmrgbd.BerHuLoss)
#   schedule    AdamW lr 1e-4 (0.9, 0.999), wd 1e-4, layer decay 0.75,
#               batch 128 (2 GPUs x 64), 2000 epochs, 100 warm-up epochs from
#               1e-6, cosine to 0
#   test        the whole 341x256 image; metrics on its central 256x256 (the
#               official centre crop), i.e. columns 80:560 at 640x480
#
# Command sequence (pre-train -> export -> fine-tune -> test):
# 0. NYUv2 labeled frames in mmseg's layout:
#      python tools/dataset_converters/nyuv2_mat_to_png.py \
#          nyu_depth_v2_labeled.mat data/nyuv2 --map40 classMapping40.mat \
#          --map13 class13Mapping.mat --splits splits.mat
#      python tools/dataset_converters/nyuv2_png_to_mmseg_depth.py \
#          data/nyuv2 data/nyu_labeled
# 1. bash tools/dist_train.sh \
#        configs/pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py 8
#    (or import the official weights with
#    tools/model_converters/multimae2mmrgbd.py)
# 2. python tools/model_converters/export_vit.py \
#        work_dirs/multimae_vit-b_rgb-depth-semseg_1600e_in1k/epoch_1600.pth \
#        checkpoints/multimae_vit-b_rgb_mmpretrain-256.pth \
#        --target mmpretrain --img-size 256
# 3. bash tools/dist_train.sh \
#        configs/downstream/dpt_multimae-vit-b_nyu-depth-256x256.py 2
# 4. python tools/test.py \
#        configs/downstream/dpt_multimae-vit-b_nyu-depth-256x256.py \
#        work_dirs/dpt_multimae-vit-b_nyu-depth-256x256/epoch_2000.pth
#
# Choices and differences from the official script are listed in
# projects/multimae/README.md ("NYUv2 depth").
_base_ = [
    'mmseg::_base_/datasets/nyu.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)

pretrained_rgb = 'checkpoints/multimae_vit-b_rgb_mmpretrain-256.pth'
crop_size = (256, 256)
data_root = 'data/nyu_labeled'

model = dict(
    type='DepthEstimator',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=crop_size,
        pad_val=0,
        seg_pad_val=0,  # padded depth = 0 = invalid
        # test images (341x256) are padded to a multiple of the patch size;
        # the padding is removed from the prediction
        test_cfg=dict(size_divisor=16)),
    pretrained=None,
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch='base',
        img_size=256,
        patch_size=16,
        out_indices=(2, 5, 8, 11),  # layers 3, 6, 9, 12
        out_type='featmap',
        with_cls_token=True,  # MultiMAE's global token
        final_norm=False,
        drop_path_rate=0.,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained_rgb,
            prefix='backbone.')),
    decode_head=dict(
        type='mmrgbd.DPTHead',
        in_channels=768,
        post_process_channels=[96, 192, 384, 768],
        channels=256,
        output_activation='linear',
        loss_decode=dict(type='mmrgbd.BerHuLoss', threshold=0.2)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='ResizeShortestEdge', scale=256, max_size=100000),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        prob=0.5,
        transforms=[
            dict(
                type='mmpretrain.ColorJitter',
                brightness=0.1255,
                contrast=0.4,
                saturation=(0.5, 1.5),
                hue=0.2)
        ]),
    # the images are BGR: grey = 0.114 B + 0.587 G + 0.299 R
    dict(
        type='RandomGrayscale',
        prob=0.3,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.299)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(
        type='PackSegInputs',
        meta_keys=('img_path', 'depth_map_path', 'ori_shape', 'img_shape',
                   'pad_shape', 'scale_factor', 'flip', 'flip_direction')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', scale=256, max_size=100000),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(
        type='PackSegInputs',
        meta_keys=('img_path', 'depth_map_path', 'ori_shape', 'img_shape',
                   'pad_shape', 'scale_factor', 'flip', 'flip_direction')),
]

train_dataloader = dict(
    batch_size=64,  # x 2 GPUs = 128
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True),
    dataset=dict(
        data_root=data_root, img_suffix='.png', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_root=data_root, img_suffix='.png', pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    _delete_=True,
    type='mmrgbd.DepthEstimationMetric',
    min_depth_eval=1e-3,
    max_depth_eval=10.,
    crop_type='multimae_nyu',
    average='pixel')
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    constructor='mmrgbd.BackboneLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.75,
        flat_decay_mult=0.,
        custom_keys={
            '.cls_token': dict(decay_mult=0.),
            '.pos_embed': dict(decay_mult=0.)
        }))

max_epochs, warmup_epochs = 2000, 100
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=250)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='mmrgbd.CheckpointHook', by_epoch=True, interval=250,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
log_processor = dict(by_epoch=True)
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=128, enable=False)
