"""Point-set matching for SimIPU's intra-modal contrast.

Three interchangeable solvers of the linear assignment problem on a cost
matrix (N, M), each returning ``(rows, cols)`` index tensors of matched pairs:

* :func:`hungarian_match` — the reference: ``scipy.optimize.linear_sum_assignment``
  on the CPU (exact minimum total cost). For distance costs
  (``metric_tol > 0``) it first fixes the near-coincident pairs
  (:func:`coincident_pairs`) and solves only the rest, with a proven bound
  on the extra total cost.
* :func:`greedy_match` — the ablation: repeatedly take the globally cheapest
  remaining pair (not optimal).
* :func:`auction_match` — a batched, pure-torch forward auction with
  epsilon scaling (Bertsekas). It runs on the tensors' device and for integer
  costs with a final epsilon below ``1/min(N, M)`` it is exactly optimal; for
  float costs the total cost is within ``min(N, M) * eps_final`` of optimal.
"""
from typing import Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

Pairs = Tuple[torch.Tensor, torch.Tensor]


def coincident_pairs(cost: np.ndarray, rel_tol: float
                     ) -> Tuple[np.ndarray, np.ndarray, float]:
    """Near-coincident pairs that an optimal matching may be forced to use.

    For a **distance** cost (``cost[i, j] = d(a_i, b_j)`` for points
    ``a_i``, ``b_j`` of one metric space, e.g. ``torch.cdist``, N <= M),
    forcing a pair ``(i, j)`` into the matching raises the optimal total by
    at most ``2 * cost[i, j]``: swapping it into an optimal matching that
    has ``i -> j'`` and ``i' -> j`` changes the total by ``c_ij + c_i'j' -
    c_ij' - c_i'j <= 2 c_ij``, as ``d(a_i', b_j') <= d(a_i', b_j) +
    d(b_j, a_i) + d(a_i, b_j')`` (an unmatched ``j`` only makes it
    cheaper), and the argument repeats for every further forced pair. So
    forcing a set ``S`` of disjoint pairs costs at most ``2 * sum_S c``; in
    particular pairs at distance 0 are free.

    ``S`` is taken from the mutual nearest neighbours (``j`` is the nearest
    column of row ``i`` and no row is nearer to ``j``; of rows tied for
    ``j`` the first), cheapest first, while ``2 * sum_S c <= rel_tol *
    lower`` with ``lower`` = the sum of the row minima (for N = M the larger
    of that and the sum of column minima), a lower bound of the optimum.
    The matching of the rest is then within ``rel_tol`` of optimal.

    SimIPU's two views are one scan under the known transform ``T``, so
    after applying ``T`` most sampled locations of view alpha coincide with
    one of view beta up to float round-off (about 60% of 4096 on a KITTI
    scan): only the others are left to the cubic-time solver.

    Args:
        cost (np.ndarray): (N, M) float distances, N <= M.
        rel_tol (float): Allowed relative increase of the total cost.

    Returns:
        tuple[np.ndarray, np.ndarray, float]: Forced ``rows`` and ``cols``
        (K,) int64 and the bound ``2 * sum_S c`` on the extra total cost.
        Empty when the costs are not finite and non-negative.
    """
    n, m = cost.shape
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0)
    if rel_tol <= 0 or n == 0 or n > m:
        return none
    row_nn = cost.argmin(1)  # (N,)
    row_min = cost[np.arange(n), row_nn]  # (N,)
    lower = float(row_min.sum())
    if not np.isfinite(lower) or row_min.min() < 0:
        return none  # not distances (the plain solver reports bad values)
    col_min = cost.min(0)  # (M,) (a min over axis 0 is fast, argmin is not)
    if n == m:
        lower = max(lower, float(col_min.sum()))
    rows = np.flatnonzero(row_min <= col_min[row_nn])  # mutual NN
    _, first = np.unique(row_nn[rows], return_index=True)  # one per column
    rows = rows[first]
    order = np.argsort(row_min[rows], kind='stable')
    rows = rows[order]
    extra = 2 * np.cumsum(row_min[rows])  # bound after each forced pair
    k = int(np.searchsorted(extra, rel_tol * lower, side='right'))
    rows = rows[:k]
    return rows, row_nn[rows], float(extra[k - 1]) if k else 0.0


def _linear_sum_assignment_metric(cost: np.ndarray, rel_tol: float
                                  ) -> Tuple[np.ndarray, np.ndarray]:
    """``linear_sum_assignment`` with the forced pairs of
    :func:`coincident_pairs` taken out first (rows sorted)."""
    fixed_r, fixed_c, _ = coincident_pairs(cost, rel_tol)
    if len(fixed_r) == 0:
        return linear_sum_assignment(cost)
    n, m = cost.shape
    free_r = np.setdiff1d(np.arange(n), fixed_r)  # sorted
    free_c = np.setdiff1d(np.arange(m), fixed_c)
    rows = np.concatenate([fixed_r, free_r])
    cols = np.empty(n, np.int64)
    cols[:len(fixed_r)] = fixed_c
    if len(free_r):
        sub_r, sub_c = linear_sum_assignment(cost[np.ix_(free_r, free_c)])
        cols[len(fixed_r):][sub_r] = free_c[sub_c]
    order = np.argsort(rows)
    return rows[order], cols[order]


