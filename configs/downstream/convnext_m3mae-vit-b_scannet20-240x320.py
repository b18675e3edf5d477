# M3 3D ScanNet 2D semantic segmentation: Table 3 (M3 3D: 67.3 mIoU; the
# low-data curve of Fig. 2 and the ablations of Tables 6-8 use the same
# protocol), fine-tuning settings of Table 13 (ScanNet column), the ConvNeXt
# head "following MultiMAE" (Sec. 4.2.3, App. B.1).
#
# Commands (1 GPU x 8 images; CKPT = the best checkpoint the fine-tuning
# writes to work_dirs/convnext_m3mae-vit-b_scannet20-240x320/):
#   1. pre-train: bash tools/pretrain_two_stage.sh (stage 1
#      configs/pretrain/m3mae_stage1_scannet.py, stage 2
#      configs/pretrain/m3mae_scannet.py)
#   2. export the RGB encoder at 240x320:
#      python tools/model_converters/export_vit.py \
#          work_dirs/m3mae_scannet/epoch_100.pth \
#          checkpoints/m3mae_vit-b_rgb_mmseg-240x320.pth --target mmseg \
#          --img-size 240 320
#   3. fine-tune: python tools/train.py \
#          configs/downstream/convnext_m3mae-vit-b_scannet20-240x320.py
#   4. test: python tools/test.py \
#          configs/downstream/convnext_m3mae-vit-b_scannet20-240x320.py $CKPT
# Low-data runs (Fig. 2): --cfg-options train_dataloader.dataset.data_ratio=0.2
#
# Table 13 (ScanNet): AdamW, betas (0.9, 0.999), base lr 1e-4, layer decay
# 0.75, weight decay 0.05, cosine, warm-up 1 epoch from 1e-6, drop path 0.1,
# 50 epochs, 240x320, no colour jitter, Gaussian blur, horizontal flip;
# every 100th frame (20k / 5k). Not stated: the batch size (8, as Mask3D's
# ScanNet fine-tuning and MultiMAE's NYUv2 one) and the blur strength
# (sigma U[0.1, 2.0], p 0.5, as the pre-training blur). The lr is used as
# given (MultiMAE's segmentation lr is not batch-scaled).
_base_ = [
    '../_base_/models/seg_vit-b_convnext-head.py',
    '../_base_/datasets/seg_scannet20.py',
    '../_base_/schedules/seg_adamw-ld0.75.py',
    '../_base_/runtime/seg_runtime.py',
]

pretrained = 'checkpoints/m3mae_vit-b_rgb_mmseg-240x320.pth'
crop_size = (240, 320)
num_classes = 20

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        img_size=crop_size,
        with_cls_token=False,  # M3 3D encoders have no class token
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=num_classes))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(320, 240), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='mmpretrain.GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, dataset=dict(pipeline=train_pipeline))

max_epochs = 50
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-2,  # 1e-6 / 1e-4
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
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(enable=False, base_batch_size=8)
