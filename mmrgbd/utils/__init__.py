from .checkpoint import (install_checkpoint_loader, load_weights,
                         trusted_checkpoint_loading)
from .setup_env import register_all_modules

__all__ = [
    'install_checkpoint_loader', 'load_weights', 'trusted_checkpoint_loading',
    'register_all_modules'
]
