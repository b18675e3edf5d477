# MultiMAE NYUv2 semantic segmentation from ground-truth depth alone:
# Table 2 "D" (MultiMAE: 41.4 mIoU), settings of Table 8. Only the depth
# stem and the shared encoder are used; the ConvNeXt head reads the depth
# tokens. The colour image is still loaded (mmseg pipelines carry the
# geometry on `img`) but not fed to the network; colour jitter therefore
# has no effect here and is kept only so that the augmentation is the same
# as the RGB / RGB-D rows.
#
# Commands: as convnext_multimae-vit-b_nyu40-rgb-640x640.py, with this
# config (export with --modality depth, or the rgb+depth file: the unused
# RGB stem is ignored when loading).
_base_ = ['./convnext_multimae-vit-b_nyu40-rgbd-640x640.py']

input_modalities = ['depth']
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type='SegDataPreProcessor',
        mean=[0.0],
        std=[1.0],
        bgr_to_rgb=False,
        pad_val=0,
        seg_pad_val=255,
        size=(640, 640),
        test_cfg=dict(size=(640, 640))),
    backbone=dict(
        modalities=dict(_delete_=True, depth=dict(in_channels=1)),
        in_modalities=input_modalities,
        out_modalities=['depth']))

stack_inputs = dict(
    type='mmrgbd.StackInputModalities',
    modalities=input_modalities,
    depth_norm=dict(type='NormalizeDepth', mode='robust', trunc=0.1))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmrgbd.LoadDepthMap'),
    dict(type='LoadAnnotations'),
] + _base_.multimae_train_aug + [stack_inputs, dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmrgbd.LoadDepthMap'),
    dict(type='Resize', scale=(640, 640), keep_ratio=True),
    dict(type='LoadAnnotations'),
    stack_inputs,
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
