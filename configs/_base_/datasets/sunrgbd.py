# SUN RGB-D frames (official SUNRGBD folder; bit-rotated uint16 depth PNGs)
# resized to the 240x320 Mask3D input. The sensor depth (depth/, holes
# marked invalid and excluded from the loss) is used for pre-training;
# depth_source='filled' reads the hole-filled depth_bfx/ instead.
dataset_type = 'SUNRGBDDataset'
data_root = 'data/sunrgbd/SUNRGBD/'

train_pipeline = [
    dict(type='LoadRGBDFromFiles', depth_unit='sunrgbd'),
    dict(type='RGBDResize', scale=(320, 240)),  # (w, h)
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
    dict(type='PackRGBDInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        depth_source='sensor',
        depth_unit='sunrgbd',
        pipeline=train_pipeline),
)
