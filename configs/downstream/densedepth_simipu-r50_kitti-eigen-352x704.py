# KITTI monocular depth (Eigen split) with a U-shaped ResNet-50 initialised
# from SimIPU: SimIPU (Li et al., AAAI 2022), Sec. 4 "KITTI Monocular Depth
# Estimation", App. C (the baseline) and Table 3 (Ours-W: REL 0.073, Sq Rel
# 0.285, RMS 2.840, log 0.113, delta 0.935 / 0.990 / 0.998).
#
#   model     mmseg DepthEstimator: mmrgbd.StemOutputResNet (mmdet's ResNet-50
#             plus its stride-2 stem map) + mmrgbd.DenseDepthHead (AdaBins'
#             upsampling decoder with skips at strides 16, 8, 4, 2: output at
#             half resolution), sigmoid x 80 m; scale-invariant loss
#             (mmrgbd.ScaleInvariantLogLoss, lambda 0.85, alpha 10, App. C)
#   paper     gives the architecture, the loss and the Eigen split only;
#             the rest is the authors' released depth toolbox config
#             (zhyever/Monocular-Depth-Estimation-Toolbox,
#             configs/simipu/simipu_r50_waymo_kitti_24e.py, read for facts):
#   data      KITTI raw images + depth-completion ground truth (uint16 / 256
#             m) listed by the Eigen split files with ground truth
#   input     KITTI benchmark crop 352x1216, rotation +-2.5 deg (p 0.5),
#             flip, random crop 352x704, gamma / brightness / colour
#             0.9-1.1 (p 0.5)
#   schedule  AdamW (0.95, 0.99), wd 0.01, one-cycle lr (max 1e-4, /25 at
#             the start, /100 at the end, 30 % rising), 24 epochs, batch 16
#             (2 GPUs x 8), gradient clipping at 350 (the toolbox's 35 with
#             alpha = 1: alpha = 10 scales every gradient by 10 and AdamW's
#             step not at all, so the run is the toolbox's)
#   test      benchmark crop, the prediction averaged with its flipped
#             twin, Garg crop, 1e-3 < depth < 80 m, metrics per image
#
# Command sequence (pre-train -> export -> fine-tune -> test):
# 0. data/kitti/input/2011_09_26/... (KITTI raw), data/kitti/gt_depth/
#    2011_09_26_drive_0001_sync/proj_depth/groundtruth/image_02/... (KITTI
#    depth completion train + val merged) and the split files
#    data/kitti/kitti_eigen_train.txt, kitti_eigen_test.txt ("<image>
#    <depth or None> <focal>", as BTS / the toolbox ship them)
# 1. bash tools/dist_train.sh configs/pretrain/simipu_r50_waymo.py 8
#    (Ours-W; configs/pretrain/simipu_r50_kitti.py for Ours-K)
# 2. python tools/model_converters/simipu2mmdet3d.py \
#        work_dirs/simipu_r50_waymo/epoch_10.pth checkpoints/simipu_r50
#    (writes checkpoints/simipu_r50_fcos3d.pth: the ResNet as backbone.*)
# 3. bash tools/dist_train.sh \
#        configs/downstream/densedepth_simipu-r50_kitti-eigen-352x704.py 2
# 4. python tools/test.py \
#        configs/downstream/densedepth_simipu-r50_kitti-eigen-352x704.py \
#        work_dirs/densedepth_simipu-r50_kitti-eigen-352x704/epoch_24.pth
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)

simipu_checkpoint = 'checkpoints/simipu_r50_fcos3d.pth'
crop_size = (352, 704)
kb_crop = (352, 1216)
data_root = 'data/kitti'
max_depth = 80.

model = dict(
    type='DepthEstimator',
    # the SimIPU encoder's input normalisation (ImageNet RGB mean / std)
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=crop_size,
        pad_val=0,
        seg_pad_val=0),  # padded depth = 0 = invalid
    pretrained=None,
    backbone=dict(
        type='mmrgbd.StemOutputResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        style='pytorch',  # as pre-trained by SimIPU
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    decode_head=dict(
        type='mmrgbd.DenseDepthHead',
        in_channels=[64, 256, 512, 1024, 2048],
        up_channels=[128, 256, 512, 1024, 2048],
        norm_cfg=dict(type='BN', requires_grad=True),
        act_cfg=dict(type='LeakyReLU', negative_slope=0.01),
        output_activation='sigmoid',
        max_depth=max_depth,
        align_corners=True,
        loss_decode=dict(
            type='mmrgbd.ScaleInvariantLogLoss',
            lambda_=0.85,
            alpha=10.,
            eps=1e-3)),
    # the exported SimIPU ResNet: backbone.* keys, loaded into the backbone
    init_cfg=dict(type='Pretrained', checkpoint=simipu_checkpoint),
    train_cfg=dict(),
    # one window of the whole (benchmark-cropped) image, plus its flip
    test_cfg=dict(mode='slide_flip', crop_size=kb_crop, stride=kb_crop))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1. / 256),
    dict(type='mmrgbd.KBCrop', height=kb_crop[0], width=kb_crop[1]),
    dict(type='RandomRotate', prob=0.5, degree=2.5, pad_val=0,
         seg_pad_val=0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(
        type='mmrgbd.RandomGammaBrightnessColor',
        prob=0.5,
        gamma_range=(0.9, 1.1),
        brightness_range=(0.9, 1.1),
        color_range=(0.9, 1.1)),
    dict(
        type='PackSegInputs',
        meta_keys=('img_path', 'depth_map_path', 'ori_shape', 'img_shape',
                   'pad_shape', 'scale_factor', 'flip', 'flip_direction')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1. / 256),
    dict(type='mmrgbd.KBCrop', height=kb_crop[0], width=kb_crop[1]),
    dict(
        type='PackSegInputs',
        meta_keys=('img_path', 'depth_map_path', 'ori_shape', 'img_shape',
                   'pad_shape', 'scale_factor', 'flip', 'flip_direction')),
]

train_dataloader = dict(
    batch_size=8,  # x 2 GPUs = 16
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='mmrgbd.KITTIDepthDataset',
        data_root=data_root,
        ann_file='kitti_eigen_train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmrgbd.KITTIDepthDataset',
        data_root=data_root,
        ann_file='kitti_eigen_test.txt',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='mmrgbd.DepthEstimationMetric',
    min_depth_eval=1e-3,
    max_depth_eval=max_depth,
    crop_type='garg_kitti',
    average='image')
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.95, 0.99), weight_decay=0.01),
    clip_grad=dict(max_norm=350., norm_type=2))

max_epochs = 24
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=1e-4,
        total_steps=max_epochs,
        pct_start=0.3,
        anneal_strategy='cos',
        div_factor=25.,
        final_div_factor=100.,
        by_epoch=True,
        convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=6)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='mmrgbd.CheckpointHook', by_epoch=True, interval=1,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
log_processor = dict(by_epoch=True)
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=16, enable=False)
