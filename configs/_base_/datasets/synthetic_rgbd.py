# Procedurally rendered RGB-D rooms (no download): mmrgbd.SyntheticRGBDScenes.
# Samples already follow the sample contract (rgb uint8, depth in metres,
# depth_valid, semseg with 10 classes), so no loading transform is needed.
dataset_type = 'SyntheticRGBDScenes'
img_size = (96, 128)  # (H, W)

train_pipeline = [
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
    dict(type='PackRGBDInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        num_samples=2000,
        img_size=img_size,
        seed=0,
        mode='frame',
        with_points=False,
        pipeline=train_pipeline),
)

# Deterministic single-frame pipeline: used by the test loop below and by
# tools/misc/visualize_reconstruction.py (which prepends LoadRGBDFromFiles).
test_pipeline = [
    dict(type='RGBDResize', scale=(img_size[1], img_size[0])),
    dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
    dict(type='PackRGBDInputs'),
]

# Held-out rooms (another seed) for `tools/test.py CONFIG CKPT`: the depth
# reconstruction error at hidden, valid pixels, in metres.
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        num_samples=64,
        img_size=img_size,
        seed=12345,
        mode='frame',
        with_points=False,
        test_mode=True,
        pipeline=test_pipeline),
)
test_evaluator = dict(type='DepthReconstructionMetric')
test_cfg = dict(type='TestLoop')
