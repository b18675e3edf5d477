from mmengine.structures import BaseDataElement


class RGBDDataSample(BaseDataElement):
    """Data sample of an RGB-D (optionally LiDAR) frame or clip.

    Metainfo carries what the pipeline knows about the sample (``rgb_path``,
    ``depth_path``, ``depth_unit``, ``depth_source``, ``intrinsics``,
    ``cam2world``, ``lidar2img``, ``ori_shape``, ``img_shape``, ``flip``...).
    Models may attach predictions as data fields, e.g. ``pred_depth``
    (1, H, W), ``pred_rgb`` (3, H, W) and ``mask`` (the hidden tokens) for
    visualisation.
    """
