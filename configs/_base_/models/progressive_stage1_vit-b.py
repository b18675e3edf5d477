# Progressive stage 1: patch-level RGB <-> depth InfoNCE between
# modality-specific ViT-B/16 encoders (Conv2d patch projections), unmasked
# 224x224 inputs (14x14 patches). Same algorithm as M3 3D stage 1.
model = dict(
    type='ProgressiveStage1',
    data_preprocessor=dict(
        type='RGBDDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        type='MultiModalViT',
        arch='b',
        img_size=(224, 224),
        patch_size=16,
        modalities=dict(
            rgb=dict(in_channels=3), depth=dict(in_channels=1)),
        shared_encoder=False,
        num_global_tokens=0),
    head=dict(
        type='PatchContrastHead',
        in_channels=768,
        hidden_channels=768,
        out_channels=128,
        num_layers=2,
        loss=dict(type='PatchInfoNCELoss', temperature=0.07,
                  negatives='image')),
    masker=None,
)
