"""Functional one-directional InfoNCE over paired features.

Shared core of SimIPU's intra- and inter-modal contrast. It is deliberately a
plain function (no module state) so that other contrastive losses can call it.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F


def info_nce(query: torch.Tensor,
             key: torch.Tensor,
             temperature: float = 0.07,
             groups: Optional[torch.Tensor] = None,
             normalize: bool = True,
             return_accuracy: bool = False
             ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""InfoNCE with ``key[i]`` the positive of ``query[i]``.

    With ``q_i`` and ``k_j`` L2-normalised (if ``normalize``) and
    ``s_ij = <q_i, k_j> / tau``::

        L = -1/P sum_i log( exp(s_ii) / sum_{j in K_i} exp(s_ij) )

    where ``K_i`` holds every pair ``j`` (the positive ``i`` included), or,
    with ``groups``, only the pairs of the same group (e.g. the same sample of
    the batch). Only ``query -> key`` is contrasted (not symmetrised): the
    negatives of a query are the *keys* of the other pairs.

    Args:
        query (Tensor): (P, D) query features.
        key (Tensor): (P, D) key features; ``key[i]`` pairs with ``query[i]``.
        temperature (float): ``tau`` > 0. Default 0.07.
        groups (Tensor, optional): (P,) integer group id per pair; negatives
            come from the same group only. ``None`` = one group.
        normalize (bool): L2-normalise ``query`` and ``key`` first.
        return_accuracy (bool): Also return the top-1 accuracy (fraction of
            queries whose most similar key is their positive; no gradient).

    Returns:
        Tensor | tuple[Tensor, Tensor]: The scalar mean loss, and the
        accuracy if asked. For ``P == 0`` the loss is 0, still connected to
        the inputs' graph (so ``backward()`` works), and the accuracy is 0.
    """
    if query.dim() != 2 or query.shape != key.shape:
        raise ValueError('query and key must both be (P, D) with the same '
                         f'shape, got {tuple(query.shape)} and '
                         f'{tuple(key.shape)}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    num = query.shape[0]
    if num == 0:
        loss = (query.sum() + key.sum()) * 0.
        return (loss, loss.detach()) if return_accuracy else loss
    if normalize:
        query = F.normalize(query, dim=-1)
        key = F.normalize(key, dim=-1)
    logits = query @ key.t() / temperature  # (P, P)
    if groups is not None:
        groups = groups.reshape(-1)
        if groups.shape[0] != num:
            raise ValueError(f'groups must be (P,) = ({num},), got '
                             f'{tuple(groups.shape)}')
        same = groups[:, None] == groups[None, :]  # (P, P)
        logits = logits.masked_fill(~same, float('-inf'))
    target = torch.arange(num, device=query.device)  # (P,)
    loss = F.cross_entropy(logits, target)
    if not return_accuracy:
        return loss
    with torch.no_grad():
        acc = (logits.argmax(dim=1) == target).float().mean()
    return loss, acc
