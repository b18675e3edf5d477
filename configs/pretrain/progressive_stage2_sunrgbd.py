# Progressive stage 2 on SUN RGB-D (sensor depth, 240x320, the official
# train split of 5285 frames, see configs/_base_/datasets/sunrgbd.py): as
# the ScanNet config with beta = 0.1 for L_denoise and 250 epochs (Table
# 13). Give the stage-1 checkpoint once: --cfg-options
# model.stage1_checkpoint=...
_base_ = [
    '../_base_/models/progressive_stage2_vit-b.py',
    '../_base_/datasets/sunrgbd.py',
    '../_base_/datasets/rgb-jitter-blur_robust-depth.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(
    stage1_checkpoint='work_dirs/progressive_stage1_in1k/epoch_300.pth',
    loss_weights=dict(depth=1.0, denoise=0.1, distill=1.0, rgb=0.0))

# the SUN RGB-D pipeline (official train split) with colour jitter + blur
# and robust per-image depth standardisation, composed from the bases' parts
train_pipeline = (
    _base_.sunrgbd_loading + _base_.rgb_jitter_blur +
    _base_.robust_depth_normalization + _base_.sunrgbd_packing)

num_gpus, batch_per_gpu = 8, 32
base_lr = 1e-4  # Table 13 "base learning rate": per 256 samples
train_dataloader = dict(
    batch_size=batch_per_gpu, dataset=dict(pipeline=train_pipeline))

max_epochs = 250
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=base_lr * num_gpus * batch_per_gpu / 256,
        betas=(0.9, 0.95),
        weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
            'modality_embed': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# the lr above is for this total batch; --auto-scale-lr rescales it linearly
auto_scale_lr = dict(base_batch_size=num_gpus * batch_per_gpu)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
