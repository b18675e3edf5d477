# MultiMAE ViT-B/16, RGB + depth + semantic pseudo labels on ImageNet-1K,
# the shorter 400-epoch schedule (same 40 warm-up epochs, batch 2048).
_base_ = [
    '../_base_/models/multimae_vit-b.py',
    '../_base_/datasets/imagenet_pseudo_rgbd.py',
    '../_base_/schedules/multimae_adamw_400e.py',
    '../_base_/runtime/default_runtime.py',
]

train_dataloader = dict(batch_size=256)  # x 8 GPUs = 2048
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
