# M3 3D for RGB-D video (one stage): ViT-B encoders with Conv3d 2x16x16
# tubelet stems over 16-frame 224x224 clips (8x14x14 = 1568 tokens per
# modality), 90 % of each modality hidden, a shared 'concat' decoder (4
# blocks, 384-d, 6 heads) and
#   loss = 1.0 * L_rgb (MSE, norm-pix tubelets) + 0.1 * L_depth (MSE)
#        + 0.01 * L_patch_nce (positions visible in both)
#        + 0.01 * L_match (RGB-D matching, deranged negatives)
# (the UCF-101 weights; the OR-AR config changes them and the masker).
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
        num_global_tokens=0),
    masker=dict(type='RandomTokenMasker', mask_ratios=dict(rgb=0.9,
                                                           depth=0.9)),
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
            out_channels=128,
            loss=dict(type='PatchInfoNCELoss', temperature=0.07)),
        match=dict(type='RGBDMatchingHead', in_channels=768)),
    loss_weights=dict(rgb=1.0, depth=0.1, contrast=0.01, match=0.01),
)
