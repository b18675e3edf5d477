"""Dirichlet split of a fixed visible-token budget over modalities (MultiMAE).
"""
from typing import Dict, Optional, Tuple, Union

import torch

from mmrgbd.registry import MODELS
from .base import BaseMasker


def sample_log_gamma(alpha: torch.Tensor,
                     generator: Optional[torch.Generator] = None
                     ) -> torch.Tensor:
    """Log of Gamma(alpha, 1) samples drawn with ``generator``.

    ``torch.distributions.Dirichlet`` / ``torch._standard_gamma`` take no
    generator, so the sampler is written with generator-driven normal and
    uniform draws: Marsaglia & Tsang's (2000) squeeze-rejection method for
    ``alpha >= 1`` (``d = alpha - 1/3``, ``c = 1/sqrt(9d)``, propose
    ``v = (1 + c x)^3`` with ``x ~ N(0, 1)``, accept if
    ``log u < x^2/2 + d - d v + d log v``, return ``d v``), and for
    ``alpha < 1`` the boost ``Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha)``.
    Rounds of proposals are drawn for all entries until every entry accepted
    (acceptance > 95 % per round), so the result is a deterministic function
    of the generator state. Computed in float64 and returned as a log so that
    tiny ``alpha`` cannot underflow to zero.

    Args:
        alpha (Tensor): Positive shape parameters, any shape.
        generator (torch.Generator, optional): Random generator.

    Returns:
        Tensor: float64 ``log G`` with the shape of ``alpha``, on the
        generator's device.
    """
    device = torch.device('cpu') if generator is None else generator.device
    alpha = alpha.to(device=device, dtype=torch.float64)
    if (alpha <= 0).any():
        raise ValueError('Gamma shape parameters must be positive')
    boost = alpha < 1
    a = torch.where(boost, alpha + 1, alpha)
    d = a - 1. / 3.
    c = 1. / torch.sqrt(9. * d)
    log_g = torch.zeros_like(alpha)
    done = torch.zeros_like(alpha, dtype=torch.bool)
    while not bool(done.all()):
        x = torch.randn(alpha.shape, generator=generator, device=device,
                        dtype=torch.float64)
        u = torch.rand(alpha.shape, generator=generator, device=device,
                       dtype=torch.float64)
        v = (1. + c * x)**3
        v_pos = v.clamp(min=1e-300)
        accept = (v > 0) & (
            torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v_pos))
        new = accept & ~done
        log_g = torch.where(new, torch.log(d * v_pos), log_g)
        done = done | accept
    u = torch.rand(alpha.shape, generator=generator, device=device,
                   dtype=torch.float64)
    boost_term = torch.log(u.clamp(min=1e-300)) / alpha
    return torch.where(boost, log_g + boost_term, log_g)


