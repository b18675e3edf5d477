# Mask R-CNN on a plain ViT-B/16 (ViTDet's backbone + simple feature
# pyramid), the detector of Mask3D (Sec. 4.1: "Detectron2 ... 1x schedule",
# "only the backbone encoder is pre-trained") and Progressive (Table 5:
# "MaskRCNN ... we follow Mask3D").
#
# mmdet's unmodified Mask R-CNN (the detectron2 Base-RCNN-FPN heads) with
# * backbone: mmpretrain's ViTSAM, which is ViTDet's plain ViT (window
#   attention of 14x14 tokens, global attention in blocks 2, 5, 8, 11,
#   relative position biases, absolute pos_embed interpolated to the input,
#   no global token, no final norm), loaded from
#   tools/model_converters/export_vit.py --target vitdet; drop path 0.1 as
#   ViTDet-B (the papers are silent);
# * neck: mmrgbd.SimpleFeaturePyramid (ViTDet: 4x / 2x deconv, identity,
#   max-pool of the stride-16 map, LN convs, plus a P6 max-pool): strides
#   4-64 for the RPN anchors and RoI extractors;
# * Pri3D's detectron2 settings (Mask3D's first author; its ScanNet / NYUv2
#   instance configs give the baselines of Mask3D Tables 2-4, 6): 32
#   sampled RoIs per image (ROI_HEADS.BATCH_SIZE_PER_IMAGE) and a test
#   score threshold of 0.5 (SCORE_THRESH_TEST).
# The dataset configs set num_classes.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)

# exported with: export_vit.py SRC DST --target vitdet --img-size 800 1088
pretrained_rgb = 'checkpoints/vit-b_rgb_vitdet.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ViTSAM',
        arch='base',  # 768-d, 12 blocks, 12 heads, global blocks 2 5 8 11
        img_size=(800, 1088),  # the padded test input of 640x480 frames
        patch_size=16,
        out_channels=0,  # no SAM neck: the pyramid follows
        qkv_bias=True,
        use_abs_pos=True,
        use_rel_pos=True,
        window_size=14,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained_rgb,
            prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmrgbd.SimpleFeaturePyramid',
        in_channels=768,
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        num_outs=5),
    train_cfg=dict(rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rcnn=dict(score_thr=0.5)))
