# MultiMAE ViT-B/16 with RGB and depth only (no semantic input or output):
# the same model, masker and schedule; only the modality / task lists change.
_base_ = [
    '../_base_/models/multimae_vit-b.py',
    '../_base_/datasets/imagenet_pseudo_rgbd.py',
    '../_base_/schedules/multimae_adamw_1600e.py',
    '../_base_/runtime/default_runtime.py',
]

_decoder = dict(
    type='CrossAttentionTaskDecoder',
    in_channels=768,
    embed_dims=256,
    num_heads=8,
    num_layers=2,
    context_modalities=('rgb', 'depth'))
model = dict(
    backbone=dict(
        modalities=dict(
            _delete_=True,
            rgb=dict(in_channels=3),
            depth=dict(in_channels=1))),
    decoders=dict(
        _delete_=True,
        rgb=dict(_decoder, task='rgb', out_channels=16 * 16 * 3),
        rgb_normpix=dict(_decoder, task='rgb', out_channels=16 * 16 * 3),
        depth=dict(_decoder, task='depth', out_channels=16 * 16 * 1)),
    losses=dict(
        _delete_=True,
        rgb=dict(
            type='MaskedReconstructionLoss', loss_type='mse',
            reduction='per_sample'),
        rgb_normpix=dict(
            type='MaskedReconstructionLoss', loss_type='mse',
            norm_pix=True, reduction='per_sample'),
        depth=dict(
            type='MaskedReconstructionLoss', loss_type='l1',
            reduction='per_sample')))

train_pipeline = [
    dict(type='LoadRGBDFromFiles', depth_unit='mm', with_semseg=False),
    dict(
        type='RGBDRandomResizedCrop',
        size=224,
        scale=(0.2, 1.0),
        ratio=(0.75, 1.3333),
        # RGB: PIL's bicubic, as the official MultiMAE code (PIL resize with
        # its default filter); depth and semseg: nearest
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
    dict(type='PackRGBDInputs'),
]
train_dataloader = dict(
    batch_size=256,  # x 8 GPUs = 2048
    dataset=dict(pipeline=train_pipeline))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
