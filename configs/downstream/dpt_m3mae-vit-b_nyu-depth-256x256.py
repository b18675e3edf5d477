# NYUv2 monocular depth with a DPT head on the RGB encoder of an M3 3D
# pre-training on ScanNet: M3 3D (Jamal et al.), Sec. 4.2.4 and Table 14;
# the result is Table 5, delta_1 = 86.7.
#
# Table 14 lists MultiMAE's NYUv2 depth setting (Table 9 of MultiMAE), and
# the paper "follows MultiMAE" for the DPT head, so this config is
# dpt_multimae-vit-b_nyu-depth-256x256.py (read its header) with the M3 3D
# encoder: AdamW (0.9, 0.999), lr 1e-4, wd 1e-4, cosine, 100 warm-up epochs
# from 1e-6, 2000 epochs, batch 128, layer decay 0.75, 256x256, random crop
# and colour jitter; reverse Huber loss (not stated in the paper: MultiMAE's).
# The M3 3D encoders have no global token (with_cls_token=False).
#
# Command sequence (pre-train -> export -> fine-tune -> test):
# 0. NYUv2 labeled frames in mmseg's layout (data/nyu_labeled): see step 0
#    of dpt_multimae-vit-b_nyu-depth-256x256.py
# 1. bash tools/pretrain_two_stage.sh \
#        configs/pretrain/m3mae_stage1_scannet.py \
#        configs/pretrain/m3mae_scannet.py 8
# 2. python tools/model_converters/export_vit.py \
#        work_dirs/m3mae_scannet/epoch_100.pth \
#        checkpoints/m3mae_vit-b_rgb_mmpretrain-256.pth \
#        --target mmpretrain --img-size 256
# 3. bash tools/dist_train.sh \
#        configs/downstream/dpt_m3mae-vit-b_nyu-depth-256x256.py 2
# 4. python tools/test.py \
#        configs/downstream/dpt_m3mae-vit-b_nyu-depth-256x256.py \
#        work_dirs/dpt_m3mae-vit-b_nyu-depth-256x256/epoch_2000.pth
_base_ = './dpt_multimae-vit-b_nyu-depth-256x256.py'

pretrained_rgb = 'checkpoints/m3mae_vit-b_rgb_mmpretrain-256.pth'

model = dict(
    backbone=dict(
        with_cls_token=False,
        init_cfg=dict(checkpoint=pretrained_rgb)))
