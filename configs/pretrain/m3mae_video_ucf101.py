# M3 3D video pre-training on UCF-101 with pseudo depth: ViT-B with Conv3d
# 2x16x16 tubelets, 16 frames sampled every 4th frame, 224x224 crops, 90 % of
# the tokens of each modality hidden (token-wise random masks), decoder 4
# blocks / 384-d / 6 heads, loss 1 * L_rgb + 0.1 * L_depth + 0.01 * L_contrast
# + 0.01 * L_match (depth MSE). AdamW (0.9, 0.95) lr 1e-3, wd 0.05, 40
# warm-up epochs, cosine, 100 epochs.
# NOTE: 100 epochs is the setting that starts from image-pretrained weights;
# from scratch the paper trains 800 epochs: set max_epochs = 800 (e.g.
# --cfg-options train_cfg.max_epochs=800 param_scheduler.1.T_max=760
# param_scheduler.1.end=800).
#
# Frames + pseudo depth (uint16 mm from a monocular depth model; relative
# depth, so it is robust-standardised per clip) are written by
#   python tools/dataset_converters/ucf101_extract_frames.py data/UCF-101 \
#       data/ucf101_rgbd --labeller <your depth labeller>
_base_ = ['../_base_/models/m3mae_video_vit-b.py',
          '../_base_/runtime/default_runtime.py']

dataset_type = 'RGBDVideoClipDataset'
data_root = 'data/ucf101_rgbd/'
train_pipeline = [
    dict(type='LoadRGBDClip'),
    dict(type='RGBDRandomResizedCrop', size=224, scale=(0.4, 1.0)),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
    dict(type='PackRGBDInputs'),
]
train_dataloader = dict(
    batch_size=16,  # x 8 GPUs = 128 clips per step
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        num_frames=16,
        frame_interval=4,
        depth_unit='mm',
        depth_source='pseudo',
        pipeline=train_pipeline))

max_epochs = 100
warmup_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
            'modality_embed': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=128)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
