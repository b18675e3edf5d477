# Progressive stage 2 on SUN RGB-D (sensor depth, 240x320): as the ScanNet
# config with beta = 0.1 for L_denoise and 250 epochs. Give the stage-1
# checkpoint once: --cfg-options model.stage1_checkpoint=...
_base_ = [
    '../_base_/models/progressive_stage2_vit-b.py',
    '../_base_/datasets/sunrgbd.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(
    stage1_checkpoint='work_dirs/progressive_stage1_in1k/epoch_300.pth',
    loss_weights=dict(depth=1.0, denoise=0.1, distill=1.0, rgb=0.0))

train_pipeline = [
    dict(type='LoadRGBDFromFiles', depth_unit='sunrgbd'),
    dict(type='RGBDResize', scale=(320, 240)),  # (w, h)
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='RGBColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
         hue=0.1, prob=0.8),
    dict(type='RGBGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
    dict(type='PackRGBDInputs'),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

max_epochs = 250
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05),
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
auto_scale_lr = dict(base_batch_size=256)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
