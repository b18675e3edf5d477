# Mask3D ViT-B/16 pre-training on ScanNet (every 25th frame of the 1513
# train + val scans, 240x320), SGD lr 0.1, global batch 128 = 8 GPUs x 16,
# lr x0.99 every 1000 updates, 100 epochs.
#   bash tools/dist_train.sh configs/pretrain/mask3d_vit-b_scannet.py 8
# On one GPU (the paper's 64 x 2 accumulation):
#   python tools/train.py configs/pretrain/mask3d_vit-b_scannet_1gpu.py
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
    '../_base_/datasets/scannet_frames.py',
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

# 16 per GPU x 8 GPUs = the paper's batch of 128 (auto_scale_lr base 128).
# The paper's data: all 1513 ScanNet v2 train + val scans (scene lists are
# relative to data_root = data/scannet/frames/), every 25th frame, "without
# any other filtering": frames with an invalid (inf) pose are kept, Mask3D
# uses colour and depth only.
train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        scene_list=['../scannetv2_train.txt', '../scannetv2_val.txt'],
        skip_invalid_poses=False))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3))
