"""A generic RGB-D dataset given by a text list of file pairs."""
import os.path as osp
from typing import List

from mmrgbd.registry import DATASETS
from .base_rgbd import BaseRGBDDataset
from .errors import BadSampleError


@DATASETS.register_module()
class RGBDListDataset(BaseRGBDDataset):
    """RGB-D samples listed in a text file.

    Each non-empty line not starting with ``#`` is::

        <rgb_path> <depth_path> [<semseg_path>]

    with paths relative to ``data_root`` (absolute paths are kept) and
    separated by whitespace (paths must not contain spaces).

    Args:
        ann_file (str): The list file, relative to ``data_root``.
        data_root (str): Root the listed paths are relative to.
        depth_unit (str): Encoding of the listed depth files (required, never
            guessed).
        depth_source (str): Carried in the samples.
        **kwargs: Passed to :class:`BaseRGBDDataset`.
    """

    def __init__(self,
                 ann_file: str = '',
                 data_root: str = '',
                 depth_unit: str = None,
                 depth_source: str = 'sensor',
                 **kwargs):
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            depth_unit=depth_unit,
            depth_source=depth_source,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the list file.

        Raises:
            BadSampleError: If the list cannot be read or a line does not hold
                two or three paths (the message names the file and line).
        """
        try:
            with open(self.ann_file) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise BadSampleError(self.ann_file, f'cannot read list ({e})')
        data_list = []
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split()
            if len(parts) not in (2, 3):
                raise BadSampleError(
                    self.ann_file,
                    f'line {lineno} must hold "rgb depth [semseg]", got '
                    f'{len(parts)} fields')
            parts = [osp.join(self.data_root, p) for p in parts]
            info = dict(
                rgb_path=parts[0],
                depth_path=parts[1],
                depth_unit=self.depth_unit,
                depth_source=self.depth_source)
            if len(parts) == 3:
                info['semseg_path'] = parts[2]
            data_list.append(info)
        if not data_list:
            raise BadSampleError(
                self.ann_file,
                'the list holds no samples')
        return data_list
