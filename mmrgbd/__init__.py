"""mmrgbd: self-supervised RGB-D and image+LiDAR pre-training for OpenMMLab."""
import os

# OpenCV reads this switch when it first decodes an EXR file; synthetic depth
# is often stored as .exr. Set it before mmcv imports cv2 (a user's explicit
# value, e.g. 0, is kept).
os.environ.setdefault('OPENCV_IO_ENABLE_OPENEXR', '1')

import mmcv  # noqa: E402
import mmengine  # noqa: E402
from mmengine.utils import digit_version  # noqa: E402

from .version import __version__, version_info  # noqa: E402

mmcv_minimum_version = '2.0.0'
mmcv_maximum_version = '2.2.0'
mmcv_version = digit_version(mmcv.__version__)

mmengine_minimum_version = '0.10.0'
mmengine_maximum_version = '1.0.0'
mmengine_version = digit_version(mmengine.__version__)

assert (mmcv_version >= digit_version(mmcv_minimum_version)
        and mmcv_version < digit_version(mmcv_maximum_version)), \
    f'MMCV=={mmcv.__version__} is used but incompatible. ' \
    f'Please install mmcv>={mmcv_minimum_version}, <{mmcv_maximum_version}.'

assert (mmengine_version >= digit_version(mmengine_minimum_version)
        and mmengine_version < digit_version(mmengine_maximum_version)), \
    f'MMEngine=={mmengine.__version__} is used but incompatible. ' \
    f'Please install mmengine>={mmengine_minimum_version}, ' \
    f'<{mmengine_maximum_version}.'

from .utils.checkpoint import install_checkpoint_loader  # noqa: E402

install_checkpoint_loader()

__all__ = ['__version__', 'version_info']
