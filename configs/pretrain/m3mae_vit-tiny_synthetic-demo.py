# M3 3D stage-2 demo (images): tiny ViTs from the stage-1 demo, 20 % RGB +
# 20 % depth visible, 'concat' decoder, 0.1 * L_rgb + 1.0 * L_depth on
# synthetic RGB-D rooms (96x128); CPU, minutes. Run after the stage-1 demo,
# or both with tools/pretrain_two_stage.sh (which passes the stage-1
# checkpoint as --cfg-options model.stage1_checkpoint=...).
_base_ = [
    '../_base_/models/m3mae_vit-b.py',
    '../_base_/datasets/synthetic_rgbd_rgb-jitter-blur_robust-depth.py',
    '../_base_/schedules/synthetic_demo_adamw_600it.py',
]

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=4,
            num_heads=4,
            feedforward_channels=512),
        img_size=(96, 128)),
    neck=dict(in_channels=128, embed_dims=128, num_layers=2, num_heads=4),
    head=dict(contrast=dict(in_channels=128)),
    stage1_checkpoint='work_dirs/m3mae_stage1_vit-tiny_synthetic-demo/'
    'iter_1500.pth')

# Stage 2 fine-tunes the stage-1 encoders: half the from-scratch demos' lr
# (5e-4 instead of 1e-3). At 1e-3 stage 2 eroded what stage 1 learnt, and
# the RGB encoder beat its random twin on the issue-13 probe only for some
# training seeds; at 5e-4 it passes for training seeds 0, 1 and 2
# (projects/m3mae/README.md, "Probe gate").
optim_wrapper = dict(optimizer=dict(lr=5e-4))

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(num_samples=4800, img_size=(96, 128), seed=1))

custom_hooks = [dict(type='ReconstructionVisualizationHook', interval=200)]
