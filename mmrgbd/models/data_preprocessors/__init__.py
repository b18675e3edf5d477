from .rgbd_data_preprocessor import RGBDDataPreprocessor  # noqa: F401
from .pad_rgbd_data_preprocessor import PadRGBDDataPreprocessor  # noqa: F401
