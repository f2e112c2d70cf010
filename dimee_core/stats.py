"""Per-cluster sufficient statistics of the calibration split, for every exit.

They are all the router's solver ever reads: tier accuracy relative to the final exit
for DIMEE, and for DIMEE+ the same for every (edge split n, edge threshold beta, phone
gate gamma), so re-solving never touches the samples again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .splits import Split
from .costs import moments
from .features import confidences, correct_matrix
from .profiles import sample_lengths

# thresholds tried (0: never escalate; > 1: always): the cascade's alpha grid, plus 0.
BETA_GRID = (0.0, *np.round(np.linspace(0.5, 0.95, 19), 4), 0.96, 0.97, 0.98, 0.99, 0.995,
             0.999, 1.01)
GATE_GRID = BETA_GRID[1:]  # phone gates gamma (gamma = 0 would be "always mobile")


@dataclass(frozen=True)
class ClusterStats:
    """Per-cluster sufficient statistics over the calibration split (k rows)."""

    size: np.ndarray  # [k]
    correct: np.ndarray  # [k, L]  exit i right
    worse: np.ndarray  # [k, L]   exit i wrong where the final exit is right
    better: np.ndarray  # [k, L]  exit i right where the final exit is wrong
    # DIMEE+ gate options, indexed [n, beta index, gate index, cluster] for edge split n:
    # exit wrong where the final is right / right where it is wrong, sent on to the edge,
    # escalated by the edge to the cloud
    gated_worse: np.ndarray
    gated_better: np.ndarray
    gated_to_edge: np.ndarray
    gated_escalated: np.ndarray
    # Real units: every per-sample cost is a polynomial in the token count T, so sums of
    # (1, T, T^2) per cluster (and per DIMEE+ subset) give any cost model's totals, and a
    # per-cluster histogram of T gives any latency quantile.
    moments: np.ndarray  # [k, 3]
    gated_to_edge_moments: np.ndarray  # [L, B, G, k, 3]
    gated_escalated_moments: np.ndarray  # [L, B, G, k, 3]
    token_hist: np.ndarray  # [k, T_max + 1] samples per token count


def cluster_stats(split: Split, labels: np.ndarray, k: int, m: int) -> ClusterStats:
    """Per-cluster counts on ``split`` for every exit, edge split n, beta and gate."""
    corr = correct_matrix(split.probs, split.labels)
    conf = confidences(split.probs).astype(np.float64)  # compared as features.reaches does
    L, B, G = corr.shape[1], len(BETA_GRID), len(GATE_GRID)
    cf, cm = corr[:, -1].astype(float), corr[:, m - 1].astype(float)
    count = lambda w: np.stack([np.bincount(labels, weights=w[:, i], minlength=k)
                                for i in range(w.shape[1])], 1)  # [N, X] -> [k, X]
    # The gate statistics are sums over rectangles of (c_m, c_n) per cluster: bin each
    # sample by how many gates / betas it clears, then take cumulative sums (O(N)).
    g_pos = np.searchsorted(GATE_GRID, conf[:, m - 1], side="right")  # mobile iff g < g_pos
    hist = lambda w, b_pos: np.bincount(
        (labels * (G + 1) + g_pos) * (B + 1) + b_pos, weights=w,
        minlength=k * (G + 1) * (B + 1)).reshape(k, G + 1, B + 1)
    off_mobile = lambda h: h.cumsum(1)[:, :G]  # [k, G, B+1]: samples with g_pos <= g
    on_mobile = lambda h: h.sum(2).sum(1, keepdims=True) - off_mobile(h).sum(2)  # [k, G]
    out = {f: np.zeros((L, B, G, k)) for f in (
        "gated_worse", "gated_better", "gated_to_edge", "gated_escalated")}
    out.update({f: np.zeros((L, B, G, k, 3)) for f in (
        "gated_to_edge_moments", "gated_escalated_moments")})
    tokens = np.asarray(sample_lengths(split.lengths, split.n), dtype=np.int64)
    phi = moments(tokens)

    def edge_answers(w, b_pos):  # off the mobile and not escalated: [B, G, k]
        h = off_mobile(hist(w, b_pos))
        up = h.cumsum(2)[:, :, :B]  # b_pos <= b
        return (h.sum(2)[:, :, None] - up).transpose(2, 1, 0)

    def mobile_answers(w, b_pos):  # [B, G, k], the same for every beta
        return np.broadcast_to(on_mobile(hist(w, b_pos)).T[None], (B, G, k))

    for n in range(1, L):
        cn = corr[:, n - 1].astype(float)
        b_pos = np.searchsorted(BETA_GRID, conf[:, n - 1], side="right")  # up iff b >= b_pos
        # worse / better than the final exit: mobile answers in M, edge answers in E,
        # the cloud (final exit) in C never differs from itself
        out["gated_worse"][n] = (mobile_answers(cf * (1 - cm), b_pos)
                                 + edge_answers(cf * (1 - cn), b_pos))
        out["gated_better"][n] = (mobile_answers((1 - cf) * cm, b_pos)
                                  + edge_answers((1 - cf) * cn, b_pos))
        for i in range(3):  # moments 1, T, T^2 (moment 0 is the plain count)
            off = off_mobile(hist(phi[:, i], b_pos))
            out["gated_to_edge_moments"][n, ..., i] = np.broadcast_to(
                off.sum(2).T[None], (B, G, k))
            out["gated_escalated_moments"][n, ..., i] = off.cumsum(2)[:, :, :B].transpose(
                2, 1, 0)
        out["gated_to_edge"][n] = out["gated_to_edge_moments"][n, ..., 0]
        out["gated_escalated"][n] = out["gated_escalated_moments"][n, ..., 0]
    width = int(tokens.max(initial=0)) + 1
    token_hist = np.bincount(labels * width + tokens, minlength=k * width).reshape(k, width)
    return ClusterStats(size=np.bincount(labels, minlength=k).astype(float),
                        correct=count(corr), worse=count(cf[:, None].astype(bool) & ~corr),
                        better=count(~cf[:, None].astype(bool) & corr),
                        moments=count(phi), token_hist=token_hist.astype(float), **out)
