# M3 3D stage 1 (images): patch-level RGB <-> depth InfoNCE between ViT-B/16
# encoders on 240x320 RGB-D (15x20 = 300 patches per modality). No masking,
# no decoder; the only loss is loss_patch_nce (Eq. 3): the L2-normalised
# encoder features themselves (no projection MLP; head.num_layers=2 adds
# one), RGB anchors only (loss.symmetric=True averages both directions),
# negatives = the other depth patches of the image, tau = 0.07 (the paper
# gives no value).
# with_pos_embed=False: the stage-1 encoders see content-only tokens (no
# position embedding), so the contrast cannot be solved from position
# alone; stage 2 adds the embeddings again. with_pos_embed=True is the
# paper's literal form (see projects/m3mae/README.md).
# shared_encoder=True switches to one ViT shared by both modalities (each
# modality encoded in its own pass); stage 2 must then use the same layout.
model = dict(
    type='M3MAEStage1',
    data_preprocessor=dict(
        type='RGBDDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        type='MultiModalViT',
        arch='b',
        img_size=(240, 320),
        patch_size=16,
        modalities=dict(
            rgb=dict(in_channels=3), depth=dict(in_channels=1)),
        shared_encoder=False,
        num_global_tokens=0),
    head=dict(
        type='PatchContrastHead',
        in_channels=768,
        num_layers=0,
        loss=dict(type='PatchInfoNCELoss', temperature=0.07,
                  negatives='image', symmetric=False)),
    masker=None,  # every patch visible; a masker restricts the contrast
    with_pos_embed=False,
)
