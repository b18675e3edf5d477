# ScanNet 2D semantic segmentation, 20 benchmark classes (mmseg API), at
# 240x320: the scannet_frames_25k download (every 100th frame of the 1201
# train / 312 val scans), official scene lists copied next to the scenes:
#   data/scannet/scannet_frames_25k/scene0000_00/{color,depth,label}/...
#   data/scannet/scannet_frames_25k/scannetv2_{train,val}.txt
# (ScanNet's Tasks/Benchmark/). For the per-scan *_2d-label-filt.zip, run
# tools/dataset_converters/scannet_labels_to_nyu40.py first. Labels: nyu40
# ids mapped to the benchmark classes by mmseg's class-subset label_map
# (mmrgbd/datasets/seg/scannet_seg.py). Images are resized to exactly
# 320x240 (ScanNet frames are 4:3); evaluation compares the prediction,
# resized back, with the label at its stored resolution.
dataset_type = 'mmrgbd.ScanNetSegDataset'
data_root = 'data/scannet/scannet_frames_25k/'
crop_size = (240, 320)
scannet_resize = [dict(type='Resize', scale=(320, 240), keep_ratio=False)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    *scannet_resize,
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    *scannet_resize,
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        scene_list='scannetv2_train.txt',
        frame_skip=100,
        data_ratio=1.0,  # low-data runs (Mask3D Fig. 5): e.g. 0.2
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        scene_list='scannetv2_val.txt',
        frame_skip=100,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
