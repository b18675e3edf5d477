# Mask3D ViT-B/16 pre-training on your own RGB-D frames (240x320): the
# ScanNet recipe (SGD lr 0.1, effective batch 128, 100 epochs) on a frame
# list, see configs/_base_/datasets/rgbd_list_own_frames.py for the list
# format and the depth unit.
#   python tools/train.py configs/pretrain/mask3d_vit-b_own-rgbd-frames.py \
#       --cfg-options train_dataloader.dataset.data_root=data/my_rgbd/ \
#       train_dataloader.dataset.ann_file=train.txt
#   bash tools/dist_train.sh configs/pretrain/mask3d_vit-b_own-rgbd-frames.py 8
# Start the RGB encoder from MAE weights as configs/pretrain/
# mask3d_vit-b_scannet.py does (model.backbone.modalities.rgb.init_cfg).
_base_ = [
    '../_base_/models/mask3d_vit-b.py',
    '../_base_/datasets/rgbd_list_own_frames.py',
    '../_base_/schedules/mask3d_sgd_100e.py',
    '../_base_/runtime/default_runtime.py',
]

train_dataloader = dict(batch_size=64)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3))
