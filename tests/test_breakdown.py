"""Per-class × per-tier errors against a plain per-sample count."""

from __future__ import annotations

from collections import Counter

import numpy as np

from dimee_core.breakdown import class_tier_errors
from dimee_core.costs import TIERS
from dimee_core.router import Routing


def test_breakdown_matches_a_per_sample_count():
    rng = np.random.default_rng(3)
    n, L, C = 500, 6, 4
    labels = rng.integers(0, C, n)
    probs = rng.dirichlet(np.ones(C), size=(n, L))
    tier = rng.integers(0, 3, n)
    tier[labels == 3] = 0  # class 3 never reaches the edge or the cloud
    exit_layer = np.array([(2, 4, 6)[t] for t in tier])
    routing = Routing(tier, exit_layer, np.zeros(n))
    names = ["a", "b", "c", "d"]
    got = class_tier_errors(labels, probs, routing, names).set_index(["tier", "label"])

    answers: dict = {}
    for i in range(n):  # independent: walk the samples one by one
        answer = int(np.argmax(probs[i, exit_layer[i] - 1]))
        answers.setdefault((TIERS[tier[i]], names[labels[i]]), []).append(answer)
    assert set(got.index) == set(answers)
    assert ("edge", "d") not in got.index and ("mobile", "d") in got.index
    for key, given in answers.items():
        truth = names.index(key[1])
        wrong = [a for a in given if a != truth]
        row = got.loc[key]
        assert row["answered"] == len(given) and row["wrong"] == len(wrong)
        assert np.isclose(row["error_rate"], len(wrong) / len(given))
        if wrong:
            top, count = max(sorted(Counter(wrong).items()), key=lambda kv: kv[1])
            assert row["mistaken_for"] == names[top] and row["mistaken_count"] == count
    assert got["answered"].sum() == n
