"""Bidirectional GRU over a video's clip features (OR-AR temporal model)."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmrgbd.registry import MODELS


@MODELS.register_module()
class BiGRUTemporalNeck(BaseModule):
    """Bi-GRU over a padded batch of clip-feature sequences.

    M3 3D's second OR-AR stage (App. B.1): "extract the features from the
    encoder and then train a temporal model (Bi-GRU) for detecting phases in
    a full video". Every step sees the whole video through the forward and
    the backward direction; padded steps (after ``lengths``) neither feed
    the recurrence (packed sequences) nor leave it non-zero.

    Args:
        in_channels (int): Clip feature width C.
        hidden_channels (int): GRU width H per direction. Defaults to 512.
        num_layers (int): Stacked GRU layers. Defaults to 1.
        dropout (float): Dropout on the input features (and between GRU
            layers). Defaults to 0.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int = 512,
                 num_layers: int = 1,
                 dropout: float = 0.,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = 2 * hidden_channels
        self.input_dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            in_channels, hidden_channels, num_layers=num_layers,
            batch_first=True, bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.)

    def forward(self, features: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        """Run the Bi-GRU.

        Args:
            features (Tensor): (B, T_max, C), padded.
            lengths (Tensor): (B,) valid steps per video.

        Returns:
            Tensor: (B, T_max, 2H), zeros at padded steps.
        """
        if features.dim() != 3 or features.shape[-1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects (B, T, '
                             f'{self.in_channels}), got '
                             f'{tuple(features.shape)}')
        x = self.input_dropout(features)  # (B, T_max, C)
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True,
            total_length=features.shape[1])  # (B, T_max, 2H)
        return out
