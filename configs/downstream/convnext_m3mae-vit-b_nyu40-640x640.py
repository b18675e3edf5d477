# M3 3D NYUv2 semantic segmentation: Table 4 (M3 3D: 51.2 mIoU, 40 classes,
# official 795 / 654 split), ScanNet-pre-trained encoder, fine-tuning
# settings of Table 13 (NYUv2 column), the ConvNeXt head of MultiMAE.
#
# Commands (4 GPUs x 2 images; CKPT = the best checkpoint the fine-tuning
# writes to work_dirs/convnext_m3mae-vit-b_nyu40-640x640/):
#   1. pre-train as in convnext_m3mae-vit-b_scannet20-240x320.py
#   2. export at 640x640: python tools/model_converters/export_vit.py \
#          work_dirs/m3mae_scannet/epoch_100.pth \
#          checkpoints/m3mae_vit-b_rgb_mmseg-640.pth --target mmseg \
#          --img-size 640
#   3. NYUv2 layout: tools/dataset_converters/nyuv2_mat_to_png.py
#   4. fine-tune: bash tools/dist_train.sh \
#          configs/downstream/convnext_m3mae-vit-b_nyu40-640x640.py 4
#   5. test: bash tools/dist_test.sh \
#          configs/downstream/convnext_m3mae-vit-b_nyu40-640x640.py $CKPT 4
#
# Table 13 (NYUv2): as ScanNet with 200 epochs, 640x640, colour jitter, no
# Gaussian blur, no horizontal flip. Not stated: batch size (8, MultiMAE's
# NYUv2 batch), the jitter strength (MultiMAE's: 0.4, 0.4, 0.2, 0.1 with
# p 0.5), how 640x480 frames become 640x640 (MultiMAE's: longest side 640,
# padded to 640x640 -- no scale jittering, since Table 13 lists no other
# augmentation) and the class set (40, MultiMAE's NYUv2 protocol).
_base_ = [
    '../_base_/models/seg_vit-b_convnext-head.py',
    '../_base_/datasets/seg_nyuv2.py',
    '../_base_/schedules/seg_adamw-ld0.75.py',
    '../_base_/runtime/seg_runtime.py',
]

pretrained = 'checkpoints/m3mae_vit-b_rgb_mmseg-640.pth'
crop_size = (640, 640)
num_classes = 40

model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size=crop_size)),
    backbone=dict(
        img_size=crop_size,
        with_cls_token=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=num_classes))

color_jitter = dict(
    type='RandomApply',
    transforms=[
        dict(
            type='mmpretrain.ColorJitter',
            brightness=0.4,
            contrast=0.4,
            saturation=0.2,
            hue=0.1,
            backend='cv2')  # the image is BGR here
    ],
    prob=0.5)
# longest side 640, padded to 640x640 by the data preprocessor
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    color_jitter,
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
    dataset=dict(num_classes=num_classes, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(num_classes=num_classes, pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 200
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
train_cfg = dict(max_epochs=max_epochs, val_interval=20)
auto_scale_lr = dict(enable=False, base_batch_size=8)
