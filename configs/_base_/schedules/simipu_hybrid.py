# SimIPU hybrid optimisation: the image branch with SGD (lr 0.03, momentum
# 0.9, weight decay 1e-4), the LiDAR branch with AdamW (lr 1e-3, betas
# (0.95, 0.99), weight decay 0.01), in one OptimWrapper
# (MultiOptimWrapperConstructor; every trainable parameter must be in a
# branch). Cosine decay per iteration, gradient clipping over both branches.
max_epochs = 100

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='MultiOptimWrapperConstructor',
    clip_grad=dict(max_norm=35, norm_type=2),
    optimizer=dict(
        branches=dict(
            img=dict(
                prefixes=['img_backbone', 'inter_img_proj'],
                optimizer=dict(
                    type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4)),
            lidar=dict(
                prefixes=['pts_backbone', 'intra_proj', 'inter_pts_proj'],
                optimizer=dict(
                    type='AdamW',
                    lr=1e-3,
                    betas=(0.95, 0.99),
                    weight_decay=0.01)))))

param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# 8 GPUs x 4 samples
auto_scale_lr = dict(base_batch_size=32)
