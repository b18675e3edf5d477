"""Small file helpers shared by the layout builders."""
import importlib.util
import os
import shutil
from pathlib import Path

#: ``tools/dataset_converters`` of the repository
CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / \
    'dataset_converters'


def link(src, dst) -> None:
    """Place ``src`` at ``dst`` without copying data when possible.

    A hard link when both are on one file system (a file read by the
    dataset is then a real file), else a symbolic link; parent folders are
    created. The source is never modified (the samples are read-only).
    """
    dst = str(dst)
    os.makedirs(os.path.dirname(dst) or '.', exist_ok=True)
    if os.path.lexists(dst):
        os.remove(dst)
    try:
        os.link(str(src), dst)
    except OSError:
        try:
            os.symlink(os.path.abspath(str(src)), dst)
        except OSError:
            shutil.copyfile(str(src), dst)


def load_tool(name: str):
    """The module of the converter script ``tools/dataset_converters/
    <name>.py`` (scripts are not a package), to run it as a user does."""
    spec = importlib.util.spec_from_file_location(name,
                                                  CONVERTERS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
