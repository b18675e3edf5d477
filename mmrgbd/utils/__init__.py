from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, CheckpointReadError,
                         UnsafeCheckpointError, install_checkpoint_loader,
                         load_weights, safe_load, unsafe_checkpoint_loading)
from .setup_env import register_all_modules

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'CheckpointReadError', 'UnsafeCheckpointError',
    'install_checkpoint_loader', 'load_weights', 'safe_load',
    'unsafe_checkpoint_loading', 'register_all_modules'
]
