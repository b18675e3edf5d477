# MultiMAE pre-training schedule: AdamW, base lr 1e-4 per 256 images scaled
# to the batch of 2048 (256 per GPU x 8), weight decay 0.05, 40 linear warm-up
# epochs, cosine decay, 1600 epochs.
max_epochs = 1600
warmup_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4 * 2048 / 256, betas=(0.9, 0.95),
        weight_decay=0.05),
    # no weight decay on norms, biases, fixed/learned embeddings and tokens
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0),  # the global token
            'modality_embed': dict(decay_mult=0.0),
        }),
)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# lr above = 1e-4 * 2048 / 256; --auto-scale-lr rescales it for another
# total batch.
auto_scale_lr = dict(base_batch_size=2048)
