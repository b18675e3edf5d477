# KITTI 3D object data (official layout) for SimIPU pre-training:
#   data/kitti/ImageSets/{train,val,test}.txt
#   data/kitti/training/{calib,image_2,velodyne}/   (train + val frames)
#   data/kitti/testing/{calib,image_2,velodyne}/    (test frames)
# As in the paper the train and test splits are used and val is excluded
# (it is the downstream evaluation set): ImageSets/train.txt from training/
# plus ImageSets/test.txt from testing/.
# lidar2img = P2 @ R0_rect @ Tr_velo_to_cam; the image transforms update it
# (and accumulate img_aug_matrix), the points stay in the LiDAR frame.
#
# The pipeline follows the official simipu_kitti.py:
# - points: the camera frustum of the loaded image (the crop of KITTI's
#   velodyne_reduced scans, which the official config reads), then the point
#   range [0, -40, -3, 70.4, 40, 1] (PointsRangeFilter); a frame left without
#   points raises BadSampleError (skipped with skip_bad_samples=True);
# - image: keep-ratio resize to a random scale between (640, 192) and
#   (2400, 720), horizontal flip with p = 0.5 (images of a batch are padded
#   to one size, a multiple of 32, by PadRGBDDataPreprocessor);
# - view alpha = the loaded points sampled to 16384; view beta = a yaw in
#   +-pi/2 about (35.2, 0, -1), a scale in [0.75, 1.25], no translation, and
#   the BEV mirror y -> -y exactly when the image was flipped (RandomFlip3D
#   synced with the image); both views shuffled.
dataset_type = 'KITTIRawObjectDataset'
data_root = 'data/kitti/'
point_cloud_range = [0, -40, -3, 70.4, 40, 1]
img_scales = [(640, 192), (2400, 720)]  # (w, h) bounds of the random scale
num_points = 16384

train_pipeline = [
    dict(type='LoadRGBDFromFiles', with_depth=False),
    dict(
        type='LoadLiDARPoints',
        load_dim=4,
        use_dim=4,
        filter_in_image=True,
        point_cloud_range=point_cloud_range),
    dict(type='RGBDRandomResize', scales=img_scales, keep_ratio=True),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(
        type='SimIPUTwoView',
        rot_range=(-1.5707963, 1.5707963),  # +-pi/2
        tilt_range=0.,
        scale_range=(0.75, 1.25),
        translation_std=0.,
        rot_center=(35.2, 0., -1.),
        mirror='image_flip',
        num_points=num_points,
        shuffle=True),
    dict(type='PackSimIPUInputs'),
]

train_dataloader = dict(
    batch_size=4,  # per GPU, 8 GPUs
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                split='training',
                image_set='ImageSets/train.txt',
                pipeline=train_pipeline),
            dict(
                type=dataset_type,
                data_root=data_root,
                split='testing',
                image_set='ImageSets/test.txt',
                pipeline=train_pipeline),
        ]))
