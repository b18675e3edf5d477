# ImageNet-1K fine-tuning of the RGB encoder of a MultiMAE pre-training:
# MultiMAE (Bachmann et al., ECCV 2022), App. B.1 and Table 6; the result is
# Table 1, IN-1K (C), top-1 = 83.3.
#
# Table 6 is MAE's fine-tuning recipe, which mmpretrain ships unmodified as
# mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py: AdamW lr 5e-4 x
# 1024 / 256 = 2e-3, (0.9, 0.999), wd 0.05, layer decay 0.65, batch 1024
# (8 GPUs x 128), 100 epochs, 5 warm-up epochs, cosine, RandAugment (9, 0.5),
# label smoothing 0.1, mixup 0.8, cutmix 1.0, drop path 0.1, 224 px; head:
# average of the encoded tokens, LayerNorm, linear (out_type='avg_featmap').
# Changed from that base to match MultiMAE's official run_finetuning_cls.py:
# no random erasing (reprob 0), warm-up from lr 1e-6 (the base starts at
# 2e-7), and the global token (with_cls_token=True). Remaining difference:
# MultiMAE's average also includes the global token (1 of 197 tokens).
#
# Command sequence (pre-train -> export -> fine-tune -> test):
# 1. bash tools/dist_train.sh \
#        configs/pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py 8
#    (or import the official weights with
#    tools/model_converters/multimae2mmrgbd.py)
# 2. python tools/model_converters/export_vit.py \
#        work_dirs/multimae_vit-b_rgb-depth-semseg_1600e_in1k/epoch_1600.pth \
#        checkpoints/multimae_vit-b_rgb_mmpretrain-224.pth \
#        --target mmpretrain --img-size 224
# 3. bash tools/dist_train.sh \
#        configs/downstream/vit-b-p16_multimae-pre_8xb128-coslr-100e_in1k.py 8
# 4. python tools/test.py \
#        configs/downstream/vit-b-p16_multimae-pre_8xb128-coslr-100e_in1k.py \
#        work_dirs/vit-b-p16_multimae-pre_8xb128-coslr-100e_in1k/epoch_100.pth
#
# Data: mmpretrain's ImageNet layout (data/imagenet/train/<wnid>/*.JPEG,
# val/*.JPEG, meta/train.txt, meta/val.txt).
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py'
custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)

pretrained_rgb = 'checkpoints/multimae_vit-b_rgb_mmpretrain-224.pth'

model = dict(
    backbone=dict(
        with_cls_token=True,  # MultiMAE's global token
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained_rgb,
            prefix='backbone.')))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 2e-3,  # from lr 1e-6
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=95,
        by_epoch=True,
        begin=5,
        end=100,
        eta_min=1e-6,
        convert_to_iter_based=True)
]
