from .multi_optimizer import MultiOptimizer, MultiOptimWrapperConstructor

__all__ = ['MultiOptimizer', 'MultiOptimWrapperConstructor']
