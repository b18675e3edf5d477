# ScanNet frames for Mask3D pre-training: every 25th frame of each training
# scene, exported by tools/dataset_converters/scannet_sens_to_frames.py into
# data/scannet/frames/scene*/{color,depth,pose,intrinsic}.
# Depth is uint16 millimetres; colour (1296x968) is resized to the depth
# (640x480) and then both to the 240x320 Mask3D input.
dataset_type = 'ScanNetFrames'
data_root = 'data/scannet/frames/'

#
# The pipeline is built from named parts, so a config that adds transforms
# composes them instead of copying the pipeline, e.g.
#   train_pipeline = (_base_.scannet_loading + [...extra transforms...] +
#                     _base_.scannet_packing)
#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# (scannet_frames_rgb-jitter-blur_robust-depth.py does this for M3 3D and
# Progressive).
scannet_loading = [
    # reads colour + depth (unit from the dataset: 'mm') and resizes the
    # colour to the depth size, keeping the depth camera K
    dict(type='LoadScanNetFrame'),
    dict(type='RGBDResize', scale=(320, 240)),  # (w, h)
    dict(type='RGBDRandomFlip', prob=0.5),
]
scannet_depth_normalization = [
    dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
]
scannet_packing = [dict(type='PackRGBDInputs')]
train_pipeline = (scannet_loading + scannet_depth_normalization +
                  scannet_packing)

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        # relative to data_root: data/scannet/scannetv2_train.txt
        scene_list='../scannetv2_train.txt',
        frame_skip=25,
        depth_unit='mm',
        pipeline=train_pipeline),
)
