# FCOS3D (monocular 3D detection) on nuScenes with a ResNet-50 image encoder
# initialised from SimIPU pre-training. The base is mmdet3d's unmodified
# fcos3d_r101-caffe-dcn config; only the backbone (ResNet-50, no DCN), its
# style and the input normalisation change.
#
# 1. Export the SimIPU image encoder:
#      python tools/model_converters/simipu2mmdet3d.py \
#          work_dirs/simipu_r50_kitti/epoch_100.pth checkpoints/simipu_r50
#    (writes checkpoints/simipu_r50_fcos3d.pth with backbone.* keys)
# 2. python tools/train.py configs/downstream/fcos3d_simipu-r50_nus.py
#
# Style / normalisation follow the SimIPU encoder (configs/_base_/models/
# simipu_r50.py): style='pytorch', RGB ImageNet mean/std (mmdet3d loads BGR,
# hence bgr_to_rgb=True). DCN is dropped: SimIPU pre-trains a plain ResNet
# (and mmcv's modulated deformable conv is slow on CPU).
_base_ = 'mmdet3d::fcos3d/fcos3d_r101-caffe-dcn_fpn_head-gn_8xb2-1x_nus-mono3d.py'  # noqa

simipu_checkpoint = 'checkpoints/simipu_r50_fcos3d.pth'

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        depth=50,
        style='pytorch',
        dcn=None,
        stage_with_dcn=(False, False, False, False),
        # the base points at detectron2's ImageNet ResNet-101
        init_cfg=None),
    init_cfg=dict(type='Pretrained', checkpoint=simipu_checkpoint))
