from .launch import setup_distributed_for_device
from .rgbd_runner import RGBDRunner

__all__ = ['RGBDRunner', 'setup_distributed_for_device']
