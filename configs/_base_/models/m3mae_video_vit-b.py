# M3 3D for RGB-D video (one stage): ViT-B encoders with Conv3d 2x16x16
# tubelet stems over 16-frame 224x224 clips (8x14x14 = 1568 tokens per
# modality) and VideoMAE's fixed 1D sinusoid position table
# (pos_embed_order='videomae', so VideoMAE K400 weights see the embedding
# they were trained with), a shared 'concat' decoder (4 blocks, 384-d,
# 6 heads) and
#   loss = 1.0 * L_rgb (MSE, norm-pix tubelets) + 0.1 * L_depth (MSE)
#        + 0.01 * L_patch_nce (Eq. 3 on the encoder features of the
#          positions visible in both modalities)
#        + 0.01 * L_match (RGB-D matching: the pair's tokens fused by one
#          transformer block, negatives = other samples' depth)
# (the UCF-101 weights; the OR-AR config changes them and the masker).
# Masking (Table 11, UCF-101): RGB 90 % hidden with SurgMAE-style
# information-weighted sampling (InformationWeightedMasker: tokens kept with
# probability ~ the frame-difference energy inside their tubelet); depth
# shares RGB's visible positions (SharedPositionsMasker), so every visible
# position is a contrast pair (independent 90 % masks leave ~16 of 1568).
model = dict(
    type='M3MAEVideo',
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
            rgb=dict(type='TubeletPatchEmbed', in_channels=3, tubelet_size=2,
                     num_frames=16),
            depth=dict(type='TubeletPatchEmbed', in_channels=1,
                       tubelet_size=2, num_frames=16)),
        shared_encoder=False,
        num_global_tokens=0,
        pos_embed_order='videomae'),
    masker=dict(
        type='SharedPositionsMasker',
        masker=dict(
            type='InformationWeightedMasker',
            mask_ratios=dict(rgb=0.9),
            patch_size=16,
            tubelet_size=2),
        shared=dict(depth='rgb')),
    neck=dict(
        type='MAEStyleDecoder',
        in_channels=768,
        embed_dims=384,
        num_layers=4,
        num_heads=6,
        mlp_ratio=4,
        modalities=('rgb', 'depth'),
        layout='concat',
        heads=dict(rgb=2 * 16 * 16 * 3, depth=2 * 16 * 16 * 1)),
    losses=dict(
        rgb=dict(
            type='MaskedReconstructionLoss', loss_type='mse', norm_pix=True,
            on='masked'),
        depth=dict(
            type='MaskedReconstructionLoss', loss_type='mse', norm_pix=False,
            on='masked')),
    head=dict(
        contrast=dict(
            type='PatchContrastHead',
            in_channels=768,
            num_layers=0,
            loss=dict(type='PatchInfoNCELoss', temperature=0.07,
                      symmetric=False)),
        match=dict(
            type='RGBDMatchingHead',
            in_channels=768,
            fusion=dict(num_heads=12, mlp_ratio=4.))),
    loss_weights=dict(rgb=1.0, depth=0.1, contrast=0.01, match=0.01),
)
