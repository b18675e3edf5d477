# Mask3D pre-training schedule: SGD lr 0.1, momentum 0.9, effective batch 128
# (64 per step x 2 accumulated steps), lr x0.99 every 1000 iterations,
# 100 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0),
    accumulative_counts=2,
)

# StepLR counted in iterations (optimizer steps are every 2nd iteration
# with accumulation; the schedule counts training iterations).
param_scheduler = [
    dict(type='StepLR', by_epoch=False, step_size=1000, gamma=0.99),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
# lr 0.1 is for the effective batch of 128 = 64 per step x 2 accumulation.
# MMEngine's --auto-scale-lr counts world_size x batch_size per step and not
# the accumulation, so the base is the per-step batch of 64.
auto_scale_lr = dict(base_batch_size=64)
