# Mask3D pre-training schedule (paper, Sec. 4): SGD lr 0.1 for an effective
# batch of 128, lr x0.99 every 1000 optimiser updates, 100 epochs (momentum
# 0.9 and no weight decay: not stated in the paper).
#
# This file is the 8-GPU recipe: 8 GPUs x 16 frames (the dataset configs set
# batch_size=16) = 128 frames per update, no gradient accumulation. The
# paper's 1-GPU recipe (64 frames x 2 accumulated steps) is
# configs/pretrain/mask3d_vit-b_scannet_1gpu.py.
optim_wrapper = dict(
    type='OptimWrapper',
    # fused=True: one multi-tensor kernel per step (CPU and CUDA), the same
    # update as the default foreach SGD up to float rounding
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0, fused=True),
    accumulative_counts=1,
)

# StepLR counts training iterations; with accumulative_counts=a one update
# takes a iterations, so step_size must be 1000 * a to decay every 1000
# optimiser updates (the 1-GPU config sets 2000).
param_scheduler = [
    dict(type='StepLR', by_epoch=False, step_size=1000, gamma=0.99),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
# lr 0.1 is for the global batch of 128 = world_size x batch_size (MMEngine's
# --auto-scale-lr counts world_size x batch_size per iteration and not the
# accumulation): the 8 x 16 launch keeps lr 0.1; e.g. 4 GPUs x 16 with
# --auto-scale-lr train at lr 0.05.
auto_scale_lr = dict(base_batch_size=128)
