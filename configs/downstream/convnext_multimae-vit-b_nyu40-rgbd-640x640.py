# MultiMAE NYUv2 semantic segmentation from RGB + ground-truth depth:
# Table 2 "RGB-D" (MultiMAE: 56.0 mIoU), settings of Table 8; the depth is
# standardised per image as in pre-training (Sec. 4.3: "We treat depth in
# the exact same way as during pre-training ... set all these masked-out
# values to 0"). All RGB and depth tokens go through the shared encoder
# (no masking); the ConvNeXt head reads the RGB tokens (App. B.2: "select
# only the output tokens from a single modality"; official
# decoder_main_tasks: rgb).
#
# Commands: as convnext_multimae-vit-b_nyu40-rgb-640x640.py (the same
# exported file holds the RGB and depth stems), with this config:
#   bash tools/dist_train.sh \
#       configs/downstream/convnext_multimae-vit-b_nyu40-rgbd-640x640.py 4
#   bash tools/dist_test.sh \
#       configs/downstream/convnext_multimae-vit-b_nyu40-rgbd-640x640.py \
#       $CKPT 4
#
# Depth: the filled NYUv2 depth (official prepare_nyuv2.py uses `depths`), in
# metres, carried through every geometric augmentation with nearest
# neighbours (mmrgbd.LoadDepthMap), then NormalizeDepth(mode='robust'):
# (d - mean) / std of the valid pixels after dropping 10 % at each end,
# invalid and padded pixels 0 (the official code takes the statistics over
# all non-padded pixels, holes included, and an unbiased variance).
_base_ = ['./convnext_multimae-vit-b_nyu40-rgb-640x640.py']

input_modalities = ['rgb', 'depth']
model = dict(
    data_preprocessor=dict(
        # R, G, B (already RGB: StackInputModalities), then depth (already
        # standardised)
        mean=[123.675, 116.28, 103.53, 0.0],
        std=[58.395, 57.12, 57.375, 1.0],
        bgr_to_rgb=False),
    backbone=dict(
        modalities=dict(rgb=dict(in_channels=3), depth=dict(in_channels=1)),
        in_modalities=input_modalities,
        out_modalities=['rgb']))

stack_inputs = dict(
    type='mmrgbd.StackInputModalities',
    modalities=input_modalities,
    depth_norm=dict(type='NormalizeDepth', mode='robust', trunc=0.1))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmrgbd.LoadDepthMap'),
    dict(type='LoadAnnotations'),
] + _base_.multimae_train_aug + [stack_inputs, dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmrgbd.LoadDepthMap'),
    dict(type='Resize', scale=(640, 640), keep_ratio=True),
    dict(type='LoadAnnotations'),
    stack_inputs,
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
