from .rgbd_data_sample import RGBDDataSample

__all__ = ['RGBDDataSample']
