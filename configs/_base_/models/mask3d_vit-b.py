# Mask3D (Hou et al., CVPR 2023): separate RGB and depth ViT-B/16 encoders on
# 240x320 RGB-D (15x20 = 300 patches per modality), complementary masking
# (20 % RGB + 20 % depth visible), a fused-layout MAE decoder (8 blocks,
# 512-d, 16 heads) reconstructing dense depth, L2 with norm-pix on the depth
# patches that were not given as input.
model = dict(
    type='Mask3D',
    data_preprocessor=dict(
        type='RGBDDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        type='MultiModalViT',
        arch='b',
        img_size=(240, 320),
        patch_size=16,
        modalities=dict(
            rgb=dict(in_channels=3), depth=dict(in_channels=1)),
        shared_encoder=False,
        num_global_tokens=0),
    masker=dict(type='ComplementaryMasker', rgb_keep=0.2, depth_keep=0.2),
    neck=dict(
        type='MAEStyleDecoder',
        in_channels=768,
        embed_dims=512,
        num_layers=8,
        num_heads=16,
        mlp_ratio=4,
        modalities=('rgb', 'depth'),
        layout='fused',
        heads=dict(depth=16 * 16 * 1)),
    loss=dict(
        type='MaskedReconstructionLoss', loss_type='mse', norm_pix=True),
    loss_on='masked',  # 'all': also the depth patches given as input
    with_rgb_loss=False,  # True (+ neck.heads.rgb=768): paper's ablation
)
