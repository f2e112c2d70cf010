"""config.py: one declaration per routing setting, and what is generated from it."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from dimee_core import cli, config
from dimee_core.config import BY_NAME, BY_URL, PARAMS, DIMEEConfig, Param, bounds
from dimee_core.costs import CostModel
from dimee_core.router import DIMEERouter, from_config


def test_defaults_are_the_tables_everywhere():
    """DIMEEConfig, DIMEERouter and CostModel start from the table's defaults (the
    documented ones: m=2, n=4, k=6, alpha=0.9, signals, budget, eps=0.3, mu=1)."""
    documented = {"m": 2, "n": 4, "k": 6, "alpha": 0.9, "features": "signals",
                  "policy": "budget", "epsilon": 0.3, "mu": 1.0, "safety": 1.0,
                  "random_state": 0, "fit_fraction": 1.0, "objective": "abstract"}
    cfg = DIMEEConfig()
    assert {k: getattr(cfg, k) for k in documented} == documented
    router = DIMEERouter().get_params()
    for p in config.ROUTER_PARAMS:
        assert router[p.arg] == p.default == documented[p.name]
    assert {p.name: p.default for p in config.COST_PARAMS} == CostModel().to_dict()
    assert from_config(cfg).get_params()["n_clusters"] == 6


def test_every_param_is_a_config_or_cost_field():
    fields = {f.name for f in dataclasses.fields(DIMEEConfig)}
    costs = {f.name for f in dataclasses.fields(CostModel)}
    for p in PARAMS:
        assert p.name in (costs if p.group == "costs" else fields), p.name
    assert len({p.cli for p in PARAMS if p.cli}) == sum(1 for p in PARAMS if p.cli)
    assert len(BY_URL) == sum(1 for p in PARAMS if p.url)
    router_args = set(inspect.signature(DIMEERouter).parameters)
    assert {p.arg for p in config.ROUTER_PARAMS} <= router_args


@pytest.mark.parametrize("name, value, ok", [
    ("alpha", 0.0, True), ("alpha", 1.0, True), ("alpha", 1.01, False), ("alpha", -0.1, False),
    ("alpha", True, False), ("alpha", "0.5", False), ("alpha", float("nan"), False),
    ("fit_fraction", 1.0, True), ("fit_fraction", 0.0, False), ("fit_fraction", 1e-9, True),
    ("fit_fraction", "x", False), ("random_state", 2**32 - 1, True),
    ("random_state", 2**32, False), ("random_state", 1.0, False), ("k", 1, True),
    ("k", 0, False), ("policy", "reward", True), ("policy", "Reward", False),
    ("features", "signals+embed", True), ("features", 3, False),
    ("latency_sla_ms", None, True), ("latency_sla_ms", 0.0, False), ("as_cascade", 1, False),
])
def test_check_accepts_exactly_the_declared_range(name, value, ok):
    p = BY_NAME[name]
    if ok:
        assert p.check(value) is value
    else:
        with pytest.raises(ValueError, match=f"{p.arg} must be"):
            p.check(value)


@pytest.mark.parametrize("key, text, want", [
    ("k", "7", 7), ("alpha", "0.25", 0.25), ("feat", "conf", "conf"), ("oc", "9.5", 9.5)])
def test_parse_reads_a_url_or_cli_string(key, text, want):
    assert BY_URL[key].parse(text) == want and type(BY_URL[key].parse(text)) is type(want)


@pytest.mark.parametrize("key, text, message", [
    ("k", "2.5", "is not a whole number"), ("alpha", "nan", "must be finite"),
    ("alpha", "x", "is not a number"), ("policy", "magic", "must be one of pools, reward")])
def test_parse_refuses_in_plain_words(key, text, message):
    with pytest.raises(ValueError, match=message):
        BY_URL[key].parse(text)


def test_bounds_follow_the_cache():
    assert bounds("m", 6, 100) == (1, 4)
    assert bounds("n", 6, 100, m=3) == (4, 5)
    assert bounds("k", 6, 100) == (1, 100)
    assert bounds("alpha", 6, 100) == (0.0, 1.0)


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_a_new_parameter_appears_in_the_cli_help(monkeypatch, capsys):
    """One entry in the table is all the CLI needs: a fake knob shows up in --help of
    every command that takes routing settings, with its help text and choices."""
    before = _help(capsys, "evaluate")
    assert "--zeta" not in before
    fake = Param("zeta", str, "low", choices=("low", "high"), cli="--zeta", url="z",
                 help="a fake knob to test the table")
    monkeypatch.setattr(config, "PARAMS", (*config.PARAMS, fake))
    for command in ("evaluate", "predict"):
        text = _help(capsys, command)
        assert "--zeta {low,high}" in text and "a fake knob to test the table" in text


def test_every_cli_flag_of_the_table_is_in_the_help(capsys):
    text = _help(capsys, "evaluate")
    for p in PARAMS:
        if p.cli:
            assert p.cli in text
    assert "--fit-fraction" not in text  # no flag declared: none generated


def test_a_bad_value_on_the_command_line_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["evaluate", "cache/trec", "--k", "2.5"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err == "error: argument --k: '2.5' is not a whole number\n"


def test_settings_keyed_by_url_round_trip():
    """The dashboard's widget/URL keys (written out here by hand, as the UI used them)
    map to the config and back."""
    by_hand = {"m": 2, "n": 4, "k": 6, "feat": "signals", "alpha": 0.9, "policy": "budget",
               "eps": 0.3, "mu": 1.0, "safety": 1.0, "fit": 1.0, "mode": "resume",
               "lm": 1.0, "le": 1.0, "lc": 1.0, "oe": 2.0, "oc": 5.0, "oec": 3.0}
    assert config.to_settings(DIMEEConfig()) == by_hand
    changed = config.from_settings(DIMEEConfig(), {**by_hand, "k": 9.0, "oc": 7, "eps": "1.5",
                                                   "policy": "reward", "unit": "ms"})
    assert (changed.k, changed.costs.o_cloud, changed.epsilon, changed.policy) == (
        9, 7.0, 1.5, "reward")
    assert type(changed.k) is int and type(changed.costs.o_cloud) is float
    assert config.from_settings(changed, config.to_settings(changed)) == changed
    with pytest.raises(ValueError, match="mode must be one of"):
        config.from_settings(DIMEEConfig(), {"mode": "teleport"})


@pytest.mark.parametrize("value", [10**400, -(10**400), 10**309])
def test_a_huge_integer_is_refused_not_overflowed(value):
    """Found by the fuzz suite: float(10**400) raises OverflowError."""
    with pytest.raises(ValueError, match="alpha must be a number"):
        BY_NAME["alpha"].check(value)
