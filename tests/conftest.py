"""Shared pytest fixtures of the mmrgbd test suite.

Real sample data lives read-only at ``<repo>/../shared/samples`` (see its
README.md). It is never copied into the project; tests that need it use the
``samples_dir`` fixture, which skips the test when the folder is absent so a
fresh clone still passes.
"""
from pathlib import Path

import pytest

#: Location of the shared real-data samples (may not exist).
SAMPLES = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'samples'


@pytest.fixture(scope='session')
def samples_dir() -> Path:
    """Path of ``<repo>/../shared/samples``; skips the test if it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f'real sample data not found at {SAMPLES.resolve()}')
    return SAMPLES.resolve()


@pytest.fixture(autouse=True)
def _isolate_default_scope():
    """Undo default-scope changes a test makes.

    Building mm* configs (mmseg, mmdet3d runners, ``init_default_scope``)
    leaves that scope current, and a later registry build would then search
    it (e.g. ``Mask3D`` in ``mmseg::model``). Each test starts in the
    ``mmrgbd`` scope (tests of other packages' modules pin ``_scope_`` or call
    ``init_default_scope``), and the instances created during it are dropped.
    """
    import uuid

    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    DefaultScope.get_instance(f'mmrgbd-test-{uuid.uuid4().hex}',
                              scope_name='mmrgbd')
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


@pytest.fixture(autouse=True)
def _isolate_message_hub():
    """Drop the MessageHub instances a test creates (runners built in-process
    publish e.g. ``base_seed`` and ``iter``, which change how later tests'
    models draw masks)."""
    from mmengine.logging import MessageHub
    before = dict(MessageHub._instance_dict)
    yield
    MessageHub._instance_dict.clear()
    MessageHub._instance_dict.update(before)


def pytest_configure(config):
    """One torch thread per test process: the machine has 2 cores, and
    oversubscribed OpenMP threads made steps 10-20x slower under load."""
    import torch
    torch.set_num_threads(1)
