"""mmrgbd's checkpoint loader never runs code from a file (weights_only +
an allow-list of the runner's bookkeeping types)."""
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader, load_checkpoint

import mmrgbd  # noqa: F401  (installs the loader)
from mmrgbd.engine.hooks.checkpoint_hook import (
    history_buffers_from_plain, history_buffers_to_plain)
from mmrgbd.utils import (CheckpointReadError, UnsafeCheckpointError,
                          load_weights, safe_load, unsafe_checkpoint_loading)


class MarkerPayload:
    """Unpickling it creates ``path``: proof that code from a file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


def save_evil(path, marker):
    """A checkpoint-shaped file with a code-running object in its meta."""
    torch.save(
        dict(state_dict=dict(w=torch.ones(2)),
             meta=dict(epoch=1, payload=MarkerPayload(marker))), path)
    return str(path)


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


def test_runner_bookkeeping_types_load_weights_only(tmp_path):
    # numpy arrays / scalars (message hub, ETA) are allow-listed: plain
    # torch.load(weights_only=True) refuses the file, mmrgbd's loader not
    path = str(tmp_path / 'runner.pth')
    torch.save(
        dict(state_dict=dict(w=torch.ones(2)),
             meta=dict(seed=np.int64(3), hist=np.arange(3.),
                       eta=np.float64(0.5))), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert np.array_equal(ckpt['meta']['hist'], np.arange(3.))
    assert ckpt['meta']['seed'] == 3 and ckpt['meta']['eta'] == 0.5


@pytest.mark.parametrize('loader', [
    lambda p: safe_load(p),
    lambda p: load_weights(p),
    lambda p: CheckpointLoader.load_checkpoint(p, map_location='cpu'),
    lambda p: load_checkpoint(torch.nn.Linear(1, 1), p, map_location='cpu'),
],
                         ids=['safe_load', 'load_weights', 'CheckpointLoader',
                              'load_checkpoint'])
def test_code_in_a_file_never_runs(tmp_path, loader):
    marker = tmp_path / 'marker'
    path = save_evil(tmp_path / 'evil.pth', marker)
    with pytest.raises(UnsafeCheckpointError) as e:
        loader(path)
    assert not marker.exists()  # the payload did not run
    msg = str(e.value)
    assert msg.startswith(path) and 'refused: io.open' in msg
    assert '--unsafe-load' in msg  # says what to do
    assert isinstance(e.value, pickle.UnpicklingError)


def test_unsafe_load_only_inside_its_explicit_block(tmp_path):
    marker = tmp_path / 'marker'
    path = save_evil(tmp_path / 'evil.pth', marker)
    with pytest.warns(UserWarning, match='runs any code'):
        with unsafe_checkpoint_loading():
            safe_load(path)
    assert marker.exists()  # what --unsafe-load warns about
    marker.unlink()
    with pytest.raises(UnsafeCheckpointError):  # the block is left
        safe_load(path)
    assert not marker.exists()


def test_truncated_and_missing_files_name_the_file(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(1000))), path)
    data = path.read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointReadError, match='cut.pth.*truncated'):
        safe_load(str(cut))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_weights(str(tmp_path / 'nope.pth'))


def test_history_buffers_round_trip_weights_only(tmp_path):
    buf = HistoryBuffer()
    for v in (1.5, 2.5, 4.0):
        buf.update(v, count=2)
    state = dict(log_scalars={'train/loss': buf}, runtime_info={},
                 resumed_keys={})
    # a pickled HistoryBuffer needs builtins.getattr (its bound methods):
    # not allow-listed, so the runner stores it as plain tensors instead
    raw = str(tmp_path / 'raw.pth')
    torch.save(dict(message_hub=state), raw)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        safe_load(raw)
    history_buffers_to_plain(state)
    plain = str(tmp_path / 'plain.pth')
    torch.save(dict(message_hub=state), plain)
    loaded = safe_load(plain)['message_hub']
    history_buffers_from_plain(loaded)
    back = loaded['log_scalars']['train/loss']
    assert isinstance(back, HistoryBuffer)
    assert np.array_equal(back.data[0], buf.data[0])
    assert np.array_equal(back.data[1], buf.data[1])
    assert back.mean() == buf.mean() and back.max_length == buf.max_length


def test_allow_list_reaches_only_mmrgbd_loads(tmp_path):
    """The allow-list is scoped to mmrgbd's loader, not torch globally."""
    path = str(tmp_path / 'np.pth')
    torch.save(dict(a=np.zeros(2)), path)
    safe_load(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert osp.isfile(path)
