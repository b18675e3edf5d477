"""Small file helpers shared by the layout builders."""
import os
import shutil


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
