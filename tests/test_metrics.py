"""dimee_core.metrics against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from dimee_core.metrics import macro_f1


@pytest.mark.parametrize("seed", range(40))
def test_macro_f1_equals_scikit_learn(seed):
    """Random labels and predictions, with classes missing from either side (a class only
    predicted, one never predicted, one absent from both) and non-contiguous label ids."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 300)), int(rng.integers(1, 7))
    ids = rng.choice(50, size=k, replace=False)
    labels = ids[rng.integers(0, k, n)]
    pred = np.where(rng.random(n) < 0.6, labels, ids[rng.integers(0, k, n)])
    if seed % 3 == 0:
        pred[: max(1, n // 10)] = 99  # a class nobody holds
    want = f1_score(labels, pred, average="macro", zero_division=0)
    assert macro_f1(labels, pred) == pytest.approx(want, abs=1e-12)


def test_macro_f1_by_hand():
    # class 0: TP 1, true 2, predicted 1 -> 2/3; class 1: TP 1, true 2, predicted 2 -> 1/2;
    # class 2: only predicted, never right -> 0
    labels, pred = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2])
    assert macro_f1(labels, pred) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
