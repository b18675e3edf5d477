# M3 3D stage 2 (images) on ScanNet frames: encoders from stage 1, 80 % of
# RGB and 80 % of depth hidden, shared 'concat' decoder, 0.1 * L_rgb + 1.0 *
# L_depth (L1 on robust per-image standardised depth, as MultiMAE); AdamW
# (0.9, 0.95), base lr 1e-4 per 256 samples, wd 0.05, cosine, 100 epochs;
# colour jitter + Gaussian blur (Table 12).
#
# The stage-1 checkpoint is given ONCE, as model.stage1_checkpoint (below);
# the encoders are loaded from it when the model is built, and a missing or
# incompatible file fails then, naming the file and the missing keys.
# Override it on the command line with
#   --cfg-options model.stage1_checkpoint=work_dirs/.../epoch_20.pth
# (tools/pretrain_two_stage.sh runs stage 1 and passes its last checkpoint).
# The runner checkpoint is read weights-only (nothing in it is executed).
# Resuming stage 2 needs no stage-1 file:
#   --resume --cfg-options model.stage1_checkpoint=None
# Ablations: model.loss_weights.rgb=0 (without the RGB task);
# model.stage1_checkpoint=None (without contrast: no stage 1);
# model.loss_weights.contrast=0.01 keeps InfoNCE during stage 2.
_base_ = [
    '../_base_/models/m3mae_vit-b.py',
    '../_base_/datasets/scannet_frames_rgb-jitter-blur_robust-depth.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(stage1_checkpoint='work_dirs/m3mae_stage1_scannet/epoch_20.pth')

num_gpus, batch_per_gpu = 8, 32
base_lr = 1e-4  # Table 12 "base learning rate": per 256 samples
train_dataloader = dict(batch_size=batch_per_gpu)

max_epochs = 100
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
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3))
