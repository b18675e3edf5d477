# M3 3D video pre-training on OR-AR (operating-room action recognition;
# sensor RGB-D videos), Table 9 OR-AR column: tube masking (Table 11: one
# spatial mask repeated over time, 90 % hidden; depth shares RGB's visible
# positions), loss 1 * L_rgb + 0.5 * L_depth + 0.2 * L_contrast + 0.1 *
# L_match, AdamW (0.9, 0.95), base lr 1e-4 per 256 clips (5e-5 at 128), wd
# 0.05, gradient clipping at norm 0.02, 40 warm-up epochs, cosine, 1600
# epochs, flip + crop. Starts from the self-supervised Kinetics-400 VideoMAE
# weights like UCF-101 (Table 2 "Kinetics-400 + OR-AR"; the files are made
# as described in m3mae_video_ucf101.py).
# Layout: data/or_ar/<video>/{rgb,depth}/*.png (RGBDVideoClipDataset; depth
# uint16 millimetres); one randomly placed clip per video and epoch.
_base_ = ['./m3mae_video_ucf101.py']

model = dict(
    masker=dict(
        masker=dict(
            _delete_=True, type='TubeMasker', mask_ratios=dict(rgb=0.9))),
    loss_weights=dict(rgb=1.0, depth=0.5, contrast=0.2, match=0.1))

data_root = 'data/or_ar/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, depth_unit='mm',
                 depth_source='sensor'))

base_lr = 1e-4  # Table 9 "base learning rate": per 256 clips
max_epochs = 1600
optim_wrapper = dict(
    optimizer=dict(lr=base_lr * _base_.num_gpus *
                   _base_.batch_per_gpu / 256),
    clip_grad=dict(max_norm=0.02, norm_type=2))
# the UCF-101 warm-up and cosine, stretched to max_epochs
warmup, cosine = _base_.param_scheduler
param_scheduler = [warmup, dict(cosine, T_max=max_epochs - warmup.end,
                                end=max_epochs)]
del warmup, cosine
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
