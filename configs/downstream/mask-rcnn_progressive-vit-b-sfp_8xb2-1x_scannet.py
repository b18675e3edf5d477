# Progressive (Table 5): ScanNet 2D instance segmentation, Mask R-CNN on the
# pre-trained ViT-B RGB encoder, AP (segm mAP; the table reports AP only).
# The paper: "we follow Mask3D for instance segmentation and fine-tune the
# model using Detectron2 with 1x schedule"; Mask3D in turn follows Pri3D's
# detectron2 protocol. mmdet equivalents: the Mask R-CNN / ViTDet pieces of
# configs/_base_/models/mask-rcnn_vit-b-sfp.py and the data / 1x schedule of
# configs/_base_/datasets/scannet-instance_d2-1x.py (every choice and
# deviation is listed there and in projects/progressive/README.md).
#
# Command sequence (8 GPUs):
#   1. pre-train (stage 1 ImageNet + pseudo depth, stage 2 ScanNet):
#        bash tools/pretrain_two_stage.sh \
#            configs/pretrain/progressive_stage1_in1k.py \
#            configs/pretrain/progressive_stage2_scannet.py 8
#   2. export the RGB encoder as the ViTDet backbone:
#        python tools/model_converters/export_vit.py \
#            work_dirs/progressive_stage2_scannet/epoch_100.pth \
#            checkpoints/progressive_vit-b_rgb_vitdet.pth --target vitdet \
#            --img-size 800 1088
#   3. COCO JSON of the ScanNet 2D frames (scannet_frames_25k):
#        python tools/dataset_converters/scannet_instances_to_coco.py \
#            data/scannet_frames_25k \
#            data/scannet_frames_25k/scannet_train.coco.json \
#            --scenes data/scannet/scannetv2_train.txt
#        python tools/dataset_converters/scannet_instances_to_coco.py \
#            data/scannet_frames_25k \
#            data/scannet_frames_25k/scannet_val.coco.json \
#            --scenes data/scannet/scannetv2_val.txt
#   4. fine-tune:
#        bash tools/dist_train.sh \
#            configs/downstream/mask-rcnn_progressive-vit-b-sfp_8xb2-1x_scannet.py 8
#   5. test (CocoMetric: coco/segm_mAP = Table 5's AP; bbox_* too):
#        bash tools/dist_test.sh \
#            configs/downstream/mask-rcnn_progressive-vit-b-sfp_8xb2-1x_scannet.py \
#            work_dirs/mask-rcnn_progressive-vit-b-sfp_8xb2-1x_scannet/iter_90000.pth 8
_base_ = [
    '../_base_/models/mask-rcnn_vit-b-sfp.py',
    '../_base_/datasets/scannet-instance_d2-1x.py'
]

pretrained_rgb = 'checkpoints/progressive_vit-b_rgb_vitdet.pth'

model = dict(
    backbone=dict(init_cfg=dict(checkpoint=pretrained_rgb)),
    roi_head=dict(
        bbox_head=dict(num_classes=18), mask_head=dict(num_classes=18)))
