# ImageNet-1k fine-tuning of a ViT-B/16 initialised from the RGB encoder of
# an mmrgbd pre-training (here Mask3D): mmpretrain's unmodified MAE
# fine-tuning recipe.
#
# 1. python tools/model_converters/export_vit.py \
#        work_dirs/mask3d_vit-b_scannet/epoch_100.pth \
#        checkpoints/mask3d_vit-b_rgb_mmpretrain-224.pth --target mmpretrain \
#        --img-size 224
# 2. python tools/train.py \
#        configs/downstream/vit-b-p16_mask3d-pre_8xb128-coslr-100e_in1k.py
#
# The export holds backbone.* keys (prefix='backbone.'). Mask3D encoders have
# no class token: with_cls_token=False (the recipe pools the patch tokens,
# out_type='avg_featmap', with a new ln2 and, like MAE, without the
# pre-trained final norm ln1, which is reported as unused).
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py'

pretrained_rgb = 'checkpoints/mask3d_vit-b_rgb_mmpretrain-224.pth'

model = dict(
    backbone=dict(
        with_cls_token=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained_rgb,
            prefix='backbone.')))

custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)
# mmrgbd's hook: its checkpoints load in tools/test.py (weights-only
# loading refuses the HistoryBuffer objects MMEngine's hook pickles)
default_hooks = dict(checkpoint=dict(type='mmrgbd.CheckpointHook'))
