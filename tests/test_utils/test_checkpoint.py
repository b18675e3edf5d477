import pickle

import numpy as np
import pytest
import torch
from mmengine.runner import CheckpointLoader, load_checkpoint

import mmrgbd  # noqa: F401  (installs the loader)
from mmrgbd.utils import load_weights, trusted_checkpoint_loading


class _Evil:
    """An object whose unpickling would run code."""

    def __reduce__(self):
        return (print, ('executed',))


def _full_checkpoint(path):
    # What a runner checkpoint holds besides tensors: numpy, arbitrary objects.
    torch.save(
        dict(
            state_dict=dict(w=torch.ones(2)),
            meta=dict(epoch=1, hist=np.arange(3)),
            obj=_Evil()), path)


def test_weights_only_file_loads_everywhere(tmp_path):
    path = str(tmp_path / 'w.pth')
    torch.save(dict(state_dict=dict(w=torch.arange(4.))), path)
    assert torch.equal(load_weights(path)['state_dict']['w'], torch.arange(4.))
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(4.))
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.zeros(4))
    load_checkpoint(model, path, map_location='cpu', strict=True)
    assert torch.equal(model.w.data, torch.arange(4.))


def test_full_checkpoint_refused_outside_trusted_context(tmp_path, capsys):
    path = str(tmp_path / 'full.pth')
    _full_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    with pytest.raises(RuntimeError, match='full.pth.*not a weights-only'):
        load_weights(path)
    assert 'executed' not in capsys.readouterr().out


def test_full_checkpoint_loads_in_trusted_context(tmp_path):
    path = str(tmp_path / 'full.pth')
    _full_checkpoint(path)
    with trusted_checkpoint_loading():
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert np.array_equal(ckpt['meta']['hist'], np.arange(3))
    # the context is left: refused again
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_weights(str(tmp_path / 'nope.pth'))
