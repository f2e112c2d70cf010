import json
import subprocess
import sys

import numpy as np
import pytest

from dimee_core.cli import main

from .conftest import ROOT, SHIPPED

DEFAULT = SHIPPED / "rt-snippets"


def run(*args):
    """The real command in its own process (~2 s): for the end-to-end runs only."""
    return subprocess.run([sys.executable, "-m", "dimee_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def run_here(capsys, *args) -> tuple[int, str, str]:
    """The CLI in this process: exit code, stdout, stderr (parsing and error messages)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_evaluate_json_schema():
    p = run("evaluate", str(DEFAULT), "--json", "--bootstrap", "100")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["dataset"] == "rt-snippets" and out["L"] == 6
    assert set(out["methods"]) >= {"dimee", "dimee_plus", "all_in_cloud", "mobile_only",
                                   "edge_only", "random", "cascade", "oracle"}
    for m in out["methods"].values():
        assert {"accuracy", "mean_cost", "cost_reduction_pct", "accuracy_drop_pp",
                "tier_shares"} <= set(m)
        assert set(m["tier_shares"]) == {"mobile", "edge", "cloud"}
    assert out["config"]["m"] < out["config"]["n"] < out["L"]
    # the numbers, against the cache arrays and the cost formulas (default costs, L = 6)
    import numpy as np

    from dimee_core.cache import load_cache

    test = load_cache(DEFAULT).test
    m, n = out["config"]["m"], out["config"]["n"]
    acc = lambda layer: float((test.probs[:, layer - 1].argmax(1) == test.labels).mean())
    methods = out["methods"]
    assert methods["all_in_cloud"]["accuracy"] == pytest.approx(acc(6))
    assert methods["all_in_cloud"]["mean_cost"] == pytest.approx(11.0)
    assert methods["mobile_only"]["accuracy"] == pytest.approx(acc(m))
    assert methods["mobile_only"]["cost_reduction_pct"] == pytest.approx(100 * (1 - m / 11))
    assert methods["edge_only"]["mean_cost"] == pytest.approx(n + 2.0)
    assert methods["edge_only"]["accuracy_drop_pp"] == pytest.approx(100 * (acc(6) - acc(n)))
    assert np.isclose(sum(methods["dimee"]["tier_shares"].values()), 1.0)


@pytest.mark.slow
def test_evaluate_table_and_options(capsys):
    code, out, err = run_here(capsys, "evaluate", DEFAULT, "--m", "1", "--n", "3", "--k", "4",
                              "--policy", "reward", "--mu", "0.5", "--o-cloud", "8",
                              "--bootstrap", "0")
    assert code == 0, err
    assert "DIMEE" in out and "Confidence cascade" in out
    assert "m=1 n=3 k=4" in out and "o_cloud=8.0" in out


@pytest.mark.parametrize("args, message", [
    (["--m", "4", "--n", "3"], "1 <= m < n < L=6"),
    (["--n", "6"], "1 <= m < n < L=6"),
    (["--k", "0"], "k must be in [1,"),
    (["--k", "99999"], "k must be in [1,"),
    (["--o-cloud", "-2"], "o_cloud must be finite and in [0"),
    (["--lambda-edge", "inf"], "must be finite"),
    (["--o-edge", "abc"], "not a number"),
    (["--policy", "magic"], "invalid choice"),
])
def test_bad_arguments_one_line(args, message, capsys):
    code, _, err = run_here(capsys, "evaluate", DEFAULT, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_bad_arguments_in_a_real_process():
    """One argument error through ``python -m dimee_core``: exit status and one line."""
    p = run("evaluate", str(DEFAULT), "--m", "4", "--n", "3")
    assert p.returncode == 2 and "1 <= m < n < L=6" in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_missing_and_malformed_cache(tmp_path, capsys):
    code, _, err = run_here(capsys, "evaluate", tmp_path / "nope")
    assert code == 2 and "not a cache folder" in err
    (tmp_path / "meta.json").write_text("{broken")
    code, _, err = run_here(capsys, "evaluate", tmp_path)
    assert code == 2 and "meta.json: not valid UTF-8 JSON" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--target", "-0.1"], "target accuracy drop must be >= 0 pp"),
    (["--delta", "0"], "delta must lie strictly between 0 and 1"),
    (["--delta", "1.5"], "delta must lie strictly between 0 and 1"),
])
def test_tune_refuses_bad_requests_in_one_line(args, message, capsys):
    code, _, err = run_here(capsys, "tune", SHIPPED / "trec", *args)
    assert code == 2 and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _copy_cache(name, tmp_path):
    import shutil

    dest = tmp_path / name
    shutil.copytree(SHIPPED / name, dest, ignore=shutil.ignore_patterns("model"))
    return dest


@pytest.mark.slow
def test_tune_stores_certified_dimee_and_dimee_plus_defaults(tmp_path):
    """tune writes both methods' settings with their guarantee; evaluate then runs DIMEE+
    at its own defaults, and its test numbers match an independent refit."""
    import numpy as np

    from dimee_core.cache import load_cache
    from dimee_core.config import DIMEEConfig
    from dimee_core.router import from_config

    dest = _copy_cache("trec", tmp_path)
    build_record = (dest / "meta.json").read_text()
    p = run("tune", str(dest), "--target", "1.0")
    assert p.returncode == 0, p.stderr
    assert (dest / "meta.json").read_text() == build_record  # the build's record
    d = json.loads((dest / "routing.json").read_text())
    assert load_cache(dest).defaults == d == json.loads(p.stdout)
    for entry in (d, d["dimee_plus"]):
        assert entry["target_pp"] == 1.0 and entry["delta"] == 0.1
        assert entry["bound_pp"] <= 1.0 and entry["p_value"] <= 0.1
        assert "≤ 1 pp with 90 % confidence" in entry["guarantee"]
    assert d["m"] < d["n"] < 6 and 0 < d["fit_fraction"] < 1
    assert d["dimee_plus"]["method"] in ("dimee_plus", "cascade")
    # and the price of certainty the Overview shows beside it: DIMEE+'s certified saving
    from dimee_core.price_record import Price

    price = Price.from_dict(d["price_of_certainty"])
    assert (price.target_pp, price.delta, price.family) == (1.0, 0.1, "dimee_plus")
    assert price.certified_pct == pytest.approx(d["dimee_plus"]["calibration_reduction_pct"])
    assert {k: d["dimee_plus"][k] for k in price.certified_setting} == price.certified_setting
    assert price.best_pct >= price.certified_pct
    assert [q.n_calibration for q in price.curve][-1] == 1614
    out = json.loads(run("evaluate", str(dest), "--json", "--bootstrap", "0").stdout)
    assert out["config"]["m"] == d["m"] and out["config"]["k"] == d["k"]
    cache = load_cache(dest)
    if d["dimee_plus"]["method"] == "dimee_plus":
        cfg = DIMEEConfig.for_cache(cache, "dimee_plus")
        assert (cfg.m, cfg.n, cfg.k) == (d["dimee_plus"]["m"], d["dimee_plus"]["n"],
                                         d["dimee_plus"]["k"])
        r = from_config(cfg, escalate=True).fit(cfg.fit_split(cache.calibration)).route(
            cache.test)
        pred = cache.test.probs[np.arange(cache.test.n), r.exit_layer - 1].argmax(1)
        assert out["methods"]["dimee_plus"]["accuracy"] == pytest.approx(
            (pred == cache.test.labels).mean())


@pytest.mark.slow
def test_tune_says_plainly_when_nothing_can_be_certified(tmp_path):
    dest = _copy_cache("trec", tmp_path)
    before = {f: (dest / f).read_bytes() for f in ("meta.json", "routing.json")
              if (dest / f).exists()}
    p = run("tune", str(dest), "--target", "0")
    assert p.returncode == 2 and "nothing stored: No setting can be guaranteed" in p.stderr
    assert {f: (dest / f).read_bytes() for f in ("meta.json", "routing.json")
            if (dest / f).exists()} == before


def test_report_refuses_a_bad_delta(capsys):
    code, _, err = run_here(capsys, "report", DEFAULT, "--delta", "1", "--out", "/nonexistent")
    assert code == 2 and "delta must lie strictly between 0 and 1" in err


# ---------------------------------------------------------------- a new user's workflow (issue 10)

def test_report_on_a_user_cache_never_overwrites_docs(tmp_path, monkeypatch, capsys):
    from dimee_core import cli, report

    from . import hostile

    hostile.small_cache(tmp_path / "mine", name="../../mine")  # a hostile name, too
    written = []

    def fake_run_report(caches, out, n_boot, **options):
        written.append(out)
        (tmp_path / out).mkdir(parents=True)
        (tmp_path / out / "results.md").write_text("table")
        return {"datasets": {c.name: {} for c in caches}}

    monkeypatch.setattr(report, "run_report", fake_run_report)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", "mine"]) == 0
    assert written == ["reports/mine"]
    assert "wrote reports/mine/results.md" in capsys.readouterr().out
    assert not (tmp_path / "docs").exists()


def test_build_help_shows_defaults(capsys):
    from dimee_core import cli

    with pytest.raises(SystemExit):
        cli.main(["build", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(the build reports the truncated share) (default: 64)" in out
    assert "--n-calibration" in out and "(default: 2000)" in out
    assert "--name NAME" in out and "--title TITLE" in out


def test_build_summary_says_what_happened():
    from dimee_core.cli_build import build_summary

    meta = {"name": "bbc", "title": "BBC news", "label_names": ["a", "b"], "num_layers": 6,
            "splits": {"train": 900, "calibration": 450, "test": 450},
            "requested_splits": {"calibration": 2000, "test": 2000}, "rows": 1500,
            "test_exit_accuracy": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
            "calibration_exit_accuracy": [0.5, 0.61, 0.7, 0.8, 0.9, 0.951],
            "truncated_share": 0.25, "build_config": {"max_length": 64},
            "build_seconds": 12.5, "train_seconds": 9.0, "device": "cpu",
            "throughput": {"train_samples_per_s": 100.0, "inference_samples_per_s": 400.0}}
    text = build_summary(meta, "cache/bbc")
    assert "calibration 450, test 450 (asked for 2000 / 2000: the data has 1500 rows" in text
    assert "test accuracy per exit (%): 50.0 60.0 70.0 80.0 90.0 95.0" in text
    assert "calibration accuracy per exit (%): 50.0 61.0 70.0 80.0 90.0 95.1" in text
    assert "25.0 % of texts were cut at --max-length 64" in text
    assert "12.5 s in all" in text and "on cpu" in text and "400.0 samples/s inference" in text


@pytest.mark.slow
def test_csv_loader_dedupes_like_the_builtins(tmp_path):
    from dimee_core.data import load_hf_dataset

    csv = tmp_path / "bbc-news.csv"
    csv.write_text("text,label\nsame,sport\nsame,sport\nclash,sport\nclash,tech\n"
                   " lone ,tech\n,tech\nother,sport\n")
    ds = load_hf_dataset(f"csv:{csv}", "text", "label")
    assert ds.text_a == ("same", "lone", "other")
    assert [ds.label_names[y] for y in ds.labels] == ["sport", "tech", "sport"]
    assert ds.name == "bbc-news"


def test_build_flags_reach_the_build_and_its_summary_is_printed(tmp_path, monkeypatch, capsys):
    from dimee_core import build, cli

    from . import hostile

    seen = {}

    def fake_run_build(cfg, progress):
        seen.update(name=cfg.name, title=cfg.title, max_length=cfg.max_length)
        return hostile.small_cache(tmp_path / "mine", name=cfg.name, title=cfg.title,
                                   splits={"train": 10}, build_config={"max_length": 64})

    monkeypatch.setattr(build, "run_build", fake_run_build)
    rc = cli.main(["build", "--dataset", "csv:x.csv", "--out", str(tmp_path / "mine"),
                   "--name", "bbc", "--title", "BBC news", "--no-progress"])
    assert rc == 0 and seen == {"name": "bbc", "title": "BBC news", "max_length": 64}
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tmp_path / 'mine'}: bbc (BBC news), 3 classes, 6 layers")
    assert "test accuracy per exit (%):" in out


@pytest.mark.slow
def test_evaluate_profile_json_matches_an_independent_computation(capsys):
    from dimee_core.cache import load_cache
    from dimee_core.config import DIMEEConfig
    from dimee_core.evaluate import evaluate
    from dimee_core.profiles import PRESETS
    from dimee_core.tokens import with_lengths

    from .test_profiles import by_hand

    trec = SHIPPED / "trec"
    code, out, err = run_here(capsys, "evaluate", trec, "--json", "--bootstrap", "0",
                              "--profile", "5G")
    assert code == 0, err
    methods = json.loads(out)["methods"]
    cache, _ = with_lengths(load_cache(trec))
    ev = evaluate(cache, n_boot=0)  # DIMEE and DIMEE+ each at its own stored setting
    for name in ("dimee", "dimee_plus", "all_in_cloud", "cascade"):
        r, out = ev.routings[name], methods[name]
        cfg = ev.config_of(name)  # DIMEE+'s split points may differ from DIMEE's
        esc = r.escalated if r.escalated is not None else np.zeros(len(r.tier), bool)
        rows = [by_hand(PRESETS["5G"], 1 if e else int(t), bool(e), int(x), cfg.m, cfg.n, 6,
                        "resume", 384, reference=name == "all_in_cloud")
                for t, e, x in zip(r.tier, esc, cache.test.lengths)]
        lat = np.array([row["latency_ms"] for row in rows])
        assert out["latency_ms"]["mean"] == pytest.approx(lat.mean(), rel=1e-9)
        assert out["latency_ms"]["p95"] == pytest.approx(np.percentile(lat, 95), rel=1e-9)
        assert out["latency_ms"]["p99"] == pytest.approx(np.percentile(lat, 99), rel=1e-9)
        assert out["phone_energy_mj"]["mean"] == pytest.approx(
            np.mean([row["energy_mj"] for row in rows]), rel=1e-9)
        assert out["money_per_million"] == pytest.approx(
            1e6 * np.mean([row["usd"] for row in rows]), rel=1e-9)
        assert out["bytes_uplink"]["mean"] == pytest.approx(
            np.mean([row["bytes_uplink"] for row in rows]), rel=1e-9)
    assert methods["dimee"]["accuracy"] == ev.methods["dimee"].accuracy


@pytest.mark.slow
def test_evaluate_profile_table_and_bad_profile(tmp_path, capsys):
    code, out, err = run_here(capsys, "evaluate", SHIPPED / "trec", "--bootstrap", "0",
                              "--profile", "Congested uplink")
    assert code == 0, err
    assert "p95" in out and "$/M req" in out and "profile Congested uplink" in out
    bad = tmp_path / "p.json"
    bad.write_text('{"name": "mine", "phone": {"watts": -3}}')
    code, _, err = run_here(capsys, "evaluate", SHIPPED / "trec", "--profile", bad)
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "phone" in err
