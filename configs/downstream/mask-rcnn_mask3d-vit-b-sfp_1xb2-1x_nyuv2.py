# Mask3D (Tables 4 and 6): NYUv2 2D instance segmentation (segm AP, AP50,
# AP75: Table 4) and object detection (bbox AP, AP50, AP75: Table 6) with
# the ScanNet-pre-trained ViT-B RGB encoder (cross-dataset transfer).
# "Detectron2 with the 1x schedule", following Pri3D's NYUv2 protocol (9
# classes, lr 0.0025, 2 images per iteration). One Mask R-CNN run gives both
# tables. mmdet equivalents: configs/_base_/models/mask-rcnn_vit-b-sfp.py
# and configs/_base_/datasets/nyuv2-instance_d2-1x.py (choices and
# deviations there and in projects/mask3d/README.md).
#
# Command sequence:
#   1. pre-train:
#        bash tools/dist_train.sh configs/pretrain/mask3d_vit-b_scannet.py 8
#   2. export the RGB encoder as the ViTDet backbone:
#        python tools/model_converters/export_vit.py \
#            work_dirs/mask3d_vit-b_scannet/epoch_100.pth \
#            checkpoints/mask3d_vit-b_rgb_vitdet.pth --target vitdet \
#            --img-size 800 1088
#   3. NYUv2 PNGs with instances, then COCO JSON:
#        python tools/dataset_converters/nyuv2_mat_to_png.py \
#            nyu_depth_v2_labeled.mat data/nyuv2 --map40 classMapping40.mat \
#            --map13 class13Mapping.mat --splits splits.mat
#        python tools/dataset_converters/scannet_instances_to_coco.py \
#            data/nyuv2 data/nyuv2/nyuv2_train.coco.json --dataset nyuv2 \
#            --split train
#        python tools/dataset_converters/scannet_instances_to_coco.py \
#            data/nyuv2 data/nyuv2/nyuv2_test.coco.json --dataset nyuv2 \
#            --split test
#   4. fine-tune (one GPU, 2 images per iteration):
#        python tools/train.py \
#            configs/downstream/mask-rcnn_mask3d-vit-b-sfp_1xb2-1x_nyuv2.py
#   5. test (coco/segm_mAP* = Table 4, coco/bbox_mAP* = Table 6):
#        python tools/test.py \
#            configs/downstream/mask-rcnn_mask3d-vit-b-sfp_1xb2-1x_nyuv2.py \
#            work_dirs/mask-rcnn_mask3d-vit-b-sfp_1xb2-1x_nyuv2/iter_90000.pth
_base_ = [
    '../_base_/models/mask-rcnn_vit-b-sfp.py',
    '../_base_/datasets/nyuv2-instance_d2-1x.py'
]

pretrained_rgb = 'checkpoints/mask3d_vit-b_rgb_vitdet.pth'

model = dict(
    backbone=dict(init_cfg=dict(checkpoint=pretrained_rgb)),
    roi_head=dict(
        bbox_head=dict(num_classes=9), mask_head=dict(num_classes=9)))
