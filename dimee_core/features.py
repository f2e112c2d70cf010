"""What the mobile knows after layer m: exit outcomes and routing features.

All functions are vectorised over samples and read only exits 1..m for routing, so a
routing decision never peeks at layers the mobile has not run.
"""

from __future__ import annotations

import numpy as np

FEATURE_SETS = ("conf", "signals", "embed", "signals+embed")


def confidences(probs: np.ndarray) -> np.ndarray:
    """c_i = max_c p_i(c): [N, L]."""
    return probs.max(axis=2)


def correct_matrix(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[N, L] bool: exit i answers sample x correctly."""
    return probs.argmax(axis=2) == labels[:, None]


def reaches(conf: np.ndarray, threshold) -> np.ndarray:
    """conf >= threshold, compared in float64 by every method (cascade, DIMEE+'s gates and
    edge threshold, the pools): a float32 confidence against a Python float would
    otherwise be compared in float32 by one method and in float64 by another, and a
    sample at float32(0.9) would be 'sure' for one and not for the other."""
    return np.asarray(conf, dtype=np.float64) >= np.asarray(threshold, dtype=np.float64)


def exit_layer(conf: np.ndarray, alpha: float) -> np.ndarray:
    """First layer (1-based) whose confidence reaches alpha; L when none does."""
    hit = reaches(conf, alpha)
    first = hit.argmax(axis=1) + 1
    return np.where(hit.any(axis=1), first, conf.shape[1])


def pools(conf: np.ndarray, alpha: float, m: int, n: int) -> np.ndarray:
    """Complexity pool per sample: 0 easy (e <= m), 1 medium (m < e <= n), 2 hard."""
    e = exit_layer(conf, alpha)
    return np.where(e <= m, 0, np.where(e <= n, 1, 2))


def mobile_signals(probs: np.ndarray, m: int) -> np.ndarray:
    """Per exit 1..m: confidence, top-1 margin, normalised entropy; plus agreement of each
    earlier exit's prediction with exit m's. Shape [N, 3m + (m-1)]."""
    p = probs[:, :m, :].astype(np.float64)
    top2 = np.sort(p, axis=2)[:, :, -2:]
    conf, margin = top2[:, :, 1], top2[:, :, 1] - top2[:, :, 0]
    ent = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(2) / np.log(p.shape[2])
    pred = p.argmax(2)
    agree = (pred[:, :-1] == pred[:, -1:]).astype(np.float64)
    return np.concatenate([conf, margin, ent, agree], axis=1)


def routing_features(probs: np.ndarray, feats: np.ndarray, m: int, kind: str) -> np.ndarray:
    """Raw (unscaled) routing features; blocks are scaled later by the router."""
    if kind == "conf":
        return probs[:, :m, :].max(axis=2).astype(np.float64)
    if kind == "signals":
        return mobile_signals(probs, m)
    if kind == "embed":
        return feats[:, m - 1, :].astype(np.float64)
    if kind == "signals+embed":
        return np.concatenate([mobile_signals(probs, m), feats[:, m - 1, :]], axis=1)
    raise ValueError(f"features must be one of {FEATURE_SETS}, got {kind!r}")


def block_sizes(kind: str, m: int, d: int) -> list[int]:
    """Column blocks, so that each block gets equal total weight after standardising."""
    sig = 4 * m - 1
    return {"conf": [m], "signals": [sig], "embed": [d], "signals+embed": [sig, d]}[kind]


def feature_names(kind: str, m: int, d: int) -> list[str]:
    """Column names of :func:`routing_features` (for showing what the phone sees)."""
    conf = [f"confidence, exit {i}" for i in range(1, m + 1)]
    signals = conf + [f"margin, exit {i}" for i in range(1, m + 1)] + [
        f"entropy, exit {i}" for i in range(1, m + 1)] + [
        f"exit {i} agrees with exit {m}" for i in range(1, m)]
    embed = [f"layer-{m} embedding, PC {j}" for j in range(1, d + 1)]
    return {"conf": conf, "signals": signals, "embed": embed,
            "signals+embed": signals + embed}[kind]
