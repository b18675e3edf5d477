# SUN RGB-D semantic segmentation, 37 classes (mmseg API): the official
# SUNRGBD folders plus the 37-class label PNGs, listed per split by
#   python tools/dataset_converters/sunrgbd_infos.py data/SUNRGBD \
#       data/SUNRGBD/sunrgbd_train_seg.txt --split-file train_dirs.txt \
#       --label-dir labels --label-order label_order.txt
# (5285 train / 5050 test frames; the dataset warns on other sizes).
# mmseg's IoUMetric reports aAcc, mIoU and mAcc (mean class accuracy).
# Pipelines are set by the configs.
dataset_type = 'mmrgbd.SUNRGBDSegDataset'
data_root = 'data/SUNRGBD/'
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='sunrgbd_train_seg.txt',
        split='train',
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
        ann_file='sunrgbd_test_seg.txt',
        split='test',
        depth_source='filled',
        pipeline=[]))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
