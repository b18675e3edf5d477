# Progressive stage 1 on ImageNet-1K with pseudo depth: patch-level
# RGB <-> depth InfoNCE (symmetric, Eq. 1, on the encoder features;
# content-only tokens, see the model base) between modality-specific
# ViT-B/16 encoders, 224x224, 300 epochs, AdamW (0.9, 0.95), learning rate
# 1.5e-4 read as MAE's base lr per 256 images (Sec. 7.1; 1.5e-4 is exactly
# MAE's base lr), i.e. 6e-4 at the total batch of 8 x 128 = 1024, wd 0.05,
# 40 warm-up epochs (not given; MAE's) and cosine decay. Initialised from
# scratch.
# Data: data/imagenet_pseudo/train.txt "rgb depth [semseg]" lines (see
# configs/_base_/datasets/imagenet_pseudo_rgbd.py); pseudo depth is affine-
# ambiguous and robust-standardised per image (the stage-2 configs do the
# same so both stages see the same depth statistics).
# Then: configs/pretrain/progressive_stage2_{scannet,sunrgbd}.py, e.g.
#   bash tools/pretrain_two_stage.sh \
#       configs/pretrain/progressive_stage1_in1k.py \
#       configs/pretrain/progressive_stage2_scannet.py 8
_base_ = [
    '../_base_/models/progressive_stage1_vit-b.py',
    '../_base_/datasets/imagenet_pseudo_rgbd.py',
    '../_base_/runtime/default_runtime.py',
]

# the pipeline of the base without the semseg maps (RGB + depth only)
train_pipeline = [dict(_base_.train_pipeline[0], with_semseg=False)
                  ] + _base_.train_pipeline[1:]
num_gpus, batch_per_gpu = 8, 128
base_lr = 1.5e-4  # per 256 images (MAE convention)
train_dataloader = dict(
    batch_size=batch_per_gpu, dataset=dict(pipeline=train_pipeline))

max_epochs = 300
warmup_epochs = 40
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
        custom_keys={'pos_embed': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# the lr above is for this total batch; --auto-scale-lr rescales it linearly
auto_scale_lr = dict(base_batch_size=num_gpus * batch_per_gpu)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2))
