# M3 3D stage 2 (images): encoders initialised from stage 1
# (model.stage1_checkpoint), 20 % of the RGB and 20 % of the depth patches
# visible (independent random masks), a shared 'concat' MAE decoder (8 blocks,
# 512-d, 16 heads) with one linear head per modality, and
#   loss = 0.1 * L_rgb (MSE, norm-pix RGB, hidden patches)
#        + 1.0 * L_depth (L1, hidden depth patches, invalid pixels out)
#        + contrast * L_patch_nce (positions visible in both; 0 = off).
# Ablations: loss_weights.rgb=0 ("without the RGB task": the rgb head is
# dropped), stage1_checkpoint=None ("without contrast": no stage 1).
model = dict(
    type='M3MAE',
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
        shared_encoder=False,  # must match stage 1
        num_global_tokens=0),
    masker=dict(type='RandomPatchMasker', keep_ratios=dict(rgb=0.2,
                                                           depth=0.2)),
    neck=dict(
        type='MAEStyleDecoder',
        in_channels=768,
        embed_dims=512,
        num_layers=8,
        num_heads=16,
        mlp_ratio=4,
        modalities=('rgb', 'depth'),
        layout='concat',
        heads=dict(rgb=16 * 16 * 3, depth=16 * 16 * 1)),
    losses=dict(
        rgb=dict(
            type='MaskedReconstructionLoss', loss_type='mse', norm_pix=True,
            on='masked'),
        depth=dict(
            type='MaskedReconstructionLoss', loss_type='l1', norm_pix=False,
            on='masked')),
    # the contrast term of stage 2 is off by default (the paper's image loss
    # is 0.1 * L_rgb + 1.0 * L_depth); set loss_weights.contrast > 0 to keep
    # the stage-1 InfoNCE (Eq. 3) on the positions visible in both
    # modalities.
    head=dict(
        contrast=dict(
            type='PatchContrastHead',
            in_channels=768,
            num_layers=0,
            loss=dict(type='PatchInfoNCELoss', temperature=0.07,
                      symmetric=False))),
    loss_weights=dict(rgb=0.1, depth=1.0, contrast=0.0, match=0.0),
    stage1_checkpoint=None,  # set by the stage-2 config / --cfg-options
)
