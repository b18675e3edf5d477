# M3 3D stage 1 on ScanNet frames (every 25th frame, 240x320): patch-level
# RGB <-> depth InfoNCE only, 20 epochs, AdamW (0.9, 0.95), base lr 1e-4
# per 256 samples, wd 0.05, cosine (Table 12). Then run stage 2
# (configs/pretrain/m3mae_scannet.py) from its last checkpoint, e.g. with
# the two-stage runner:
#   bash tools/pretrain_two_stage.sh configs/pretrain/m3mae_stage1_scannet.py \
#       configs/pretrain/m3mae_scannet.py 8
# Shared instead of modality-specific encoders (set the same in stage 2):
#   --cfg-options model.backbone.shared_encoder=True
#
# The RGB encoder starts from self-supervised ImageNet MAE weights (Sec. 4.1;
# Table 7: 67.3 vs 42.5 mIoU without), as the Mask3D config. Make the file
# once from the official MAE checkpoint:
#   python tools/model_converters/mae2mmrgbd.py \
#       mae_pretrain_vit_base.pth checkpoints/mae_vit-b_in1k_mmrgbd.pth
# The depth encoder starts from scratch (as Mask3D's), to start it from the
# same MAE weights too (its 1-channel patch projection stays random):
#   --cfg-options model.backbone.modalities.depth.init_cfg.type=Pretrained \
#       model.backbone.modalities.depth.init_cfg.checkpoint=checkpoints/mae_vit-b_in1k_mmrgbd.pth
# From scratch (the "without ImageNet initialisation" ablation), one line:
#   --cfg-options model.backbone.modalities.rgb.init_cfg=None
_base_ = [
    '../_base_/models/m3mae_stage1_vit-b.py',
    '../_base_/datasets/scannet_frames_rgb-jitter-blur_robust-depth.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(
    backbone=dict(
        modalities=dict(
            rgb=dict(
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint='checkpoints/mae_vit-b_in1k_mmrgbd.pth')))))

num_gpus, batch_per_gpu = 8, 32
base_lr = 1e-4  # Table 12 "base learning rate": per 256 samples
train_dataloader = dict(batch_size=batch_per_gpu)

max_epochs = 20
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
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# the lr above is for this total batch; --auto-scale-lr rescales it linearly
auto_scale_lr = dict(base_batch_size=num_gpus * batch_per_gpu)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
