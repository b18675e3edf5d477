"""Batch variable-length clip-feature sequences (OR-AR temporal model)."""
from typing import Optional

import torch
from mmengine.model import BaseDataPreprocessor

from mmrgbd.registry import MODELS


@MODELS.register_module()
class ClipSequenceDataPreprocessor(BaseDataPreprocessor):
    """Pad a batch of (T_i, C) clip-feature sequences to (B, T_max, C).

    Input: ``inputs`` a list of (T_i, C) tensors (``PackClipSequence`` +
    ``pseudo_collate``), ``data_samples`` their samples. Output: ``inputs``
    the dict ``features`` (B, T_max, C) float (zeros after each sequence's
    end) and ``lengths`` (B,) int64; ``data_samples`` unchanged (moved to
    the model's device).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Pad and move to the device.

        Raises:
            ValueError: Inputs that are not 2-D with one common width, or an
                empty sequence.
        """
        data = self.cast_data(data)
        seqs = data['inputs']
        if torch.is_tensor(seqs):
            seqs = list(seqs)
        widths = {tuple(s.shape[1:]) for s in seqs}
        if any(s.dim() != 2 for s in seqs) or len(widths) != 1:
            raise ValueError(f'{type(self).__name__} expects (T, C) sequences '
                             f'of one width C, got shapes '
                             f'{[tuple(s.shape) for s in seqs]}')
        lengths = torch.tensor([s.shape[0] for s in seqs],
                               dtype=torch.long, device=self.device)
        if bool((lengths == 0).any()):
            raise ValueError('a video has no clips (empty sequence)')
        features = torch.nn.utils.rnn.pad_sequence(
            [s.float() for s in seqs], batch_first=True)  # (B, T_max, C)
        return dict(
            inputs=dict(features=features, lengths=lengths),
            data_samples=data.get('data_samples'))


def valid_steps(lengths: torch.Tensor,
                max_len: Optional[int] = None) -> torch.Tensor:
    """(B, T_max) bool mask of the steps before each sequence's end."""
    max_len = int(lengths.max()) if max_len is None else max_len
    steps = torch.arange(max_len, device=lengths.device)  # (T_max,)
    return steps[None] < lengths[:, None]  # (B, T_max)