def sample_dirichlet(alpha: torch.Tensor,
                     generator: Optional[torch.Generator] = None,
                     support: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Dirichlet samples ``lambda = G / sum(G)`` with ``G_i ~ Gamma(alpha_i)``.

    Args:
        alpha (Tensor): (B, M) positive concentrations.
        generator (torch.Generator, optional): Random generator.
        support (Tensor, optional): (B, M) bool; entries outside the support
            get ``lambda = 0`` (Dirichlet over the support only). Each row
            needs at least one True.

    Returns:
        Tensor: float64 (B, M), rows summing to 1.
    """
    log_g = sample_log_gamma(alpha, generator)  # (B, M)
    if support is not None:
        support = support.to(log_g.device)
        if not bool(support.any(dim=1).all()):
            raise ValueError('every row of support needs a True entry')
        log_g = log_g.masked_fill(~support, float('-inf'))
    return torch.softmax(log_g, dim=1)  # (B, M)


def allocate_budget(lam: torch.Tensor, capacity: torch.Tensor,
                    total: int) -> torch.Tensor:
    """Integer counts ``c`` with ``sum(c) == total``, ``0 <= c <= capacity``.

    The real-valued target ``lambda * total`` is first capped at the
    capacities, the excess being handed on in proportion to ``lambda`` among
    the modalities with room left (in proportion to the room left when those
    all have ``lambda = 0``), then rounded by the largest-remainder method.

    Args:
        lam (Tensor): (B, M) non-negative shares summing to 1 per row.
        capacity (Tensor): (M,) tokens per modality, ``sum >= total``.
        total (int): Visible budget per sample.

    Returns:
        Tensor: long (B, M).
    """
    lam = lam.double()
    cap = capacity.to(lam.device, torch.float64).expand_as(lam)  # (B, M)
    if float(capacity.sum()) < total:
        raise ValueError(f'budget {total} exceeds the {int(capacity.sum())} '
                         f'tokens available')
    target = lam * total  # (B, M)
    for _ in range(lam.shape[1]):
        excess = (target - cap).clamp(min=0).sum(dim=1, keepdim=True)
        if not bool((excess > 0).any()):
            break
        target = torch.minimum(target, cap)
        room = (cap - target).clamp(min=0)  # (B, M)
        weight = torch.where(room > 0, lam, torch.zeros_like(lam))
        no_weight = weight.sum(dim=1, keepdim=True) <= 0
        weight = torch.where(no_weight, room, weight)
        weight = weight / weight.sum(dim=1, keepdim=True).clamp(min=1e-300)
        target = target + excess * weight
    cap_l = capacity.to(lam.device).long().expand_as(lam)  # (B, M)
    counts = torch.minimum(target.floor().long(), cap_l)  # (B, M)
    deficit = total - counts.sum(dim=1, keepdim=True)  # (B, 1)
    frac = (target - counts).masked_fill(counts >= cap_l, -1.)
    rank = frac.argsort(dim=1, descending=True).argsort(dim=1)  # (B, M)
    counts = counts + ((rank < deficit) & (counts < cap_l)).long()
    # float round-off safety net: settle any remaining difference greedily
    for b in torch.nonzero(counts.sum(dim=1) != total).flatten().tolist():
        while int(counts[b].sum()) < total:
            i = int(torch.nonzero(counts[b] < cap_l[b])[0])
            counts[b, i] += 1
        while int(counts[b].sum()) > total:
            i = int(counts[b].argmax())
            counts[b, i] -= 1
    return counts


@MODELS.register_module()
class DirichletTokenBudgetMasker(BaseMasker):
    """A fixed total of visible tokens split over modalities by Dirichlet.

    Per sample, shares ``lambda ~ Dir(alpha)`` over the M modalities set how
    many of the ``num_visible`` tokens each modality gets
    (:func:`allocate_budget`: exact total, no modality above its N); the
    tokens are then drawn uniformly without replacement inside each
    modality. With ``sample_tasks_uniformly=True`` a non-empty subset of the
    modalities is first drawn uniformly among the ``2^M - 1`` subsets and
    ``lambda`` is Dirichlet over that subset (the others get 0 tokens unless
    the subset cannot hold the budget). Every random number comes from the
    passed generator (see :func:`sample_log_gamma`).

    Args:
        num_visible (int): Visible tokens per sample (98 for 2-3 modalities
            at 224 px in MultiMAE, 49 for one). Defaults to 98.
        alpha (float | dict[str, float]): Dirichlet concentration, one value
            or one per modality. Defaults to 1.0.
        sample_tasks_uniformly (bool): Draw a modality subset first.
            Defaults to False.
    """

    def __init__(self,
                 num_visible: int = 98,
                 alpha: Union[float, Dict[str, float]] = 1.0,
                 sample_tasks_uniformly: bool = False):
        super().__init__()
        if int(num_visible) < 1:
            raise ValueError(f'num_visible must be >= 1, got {num_visible}')
        alphas = alpha.values() if isinstance(alpha, dict) else [alpha]
        if any(float(a) <= 0 for a in alphas):
            raise ValueError(f'alpha must be positive, got {alpha}')
        self.num_visible = int(num_visible)
        self.alpha = alpha
        self.sample_tasks_uniformly = sample_tasks_uniformly

    def _alpha_of(self, modality: str) -> float:
        if isinstance(self.alpha, dict):
            if modality not in self.alpha:
                raise KeyError(f'no alpha for {modality!r} (has '
                               f'{sorted(self.alpha)})')
            return float(self.alpha[modality])
        return float(self.alpha)

    def token_counts(self, batch_size: int, num_tokens: Dict[str, int],
                     generator: Optional[torch.Generator] = None
                     ) -> torch.Tensor:
        """Per-sample visible counts (B, M) in the order of ``num_tokens``.
        """
        mods = list(num_tokens)
        device = self.generator_device(generator)
        caps = torch.tensor([num_tokens[m] for m in mods], device=device)
        if int(caps.sum()) < self.num_visible:
            raise ValueError(
                f'num_visible={self.num_visible} exceeds the '
                f'{int(caps.sum())} tokens of {dict(num_tokens)}')
        alpha = torch.tensor([self._alpha_of(m) for m in mods],
                             dtype=torch.float64, device=device)
        alpha = alpha.expand(batch_size, -1)  # (B, M)
        support = None
        if self.sample_tasks_uniformly:
            num_mods = len(mods)
            subset = torch.randint(
                1, 2**num_mods, (batch_size, 1), generator=generator,
                device=device)  # (B, 1) non-empty subset id
            bits = 2**torch.arange(num_mods, device=device)  # (M,)
            support = (subset & bits) > 0  # (B, M)
        lam = sample_dirichlet(alpha, generator, support)  # (B, M)
        return allocate_budget(lam, caps, self.num_visible)  # (B, M)

    def sample(self, batch_size: int, grid_sizes: Dict[str, Tuple[int, ...]],
               generator: Optional[torch.Generator]
               ) -> Dict[str, torch.Tensor]:
        """``{modality: (B, N) bool}`` with ``num_visible`` True per sample
        over all modalities."""
        num_tokens = {m: self.num_tokens(g) for m, g in grid_sizes.items()}
        counts = self.token_counts(batch_size, num_tokens, generator)
        return {
            m: self.keep_by_rank(batch_size, n, counts[:, i], generator)
            for i, (m, n) in enumerate(num_tokens.items())
        }
