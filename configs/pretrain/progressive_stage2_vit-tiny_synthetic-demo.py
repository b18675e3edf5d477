# Progressive stage-2 demo: tiny student + frozen teacher from the stage-1
# demo checkpoint, 20 % RGB + 20 % depth visible, noisy depth with a sigma
# embedding, L_depth + 0.01 * L_denoise + L_distill on synthetic RGB-D rooms
# (96x128); CPU, minutes. The stage-1 checkpoint is model.stage1_checkpoint
# (tools/pretrain_two_stage.sh passes the one it just trained).
_base_ = [
    '../_base_/models/progressive_stage2_vit-b.py',
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
    stage1_checkpoint='work_dirs/progressive_stage1_vit-tiny_synthetic-demo/'
    'iter_300.pth')

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(num_samples=4800, img_size=(96, 128), seed=1))

custom_hooks = [dict(type='ReconstructionVisualizationHook', interval=200)]
