from .autocast_optim_wrapper import (AutocastOptimWrapper,
                                     autocast_optim_wrapper_cfg)
from .layer_decay import BackboneLayerDecayOptimWrapperConstructor
from .multi_optimizer import MultiOptimizer, MultiOptimWrapperConstructor

__all__ = [
    'AutocastOptimWrapper', 'autocast_optim_wrapper_cfg',
    'BackboneLayerDecayOptimWrapperConstructor', 'MultiOptimizer',
    'MultiOptimWrapperConstructor'
]
