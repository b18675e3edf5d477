"""FSDP wrap policy of mmrgbd's transformers (``configs/_base_/runtime/
fsdp.py``).

MMEngine's ``MMFullyShardedDataParallel`` resolves ``auto_wrap_policy`` by
name through its ``FUNCTIONS`` registry, which also accepts an import path;
the recipe names :func:`transformer_block_wrap_policy` that way.
"""
import torch.nn as nn


def transformer_block_wrap_policy(module: nn.Module, recurse: bool,
                                  nonwrapped_numel: int, **kwargs) -> bool:
    """Shard every transformer block in its own FSDP unit.

    The blocks of mmrgbd's encoders and decoders are mmpretrain's
    ``TransformerEncoderLayer`` (ViT-B: 7.1 M parameters each); the rest of
    the model (patch embeddings, heads, tokens) stays in the root unit.
    Same signature as torch's ``transformer_auto_wrap_policy``.

    Args:
        module (nn.Module): The candidate module.
        recurse (bool): True while FSDP asks whether to look inside.
        nonwrapped_numel (int): Parameters not wrapped yet (unused).

    Returns:
        bool: With ``recurse``: always True; else whether ``module`` is a
        transformer block.
    """
    from mmpretrain.models.backbones.vision_transformer import \
        TransformerEncoderLayer
    if recurse:
        return True
    return isinstance(module, TransformerEncoderLayer)
