"""High-level APIs of mmrgbd (pseudo-labelling with user-supplied models)."""
from .pseudo_labeller import (IGNORE_INDEX, LABELLER_KINDS, MMModelLabeller,
                              PseudoLabeller, TorchLabeller, as_depth_map,
                              as_semseg_map, load_labeller, metres_to_mm)

__all__ = [
    'IGNORE_INDEX', 'LABELLER_KINDS', 'MMModelLabeller', 'PseudoLabeller',
    'TorchLabeller', 'as_depth_map', 'as_semseg_map', 'load_labeller',
    'metres_to_mm'
]
