from .layer_decay import BackboneLayerDecayOptimWrapperConstructor
from .multi_optimizer import MultiOptimizer, MultiOptimWrapperConstructor

__all__ = [
    'BackboneLayerDecayOptimWrapperConstructor', 'MultiOptimizer',
    'MultiOptimWrapperConstructor'
]
