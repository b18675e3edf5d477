# Schedule shared by the 600-iteration CPU demos on SyntheticRGBDScenes:
# AdamW 1e-3, 50 warm-up iterations, cosine to 1e-5, one final checkpoint.
_base_ = ['../runtime/default_runtime.py']

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
randomness = dict(seed=0, diff_rank_seed=True)
