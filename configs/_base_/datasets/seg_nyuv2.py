# NYUv2 semantic segmentation (mmseg API): the 795 / 654 official split in
# the layout of tools/dataset_converters/nyuv2_mat_to_png.py:
#   data/nyuv2/{rgb,depth,rawdepth,label40,label13}/XXXX.png, train.txt,
#   test.txt
# 40 classes by default (num_classes=13: the Pri3D / Mask3D protocol).
# Pipelines are set by the configs (sizes and augmentations differ).
dataset_type = 'mmrgbd.NYUv2SegDataset'
data_root = 'data/nyuv2/'
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        num_classes=40,
        depth_source='filled',
        data_ratio=1.0,
        pipeline=[]))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        num_classes=40,
        depth_source='filled',
        pipeline=[]))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
