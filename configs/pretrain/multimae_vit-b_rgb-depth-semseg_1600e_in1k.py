# MultiMAE ViT-B/16, RGB + depth + semantic pseudo labels on ImageNet-1K,
# 1600 epochs, total batch 2048 (256 per GPU x 8 GPUs).
#   bash tools/dist_train.sh \
#       configs/pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py 8
_base_ = [
    '../_base_/models/multimae_vit-b.py',
    '../_base_/datasets/imagenet_pseudo_rgbd.py',
    '../_base_/schedules/multimae_adamw_1600e.py',
    '../_base_/runtime/default_runtime.py',
]

train_dataloader = dict(batch_size=256)  # x 8 GPUs = 2048
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
