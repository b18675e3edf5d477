# NYUv2 monocular depth with a DPT head on the RGB encoder of a Progressive
# pre-training (stage 2 on ScanNet): Progressive (Sec. 4.2 and Table 12);
# the result is Table 3, delta_1 = 87.1.
#
# Table 12 is MultiMAE's NYUv2 depth setting (Table 9 of MultiMAE) and the
# paper follows MultiMAE for the DPT head, so this config is
# dpt_multimae-vit-b_nyu-depth-256x256.py (read its header) with the
# Progressive student's RGB encoder: AdamW (0.9, 0.999), lr 1e-4, wd 1e-4,
# cosine, 100 warm-up epochs from 1e-6, 2000 epochs, batch 128, layer decay
# 0.75, 256x256, random crop and colour jitter; reverse Huber loss (not
# stated in the paper: MultiMAE's). No global token (with_cls_token=False).
#
# Command sequence (pre-train -> export -> fine-tune -> test):
# 0. NYUv2 labeled frames in mmseg's layout (data/nyu_labeled): see step 0
#    of dpt_multimae-vit-b_nyu-depth-256x256.py
# 1. bash tools/pretrain_two_stage.sh \
#        configs/pretrain/progressive_stage1_in1k.py \
#        configs/pretrain/progressive_stage2_scannet.py 8
# 2. the stage-2 checkpoint holds the student (backbone.*) and the frozen
#    teacher (teacher.*); export the student:
#    python tools/model_converters/export_vit.py \
#        work_dirs/progressive_stage2_scannet/epoch_100.pth \
#        checkpoints/progressive_vit-b_rgb_mmpretrain-256.pth \
#        --target mmpretrain --img-size 256 --src-prefix backbone.
# 3. bash tools/dist_train.sh \
#        configs/downstream/dpt_progressive-vit-b_nyu-depth-256x256.py 2
# 4. python tools/test.py \
#        configs/downstream/dpt_progressive-vit-b_nyu-depth-256x256.py \
#        work_dirs/dpt_progressive-vit-b_nyu-depth-256x256/epoch_2000.pth
_base_ = './dpt_multimae-vit-b_nyu-depth-256x256.py'

pretrained_rgb = 'checkpoints/progressive_vit-b_rgb_mmpretrain-256.pth'

model = dict(
    backbone=dict(
        with_cls_token=False,
        init_cfg=dict(checkpoint=pretrained_rgb)))
