# UPerNet + ViT-B/16 on ADE20K: mmseg's unmodified config, with the backbone
# initialised from the RGB encoder of an mmrgbd pre-training (here Mask3D).
#
# 1. Export the RGB encoder in mmseg's key layout at the fine-tuning size
#    (the 2D sin-cos position embedding is regenerated for 32x32 tokens; the
#    patch bias is folded into pos_embed because mmseg's ViT has
#    patch_bias=False):
#      python tools/model_converters/export_vit.py \
#          work_dirs/mask3d_vit-b_scannet/epoch_100.pth \
#          checkpoints/mask3d_vit-b_rgb_mmseg-512.pth --target mmseg \
#          --img-size 512
# 2. python tools/train.py \
#        configs/downstream/upernet_mask3d-vit-b_ade20k-512x512.py
#
# mmseg's ViT ignores `prefix` in init_cfg, so the exported file has bare
# keys. The base config sets model.pretrained, which mmseg turns into the
# backbone's init_cfg and forbids together with one: it is reset here.
# Mask3D encoders have no class token (num_global_tokens=0), hence
# with_cls_token=False; for a MultiMAE-style encoder (one global token)
# set it to True. final_norm=True is already in the base config (ln1 of the
# pre-trained encoder).
#
# Schedule: Mask3D's ADE20K recipe (supplementary, Tab. 14: "learning rate
# 0.0001 with AdamW optimizer, training iterations 256k and batch size 16 on
# 8 GPUs"); the rest (weight decay 0.01, 1500 warm-up iterations, linear
# decay, 8 x 2 images) is mmseg's, the paper does not state it.
_base_ = 'mmseg::vit/vit_vit-b16-ln_mln_upernet_8xb2-160k_ade20k-512x512.py'

pretrained_rgb = 'checkpoints/mask3d_vit-b_rgb_mmseg-512.pth'

model = dict(
    pretrained=None,
    backbone=dict(
        with_cls_token=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_rgb)))

max_iters = 256000
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=max_iters,
        by_epoch=False,
    )
]
train_cfg = dict(max_iters=max_iters)
train_dataloader = dict(batch_size=2)  # x 8 GPUs = 16

custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)
# mmrgbd's hook: its checkpoints load in tools/test.py (weights-only
# loading refuses the HistoryBuffer objects MMEngine's hook pickles)
default_hooks = dict(checkpoint=dict(type='mmrgbd.CheckpointHook'))
