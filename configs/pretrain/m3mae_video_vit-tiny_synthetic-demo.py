# M3 3D video demo: tiny ViTs with Conv3d 2x16x16 tubelets over 8-frame
# 96x96 clips of a camera walking through synthetic RGB-D rooms (4x6x6 = 144
# tokens per modality), 90 % hidden, rgb + depth + contrast + match losses
# with the UCF-101 weights; CPU, minutes.
#   python tools/train.py \
#       configs/pretrain/m3mae_video_vit-tiny_synthetic-demo.py
_base_ = [
    '../_base_/models/m3mae_video_vit-b.py',
    '../_base_/runtime/default_runtime.py',
]

num_frames = 8
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=4,
            num_heads=4,
            feedforward_channels=512),
        img_size=(96, 96),
        modalities=dict(
            rgb=dict(num_frames=num_frames),
            depth=dict(num_frames=num_frames))),
    neck=dict(in_channels=128, embed_dims=128, num_layers=2, num_heads=4),
    head=dict(
        contrast=dict(in_channels=128),
        match=dict(in_channels=128, fusion=dict(num_heads=4))))

train_pipeline = [
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
    dict(type='PackRGBDInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='SyntheticRGBDScenes',
        num_samples=2000,
        img_size=(96, 96),
        seed=0,
        mode='clip',
        num_frames=num_frames,
        frame_interval=4,
        pipeline=train_pipeline))

max_iters = 400
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=40),
    dict(type='CosineAnnealingLR', T_max=max_iters - 40, eta_min=1e-5,
         by_epoch=False, begin=40, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1))
# Panels show the first frame of each clip (reconstruction_panel).
custom_hooks = [dict(type='ReconstructionVisualizationHook', interval=100)]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, diff_rank_seed=True)
