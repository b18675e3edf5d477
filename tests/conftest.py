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
