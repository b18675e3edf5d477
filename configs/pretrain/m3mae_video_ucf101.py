# M3 3D video pre-training on UCF-101 with pseudo depth (Table 9, UCF-101
# column): ViT-B with Conv3d 2x16x16 tubelets, 16 frames sampled every 4th
# frame, one clip per video per epoch at a random start (VideoMAE), 224x224
# crops + flip, 90 % of the tokens hidden (RGB: SurgMAE-style information-
# weighted masking, Table 11; depth: RGB's visible positions), decoder 4
# blocks / 384-d / 6 heads, loss 1 * L_rgb + 0.1 * L_depth + 0.01 *
# L_contrast + 0.01 * L_match (depth MSE). AdamW (0.9, 0.95), base lr 1e-3
# per 256 clips (VideoMAE convention: 5e-4 at 8 x 16 = 128 clips), wd 0.05,
# 40 warm-up epochs, cosine, 100 epochs.
#
# 100 epochs is the setting that starts from self-supervised Kinetics-400
# VideoMAE weights (Sec. 4.1, Table 1 "Kinetics-400 + UCF-101"); from
# scratch the paper trains 800 epochs: m3mae_video_ucf101_scratch-800e.py.
# Make the two encoder files once from the official VideoMAE ViT-B K400
# pre-training checkpoint (the RGB weights; the depth encoder gets the
# tubelet kernel summed over RGB, see the converter):
#   python tools/model_converters/videomae2mmrgbd.py K400_PRETRAIN.pth \
#       checkpoints/videomae_vit-b_k400_rgb.pth
#   python tools/model_converters/videomae2mmrgbd.py K400_PRETRAIN.pth \
#       checkpoints/videomae_vit-b_k400_depth.pth --in-channels 1
#
# Frames + pseudo depth (uint16 mm from a monocular depth model; relative
# depth, so it is robust-standardised per clip) are written by
#   python tools/dataset_converters/ucf101_extract_frames.py data/UCF-101 \
#       data/ucf101_rgbd --labeller <your depth labeller>
_base_ = ['../_base_/models/m3mae_video_vit-b.py',
          '../_base_/runtime/default_runtime.py']

k400_rgb = 'checkpoints/videomae_vit-b_k400_rgb.pth'
k400_depth = 'checkpoints/videomae_vit-b_k400_depth.pth'
model = dict(
    backbone=dict(
        modalities=dict(
            rgb=dict(init_cfg=dict(type='Pretrained', checkpoint=k400_rgb)),
            depth=dict(
                init_cfg=dict(type='Pretrained', checkpoint=k400_depth)))))

dataset_type = 'RGBDVideoClipDataset'
data_root = 'data/ucf101_rgbd/'
# RandomResizedCrop stands in for VideoMAE's MultiScaleCrop (Table 9), see
# projects/m3mae/README.md
train_pipeline = [
    dict(type='LoadRGBDClip'),
    dict(type='RGBDRandomResizedCrop', size=224, scale=(0.4, 1.0)),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
    dict(type='PackRGBDInputs'),
]
num_gpus, batch_per_gpu = 8, 16
base_lr = 1e-3  # Table 9 "base learning rate": per 256 clips
train_dataloader = dict(
    batch_size=batch_per_gpu,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        num_frames=16,
        frame_interval=4,
        clip_stride=None,  # one randomly placed clip per video and epoch
        depth_unit='mm',
        depth_source='pseudo',
        pipeline=train_pipeline))

max_epochs = 100
warmup_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=base_lr * num_gpus * batch_per_gpu / 256,
        betas=(0.9, 0.95),
        weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
            'modality_embed': dict(decay_mult=0.0),
            'match_token': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# the lr above is for this total batch; --auto-scale-lr rescales it linearly
auto_scale_lr = dict(base_batch_size=num_gpus * batch_per_gpu)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
