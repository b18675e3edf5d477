# Synthetic RGB-D rooms (synthetic_rgbd.py) for the M3 3D and Progressive
# stage-2 CPU demos: flip, the RGB colour jitter + Gaussian blur and robust
# per-image depth standardisation of the real-data recipes
# (rgb-jitter-blur_robust-depth.py). The samples need no loading transform.
# The test pipeline normalises depth the same way (tools/test.py and
# tools/misc/visualize_reconstruction.py map predictions back to metres).
_base_ = ['./synthetic_rgbd.py', './rgb-jitter-blur_robust-depth.py']

train_pipeline = ([dict(type='RGBDRandomFlip', prob=0.5)] +
                  _base_.rgb_jitter_blur + _base_.robust_depth_normalization +
                  [dict(type='PackRGBDInputs')])
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

test_pipeline = (
    [dict(type='RGBDResize', scale=(_base_.img_size[1], _base_.img_size[0]))]
    + _base_.robust_depth_normalization + [dict(type='PackRGBDInputs')])
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
