# Pipeline parts shared by the M3 3D image configs and Progressive stage 2
# (no dataset): the RGB-only photometric augmentation of M3 3D Table 12 and
# Progressive Table 13 ("Gaussian Blur, ColorJitter"; the strengths are our
# choice) and MultiMAE's per-image robust depth standardisation (0 mean,
# unit std over the valid pixels, 10 % trimmed at each end). M3 3D "follows
# MultiMAE" for its depth loss; Progressive uses it in both stages so that
# the stage-1 (pseudo-depth) and stage-2 depth statistics agree.
# A dataset config composes them with its own loading / packing parts, e.g.
# scannet_frames_rgb-jitter-blur_robust-depth.py.
rgb_jitter_blur = [
    dict(type='RGBColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
         hue=0.1, prob=0.8),
    dict(type='RGBGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
]
robust_depth_normalization = [
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
]
