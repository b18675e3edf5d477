# M3 3D stage 1 on ScanNet frames (every 25th frame, 240x320): patch-level
# RGB <-> depth InfoNCE only, 20 epochs, AdamW (0.9, 0.95) lr 1e-4, wd 0.05,
# cosine. Then run stage 2 (configs/pretrain/m3mae_scannet.py) from its
# last checkpoint, e.g. with the two-stage runner:
#   bash tools/pretrain_two_stage.sh configs/pretrain/m3mae_stage1_scannet.py \
#       configs/pretrain/m3mae_scannet.py 8
# Shared instead of modality-specific encoders (set the same in stage 2):
#   --cfg-options model.backbone.shared_encoder=True
_base_ = [
    '../_base_/models/m3mae_stage1_vit-b.py',
    '../_base_/datasets/scannet_frames.py',
    '../_base_/runtime/default_runtime.py',
]

# ScanNet pipeline of the base plus colour jitter and Gaussian blur (RGB only)
train_pipeline = [
    dict(type='LoadRGBDFromFiles', depth_unit='mm'),
    dict(type='ResizeRGBToDepth'),
    dict(type='RGBDResize', scale=(320, 240)),  # (w, h)
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='RGBColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
         hue=0.1, prob=0.8),
    dict(type='RGBGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
    dict(type='PackRGBDInputs'),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

max_epochs = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={'pos_embed': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# lr 1e-4 is for 8 GPUs x 32 = 256 samples per step
auto_scale_lr = dict(base_batch_size=256)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
