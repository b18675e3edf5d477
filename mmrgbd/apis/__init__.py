"""High-level APIs of mmrgbd (pseudo-labelling with user-supplied models)."""
from .pseudo_labeller import (DEPTH_FORMATS, IGNORE_INDEX, LABELLER_KINDS,
                              MMModelLabeller, PseudoLabeller, TorchLabeller,
                              as_depth_map, as_semseg_map,
                              depth_to_uint16_full_range, encode_pseudo_depth,
                              load_labeller, metres_to_mm)

__all__ = [
    'DEPTH_FORMATS', 'IGNORE_INDEX', 'LABELLER_KINDS', 'MMModelLabeller',
    'PseudoLabeller', 'TorchLabeller', 'as_depth_map', 'as_semseg_map',
    'depth_to_uint16_full_range', 'encode_pseudo_depth', 'load_labeller',
    'metres_to_mm'
]
