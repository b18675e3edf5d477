# ScanNet frames for M3 3D (image stages 1 and 2) and Progressive stage 2:
# the pipeline of scannet_frames.py (LoadScanNetFrame, 240x320, flip) with
# colour jitter + Gaussian blur on RGB and robust per-image depth
# standardisation in place of the metric d / 10 m (see
# rgb-jitter-blur_robust-depth.py). Composed from the named parts of both
# bases: no transform is repeated here.
_base_ = ['./scannet_frames.py', './rgb-jitter-blur_robust-depth.py']

train_pipeline = (
    _base_.scannet_loading + _base_.rgb_jitter_blur +
    _base_.robust_depth_normalization + _base_.scannet_packing)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
