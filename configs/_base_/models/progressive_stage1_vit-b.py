# Progressive stage 1: patch-level RGB <-> depth InfoNCE between
# modality-specific ViT-B/16 encoders (Conv2d patch projections), unmasked
# 224x224 inputs (14x14 patches). The algorithm of M3 3D stage 1 with the
# symmetric loss of Eq. 1 (average of RGB -> depth and depth -> RGB) on the
# L2-normalised encoder features (no projection MLP), tau = 0.07 (not
# given). with_pos_embed=False: content-only tokens in stage 1 (no position
# shortcut; with_pos_embed=True is the paper's literal form, see
# projects/progressive/README.md); stage 2 sets stage1_with_pos_embed to
# the same value for its teacher.
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
        num_layers=0,
        loss=dict(type='PatchInfoNCELoss', temperature=0.07,
                  negatives='image', symmetric=True)),
    masker=None,
    with_pos_embed=False,
)
