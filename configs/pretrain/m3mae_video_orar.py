# M3 3D video pre-training on OR-AR (operating-room action recognition;
# sensor RGB-D videos): tube masking (one spatial mask repeated over time,
# 90 % hidden) for both modalities, loss 1 * L_rgb + 0.5 * L_depth + 0.2 *
# L_contrast + 0.1 * L_match, AdamW (0.9, 0.95) lr 1e-4, wd 0.05, gradient
# clipping at norm 0.02, 40 warm-up epochs (as UCF-101), cosine, 1600 epochs.
# Layout: data/or_ar/<video>/{rgb,depth}/*.png (RGBDVideoClipDataset; depth
# uint16 millimetres). The mask ratio is not given for OR-AR; 90 % as UCF-101.
_base_ = ['./m3mae_video_ucf101.py']

model = dict(
    masker=dict(
        _delete_=True, type='TubeMasker', mask_ratios=dict(rgb=0.9,
                                                           depth=0.9)),
    loss_weights=dict(rgb=1.0, depth=0.5, contrast=0.2, match=0.1))

data_root = 'data/or_ar/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, depth_unit='mm',
                 depth_source='sensor'))

max_epochs = 1600
warmup_epochs = 40
optim_wrapper = dict(
    optimizer=dict(lr=1e-4), clip_grad=dict(max_norm=0.02, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
