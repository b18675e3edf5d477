# Progressive SUN RGB-D semantic segmentation: Table 2 (Ours: 48.7 mIoU) and
# Table 4 (acc_s, mean accuracy: 65.4), 37 classes, official 5285 / 5050
# split, the model pre-trained in stage 2 on SUN RGB-D; fine-tuning settings
# of Table 14 (SUN RGB-D column), ConvNeXt head following MultiMAE. mmseg's
# IoUMetric reports mIoU, mAcc (mean of the per-class accuracies) and aAcc
# (pixel accuracy); Table 4's acc_s is read as mAcc.
#
# Commands (4 GPUs x 2 images; CKPT = the best checkpoint the fine-tuning
# writes to work_dirs/convnext_progressive-vit-b_sunrgbd37-640x640/):
#   1. pre-train: stage 1 configs/pretrain/progressive_stage1_in1k.py, stage
#      2 configs/pretrain/progressive_stage2_sunrgbd.py
#   2. export at 640x640: python tools/model_converters/export_vit.py \
#          work_dirs/progressive_stage2_sunrgbd/epoch_250.pth \
#          checkpoints/progressive-sunrgbd_vit-b_rgb_mmseg-640.pth \
#          --target mmseg --img-size 640 --src-prefix backbone.
#   3. SUN RGB-D layout and lists: tools/dataset_converters/sunrgbd_infos.py
#      (see configs/_base_/datasets/seg_sunrgbd37.py)
#   4. fine-tune: bash tools/dist_train.sh \
#          configs/downstream/convnext_progressive-vit-b_sunrgbd37-640x640.py 4
#   5. test: bash tools/dist_test.sh \
#          configs/downstream/convnext_progressive-vit-b_sunrgbd37-640x640.py \
#          $CKPT 4
#
# Table 14 (SUN RGB-D): AdamW (0.9, 0.999), base lr 1e-4, layer decay 0.75,
# weight decay 0.05, cosine, warm-up 1 epoch from 1e-6, drop path 0.1, 60
# epochs, 640x640, Gaussian blur and horizontal flip, no colour jitter. Not
# stated (our choices): batch 8, blur sigma U[0.1, 2.0] with p 0.5, the
# frames (up to 730x530) resized to longest side 640 and padded to 640x640.
_base_ = [
    '../_base_/models/seg_vit-b_convnext-head.py',
    '../_base_/datasets/seg_sunrgbd37.py',
    '../_base_/schedules/seg_adamw-ld0.75.py',
    '../_base_/runtime/seg_runtime.py',
]

pretrained = 'checkpoints/progressive-sunrgbd_vit-b_rgb_mmseg-640.pth'
crop_size = (640, 640)
num_classes = 37

model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size=crop_size)),
    backbone=dict(
        img_size=crop_size,
        with_cls_token=False,  # Progressive encoders have no class token
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=num_classes))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='mmpretrain.GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,  # x 4 GPUs = 8
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 60
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-2,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        eta_min=0.0,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
auto_scale_lr = dict(enable=False, base_batch_size=8)
