"""The Overview's answer stored in routing.json (dimee_core.answer): equal to what
summary.recommend computes, stale answers ignored, hostile records refused."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dimee_core import answer, recommendation, summary
from dimee_core.answer_record import ANSWER_KEY, parse
from dimee_core.cache import CacheError, load_cache
from tests.conftest import SHIPPED


def test_shipped_answers_are_current(shipped):
    """Each shipped cache's stored answer is exactly summary.recommend's at its stored
    settings (fails when the code or the settings changed without `migrate`/`tune`)."""
    got = answer.stored(shipped)
    assert got is not None, f"{shipped.name}: run python -m dimee_core migrate"
    want = summary.recommend(shipped, n_boot=answer.N_BOOT)
    assert got == replace(want, routings={})
    assert recommendation.headline(got) == recommendation.headline(want)


@pytest.fixture
def rt(tmp_path):
    folder = tmp_path / "rt"
    shutil.copytree(SHIPPED / "rt-snippets", folder)
    return folder


def _routing(folder) -> dict:
    return json.loads((folder / "routing.json").read_text())


def _write(folder, d: dict) -> None:
    (folder / "routing.json").write_text(json.dumps(d))


def test_other_settings_make_the_answer_stale_and_store_renews_it(rt):
    d = _routing(rt)
    d["epsilon"] = d["epsilon"] + 0.5  # hand-edited setting, old answer kept
    _write(rt, d)
    cache = load_cache(rt)
    assert answer.stored(cache) is None
    rec = answer.store(rt)
    cache = load_cache(rt)
    assert cache.defaults["epsilon"] == d["epsilon"]  # the settings stay as they were
    assert answer.stored(cache) == replace(rec, routings={})
    want = summary.recommend(cache, n_boot=answer.N_BOOT)  # at the new ε
    assert replace(rec, routings={}) == replace(want, routings={})


def test_a_rebuilt_cache_does_not_reuse_the_answer(rt):
    d = _routing(rt)
    d[ANSWER_KEY]["of"] = "0" * 32  # computed on another build or settings
    _write(rt, d)
    assert answer.stored(load_cache(rt)) is None


HOSTILE = [  # (path into the record, value)
    (("test", "dimee", "accuracy"), 1.5),
    (("test", "dimee", "accuracy"), "0.9"),
    (("test", "cascade", "tier_shares", "edge"), -0.1),
    (("test", "dimee_plus", "drop_ci95"), [1.0]),
    (("test", "dimee_plus", "drop_ci95"), [1.0, float("nan")]),
    (("test", "dimee", "macro_f1"), None),
    (("calibration", "dimee", "drop_pp"), 1e308 * 10),
    (("calibration", "cascade", "mean_cost"), -1.0),
    (("cascade_alpha",), True),
    (("n_boot",), 2.5),
    (("of",), "x" * 100),
]


@pytest.mark.parametrize("where,value", HOSTILE)
def test_hostile_answer_is_one_cache_error(rt, where, value):
    d = _routing(rt)
    node = d[ANSWER_KEY]
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    (rt / "routing.json").write_text(json.dumps(d, allow_nan=True))
    with pytest.raises(CacheError, match="routing"):
        load_cache(rt)


def test_missing_or_extra_fields_are_refused(rt):
    d = _routing(rt)
    rec = d[ANSWER_KEY]
    for broken in ({k: v for k, v in rec.items() if k != "test"},
                   {**rec, "extra": 1},
                   {**rec, "test": {**rec["test"], "oracle": rec["test"]["dimee"]}}):
        with pytest.raises(ValueError):
            parse(broken)


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                       lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                       max_leaves=20)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(path=st.lists(st.sampled_from(["test", "calibration", "dimee", "dimee_plus", "cascade",
                                      "accuracy", "tier_shares", "mobile", "drop_ci95",
                                      "mean_cost", "of", "n_boot"]), min_size=1, max_size=4),
       value=JSONISH)
def test_fuzzed_answer_parses_or_is_one_value_error(path, value):
    """A stored record with any one node replaced: a checked record or ValueError."""
    rec = json.loads(json.dumps(load_cache(SHIPPED / "rt-snippets").defaults[ANSWER_KEY]))
    node = rec
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            break
        node = node[key]
    else:
        if isinstance(node, dict):
            node[path[-1]] = value
    try:
        of, n_boot, alpha, cal, test = parse(rec)
    except ValueError:
        return
    assert all(0 <= r.accuracy <= 1 and 0 <= min(r.tier_shares.values())
               for r in test.values())


def test_warm_up_waits_for_a_first_run_before_loading_live(monkeypatch):
    """The warm-up reads the stored answer and waits for the first visitor's first run to
    finish before PyTorch and the Live model (which would compete with its first screen)."""
    from ui import compute, live, price, warmup

    calls = []

    class Gate:
        def wait(self, timeout=None):
            calls.append(("wait", timeout))

    monkeypatch.setattr(warmup, "_first_run", Gate())
    monkeypatch.setattr(compute, "recommendation", lambda *a: calls.append("fit") or None)
    for mod, name in ((price, "warm_up"), (compute, "kpis"), (compute, "results")):
        monkeypatch.setattr(mod, name, lambda *a, name=name: calls.append(name))
    monkeypatch.setattr(live, "warm_up", lambda *a: calls.append("live"))
    warmup.run()
    assert calls == ["warm_up", "kpis", "results", ("wait", warmup.FIRST_RUN_WAIT_S), "live"]


def test_other_records_stored_later_keep_the_answer(rt):
    """tune may store or renew the price of certainty or the real-unit answers apart: the
    answer does not depend on them, so its digest leaves them out (a setting counts)."""
    from dimee_core.tuned import PRICE_KEY, SECTION

    cache = load_cache(rt)
    settings = answer.settings_of(cache)
    before = answer._of(settings, cache)
    assert answer._of({**settings, PRICE_KEY: {"any": 1}, SECTION: {}}, cache) == before
    assert answer._of({**settings, "k": settings["k"] + 1}, cache) != before
    plus = {**settings["dimee_plus"], "alpha": 0.5}
    assert answer._of({**settings, "dimee_plus": plus}, cache) != before
