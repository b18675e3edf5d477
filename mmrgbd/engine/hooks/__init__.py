from .dense_probe_hook import DenseProbeHook
from .reconstruction_hook import ReconstructionVisualizationHook

__all__ = ['DenseProbeHook', 'ReconstructionVisualizationHook']
