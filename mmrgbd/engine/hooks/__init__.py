from .checkpoint_hook import AtomicCheckpointHook, find_resume_checkpoint
from .reconstruction_hook import ReconstructionVisualizationHook

__all__ = [
    'AtomicCheckpointHook', 'ReconstructionVisualizationHook',
    'find_resume_checkpoint'
]
