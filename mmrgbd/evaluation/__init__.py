from .dense_probe import (ProbeSplit, dense_probe, fit_dense_probes,
                          render_probe_split)
from .depth_metric import DepthEstimationMetric
from .depth_reconstruction_metric import DepthReconstructionMetric

__all__ = [
    'DepthReconstructionMetric', 'DepthEstimationMetric', 'ProbeSplit',
    'dense_probe', 'fit_dense_probes', 'render_probe_split'
]
