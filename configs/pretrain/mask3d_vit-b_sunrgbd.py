# Mask3D ViT-B/16 pre-training on SUN RGB-D (240x320),
# SGD lr 0.1, global batch 128 = 8 GPUs x 16, 100 epochs (the ScanNet
# recipe; SUN RGB-D pre-training is not in the paper). On one GPU use the
# overrides of configs/pretrain/mask3d_vit-b_scannet_1gpu.py.
#   bash tools/dist_train.sh configs/pretrain/mask3d_vit-b_sunrgbd.py 8
#
# The RGB encoder starts from MAE ImageNet weights (Stage-I init). Make the
# file once from the official MAE checkpoint (mmpretrain ViT keys):
#   python tools/model_converters/mae2mmrgbd.py \
#       mae_pretrain_vit_base.pth checkpoints/mae_vit-b_in1k_mmrgbd.pth
# The init_cfg sits on the RGB encoder (an mmpretrain ViT), so no prefix is
# needed; to start from an mmrgbd (e.g. Mask3D) checkpoint instead, use
# prefix='backbone.encoders.rgb.'. The MAE class token and learned pos_embed
# are not used (no global token here; the sin-cos embedding stays fixed).
_base_ = [
    '../_base_/models/mask3d_vit-b.py',
    '../_base_/datasets/sunrgbd.py',
    '../_base_/schedules/mask3d_sgd_100e.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(
    backbone=dict(
        modalities=dict(
            rgb=dict(
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint='checkpoints/mae_vit-b_in1k_mmrgbd.pth')))))

train_dataloader = dict(batch_size=16)  # x 8 GPUs = 128
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3))
