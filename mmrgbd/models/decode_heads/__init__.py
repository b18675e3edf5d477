from .base_depth_head import BaseDepthHead  # noqa: F401
from .densedepth_head import DenseDepthHead, SkipUpsampleBlock  # noqa: F401
from .dpt_head import DPTHead  # noqa: F401
