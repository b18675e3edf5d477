# Your own RGB-D frames, listed in a text file (RGBDListDataset).
#
# data/my_rgbd/train.txt, one frame per line, paths relative to data_root
# (absolute paths are kept), '#' starts a comment:
#     color/000000.jpg depth/000000.png
#     color/000001.jpg depth/000001.png
#     ...
# A third column adds a semantic label map (set with_semseg=True below).
#
# The depth map must be registered to the colour image (same viewpoint and
# size; resize the colour first if your sensor's differ) and its unit is
# never guessed: set depth_unit to how the files store depth:
#   'mm'     uint16 PNG in millimetres (Kinect/RealSense/Azure exports,
#            ScanNet, NYUv2); 0 and 65535 = no measurement
#   'tum'    uint16 PNG, metres = value / 5000 (TUM RGB-D)
#   '0.1mm'  uint16 PNG in 0.1 mm
#   'm'      float metres (.npy, float TIFF/PFM, .exr)
#   (all: mmrgbd.datasets.depth_io.DEPTH_ENCODINGS)
# Check a few samples after the pipeline before training:
#   python tools/misc/browse_dataset.py CONFIG --output-dir work_dirs/browse
# A frame that cannot be read (missing, truncated, wrong unit, no valid
# depth) raises a BadSampleError naming the file; skip_bad_samples=True logs
# it and serves another frame instead.
dataset_type = 'RGBDListDataset'
data_root = 'data/my_rgbd/'
depth_unit = 'mm'
img_size = (240, 320)  # (H, W) the model sees; a multiple of the patch size

train_pipeline = [
    # RGB, depth in metres (unit from the dataset) and the validity mask
    dict(type='LoadRGBDFromFiles', with_semseg=False),
    # both to the model size (w, h); the depth is resized nearest-neighbour
    dict(type='RGBDResize', scale=(img_size[1], img_size[0])),
    dict(type='RGBDRandomFlip', prob=0.5),
    # metres -> network input: depth / max_depth, invalid pixels stay 0
    dict(type='NormalizeDepth', mode='metric', max_depth=10.0),
    dict(type='PackRGBDInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        depth_unit=depth_unit,
        depth_source='sensor',
        skip_bad_samples=False,
        pipeline=train_pipeline),
)
