# ImageNet-1k linear probing of the frozen RGB encoder of an mmrgbd
# pre-training (here Mask3D): mmpretrain's unmodified MAE linear-probe
# recipe. Export as for the fine-tuning config:
#   python tools/model_converters/export_vit.py \
#       work_dirs/mask3d_vit-b_scannet/epoch_100.pth \
#       checkpoints/mask3d_vit-b_rgb_mmpretrain-224.pth --target mmpretrain \
#       --img-size 224
#
# The recipe probes the class token; Mask3D encoders have none, so the
# patch tokens are average-pooled instead (out_type='avg_featmap'; its ln2
# is frozen at its initial value with the 12 blocks). For an encoder with a
# global token (MultiMAE) keep the base settings.
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'  # noqa

pretrained_rgb = 'checkpoints/mask3d_vit-b_rgb_mmpretrain-224.pth'

model = dict(
    backbone=dict(
        with_cls_token=False,
        out_type='avg_featmap',
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained_rgb,
            prefix='backbone.')))

custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)
# mmrgbd's hook: its checkpoints load in tools/test.py (weights-only
# loading refuses the HistoryBuffer objects MMEngine's hook pickles)
default_hooks = dict(checkpoint=dict(type='mmrgbd.CheckpointHook'))
