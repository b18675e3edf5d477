# SimIPU (Li et al., AAAI 2022) Table 4: monocular 3D detection on nuScenes
# (val mAP / NDS), FCOS3D with a ResNet-50 image encoder initialised from
# SimIPU pre-training. The base is mmdet3d's unmodified
# fcos3d_r101-caffe-dcn config; as the paper ("we only replace the image
# encoder ResNet-101 in the default config of FCOS3D with ResNet-50 ... 1x
# schedule ... batch size 8 ... synchronized batch normalization") and the
# official project_cl/configs/fcos3d_mono3d/fcos3d_r50_nus.py:
# * ResNet-50, style='pytorch', frozen_stages=1, trainable SyncBN
#   (norm_eval=False), DCNv2 (modulated deformable conv, mmcv) in the 3x3
#   convs of stages 3 and 4 as the base config; the exported plain ResNet
#   fills every weight of it except the offset/mask convs (conv_offset,
#   zero-initialised by mmcv: at the start each DCNv2 is the plain conv
#   with a 0.5 mask);
# * SGD lr 0.008 (8 images per GPU; the base's bias_lr_mult 2,
#   bias_decay_mult 0, grad clip 35, 500-iteration warm-up from 1/3, steps
#   at epochs 8 and 11 of 12 are the official ones).
#   "Batch size 8" is per GPU in the official config (samples_per_gpu=8 with
#   lr 0.008 = 4x mmdet3d's 0.002 for 2 x 8 images), i.e. 64 images on 8
#   GPUs: auto_scale_lr base 64.
# Normalisation: RGB ImageNet mean/std (bgr_to_rgb=True), the normalisation
# SimIPU's encoder is pre-trained with here (official: Caffe BGR, std 1).
#
# DCN on CPU: mmcv 2.1.0's ModulatedDeformConv2d has a CPU kernel in this
# build (forward and backward), so the config runs unchanged on CPU
# (tests/test_tools/test_export_mmdet3d.py). SyncBN: reverted to BatchNorm
# by MMEngine when not distributed, and by mmrgbd's RGBDRunner in
# distributed runs without CUDA (see mvxnet_simipu-r50_kitti.py).
#
# Command sequence:
#   1. pre-train:  bash tools/dist_train.sh \
#          configs/pretrain/simipu_r50_waymo.py 8   (or simipu_r50_kitti.py)
#   2. export:     python tools/model_converters/simipu2mmdet3d.py \
#          work_dirs/simipu_r50_waymo/epoch_10.pth checkpoints/simipu_r50
#      (writes checkpoints/simipu_r50_fcos3d.pth with backbone.* keys)
#   3. fine-tune:  bash tools/dist_train.sh \
#          configs/downstream/fcos3d_simipu-r50_nus.py 8
#   4. test:       bash tools/dist_test.sh \
#          configs/downstream/fcos3d_simipu-r50_nus.py \
#          work_dirs/fcos3d_simipu-r50_nus/epoch_12.pth 8
#      (NuScenesMetric: mAP, NDS)
# Data: mmdet3d's nuScenes layout (samples/CAM_*, nuscenes_infos_{train,val}
# .pkl from mmdet3d's create_data.py nuscenes).
_base_ = 'mmdet3d::fcos3d/fcos3d_r101-caffe-dcn_fpn_head-gn_8xb2-1x_nus-mono3d.py'  # noqa

custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)

simipu_checkpoint = 'checkpoints/simipu_r50_fcos3d.pth'

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        depth=50,
        style='pytorch',
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        # the base points at detectron2's ImageNet ResNet-101
        init_cfg=None),
    init_cfg=dict(type='Pretrained', checkpoint=simipu_checkpoint))

train_dataloader = dict(batch_size=8, num_workers=8)

optim_wrapper = dict(optimizer=dict(lr=0.008))

auto_scale_lr = dict(enable=False, base_batch_size=64)

# mmrgbd's CheckpointHook: atomic saves whose message hub loads
# weights-only (tools/test.py, --resume); mmengine's would be refused
default_hooks = dict(checkpoint=dict(type='mmrgbd.CheckpointHook'))
