"""Checkpoint loading that works on torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default, and MMEngine 0.10.7
calls ``torch.load`` without the argument, so runner checkpoints (which pickle
message-hub buffers, numpy arrays and config text) fail to load. mmrgbd replaces
MMEngine's local-file scheme of :class:`mmengine.runner.CheckpointLoader` with
:func:`load_local_checkpoint`, which follows one rule:

* every file is first loaded with ``weights_only=True`` (safe for untrusted
  weight files: imported MAE/MultiMAE weights, exported backbones, the
  ``init_cfg`` of downstream configs);
* only inside :func:`trusted_checkpoint_loading` (entered by
  :class:`mmrgbd.engine.RGBDRunner` for ``load_from`` and ``--resume``, i.e. the
  runner's own checkpoints) may a file that needs full objects be unpickled
  with ``weights_only=False``.

Outside that context a file that is not weights-only raises an error naming the
file, instead of silently executing its pickle. The replacement is installed
explicitly by :func:`install_checkpoint_loader`, which ``import mmrgbd`` calls.
"""
import contextlib
import os.path as osp
import pickle
import threading

import torch
from mmengine.runner import CheckpointLoader

_state = threading.local()


def _trusted() -> bool:
    return getattr(_state, 'trusted', 0) > 0


@contextlib.contextmanager
def trusted_checkpoint_loading():
    """Allow full-object unpickling for checkpoints loaded in this block.

    Use only for checkpoints the runner itself wrote (``--resume``,
    ``load_from``).
    """
    _state.trusted = getattr(_state, 'trusted', 0) + 1
    try:
        yield
    finally:
        _state.trusted -= 1


def load_weights(filename: str, map_location='cpu'):
    """Load a weight file with ``weights_only=True``.

    Args:
        filename (str): Path of a file holding tensors (a state dict, or a dict
            with ``state_dict``/``model`` and plain-type metadata).
        map_location: Passed to :func:`torch.load`.

    Raises:
        FileNotFoundError: If the file does not exist.
        RuntimeError: If the file holds more than weights; the message names
            the file and says how to load a trusted runner checkpoint.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as e:
        raise RuntimeError(
            f'{filename} is not a weights-only file and was refused by '
            f'torch.load(weights_only=True): {str(e).splitlines()[0]}. If it '
            'is a runner checkpoint you trust, load it inside '
            'mmrgbd.utils.trusted_checkpoint_loading().') from e


def load_local_checkpoint(filename: str, map_location=None):
    """Scheme function for local files used by MMEngine's CheckpointLoader."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError:
        if not _trusted():
            raise
    return torch.load(filename, map_location=map_location, weights_only=False)


def install_checkpoint_loader() -> None:
    """Register :func:`load_local_checkpoint` for local paths (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_local_checkpoint)
