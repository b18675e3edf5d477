# MVX-Net (dynamic voxels, PointFusion) on KITTI 3-class, with the image
# encoder initialised from SimIPU pre-training. Everything else is mmdet3d's
# unmodified config.
#
# 1. Export the SimIPU image encoder:
#      python tools/model_converters/simipu2mmdet3d.py \
#          work_dirs/simipu_r50_kitti/epoch_100.pth checkpoints/simipu_r50
#    (writes checkpoints/simipu_r50_mvxnet.pth with img_backbone.* keys)
# 2. python tools/train.py configs/downstream/mvxnet_simipu-r50_kitti.py
#
# Style and normalisation follow the SimIPU encoder, not mmdet3d's detectron2
# caffe ResNet: style='pytorch' (stride 2 in the 3x3 convs) and RGB input
# normalised with the ImageNet mean/std of configs/_base_/models/simipu_r50.py
# (mmdet3d loads BGR images, hence bgr_to_rgb=True). If the encoder was
# pre-trained with another style / normalisation, change both here.
#
# On a machine without CUDA the dynamic voxel scatter of DynamicVFE needs
# mmrgbd's pure-torch fallback (custom_imports below); on GPUs it calls
# mmcv's kernel as before.
_base_ = 'mmdet3d::mvxnet/mvxnet_fpn_dv_second_secfpn_8xb2-80e_kitti-3d-3class.py'  # noqa

custom_imports = dict(
    imports=['mmrgbd.ops.cpu_fallbacks'], allow_failed_imports=False)

simipu_checkpoint = 'checkpoints/simipu_r50_mvxnet.pth'

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    img_backbone=dict(style='pytorch'),
    init_cfg=dict(type='Pretrained', checkpoint=simipu_checkpoint))

# the base config starts from a full MVX-Net trained on COCO + KITTI, which
# would overwrite the SimIPU weights
load_from = None
