# SimIPU demo: a narrow ResNet-18 and a small PointNet++ on the procedurally
# rendered scenes' LiDAR scans (SyntheticRGBDScenes(with_points=True), 96x128
# images), with the shipped gradients, optimiser groups and view-beta mirror.
# Trains on a CPU in minutes; the intra-modal loss falls, the inter-modal one
# falls below chance (ln 512 = 6.24) but slowly: with use_xyz=False the point
# features see the LiDAR intensity, which the image predicts only in part
# (synthetic reflectivity = visible albedo x a per-material NIR ratio; see
# projects/simipu/README.md).
#   python tools/train.py configs/pretrain/simipu_r18-tiny_synthetic-demo.py
_base_ = [
    '../_base_/models/simipu_r50.py',
    '../_base_/schedules/simipu_hybrid.py',
    '../_base_/runtime/default_runtime.py',
]

model = dict(
    # ResNet-18 with 16 base channels; C3 (32 channels, stride 8: a 12x16
    # map of the 96x128 images); stages 3-4 are not built.
    img_backbone=dict(
        depth=18,
        base_channels=16,
        num_stages=2,
        strides=(1, 2),
        dilations=(1, 1),
        out_indices=(1, ),
        norm_cfg=dict(type='BN', requires_grad=True)),
    # indoor scale (metres): smaller radii, 1024 -> 256 -> 128 -> 64 points;
    # D-FPS in the first two layers, F-FPS on the first 64 + D-FPS on the
    # other 64 points in the third
    pts_backbone=dict(
        sa_cfg=dict(
            num_points=(256, 128, (32, 32)),
            radii=((0.1, 0.2, 0.4), (0.2, 0.4, 0.8), (0.4, 0.8, 1.6)),
            num_samples=((8, 8, 16), (8, 8, 16), (8, 8, 8)),
            sa_channels=(((8, 8, 16), (8, 8, 16), (16, 16, 32)),
                         ((16, 16, 32), (16, 16, 32), (32, 32, 64)),
                         ((32, 32, 64), (32, 32, 64), (64, 64, 128))),
            aggregation_channels=(32, 64, 128),
            fps_mods=(('D-FPS'), ('D-FPS'), ('F-FPS', 'D-FPS')),
            fps_sample_range_lists=((-1), (-1), (64, -1)))),
    intra_proj=dict(in_channels=128, hid_channels=128, num_layers=2),
    inter_img_proj=dict(in_channels=32, hid_channels=128, num_layers=2),
    inter_pts_proj=dict(in_channels=128, hid_channels=128, num_layers=2))

train_pipeline = [
    dict(type='FilterPointsInImage'),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(
        type='SimIPUTwoView',
        rot_range=(-3.1415926, 3.1415926),
        scale_range=(0.8, 1.2),
        translation_std=0.2,
        mirror='image_flip',
        num_points=1024),
    dict(type='PackSimIPUInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='SyntheticRGBDScenes',
        num_samples=2000,
        img_size=(96, 128),
        seed=0,
        with_points=True,
        pipeline=train_pipeline))

# 450 iterations (about 1.8 passes over the 2000 rooms): with 300 the frozen
# image backbone beat its random twin on tools/analysis/probe_encoder.py for
# training seeds 0 and 1 but missed for seed 2; with 450 for all three
# (projects/simipu/README.md, "Probe gate").
max_iters = 450
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - 20,
        eta_min=0.,
        by_epoch=False,
        begin=20,
        end=max_iters),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, diff_rank_seed=True)
