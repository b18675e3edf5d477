from .rgbd_data_preprocessor import RGBDDataPreprocessor  # noqa: F401
from .pad_rgbd_data_preprocessor import PadRGBDDataPreprocessor  # noqa: F401
from .clip_sequence_data_preprocessor import \
    ClipSequenceDataPreprocessor  # noqa: F401
