# SimIPU ResNet-50 pre-training on Waymo (front camera + top LiDAR),
# 10 epochs, 4 samples per GPU on 8 GPUs, hybrid SGD (image + heads) / AdamW
# (LiDAR), lr x0.99 per epoch.
#   bash tools/dist_train.sh configs/pretrain/simipu_r50_waymo.py 8
#
# Data: mmdet3d 1.4's Waymo conversion (tools/create_data.py waymo), i.e.
#   data/waymo/kitti_format/waymo_infos_train.pkl  (v2 infos with
#   images.CAM_FRONT.{img_path, cam2img, lidar2cam}, lidar_points.lidar_path)
#   data/waymo/kitti_format/training/{image_0,velodyne}/
# Points are (x, y, z, intensity, elongation, timestamp) float32; the
# encoder uses x, y, z, intensity. The 360-degree scan is cut to the front
# camera's view (filter_in_image=True), as the paper says.
# "Full Waymo" of the paper = every 5th frame (load_interval=5, the official
# README); load_interval=1 gives 5x more iterations per epoch.
# The official Waymo pipeline is not released: the view-beta augmentation
# is the KITTI one; the image keeps a fixed 1248x832 size (see
# projects/simipu/README.md).
# Double fine-tuning: see simipu_r50_kitti.py (img_backbone.init_cfg).
_base_ = [
    '../_base_/models/simipu_r50.py',
    '../_base_/datasets/kitti_simipu.py',
    '../_base_/schedules/simipu_hybrid.py',
    '../_base_/runtime/default_runtime.py',
]

data_root = 'data/waymo/kitti_format/'
img_scale = (1248, 832)  # (w, h): Waymo front images are 1920x1280
train_pipeline = [
    dict(type='LoadRGBDFromFiles', with_depth=False),
    dict(
        type='LoadLiDARPoints', load_dim=6, use_dim=4, filter_in_image=True),
    dict(type='RGBDResize', scale=img_scale, keep_ratio=False),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(
        type='SimIPUTwoView',
        rot_range=(-1.5707963, 1.5707963),
        scale_range=(0.75, 1.25),
        translation_std=0.,
        rot_center=(35.2, 0., -1.),
        mirror='image_flip',
        num_points=16384,
        shuffle=True),
    dict(type='PackSimIPUInputs'),
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        _delete_=True,
        type='WaymoKITTIFormatDataset',
        data_root=data_root,
        ann_file='waymo_infos_train.pkl',
        cam='CAM_FRONT',
        load_interval=5,
        pipeline=train_pipeline))

max_epochs = 10
param_scheduler = [
    dict(type='ExponentialLR', gamma=0.99, by_epoch=True, begin=0,
         end=max_epochs),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))
