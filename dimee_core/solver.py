"""Exact multiple-choice knapsack: one option per cluster, minimum cost, bounded loss.

The DP keeps only Pareto-optimal partial assignments (no other is both cheaper and
loses less), which is exact and whose size depends on k and the number of options,
never on the number of samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOL = 1e-9


@dataclass(frozen=True)
class KnapsackSolution:
    choice: np.ndarray  # [k] option index per cluster
    cost: float
    loss: float
    feasible: bool  # False: no assignment meets the budget; the least-loss one is returned


@dataclass(frozen=True)
class ParetoFront:
    """Every Pareto-optimal complete assignment with loss <= ``max_budget``, cheapest
    first (so losses strictly decrease). The optimum for any budget up to ``max_budget``
    is one of them: a budget sweep (epsilon) costs one DP instead of one per budget."""

    cost: np.ndarray  # [P] ascending
    loss: np.ndarray  # [P] descending
    max_budget: float
    _parents: tuple[np.ndarray, ...]
    _options: tuple[np.ndarray, ...]

    def solve(self, budget: float) -> KnapsackSolution | None:
        """The cheapest assignment with loss <= budget; None when no front point fits
        (the budget is below every complete assignment's loss)."""
        if budget > self.max_budget + TOL:
            raise ValueError(f"budget {budget} exceeds the front's {self.max_budget}")
        ok = np.flatnonzero(self.loss <= budget + TOL)
        if ok.size == 0:
            return None
        idx = int(ok[0])
        k = len(self._options)
        choice = np.empty(k, dtype=np.int64)
        for j in range(k - 1, -1, -1):
            choice[j] = self._options[j][idx]
            idx = self._parents[j][idx]
        return KnapsackSolution(choice, float(self.cost[ok[0]]), float(self.loss[ok[0]]), True)


def pareto_front(cost: np.ndarray, loss: np.ndarray, max_budget: float) -> ParetoFront:
    """Dynamic programme over clusters keeping only Pareto states (cost, loss); states
    that cannot finish within ``max_budget`` even with the least loss after them are cut."""
    cost, loss = _check_tables(cost, loss)
    k = cost.shape[0]
    best_loss = loss.min(axis=1)
    # remaining[j] = least loss still to come after cluster j: prunes hopeless states
    remaining = np.concatenate([np.cumsum(best_loss[::-1])[::-1][1:], [0.0]])
    s_cost, s_loss = np.zeros(1), np.zeros(1)
    parents: list[np.ndarray] = []
    options: list[np.ndarray] = []
    for j in range(k):
        opts = _undominated(cost[j], loss[j])  # others can never be in a Pareto state
        t = opts.size
        c = (s_cost[:, None] + cost[j, opts][None, :]).ravel()
        lo = (s_loss[:, None] + loss[j, opts][None, :]).ravel()
        parent = np.repeat(np.arange(s_cost.size), t)
        option = np.tile(opts, s_cost.size)
        ok = lo + remaining[j] <= max_budget + TOL
        c, lo, parent, option = c[ok], lo[ok], parent[ok], option[ok]
        order = np.lexsort((lo, c))  # by cost, then loss
        c, lo, parent, option = c[order], lo[order], parent[order], option[order]
        prev_min = np.minimum.accumulate(np.concatenate([[np.inf], lo[:-1]]))
        keep = lo < prev_min - TOL  # Pareto: strictly less loss than every cheaper state
        s_cost, s_loss = c[keep], lo[keep]
        parents.append(parent[keep])
        options.append(option[keep])
    return ParetoFront(s_cost, s_loss, float(max_budget), tuple(parents), tuple(options))


def _undominated(cost: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the options no other option beats on both cost and loss (one per tie)."""
    order = np.lexsort((loss, cost))
    prev_min = np.minimum.accumulate(np.concatenate([[np.inf], loss[order][:-1]]))
    return order[loss[order] < prev_min - TOL]


def least_loss(cost: np.ndarray, loss: np.ndarray) -> KnapsackSolution:
    """When no assignment meets the budget: least loss per cluster, then least cost."""
    cost, loss = _check_tables(cost, loss)
    k, T = cost.shape
    choice = np.array([min(range(T), key=lambda t: (loss[j, t], cost[j, t])) for j in range(k)])
    rows = np.arange(k)
    return KnapsackSolution(choice, float(cost[rows, choice].sum()),
                            float(loss[rows, choice].sum()), False)


def solve_min_cost(cost: np.ndarray, loss: np.ndarray, budget: float) -> KnapsackSolution:
    """Minimise sum_j cost[j, t_j] subject to sum_j loss[j, t_j] <= budget (exactly)."""
    sol = pareto_front(cost, loss, budget).solve(budget)
    return sol if sol is not None else least_loss(cost, loss)


def _check_tables(cost: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cost = np.asarray(cost, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if cost.shape != loss.shape or cost.ndim != 2 or cost.shape[0] == 0:
        raise ValueError(f"cost and loss must be equal non-empty [k, T] arrays, got "
                         f"{cost.shape} and {loss.shape}")
    return cost, loss
