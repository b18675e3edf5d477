# MultiMAE (Bachmann et al., ECCV 2022): one shared ViT-B/16 over RGB, depth
# and semantic tokens plus 1 global token, Dirichlet(alpha=1) split of 98
# visible tokens at 224 px, one cross-attention decoder (256-d, 2 blocks,
# 8 heads) per output; losses on masked tokens only, averaged as the official
# code: per sample over its masked pixels, then over the batch
# (reduction='per_sample'). Official checkpoints load strictly
# (tools/model_converters/multimae2mmrgbd.py; num_classes=133 rows plus a
# zero row for ignore_index).
num_classes = 133  # pseudo-label classes (COCO panoptic)
_decoder = dict(
    type='CrossAttentionTaskDecoder',
    in_channels=768,
    embed_dims=256,
    num_heads=8,
    num_layers=2,
    context_modalities=('rgb', 'depth', 'semseg'))
model = dict(
    type='MultiMAE',
    data_preprocessor=dict(
        type='RGBDDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        type='MultiModalViT',
        arch='b',
        img_size=224,
        patch_size=16,
        modalities=dict(
            rgb=dict(in_channels=3),
            depth=dict(in_channels=1),
            semseg=dict(type='semseg', num_classes=num_classes)),
        shared_encoder=True,
        num_global_tokens=1,
        # as MultiMAE: row-first sin-cos, no norm after the last block
        # (keeps imported MultiMAE weights loadable, multimae2mmrgbd.py)
        pos_embed_order='hw',
        final_norm=False),
    masker=dict(
        type='DirichletTokenBudgetMasker', num_visible=98, alpha=1.0),
    decoders=dict(
        rgb=dict(_decoder, task='rgb', out_channels=16 * 16 * 3),
        rgb_normpix=dict(_decoder, task='rgb', out_channels=16 * 16 * 3),
        depth=dict(_decoder, task='depth', out_channels=16 * 16 * 1),
        # semseg logits at stride 4 (4x4 per 16-px patch), as MultiMAE
        semseg=dict(
            _decoder, task='semseg', out_channels=4 * 4 * num_classes)),
    losses=dict(
        rgb=dict(
            type='MaskedReconstructionLoss', loss_type='mse',
            reduction='per_sample'),
        rgb_normpix=dict(
            type='MaskedReconstructionLoss', loss_type='mse',
            norm_pix=True, reduction='per_sample'),
        # on the depth the pipeline robust-standardised (NormalizeDepth)
        depth=dict(
            type='MaskedReconstructionLoss', loss_type='l1',
            reduction='per_sample'),
        semseg=dict(
            type='MaskedSemsegLoss', num_classes=num_classes,
            ignore_index=255, reduction='per_sample')),
)
