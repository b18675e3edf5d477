"""Builders of official on-disk dataset layouts at the datasets' real sizes.

Each module arranges one dataset's layout (file names, folders, image sizes,
encodings, list files) in a temporary folder from the real frames in
``../shared/samples`` (never copied into the project), so that a shipped
config can be run as shipped -- its own unmodified pipeline -- on data that
looks like the real dataset. Every builder takes ``(root, samples_dir,
...)`` and returns the paths a config needs (``data_root``, list files).
Tests get ``samples_dir`` from the fixture in ``tests/conftest.py``, which
skips when the samples are absent.

Import as ``from real_layouts.<dataset> import ...`` (``tests/`` is on the
path of every test module).
"""
