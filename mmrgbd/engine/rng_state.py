"""Capture and restore every random-number state of a training process.

MMEngine restores seed, optimiser and schedulers on ``--resume`` but not the
state of the random generators, so a resumed run draws other random numbers
(dropout, noise, masks of the global generator) than the uninterrupted run.
:func:`capture_rng_state` records, per process, torch's CPU (and CUDA) state,
numpy's and Python's global states and the state of every
``torch.Generator`` a module of the model owns (e.g. a head's own seeded
generator); :func:`restore_rng_state` puts them back. The states hold only
tensors and plain types, so checkpoints stay loadable with
``torch.load(weights_only=True)``.
"""
import random
from typing import Dict, Iterator, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

__all__ = ['capture_rng_state', 'restore_rng_state', 'module_generators']


def module_generators(model: Optional[nn.Module]
                      ) -> Iterator[Tuple[str, torch.Generator]]:
    """``(name, generator)`` of every ``torch.Generator`` module attribute.

    The name is ``<module path>.<attribute>`` (e.g. ``head._generator``).
    """
    if model is None:
        return
    for mod_name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, torch.Generator):
                yield (f'{mod_name}.{attr}' if mod_name else attr), value


def capture_rng_state(model: Optional[nn.Module] = None) -> Dict:
    """The random states of this process (tensors and plain types only).

    Args:
        model (nn.Module, optional): Model whose own generators are saved.

    Returns:
        dict: ``torch`` (uint8 tensor), ``numpy`` (dict), ``python`` (tuple),
        ``generators`` (``{name: uint8 tensor}``) and, when CUDA is
        initialised, ``cuda`` (list of uint8 tensors).
    """
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = dict(
        torch=torch.get_rng_state(),
        numpy=dict(
            name=str(name),
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            gauss=float(gauss)),
        python=random.getstate(),
        generators={n: g.get_state()
                    for n, g in module_generators(model)})
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict, model: Optional[nn.Module] = None) -> None:
    """Put back the states written by :func:`capture_rng_state`.

    Args:
        state (dict): The captured states.
        model (nn.Module, optional): Model whose generators are restored;
            generators the model no longer has are ignored.
    """
    torch.set_rng_state(state['torch'])
    npy = state['numpy']
    np.random.set_state(
        (npy['name'], npy['keys'].numpy().astype(np.uint32), npy['pos'],
         npy['has_gauss'], npy['gauss']))
    py = state['python']
    random.setstate((py[0], tuple(py[1]), py[2]))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    saved = state.get('generators', {})
    for name, generator in module_generators(model):
        if name in saved:
            generator.set_state(saved[name])
