# SimIPU hybrid optimisation, as the official simipu_kitti.py: the image
# encoder with SGD (lr 0.03, momentum 0.9, weight decay 1e-4), the point
# encoder with AdamW (lr 1e-3, betas (0.95, 0.99), weight decay 0.01), and
# every projection head in a third SGD group with the image encoder's
# settings (the official 'mlp' group), in one OptimWrapper
# (MultiOptimWrapperConstructor; every trainable parameter must be in a
# branch; the frozen inter_pts_proj is listed for completeness). The lr of
# every group decays by x0.99 per epoch (the official lr_config
# policy='Exp', gamma=0.99: 0.37x the base lr in the last epoch), without
# warm-up and without gradient clipping.
max_epochs = 100

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='MultiOptimWrapperConstructor',
    optimizer=dict(
        branches=dict(
            img=dict(
                prefixes=['img_backbone'],
                optimizer=dict(
                    type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4)),
            lidar=dict(
                prefixes=['pts_backbone'],
                optimizer=dict(
                    type='AdamW',
                    lr=1e-3,
                    betas=(0.95, 0.99),
                    weight_decay=0.01)),
            mlp=dict(
                prefixes=['intra_proj', 'inter_img_proj', 'inter_pts_proj'],
                optimizer=dict(
                    type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4)))))

param_scheduler = [
    dict(type='ExponentialLR', gamma=0.99, by_epoch=True, begin=0,
         end=max_epochs),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# 8 GPUs x 4 samples
auto_scale_lr = dict(base_batch_size=32)
