"""The profile travels in every export: the dashboard's CSV and JSON downloads and
``evaluate --json`` name the unit and the profile, and their figures match an independent
computation under it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import streamlit as st

from dimee_core import explore
from dimee_core.cache import load_cache
from dimee_core.evaluate import DIMEEConfig, evaluate, unit_results
from dimee_core.profile_code import decode
from dimee_core.profiles import PRESETS, label, profile_json
from dimee_core.tokens import with_lengths
from tests.conftest import SHIPPED
from tests.test_cli import run
from tests.test_profiles import by_hand
from ui import downloads, units
from ui.compute import Results


@pytest.fixture(scope="module")
def setup():
    cache, _ = with_lengths(load_cache(SHIPPED / "rt-snippets"))
    cfg = DIMEEConfig.for_cache(cache)
    ev = evaluate(cache, cfg, n_boot=0)
    res = Results(ev, explore.cluster_table(ev.dimee), explore.cluster_table(ev.dimee_plus),
                  explore.via_edge(ev.routings["dimee_plus"]), ev.dimee_plus.beta_)
    return cache, cfg, res


@pytest.fixture
def in_units():
    """Bare-mode session state: the unit and profile a page would have in force."""
    st.session_state["unit"] = "mJ"
    st.session_state[units.PROFILE_KEY] = PRESETS["5G"].scaled("phone_edge", "rtt_ms", 2.0)
    yield st.session_state[units.PROFILE_KEY]
    st.session_state["unit"] = "abstract"
    del st.session_state[units.PROFILE_KEY]


@pytest.mark.slow
def test_csv_holds_each_requests_energy_and_the_profile(setup, in_units):
    cache, cfg, res = setup
    df = downloads.assignments(cache, cfg, res)
    ev = res.evaluation
    for method, suffix in (("dimee", ""), ("dimee_plus", "_plus")):
        r, c = ev.routings[method], ev.config_of(method)
        esc = r.escalated if r.escalated is not None else np.zeros(len(r.tier), bool)
        hand = [by_hand(in_units, 1 if e else int(t), bool(e), int(x), c.m, c.n,
                        cache.num_layers, "resume", 384)["energy_mj"]
                for t, e, x in zip(r.tier, esc, cache.test.lengths)]
        assert df[f"phone_energy_mj{suffix}"].to_numpy() == pytest.approx(hand, rel=1e-9)
    assert set(df["unit"]) == {"mJ"}
    assert {decode(code) for code in df["profile"]} == {decode(df["profile"].iloc[0])}
    assert decode(df["profile"].iloc[0]).phone_edge == in_units.phone_edge


@pytest.mark.slow
def test_json_names_unit_and_profile(setup, in_units):
    cache, cfg, res = setup
    real = unit_results(res.evaluation, in_units, cache.test.lengths)
    doc = json.loads(downloads.results_json(cache, res, real))
    assert doc["unit"] == "mJ" and doc["profile"] == json.loads(profile_json(in_units))
    assert doc["methods"]["dimee"]["phone_energy_mj"]["mean"] == pytest.approx(
        real["dimee"].phone_energy_mj["mean"])
    assert decode(doc["profile_code"]).phone_edge.rtt_ms == 30.0  # 5G's 15 ms doubled


def test_abstract_downloads_say_so(setup):
    cache, cfg, res = setup
    assert set(downloads.assignments(cache, cfg, res)["unit"]) == {"abstract"}
    doc = json.loads(downloads.results_json(cache, res, None))
    assert doc["unit"] == "abstract" and "profile" not in doc


@pytest.mark.slow
def test_evaluate_json_carries_the_profile_and_its_code():
    p = run("evaluate", str(SHIPPED / "trec"), "--json", "--bootstrap", "0", "--profile",
            "Congested uplink")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["profile_code"] == "congested"
    assert doc["profile"] == PRESETS["Congested uplink"].to_dict()


@pytest.mark.slow
def test_a_profile_file_with_a_free_cloud_is_one_message(tmp_path):
    d = PRESETS["5G"].to_dict()
    d["cloud"]["usd_per_hour"] = 0.0
    f = tmp_path / "free.json"
    f.write_text(json.dumps(d))
    p = run("evaluate", str(SHIPPED / "trec"), "--profile", str(f))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert label("cloud", "usd_per_hour") in p.stderr and "usd_per_hour" not in p.stderr
