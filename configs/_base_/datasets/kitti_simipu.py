# KITTI 3D object data (official layout) for SimIPU pre-training:
#   data/kitti/ImageSets/{train,val,test}.txt
#   data/kitti/training/{calib,image_2,velodyne}/   (train + val frames)
#   data/kitti/testing/{calib,image_2,velodyne}/    (test frames)
# As in the paper the train and test splits are used and val is excluded
# (it is the downstream evaluation set): ImageSets/train.txt from training/
# plus ImageSets/test.txt from testing/.
# lidar2img = P2 @ R0_rect @ Tr_velo_to_cam; the image transforms update it
# (and accumulate img_aug_matrix), the points stay in the LiDAR frame.
dataset_type = 'KITTIRawObjectDataset'
data_root = 'data/kitti/'
img_scale = (1280, 384)  # (w, h), a multiple of 32
num_points = 16384
# KITTI scans cover 360 degrees, the image ~90; the inter-modal term drops
# points outside the image anyway. Set True to keep only the camera view.
filter_in_image = False

train_pipeline = [
    dict(type='LoadRGBDFromFiles', with_depth=False),
    dict(
        type='LoadLiDARPoints',
        load_dim=4,
        use_dim=4,
        filter_in_image=filter_in_image),
    dict(type='RGBDResize', scale=img_scale, keep_ratio=False),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(
        type='SimIPUTwoView',
        rot_range=(-1.5707963, 1.5707963),  # +-pi/2
        tilt_range=0.,
        scale_range=(0.75, 1.25),
        translation_std=(0.5, 0.5, 0.1),
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
