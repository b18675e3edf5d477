# Mask3D ScanNet 2D semantic segmentation, Table 1 (Mask3D (MAE): 66.7 mIoU;
# Tables 8 / 13 / 15 / 16 use the same protocol), with the encoder AND the
# decoder pre-trained by Mask3D (Sec. 4.1: "For semantic segmentation tasks,
# we use both encoder and decoder pre-trained with Mask3D").
#
# Commands (1 GPU, batch 8, as the paper; CKPT = the best checkpoint the
# fine-tuning writes to work_dirs/maedec_mask3d-vit-b_scannet20-240x320/):
#   1. pre-train: python tools/train.py \
#          configs/pretrain/mask3d_vit-b_scannet_1gpu.py
#   2. export the RGB encoder at 240x320 (mmseg ViT keys, weights only):
#      python tools/model_converters/export_vit.py \
#          work_dirs/mask3d_vit-b_scannet_1gpu/epoch_100.pth \
#          checkpoints/mask3d_vit-b_rgb_mmseg-240x320.pth --target mmseg \
#          --img-size 240 320
#   3. fine-tune (the decoder is read from the pre-training checkpoint,
#      weights only, keys 'neck.*'; pretrained_decoder below):
#      python tools/train.py \
#          configs/downstream/maedec_mask3d-vit-b_scannet20-240x320.py
#   4. test: python tools/test.py \
#          configs/downstream/maedec_mask3d-vit-b_scannet20-240x320.py $CKPT
#
# Paper (Sec. 4.1): batch 8, 80 epochs, initial lr 0.01, polynomial decay
# with power 0.9; 240x320; ScanNet 20 classes, every 100th frame (20k / 5k).
# Not stated in the paper, taken from Pri3D's released downstream code (same
# first author; Mask3D's baselines are Pri3D's numbers; Pri3D
# downstream/semseg/unet/scripts/scannet.sh + common/solver.py): SGD with
# momentum 0.9, dampening 0.1, no weight decay; poly decay per iteration;
# images resized to 240x320 without augmentation; the loss ignores the
# unlabelled class. Our choices: drop path 0.1 in the encoder (MAE's ViT-B
# segmentation default), per-pixel prediction by a new linear layer on the
# pre-trained decoder (mmrgbd.MAEDecoderSegHead), CE averaged over labelled
# pixels, evaluation at the label resolution (Pri3D: at 240x320).
_base_ = [
    '../_base_/datasets/seg_scannet20.py',
    '../_base_/runtime/seg_runtime.py',
]

pretrained_rgb = 'checkpoints/mask3d_vit-b_rgb_mmseg-240x320.pth'
pretrained_decoder = 'work_dirs/mask3d_vit-b_scannet_1gpu/epoch_100.pth'
crop_size = (240, 320)
num_classes = 20

model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    pretrained=None,
    backbone=dict(
        type='VisionTransformer',
        img_size=crop_size,
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        out_indices=-1,
        qkv_bias=True,
        drop_path_rate=0.1,
        with_cls_token=False,  # Mask3D encoders have no class token
        output_cls_token=False,
        norm_cfg=dict(type='LN', eps=1e-6),
        act_cfg=dict(type='GELU'),
        patch_norm=False,
        final_norm=True,
        interpolate_mode='bicubic',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_rgb)),
    decode_head=dict(
        type='mmrgbd.MAEDecoderSegHead',
        in_channels=768,
        patch_size=16,
        modality='rgb',
        # the pre-training neck (configs/_base_/models/mask3d_vit-b.py)
        decoder=dict(
            type='MAEStyleDecoder',
            embed_dims=512,
            num_layers=8,
            num_heads=16,
            mlp_ratio=4),
        decoder_checkpoint=pretrained_decoder,
        decoder_prefix='neck.',
        num_classes=num_classes,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=8)  # x 1 GPU (paper: one A6000)

max_epochs = 80
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, dampening=0.1, weight_decay=0.0))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
auto_scale_lr = dict(enable=False, base_batch_size=8)
