from .depth_metric import DepthEstimationMetric
from .depth_reconstruction_metric import DepthReconstructionMetric
from .clip_map_metric import ClipMultiLabelMAP

__all__ = [
    'DepthReconstructionMetric', 'DepthEstimationMetric', 'ClipMultiLabelMAP'
]
