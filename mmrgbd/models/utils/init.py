"""Weight initialisation of transformer linear layers (MAE / MultiMAE)."""
import math

import torch.nn as nn

#: attribute name of a fused projection -> number of stacked matrices
FUSED_PROJECTIONS = {'qkv': 3, 'kv': 2}


def xavier_init_linears(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every ``nn.Linear``.

    A fused projection (a linear layer named ``qkv`` or ``kv``, as in
    mmpretrain's ``MultiheadAttention`` and the cross-attention of the
    decoders) stacks 3 (2) square matrices; each is initialised as its own
    ``C x C`` layer: uniform in ``+-sqrt(6 / (out / k + in))``, as the
    official MultiMAE initialises ``qkv`` and ``kv`` (for ViT-B, std 0.036
    for ``qkv`` instead of 0.0255 for a plain xavier over the 2304 x 768
    matrix, or 0.0208 for PyTorch's default). Every other linear layer
    (attention output ``proj``, MLPs, heads) is plain xavier-uniform.

    Args:
        module (nn.Module): Initialised in place (all sub-modules).
    """
    for name, m in module.named_modules():
        if not isinstance(m, nn.Linear):
            continue
        parts = FUSED_PROJECTIONS.get(name.rsplit('.', 1)[-1], 1)
        fan_out, fan_in = m.weight.shape
        if parts > 1 and fan_out % parts == 0:
            bound = math.sqrt(6. / (fan_out // parts + fan_in))
            nn.init.uniform_(m.weight, -bound, bound)
        else:
            nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
