# MultiMAE NYUv2 semantic segmentation from RGB: Table 1 / Table 2 "RGB"
# (MultiMAE: 52.0 mIoU; 40 classes, official 795 / 654 split), fine-tuning
# settings of Table 8 (NYUv2 column) with the ConvNeXt head of App. B.2
# (Table 7).
#
# Commands (4 GPUs x 2 images = batch 8, as the official NYUv2 config;
# CKPT = the best checkpoint the fine-tuning writes to its work_dir):
#   1. pre-train: bash tools/dist_train.sh \
#          configs/pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py 8
#   2. export the multi-modal encoder at 640x640 (weights only, MultiModalViT
#      keys; the sin-cos embeddings regenerated for 40x40 tokens):
#      python tools/model_converters/export_vit.py \
#        work_dirs/multimae_vit-b_rgb-depth-semseg_1600e_in1k/epoch_1600.pth \
#          checkpoints/multimae_vit-b_rgb-depth_640.pth --target mmrgbd \
#          --modality rgb depth --img-size 640
#      (official MultiMAE weights: tools/model_converters/multimae2mmrgbd.py
#      first)
#   3. NYUv2 layout: tools/dataset_converters/nyuv2_mat_to_png.py (see
#      configs/_base_/datasets/seg_nyuv2.py)
#   4. fine-tune: bash tools/dist_train.sh \
#          configs/downstream/convnext_multimae-vit-b_nyu40-rgb-640x640.py 4
#   5. test: bash tools/dist_test.sh \
#          configs/downstream/convnext_multimae-vit-b_nyu40-rgb-640x640.py \
#          $CKPT 4
#
# Table 8 (NYUv2): AdamW, lr 1e-4, layer decay 0.75, weight decay 0.05,
# betas (0.9, 0.999), batch 8, cosine, 200 epochs, warm-up 1 epoch from 1e-6,
# 640x640, large-scale jittering, drop path 0.1. From the official code
# (EPFL-VILAB/MultiMAE cfgs/finetune/semseg/nyu/*.yaml, utils/
# datasets_semseg.py; facts only): ConvNeXt adapter with 6144-d projection,
# 16 predictions per patch, 4 blocks; train: horizontal flip, longest side
# 640, colour jitter (0.4, 0.4, 0.2, 0.1) with p 0.5, scale jitter
# [0.1, 2.0], pad to 640 (top-left), random 640 crop; test: longest side
# 640, padded to 640x640 (App. B.2 "resize-pad" evaluation); CE over
# labelled pixels; no weight decay on 1-D parameters, the position
# embedding and the class token; fixed sin-cos position embedding (ours is
# a fixed buffer of DenseMultiModalViT as well).
_base_ = [
    '../_base_/datasets/seg_nyuv2.py',
    '../_base_/schedules/seg_adamw-ld0.75.py',
    '../_base_/runtime/seg_runtime.py',
]

pretrained = 'checkpoints/multimae_vit-b_rgb-depth_640.pth'
crop_size = (640, 640)
num_classes = 40
input_modalities = ['rgb']

model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size,
        test_cfg=dict(size=crop_size)),
    pretrained=None,
    backbone=dict(
        type='mmrgbd.DenseMultiModalViT',
        arch='b',
        modalities=dict(rgb=dict(in_channels=3)),
        in_modalities=input_modalities,
        out_modalities=['rgb'],
        img_size=crop_size,
        patch_size=16,
        shared_encoder=True,
        num_global_tokens=1,
        pos_embed_order='hw',
        final_norm=False,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        type='mmrgbd.ConvNeXtAdapterHead',
        in_channels=768,
        embed_dims=6144,
        preds_per_patch=16,
        num_blocks=4,
        num_classes=num_classes,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# LSJ as MultiMAE: longest side 640 x U[0.1, 2.0], then a 640 crop; the data
# preprocessor pads to 640x640 (images with the mean colour, labels 255)
multimae_train_aug = [
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomResize',
        scale=crop_size,
        ratio_range=(0.1, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(
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
        prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    *multimae_train_aug,
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
train_cfg = dict(max_epochs=max_epochs, val_interval=20)
auto_scale_lr = dict(enable=False, base_batch_size=8)
