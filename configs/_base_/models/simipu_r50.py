# SimIPU (Li et al., AAAI 2022): ResNet-50 image encoder + PointNet++ point
# encoder, intra-modal (LiDAR view alpha <-> view beta, Hungarian-matched
# points) and inter-modal (image <-> stop-gradient points) InfoNCE, tau 0.07,
# 128-d projection MLPs, lambda = mu = 1. As in the official code the key
# side of both terms is detached after its head (view beta's features in
# L_intra, the point features in L_inter: inter_pts_proj stays a fixed random
# MLP), and the set-abstraction layers group without xyz (use_xyz=False).
#
# Image features: C5 (2048 channels, stride 32), as in the official code, so
# that every ResNet stage is pre-trained for the downstream detector; for C4
# use num_stages=3, out_indices=(2, ) and inter_img_proj.in_channels=1024.
# PointNet++: 3 multi-scale SA layers combining D-FPS and F-FPS (the 3DSSD /
# SimIPU sampling; 'FS' = both), built from mmdet3d. On CPU the encoder turns
# on mmrgbd's pure-torch point ops (cpu_point_ops=True).
# Image normalisation: ImageNet RGB mean / std (official: Caffe BGR mean,
# std 1); the downstream configs use the same, so the chain is consistent.
# Images of a batch differ in size (multi-scale resize): they are padded to
# one size, a multiple of 32, with the mean colour (0 after normalisation).
# Ablations: intra_weight=0 or inter_weight=0 leave some parameters without
# gradients (with lambda = 0 the point encoder is not trained at all, as
# L_inter stops its gradient); on several GPUs add
#   model_wrapper_cfg = dict(type='MMDistributedDataParallel',
#                            find_unused_parameters=True)
model = dict(
    type='SimIPU',
    data_preprocessor=dict(
        type='PadRGBDDataPreprocessor',
        pad_size_divisor=32,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    img_backbone=dict(
        type='mmdet.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        frozen_stages=-1,
        # official: SyncBN eps 1e-3, momentum 0.01
        norm_cfg=dict(
            type='SyncBN', eps=1e-3, momentum=0.01, requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    pts_backbone=dict(
        type='PointNet2Encoder',
        cpu_point_ops=True,
        sa_cfg=dict(
            type='mmdet3d.PointNet2SAMSG',
            in_channels=4,
            num_points=(4096, 1024, (512, 512)),
            radii=((0.2, 0.4, 0.8), (0.4, 0.8, 1.6), (1.6, 3.2, 4.8)),
            num_samples=((32, 32, 64), (32, 32, 64), (16, 16, 16)),
            sa_channels=(((32, 32, 64), (32, 32, 64), (64, 64, 128)),
                         ((64, 64, 128), (64, 64, 128), (128, 128, 256)),
                         ((128, 128, 256), (128, 128, 256), (256, 256,
                                                             512))),
            aggregation_channels=(128, 256, 1024),
            fps_mods=(('D-FPS'), ('FS'), ('F-FPS', 'D-FPS')),
            fps_sample_range_lists=((-1), (-1), (512, -1)),
            norm_cfg=dict(type='BN2d', eps=1e-3, momentum=0.1),
            sa_cfg=dict(
                type='PointSAModuleMSG',
                pool_mod='max',
                use_xyz=False,  # official: features only, no relative xyz
                normalize_xyz=False))),
    # projection MLPs: fc-BN-ReLU-fc-BN-ReLU-fc-BN, 128-d output
    intra_proj=dict(
        type='mmpretrain.NonLinearNeck',
        in_channels=1024,
        hid_channels=1024,
        out_channels=128,
        num_layers=3,
        with_bias=True,
        with_last_bn=True,
        with_avg_pool=False,
        norm_cfg=dict(type='BN1d')),
    inter_img_proj=dict(
        type='mmpretrain.NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_layers=3,
        with_bias=True,
        with_last_bn=True,
        with_avg_pool=False,
        norm_cfg=dict(type='BN1d')),
    inter_pts_proj=dict(
        type='mmpretrain.NonLinearNeck',
        in_channels=1024,
        hid_channels=1024,
        out_channels=128,
        num_layers=3,
        with_bias=True,
        with_last_bn=True,
        with_avg_pool=False,
        norm_cfg=dict(type='BN1d')),
    img_feat_index=-1,
    intra_weight=1.0,  # lambda (0 = ablation without L_intra)
    inter_weight=1.0,  # mu (0 = ablation without L_inter)
    temperature=0.07,
    matcher='hungarian',  # 'auction' (batched, on device) / 'greedy'
    max_intra_pairs=4096,
    max_inter_pairs=4096,
    negatives='batch')
