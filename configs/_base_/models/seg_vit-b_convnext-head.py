# ViT-B/16 (mmseg's VisionTransformer, loaded from an RGB encoder exported by
# tools/model_converters/export_vit.py --target mmseg) with MultiMAE's
# ConvNeXt segmentation head (mmrgbd.ConvNeXtAdapterHead: linear to 6144,
# 4x4 sub-pixels of 384 channels at 1/4 resolution, 4 ConvNeXt blocks,
# bilinear upsampling), the head used by M3 3D and Progressive. Encoders
# without a class token (M3 3D, Progressive: num_global_tokens=0) need
# with_cls_token=False; the exported pos_embed is the exact 2D sin-cos of
# the fine-tuning grid (export at the config's img_size).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='VisionTransformer',
        img_size=(224, 224),
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        out_indices=-1,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        with_cls_token=False,
        output_cls_token=False,
        norm_cfg=dict(type='LN', eps=1e-6),
        act_cfg=dict(type='GELU'),
        patch_norm=False,
        final_norm=True,
        interpolate_mode='bicubic'),  # init_cfg: set by the configs
    decode_head=dict(
        type='mmrgbd.ConvNeXtAdapterHead',
        in_channels=768,
        embed_dims=6144,
        preds_per_patch=16,
        num_blocks=4,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
