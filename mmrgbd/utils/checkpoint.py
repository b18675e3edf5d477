"""Checkpoint loading that never runs code from a file.

torch 2.6 made ``torch.load(weights_only=True)`` the default and MMEngine
0.10.7 calls ``torch.load`` without the argument. A pickle can run any code
while it is unpickled, so mmrgbd loads **every** checkpoint -- imported or
exported weights, ``init_cfg`` Pretrained files, ``load_from``, ``--resume``,
``tools/test.py``, ``model.stage1_checkpoint``, the export and visualisation
tools -- with ``weights_only=True``. The runner's own checkpoints hold a few
objects besides tensors (numpy arrays and scalars, ``ConfigDict``); exactly
those classes are allow-listed (:data:`CHECKPOINT_SAFE_GLOBALS`, passed to
``torch.serialization.safe_globals`` for mmrgbd's loads only), so runner
checkpoints load without unpickling arbitrary objects. (MMEngine's message-hub
``HistoryBuffer`` would need ``getattr`` allowed; mmrgbd's CheckpointHook
writes it as tensors.)

A file that holds anything else is refused with
:class:`UnsafeCheckpointError`, whose message names the file and the refused
classes. Only an explicit :func:`unsafe_checkpoint_loading` block (entered by
the ``--unsafe-load`` flag of the tools, for a legacy file from a source the
user trusts completely) unpickles with ``weights_only=False``.

:func:`install_checkpoint_loader` (called by ``import mmrgbd``) registers
:func:`load_local_checkpoint` as MMEngine's loader for local paths.
"""
import contextlib
import os.path as osp
import pickle
import threading
import warnings
from typing import List

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.runner import CheckpointLoader

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'UnsafeCheckpointError', 'CheckpointReadError',
    'unsafe_checkpoint_loading', 'safe_load', 'load_weights',
    'load_local_checkpoint', 'install_checkpoint_loader'
]


def _numpy_globals() -> List:
    """numpy's array / scalar reconstruction helpers and dtype classes.

    A pickled ``np.ndarray`` is rebuilt by ``multiarray._reconstruct`` and a
    numpy scalar by ``multiarray.scalar``; both take a ``np.dtype`` whose
    class (``numpy.dtypes.Float64DType``, ...) is pickled too. None of them
    can call anything else.
    """
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    out = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    for name in ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
                 'uint32', 'uint64', 'float16', 'float32', 'float64',
                 'complex64', 'complex128', 'str', 'bytes', 'object'):
        out.append(type(np.dtype(name)))
    return out


#: Classes a runner checkpoint of mmrgbd may hold besides tensors and plain
#: types. Found by saving real checkpoints of every shipped demo
#: (tests/test_engine/test_resume.py checks them): numpy scalars / dtypes
#: (e.g. the ETA in the message hub), numpy arrays (dataset metainfo) and
#: ConfigDict (config-given metainfo). MMEngine's HistoryBuffer pickles bound
#: methods (it would need ``builtins.getattr``); mmrgbd's CheckpointHook
#: stores it as tensors instead.
CHECKPOINT_SAFE_GLOBALS: List = [ConfigDict, *_numpy_globals()]

_state = threading.local()


class UnsafeCheckpointError(pickle.UnpicklingError, RuntimeError):
    """A checkpoint holds objects whose unpickling could run code.

    Args:
        path (str): The refused file.
        detail (str): What torch refused (e.g. the unsupported global).
    """

    def __init__(self, path: str, detail: str):
        self.path = str(path)
        self.detail = detail
        super().__init__(
            f'{self.path}: refused to load: the file holds pickled objects '
            f'that are not weights or checkpoint bookkeeping ({detail}); '
            'unpickling them could run code from the file. mmrgbd loads '
            'weight files and its own runner checkpoints without that. If '
            'this is a legacy file from a source you trust completely, pass '
            '--unsafe-load (tools/train.py, tools/test.py, the converters) '
            'to unpickle it fully.')

    def __reduce__(self):
        return (self.__class__, (self.path, self.detail))


class CheckpointReadError(RuntimeError):
    """A checkpoint file is truncated, corrupt or not a torch file."""


@contextlib.contextmanager
def unsafe_checkpoint_loading(enabled: bool = True):
    """Unpickle checkpoints fully (``weights_only=False``) in this block.

    **This runs any code stored in the files loaded inside it.** Only for
    legacy files from a completely trusted source; the tools enter it with
    ``--unsafe-load``. A warning naming each file is printed.

    Args:
        enabled (bool): False makes the block a no-op (for
            ``with unsafe_checkpoint_loading(args.unsafe_load):``).
    """
    if not enabled:
        yield
        return
    _state.unsafe = getattr(_state, 'unsafe', 0) + 1
    try:
        yield
    finally:
        _state.unsafe -= 1


def _unsafe() -> bool:
    return getattr(_state, 'unsafe', 0) > 0


def _refused_globals(filename: str, error: Exception) -> str:
    """The classes torch refused, read without unpickling anything."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: fall back to torch's message
        names = []
    names = [n for n in names if not _allowed(n)]
    if names:
        return 'refused: ' + ', '.join(sorted(set(names))[:8])
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    hit = [ln for ln in lines if 'GLOBAL' in ln or 'Unsupported' in ln]
    return (hit or lines or [type(error).__name__])[0][:300]


def _allowed(name: str) -> bool:
    allowed = {f'{g.__module__}.{g.__qualname__}'
               for g in CHECKPOINT_SAFE_GLOBALS}
    return name in allowed


def safe_load(filename: str, map_location='cpu'):
    """``torch.load(weights_only=True)`` with the checkpoint allow-list.

    Args:
        filename (str): A local file.
        map_location: Passed to :func:`torch.load`.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file holds other objects (names the file
            and the refused classes). Nothing in it was executed.
        CheckpointReadError: The file is truncated or not a torch file.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if _unsafe():
        warnings.warn(f'--unsafe-load: unpickling {filename} fully; this '
                      'runs any code stored in the file')
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(filename,
                                    _refused_globals(filename, e)) from None
    except (RuntimeError, EOFError, OSError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointReadError(
            f'{filename}: cannot be read as a torch checkpoint (truncated, '
            f'corrupt or another format): {first}') from e


def load_weights(filename: str, map_location='cpu'):
    """Load a weight file or runner checkpoint without running its code.

    Same as :func:`safe_load`: tensors, plain types and the bookkeeping
    classes of :data:`CHECKPOINT_SAFE_GLOBALS` only.
    """
    return safe_load(filename, map_location=map_location)


def load_local_checkpoint(filename: str, map_location=None):
    """Scheme function for local files used by MMEngine's CheckpointLoader."""
    return safe_load(filename, map_location=map_location)


def install_checkpoint_loader() -> None:
    """Register :func:`load_local_checkpoint` for local paths (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_local_checkpoint)
