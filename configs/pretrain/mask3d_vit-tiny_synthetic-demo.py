# Mask3D demo: a tiny ViT on procedurally rendered RGB-D rooms, trains on a
# CPU in a few minutes with a clearly falling depth loss.
#   OMP_NUM_THREADS=1 python tools/train.py \
#       configs/pretrain/mask3d_vit-tiny_synthetic-demo.py
# (one OpenMP thread: much faster than the default on a small, busy CPU)
_base_ = [
    '../_base_/models/mask3d_vit-b.py',
    '../_base_/datasets/synthetic_rgbd.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=4,
            num_heads=4,
            feedforward_channels=512),
        img_size=(96, 128)),  # 6x8 patches per modality
    neck=dict(in_channels=128, embed_dims=128, num_layers=2, num_heads=4))

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(num_samples=4800, img_size=(96, 128), seed=0))

max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=1e-5,
         by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
test_dataloader = dict(dataset=dict(img_size=(96, 128)))

# Reconstruction panels of the first training batch every 100 iterations,
# written to <work_dir>/vis/ (and to the visualiser backends).
custom_hooks = [dict(type='ReconstructionVisualizationHook', interval=100)]
