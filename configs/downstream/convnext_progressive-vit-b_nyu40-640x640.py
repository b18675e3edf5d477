# Progressive NYUv2 semantic segmentation: Table 11 (Ours: 49.2 mIoU; the
# model pre-trained in stage 2 on SUN RGB-D, App. 6.1), fine-tuning settings
# of Table 14 (NYUv2 column), ConvNeXt head following MultiMAE.
#
# Commands (4 GPUs x 2 images; CKPT = the best checkpoint the fine-tuning
# writes to work_dirs/convnext_progressive-vit-b_nyu40-640x640/):
#   1. pre-train: stage 1 configs/pretrain/progressive_stage1_in1k.py, stage
#      2 configs/pretrain/progressive_stage2_sunrgbd.py
#   2. export at 640x640: python tools/model_converters/export_vit.py \
#          work_dirs/progressive_stage2_sunrgbd/epoch_250.pth \
#          checkpoints/progressive-sunrgbd_vit-b_rgb_mmseg-640.pth \
#          --target mmseg --img-size 640 --src-prefix backbone.
#   3. NYUv2 layout: tools/dataset_converters/nyuv2_mat_to_png.py
#   4. fine-tune: bash tools/dist_train.sh \
#          configs/downstream/convnext_progressive-vit-b_nyu40-640x640.py 4
#   5. test: bash tools/dist_test.sh \
#          configs/downstream/convnext_progressive-vit-b_nyu40-640x640.py \
#          $CKPT 4
#
# Table 14 (NYUv2) equals M3 3D's Table 13 (NYUv2): 200 epochs, 640x640,
# colour jitter, no blur, no flip; the unstated parts are chosen as in the
# M3 3D config (batch 8, MultiMAE's jitter, longest side 640 + pad, 40
# classes).
_base_ = ['./convnext_m3mae-vit-b_nyu40-640x640.py']

pretrained = 'checkpoints/progressive-sunrgbd_vit-b_rgb_mmseg-640.pth'
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
