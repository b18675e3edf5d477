from .launch import (build_runner, finish_distributed,
                     setup_distributed_for_device)
from .rgbd_runner import RGBDRunner

__all__ = [
    'RGBDRunner', 'build_runner', 'finish_distributed',
    'setup_distributed_for_device'
]