def hungarian_match(cost: torch.Tensor, metric_tol: float = 0.) -> Pairs:
    """Optimal assignment with scipy's Hungarian solver.

    Args:
        cost (Tensor): (N, M) cost matrix (detached internally).
        metric_tol (float): 0 (default): the exact optimum of any cost.
            Above 0, ``cost`` must be a distance between two point sets
            (see :func:`coincident_pairs`, N <= M): near-coincident pairs
            are fixed first and the solver runs on the rest only; the total
            cost is then at most ``(1 + metric_tol)`` times the optimum
            (usually the same pairs; much faster when many points
            coincide).

    Returns:
        tuple[Tensor, Tensor]: ``rows`` and ``cols``, each (min(N, M),) long,
        on ``cost.device``; ``rows`` is sorted.
    """
    c = cost.detach().cpu().double().numpy()
    if metric_tol > 0:
        rows, cols = _linear_sum_assignment_metric(c, metric_tol)
    else:
        rows, cols = linear_sum_assignment(c)
    return (torch.as_tensor(rows, device=cost.device),
            torch.as_tensor(cols, device=cost.device))


def greedy_match(cost: torch.Tensor) -> Pairs:
    """Greedy assignment: cheapest remaining pair first (ablation option).

    Args:
        cost (Tensor): (N, M) cost matrix.

    Returns:
        tuple[Tensor, Tensor]: ``rows`` (sorted) and ``cols``.
    """
    c = cost.detach().cpu().double().numpy()
    order = np.argsort(c, axis=None, kind='stable')
    n, m = c.shape
    used_r, used_c = np.zeros(n, bool), np.zeros(m, bool)
    rows, cols = [], []
    for flat in order:
        r, k = divmod(int(flat), m)
        if used_r[r] or used_c[k]:
            continue
        used_r[r] = used_c[k] = True
        rows.append(r)
        cols.append(k)
        if len(rows) == min(n, m):
            break
    rows, cols = np.asarray(rows), np.asarray(cols)
    idx = np.argsort(rows)
    return (torch.as_tensor(rows[idx], device=cost.device),
            torch.as_tensor(cols[idx], device=cost.device))


@torch.no_grad()
def auction_match(cost: torch.Tensor,
                  eps_final: float = None,
                  eps_factor: float = 5.0,
                  max_rounds: int = 100000) -> Pairs:
    """Batched forward auction (Jacobi bidding) with epsilon scaling.

    Args:
        cost (Tensor): (N, M) or (B, N, M) costs with N <= M (persons are
            rows). Use the transpose for N > M.
        eps_final (float, optional): Final bidding increment. Defaults to
            ``range / (4 * N)`` scaled by 1e-3, tight enough to reproduce the
            Hungarian pairs on non-degenerate problems.
        eps_factor (float): Epsilon is divided by this at each scaling phase.
        max_rounds (int): Safety bound on bidding rounds per phase.

    Returns:
        tuple[Tensor, Tensor]: For (N, M) input, ``rows`` (N,) and ``cols``
        (N,); for (B, N, M) input, ``rows`` (B, N) and ``cols`` (B, N).
    """
    squeeze = cost.dim() == 2
    benefit = -cost.detach().double()
    if squeeze:
        benefit = benefit[None]  # (1, N, M)
    b, n, m = benefit.shape
    if n > m:
        raise ValueError(f'auction_match needs N <= M, got {n} x {m}; pass '
                         'the transpose')
    device = benefit.device
    span = float((benefit.amax() - benefit.amin()).clamp(min=1e-12))
    if eps_final is None:
        eps_final = span / (4.0 * n) * 1e-3
    eps = max(span / 4.0, eps_final)
    prices = torch.zeros(b, m, dtype=benefit.dtype, device=device)
    while True:
        owner = torch.full((b, m), -1, dtype=torch.long, device=device)
        assigned = torch.full((b, n), -1, dtype=torch.long, device=device)
        for _ in range(max_rounds):
            free_b, free_p = (assigned < 0).nonzero(as_tuple=True)  # (U,)
            if free_b.numel() == 0:
                break
            values = benefit[free_b, free_p] - prices[free_b]  # (U, M)
            if m > 1:
                top = values.topk(2, dim=1)
                best_v, second_v = top.values[:, 0], top.values[:, 1]
                best_j = top.indices[:, 0]
            else:
                best_v, best_j = values[:, 0], torch.zeros_like(free_p)
                second_v = best_v - eps
            bids = prices[free_b, best_j] + (best_v - second_v) + eps  # (U,)
            # every object keeps its highest bid of this round
            flat_obj = free_b * m + best_j  # (U,)
            top_bid = torch.full((b * m, ), -float('inf'), dtype=bids.dtype,
                                 device=device)
            top_bid.scatter_reduce_(0, flat_obj, bids, reduce='amax')
            is_winner = bids >= top_bid[flat_obj]
            # break ties: the lowest person index among equal top bids wins
            win_person = torch.full((b * m, ), n, dtype=torch.long,
                                    device=device)
            win_person.scatter_reduce_(
                0, flat_obj[is_winner], free_p[is_winner], reduce='amin')
            won = (win_person < n).nonzero(as_tuple=True)[0]  # flat objects
            wb, wj = won // m, won % m
            prev = owner[wb, wj]  # (W,)
            had = prev >= 0
            assigned[wb[had], prev[had]] = -1
            new_p = win_person[won]
            owner[wb, wj] = new_p
            assigned[wb, new_p] = wj
            prices[wb, wj] = top_bid[won]
        else:
            raise RuntimeError('auction_match did not converge; raise '
                               'max_rounds or eps_final')
        if eps <= eps_final:
            break
        eps = max(eps / eps_factor, eps_final)
    rows = torch.arange(n, device=device).expand(b, n)
    cols = assigned
    if squeeze:
        return rows[0].to(cost.device), cols[0].to(cost.device)
    return rows.to(cost.device), cols.to(cost.device)
