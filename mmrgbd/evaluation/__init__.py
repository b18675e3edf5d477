from .depth_metric import DepthEstimationMetric
from .depth_reconstruction_metric import DepthReconstructionMetric

__all__ = ['DepthReconstructionMetric', 'DepthEstimationMetric']
