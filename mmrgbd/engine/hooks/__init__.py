from .checkpoint_hook import AtomicCheckpointHook, find_resume_checkpoint
from .dense_probe_hook import DenseProbeHook
from .reconstruction_hook import ReconstructionVisualizationHook

__all__ = [
    'AtomicCheckpointHook', 'DenseProbeHook',
    'ReconstructionVisualizationHook', 'find_resume_checkpoint'
]
