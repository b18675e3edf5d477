# MultiMAE pre-training schedule: AdamW, base lr 1e-4 per 256 images scaled
# to the batch of 2048 (256 per GPU x 8), weight decay 0.05 on every
# parameter (as the official pre-training, whose optimiser gets one group),
# 40 linear warm-up epochs from lr 1e-6, cosine decay to 0, 400 epochs.
max_epochs = 400
warmup_epochs = 40
lr = 1e-4 * 2048 / 256
warmup_lr = 1e-6  # official warmup_lr
optim_wrapper = dict(
    type='OptimWrapper',
    # fused=True: one multi-tensor kernel per step (CPU and CUDA), the same
    # update as the default foreach AdamW up to float rounding; set False
    # on a device without fused AdamW kernels
    optimizer=dict(
        type='AdamW',
        lr=lr,
        betas=(0.9, 0.95),
        weight_decay=0.05,
        fused=True),
    # no paramwise_cfg: the official pre-training decays every parameter
    # (norms, biases, tokens and embeddings included)
)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=warmup_lr / lr,
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
