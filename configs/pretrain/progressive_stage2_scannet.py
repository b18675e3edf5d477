# Progressive stage 2 on ScanNet frames (240x320): student and frozen teacher
# from the stage-1 checkpoint, 20 % RGB + 20 % depth visible, noisy depth
# (sigma ~ U[0, 0.5] in robust-standardised depth units) with a sigma
# embedding, L_depth + 0.01 * L_denoise + L_distill (teacher on the clean
# input at the student's patches); AdamW (0.9, 0.95), base lr 1e-4 per 256
# samples, wd 0.05, cosine, 100 epochs; colour jitter + Gaussian blur
# (Table 13).
#
# The stage-1 checkpoint is given ONCE, as model.stage1_checkpoint (below);
# it initialises the student encoders AND the teacher when the model is
# built; a missing or incompatible file fails then (file + missing keys).
#   --cfg-options model.stage1_checkpoint=work_dirs/.../epoch_300.pth
# (tools/pretrain_two_stage.sh passes stage 1's last checkpoint). The runner
# checkpoint is read weights-only (nothing in it is executed).
# The teacher is saved in the stage-2 checkpoints, so resuming needs no
# stage-1 file: --resume --cfg-options model.stage1_checkpoint=None
# Ablations (paper Tables 6, 7, 9): model.noise_mode='none' (no noise),
# model.noise_mode='input' (noise on the input only),
# model.loss_weights.distill=0 (no distillation), model.loss_weights.rgb=1
# model.neck.heads.rgb=768 (RGB + depth reconstruction).
_base_ = [
    '../_base_/models/progressive_stage2_vit-b.py',
    '../_base_/datasets/scannet_frames_rgb-jitter-blur_robust-depth.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(
    stage1_checkpoint='work_dirs/progressive_stage1_in1k/epoch_300.pth',
    loss_weights=dict(depth=1.0, denoise=0.01, distill=1.0, rgb=0.0))

num_gpus, batch_per_gpu = 8, 32
base_lr = 1e-4  # Table 13 "base learning rate": per 256 samples
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
