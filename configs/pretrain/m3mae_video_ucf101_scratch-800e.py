# M3 3D video pre-training on UCF-101 FROM SCRATCH (Table 1 "UCF-101", 800
# epochs; Table 9 "100 or 800 (from scratch)"): m3mae_video_ucf101.py without
# the Kinetics-400 initialisation, 800 epochs (40 warm-up, cosine).
_base_ = ['./m3mae_video_ucf101.py']

model = dict(
    backbone=dict(
        modalities=dict(
            rgb=dict(init_cfg=None), depth=dict(init_cfg=None))))

max_epochs = 800
# the UCF-101 warm-up and cosine, stretched to max_epochs
warmup, cosine = _base_.param_scheduler
param_scheduler = [warmup, dict(cosine, T_max=max_epochs - warmup.end,
                                end=max_epochs)]
del warmup, cosine
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
