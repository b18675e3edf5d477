# SUN RGB-D frames (official SUNRGBD folder; bit-rotated uint16 depth PNGs)
# resized to the 240x320 Mask3D input. The sensor depth (depth/, holes
# marked invalid and excluded from the loss) is used for pre-training;
# depth_source='filled' reads the hole-filled depth_bfx/ instead.
#
# Pre-training uses the official TRAIN split only (5285 of the 10,335
# frames; the 5050 test frames are the evaluation set): ann_file lists the
# train sample folders. Write it once from the SUN RGB-D toolbox split
# (traintestSUNRGBD/allsplit.mat, field alltrain, one folder per line):
#   python tools/dataset_converters/sunrgbd_infos.py data/sunrgbd/SUNRGBD \
#       data/sunrgbd/SUNRGBD/sunrgbd_train.txt --split-file alltrain.txt
# (ann_file='' would read every sample folder, test frames included.)
dataset_type = 'SUNRGBDDataset'
data_root = 'data/sunrgbd/SUNRGBD/'

# named parts (see scannet_frames.py): configs that add transforms compose
#   _base_.sunrgbd_loading + [...] + _base_.sunrgbd_packing
sunrgbd_loading = [
    dict(type='LoadRGBDFromFiles', depth_unit='sunrgbd'),
    dict(type='RGBDResize', scale=(320, 240)),  # (w, h)
    dict(type='RGBDRandomFlip', prob=0.5),
]
sunrgbd_depth_normalization = [
    dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
]
sunrgbd_packing = [dict(type='PackRGBDInputs')]
train_pipeline = (sunrgbd_loading + sunrgbd_depth_normalization +
                  sunrgbd_packing)

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='sunrgbd_train.txt',
        depth_source='sensor',
        depth_unit='sunrgbd',
        pipeline=train_pipeline),
)
