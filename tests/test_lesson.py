"""Learn: example slots never empty, 'why this tier' from the policy's own numbers,
distinct cluster colours."""

from __future__ import annotations

import numpy as np
import pytest

from dimee_core import explore
from dimee_core.cache import load_cache
from dimee_core.evaluate import DIMEEConfig, evaluate
from dimee_core.features import confidences
from tests.conftest import SHIPPED
from ui import charts


@pytest.fixture(scope="module")
def trec():
    return load_cache(SHIPPED / "trec")


def test_example_slots_are_filled_even_when_alpha_empties_a_pool(trec):
    conf = confidences(trec.test.probs)
    ex = explore.example_samples(trec.test, 1.01, 2, 4)  # no exit is ever that sure
    assert set(ex) == {"easy", "hard"}
    right_m = trec.test.probs[:, 1].argmax(1) == trec.test.labels
    # no easy sample at all: the most confident one on the phone stands in
    assert ex["easy"] == int(np.argmax(conf[:, 1]))
    # every sample is hard: the least confident the final exit gets right
    hard_right = np.flatnonzero(trec.test.probs[:, -1].argmax(1) == trec.test.labels)
    assert ex["hard"] == int(hard_right[np.argmin(conf[hard_right, 1])])
    ex = explore.example_samples(trec.test, 0.6, 2, 4)  # both pools exist: the α rule
    assert conf[ex["easy"], :2].max() >= 0.6 and right_m[ex["easy"]]
    assert conf[ex["hard"], :4].max() < 0.6


@pytest.mark.slow
def test_why_tier_reward_names_the_argmax(trec):
    cfg = DIMEEConfig.for_cache(trec, policy="reward", mu=0.5)
    ev = evaluate(trec, cfg, n_boot=0)
    table = explore.cluster_table(ev.dimee)
    costs = cfg.costs.tier_costs(cfg.m, cfg.n, trec.num_layers)
    for _, row in table.iterrows():
        text = explore.why_tier(row, costs, cfg, trec.calibration.n)
        scores = {t: row[f"acc_{t}"] - 0.5 * c / costs[2]
                  for t, c in zip(("mobile", "edge", "cloud"), costs)}
        assert max(scores, key=scores.get) == row["tier"]  # the router's own rule
        assert text.endswith(f"the highest wins: {row['tier']}.")
        assert f"{scores['edge']:.3f}" in text


@pytest.mark.slow
def test_why_tier_budget_states_the_loss_of_cheaper_tiers(trec):
    cfg = DIMEEConfig.for_cache(trec)
    ev = evaluate(trec, cfg, n_boot=0)
    table = explore.cluster_table(ev.dimee)
    costs = cfg.costs.tier_costs(cfg.m, cfg.n, trec.num_layers)
    row = table[table["tier"] == "cloud"].iloc[0]
    text = explore.why_tier(row, costs, cfg, trec.calibration.n)
    loss_edge = 100 * (row["acc_cloud"] - row["acc_edge"]) * row["size"] / trec.calibration.n
    assert f"to the edge {loss_edge:.2f} pp" in text and text.endswith("so: cloud.")
    mobile = table[table["tier"] == "mobile"]
    if len(mobile):
        assert explore.why_tier(mobile.iloc[0], costs, cfg, trec.calibration.n).endswith(
            "The mobile is the cheapest tier at these costs, so: mobile.")


def test_cluster_colours_are_distinct_up_to_64():
    for k in (6, 10, 16, 64):
        cols = charts.distinct_colors(k)
        rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in cols], float)
        d = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        assert len(set(cols)) == k and d.min() > 40, (k, d.min())
