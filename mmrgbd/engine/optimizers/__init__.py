from .multi_optimizer import MultiOptimizer, MultiOptimWrapperConstructor

__all__ = ['MultiOptimizer', 'MultiOptimWrapperConstructor']
from .layer_decay import (LayerDecayOptimWrapperConstructor,  # noqa: F401
                          backbone_layer_depth)

__all__ += ['LayerDecayOptimWrapperConstructor', 'backbone_layer_depth']
