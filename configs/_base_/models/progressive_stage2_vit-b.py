# Progressive stage 2: student encoders and a frozen teacher both loaded from
# the stage-1 checkpoint (model.stage1_checkpoint); 20 % RGB + 20 % depth
# visible; depth + sigma * e with sigma ~ U[0, sigma_max] per sample; a
# NoiseLevelEmbedding(sigma) added to the encoded depth tokens; a shared
# 'concat' decoder (8 blocks, 512-d, 16 heads) with one linear depth head:
#   loss = 1 * L_depth (MSE to norm-pix clean depth, hidden patches)
#        + beta * L_denoise (MSE to sigma * e, visible patches)
#        + 1 * L_distill (GlobalFeatureDistillLoss vs. the frozen teacher)
# beta = 0.01 (ScanNet) / 0.1 (SUN RGB-D).
# The teacher encodes the clean input at the patches the student sees
# (teacher_view='visible'; 'full' = the whole clean input, a max-pool over
# more tokens than the student's), without position embeddings like the
# stage-1 model (stage1_with_pos_embed must equal stage 1's with_pos_embed).
# sigma_max = 0.5 is in the units of NormalizeDepth(mode='robust') used by
# the Progressive pipelines (per image: 0 mean, unit std over valid pixels):
# noise up to half the image's depth spread; see ProgressiveStage2.
# Ablations: noise_mode='none' | 'input' (no embedding, no L_denoise);
# loss_weights.distill=0 (no teacher); loss_weights.rgb=1 with
# neck.heads.rgb=768 (RGB + depth reconstruction).
model = dict(
    type='ProgressiveStage2',
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
        heads=dict(depth=16 * 16 * 1)),
    noise_embed=dict(type='NoiseLevelEmbedding', freq_dims=256),
    losses=dict(
        depth=dict(
            type='MaskedReconstructionLoss', loss_type='mse', norm_pix=True),
        denoise=dict(
            type='MaskedReconstructionLoss', loss_type='mse',
            norm_pix=False),
        rgb=dict(
            type='MaskedReconstructionLoss', loss_type='mse', norm_pix=True),
        distill=dict(
            type='GlobalFeatureDistillLoss', modalities=('rgb', 'depth'),
            beta=2.0)),
    loss_weights=dict(depth=1.0, denoise=0.01, distill=1.0, rgb=0.0),
    sigma_max=0.5,
    noise_mode='full',
    teacher_view='visible',
    stage1_with_pos_embed=False,
    stage1_checkpoint=None,  # set by the stage-2 config / --cfg-options
)
