"""Activation checkpointing of a stack of transformer blocks."""
from typing import Iterable

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp


def run_blocks(blocks: Iterable[nn.Module], x: torch.Tensor,
               with_cp: bool = False) -> torch.Tensor:
    """Apply ``blocks`` in order, optionally with activation checkpointing.

    With ``with_cp`` (and a tensor that needs gradients) each block's
    activations are dropped after its forward and recomputed in the
    backward (``torch.utils.checkpoint``, non-reentrant): less memory, about
    one more forward of compute, the same gradients.

    Args:
        blocks (Iterable[nn.Module]): Blocks mapping (B, L, D) to (B, L, D).
        x (Tensor): Input (B, L, D).
        with_cp (bool): Checkpoint every block. Defaults to False.

    Returns:
        Tensor: (B, L, D).
    """
    for block in blocks:
        if with_cp and x.requires_grad and torch.is_grad_enabled():
            x = cp.checkpoint(block, x, use_reentrant=False)
        else:
            x = block(x)  # (B, L, D)
    return x
