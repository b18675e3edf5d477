# SimIPU ResNet-50 pre-training on KITTI (train + test, val excluded),
# 100 epochs, 4 samples per GPU on 8 GPUs, hybrid SGD (image encoder and
# projection heads, lr 0.03) / AdamW (point encoder, lr 1e-3), lr x0.99 per
# epoch, the official KITTI recipe (projects/simipu/README.md lists what
# still differs).
#   bash tools/dist_train.sh configs/pretrain/simipu_r50_kitti.py 8
#
# Double fine-tuning: start the image encoder from a supervised ImageNet
# ResNet-50, e.g. torchvision's weights converted to mmdet keys, or mmdet's
#   init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')
# or any file (state dict or {'state_dict': ...}); prefix selects and strips
# a key prefix, e.g. 'backbone.' for an mmdet / mmpretrain classifier:
#   model = dict(img_backbone=dict(init_cfg=dict(
#       type='Pretrained', checkpoint='checkpoints/r50_in1k.pth',
#       prefix='backbone.')))
# The pre-trained image encoder is exported from the SimIPU checkpoint with
# prefix 'img_backbone.' for the downstream detector (e.g. FCOS3D).
_base_ = [
    '../_base_/models/simipu_r50.py',
    '../_base_/datasets/kitti_simipu.py',
    '../_base_/schedules/simipu_hybrid.py',
    '../_base_/runtime/default_runtime.py',
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=30),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3))
