# MultiMAE demo: a tiny shared ViT over RGB, depth and semantic tokens of
# procedurally rendered rooms; trains on a CPU in a few minutes with clearly
# falling losses.
#   OMP_NUM_THREADS=1 python tools/train.py \
#       configs/pretrain/multimae_vit-tiny_synthetic-demo.py
# (one OpenMP thread: much faster than the default on a small, busy CPU)
_base_ = [
    '../_base_/models/multimae_vit-b.py',
    '../_base_/datasets/synthetic_rgbd.py',
    '../_base_/schedules/synthetic_demo_adamw_600it.py',
]

num_classes = 10  # SyntheticRGBDScenes classes
embed_dims = 128
_decoder = dict(
    type='CrossAttentionTaskDecoder',
    in_channels=embed_dims,
    embed_dims=128,
    num_heads=4,
    num_layers=1,
    context_modalities=('rgb', 'depth', 'semseg'))
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            feedforward_channels=4 * embed_dims),
        img_size=96,  # 6x6 patches per modality
        modalities=dict(
            semseg=dict(type='semseg', num_classes=num_classes))),
    # 1/6 of the 3 x 36 tokens visible, as MultiMAE's 98 of 3 x 196
    masker=dict(num_visible=18),
    decoders=dict(
        _delete_=True,
        rgb=dict(_decoder, task='rgb', out_channels=16 * 16 * 3),
        rgb_normpix=dict(_decoder, task='rgb', out_channels=16 * 16 * 3),
        depth=dict(_decoder, task='depth', out_channels=16 * 16 * 1),
        semseg=dict(
            _decoder, task='semseg', out_channels=4 * 4 * num_classes)),
    losses=dict(semseg=dict(num_classes=num_classes)))

train_pipeline = [
    dict(
        type='RGBDRandomResizedCrop',
        size=96,
        scale=(0.2, 1.0),
        ratio=(0.75, 1.3333)),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
    dict(type='PackRGBDInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    # semantic input/target = simulated pseudo labels, as the paper's
    # Mask2Former labels of ImageNet (not the rendered ground truth; see
    # projects/multimae/README.md)
    dataset=dict(
        num_samples=4800, img_size=(120, 160), seed=0,
        semseg_source='pseudo', pipeline=train_pipeline))

custom_hooks = [dict(type='ReconstructionVisualizationHook', interval=100)]
