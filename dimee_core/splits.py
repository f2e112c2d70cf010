"""Seeded two-way splits of a labelled split: stratified by label, group-aware by text.

Used to hold part of the calibration split out of fitting (so that a recommendation can
be certified on samples that did not choose it) and by the report's re-splits. A sample
whose text occurs twice never sits on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Split:
    """One labelled split: ``probs[i, l, c]`` is exit l+1's probability of class c."""

    labels: np.ndarray  # [N] int64
    probs: np.ndarray  # [N, L, C] float32
    feats: np.ndarray  # [N, L, d] float16/float32, pooled hidden state after PCA
    texts: tuple[str, ...]
    lengths: np.ndarray | None = None  # [N] int32 tokens processed; None in old caches

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    def take(self, idx: np.ndarray) -> "Split":
        """Sub- or re-sample rows (used by benchmarks and bootstrap helpers)."""
        idx = np.asarray(idx)
        texts = tuple(self.texts[i] for i in idx) if self.texts else ()
        lengths = self.lengths[idx] if self.lengths is not None else None
        return Split(self.labels[idx], self.probs[idx], self.feats[idx], texts, lengths)


def group_ids(groups: Sequence[str]) -> np.ndarray:
    """Each group's rank among the sorted distinct groups (np.unique's inverse), computed
    on Python strings: a fixed-width numpy string array pads every text to the longest
    one (1,353 texts, one of them 5 MB: 25 GiB)."""
    rank = {g: i for i, g in enumerate(sorted(set(groups)))}
    return np.fromiter((rank[g] for g in groups), dtype=np.int64, count=len(groups))


def two_way(labels: np.ndarray, groups: np.ndarray | None, fraction: float,
            random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices of the first part (about ``fraction`` of every label's samples,
    whole groups only) and of the rest."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    n = len(labels)
    gid = np.arange(n) if groups is None else np.unique(groups, return_inverse=True)[1]
    n_groups = int(gid.max()) + 1 if n else 0
    size = np.bincount(gid, minlength=n_groups)
    first_member = np.full(n_groups, n)
    np.minimum.at(first_member, gid, np.arange(n))
    glabel = np.asarray(labels)[first_member]  # a group is stratified by its first label
    rng = np.random.default_rng(random_state)
    first = np.zeros(n_groups, dtype=bool)
    for c in np.unique(glabel):
        order = rng.permutation(np.flatnonzero(glabel == c))
        cum = np.cumsum(size[order])
        first[order[cum - size[order] / 2 < fraction * cum[-1]]] = True  # group midpoints
    mask = first[gid]
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def split_groups(split: Split) -> np.ndarray | None:
    """Identical texts form a group: each sample's group id (None without texts)."""
    if not split.texts or len(split.texts) != split.n:
        return None
    return group_ids(split.texts)


def fit_part(split: Split, fraction: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, held-out indices) of a calibration split."""
    return two_way(split.labels, split_groups(split), fraction, random_state)


def concat(a: Split, b: Split) -> Split:
    """Two splits as one (texts kept only when both carry them; lengths likewise)."""
    texts = a.texts + b.texts if a.texts and b.texts else ()
    lengths = (np.concatenate([a.lengths, b.lengths])
               if a.lengths is not None and b.lengths is not None else None)
    return Split(np.concatenate([a.labels, b.labels]), np.concatenate([a.probs, b.probs]),
                 np.concatenate([a.feats, b.feats]), texts, lengths)
