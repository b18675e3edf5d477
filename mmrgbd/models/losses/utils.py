"""Loss reductions shared by the masked losses.

Under DDP each rank computes its loss on its own part of the global batch
and DDP **averages the gradients** over the ``W`` ranks. A loss that divides
a sum by a *local* count (masked pixels, samples) therefore gives the mean
of per-rank means, which differs from the single-process mean over the
whole batch as soon as the ranks count different numbers of elements (per
sample varying token budgets, invalid depth, ignore labels).
:func:`global_count_mean` divides by the **global** count instead, so that
1 process x batch 8 and 2 processes x batch 4 train identically.
"""
import torch
from mmengine import dist


def global_count_mean(local_sum: torch.Tensor,
                      local_count: torch.Tensor) -> torch.Tensor:
    """Normalise a loss sum by the number of counted elements on all ranks.

    Returns ``local_sum * W / global_count`` with ``global_count`` the sum of
    ``local_count`` over the ``W`` ranks of the default process group (an
    all-reduce of the detached count; ``W = 1`` and no communication without
    an initialised group). Averaging the gradients of the ``W`` rank losses,
    as DDP does, gives exactly the gradient of
    ``sum over ranks of local_sum / global_count``, the single-process mean
    over the global batch. The value on one rank is not the global mean;
    the mean of the values over the ranks is.

    Every rank must call this function the same number of times (it is a
    collective operation), also when its own count is 0. If the global count
    is 0 the result is ``0 * local_sum`` (zero, finite gradient).

    Args:
        local_sum (Tensor): Scalar sum of the per-element losses on this
            rank (keeps its graph).
        local_count (Tensor | int): Number of elements summed on this rank.

    Returns:
        Tensor: Scalar loss of this rank.
    """
    count = torch.as_tensor(local_count, device=local_sum.device)
    count = count.detach().to(torch.float64).reshape(())  # ()
    world_size = dist.get_world_size()
    if world_size > 1:
        count = count.clone()
        dist.all_reduce(count, op='sum')
    scale = world_size / count.clamp(min=1.)
    return local_sum * scale.to(local_sum.dtype)
