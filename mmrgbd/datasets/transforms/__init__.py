from .loading import LoadRGBDFromFiles, build_label_lut  # noqa: F401
from .depth import (NormalizeDepth, denormalize_depth,  # noqa: F401
                    robust_depth_stats)
from .formatting import PackRGBDInputs  # noqa: F401
from .geometry import (RGBDCenterCrop, RGBDRandomCrop,  # noqa: F401
                       RGBDRandomFlip, RGBDRandomResizedCrop, RGBDResize)
from .photometric import (RandomGrayscale, RGBColorJitter,  # noqa: F401
                          RGBGaussianBlur)
from .lidar import FilterPointsInImage, LoadLiDARPoints  # noqa: F401
from .two_view import PackSimIPUInputs, SimIPUTwoView  # noqa: F401
from .mmseg_depth import KBCrop, RandomGammaBrightnessColor  # noqa: F401
