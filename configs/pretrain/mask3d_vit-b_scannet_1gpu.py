# Mask3D ViT-B/16 on ScanNet as the paper ran it on one GPU: 64 frames per
# step x 2 accumulated steps = effective batch 128 at SGD lr 0.1, lr x0.99
# every 1000 optimiser updates (= 2000 iterations), 100 epochs.
#   python tools/train.py configs/pretrain/mask3d_vit-b_scannet_1gpu.py
# MMEngine's --auto-scale-lr counts world_size x batch_size and not the
# accumulation, so its base here is the per-step 64: one GPU keeps lr 0.1,
# and 2 GPUs with --auto-scale-lr (effective batch 256) get lr 0.2.
_base_ = ['./mask3d_vit-b_scannet.py']

accumulative_counts = 2
optim_wrapper = dict(accumulative_counts=accumulative_counts)
param_scheduler = [
    dict(
        type='StepLR',
        by_epoch=False,
        step_size=1000 * accumulative_counts,
        gamma=0.99),
]
auto_scale_lr = dict(base_batch_size=128 // accumulative_counts)
train_dataloader = dict(batch_size=64)
