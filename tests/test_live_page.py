"""The Live page in AppTest, on a real smoke build that ships its model."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest

pytest.importorskip("torch")
from streamlit.testing.v1 import AppTest  # noqa: E402

from dimee_core.cache import META_FILE, MODEL_DIR, load_cache  # noqa: E402
from dimee_core.costs import TIERS  # noqa: E402
from dimee_core.evaluate import fit_routers  # noqa: E402
from dimee_core.predict import LiveModel, route  # noqa: E402
from ui import datasets, settings  # noqa: E402

from .conftest import ROOT  # noqa: E402

pytestmark = pytest.mark.slow  # AppTest: each test runs the app (seconds)

APP = str(ROOT / "app.py")
SENTENCE = "An utterly charming, funny and moving film."


def _live(root, monkeypatch, lesson: str = "yours") -> AppTest:
    """The Live page at the sidebar's settings (``lesson``: which setting it runs at)."""
    monkeypatch.setattr(datasets, "CACHE_ROOT", root)
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.session_state["lesson"] = lesson
    at.switch_page("pages/live.py").run()
    _clean(at)
    return at


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metrics(at: AppTest) -> dict:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    """The one dataframe on the page with ``column`` (dataframes carry no key here)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


@pytest.fixture
def at(smoke_cache_dir, monkeypatch):
    return _live(smoke_cache_dir.parent, monkeypatch)


def _expected(cache, cfg, text):
    """The route computed without the page: the model, then routers fitted here."""
    out = LiveModel(cache).run([text])
    return route(out, *fit_routers(cache, cfg), cache.label_names), out


def test_type_a_sentence_see_the_route(at, smoke_cache_dir, monkeypatch):
    assert "Type a text above" in at.info[0].value
    at.text_area(key="live_text").input(SENTENCE).run()
    _clean(at)
    cache = load_cache(smoke_cache_dir)
    cfg = settings.config_from(cache, settings.defaults(cache))
    want, out = _expected(cache, cfg, SENTENCE)
    shown = _metrics(at)
    ref = cfg.costs.reference_cost(cache.num_layers)
    for label, key in (("DIMEE sends it to", "dimee"), ("DIMEE+ sends it to", "dimee_plus")):
        r = want[key][0]
        assert shown[label] == (r.tier, f"cost {r.cost:.2f} of {ref:.2f}")
    final = cache.label_names[int(out.probs[0, -1].argmax())]
    assert shown["The final exit says"][0] == final
    assert len(at.get("plotly_chart")) >= 1
    features = _frame(at, "feature")
    assert len(features) == 4 * cfg.m - 1  # 'signals': conf, margin, entropy, agreement
    assert features["value"].iloc[0] == pytest.approx(out.probs[0, 0].max(), abs=1e-6)
    assert any(f"cluster {want['dimee'][0].cluster}" in c.value for c in at.caption)

    # a sidebar change re-routes from the session's outputs: the model never runs again
    monkeypatch.setattr(LiveModel, "run", lambda *a, **k: pytest.fail("model re-ran"))
    at.sidebar.slider(key="oc").set_value(12.0).run()
    _clean(at)
    cfg12 = replace(cfg, costs=replace(cfg.costs, o_cloud=12.0))
    dimee, plus = fit_routers(cache, cfg12)
    again = route(out, dimee, plus, cache.label_names)
    assert _metrics(at)["DIMEE+ sends it to"] == (
        again["dimee_plus"][0].tier, f"cost {again['dimee_plus'][0].cost:.2f} of 18.00")


def test_examples_come_from_what_the_router_does(at):
    buttons = {b.key: b for b in at.button if b.key and b.key.startswith("live_ex_")}
    assert set(buttons) == {"live_ex_easy", "live_ex_medium", "live_ex_hard"}
    enabled = [k for k, b in buttons.items() if not b.disabled]
    assert enabled  # the smoke router sends something somewhere
    tier_of = {"live_ex_easy": "mobile", "live_ex_medium": "edge", "live_ex_hard": "cloud"}
    for key in enabled:
        at.button(key=key).click().run()
        _clean(at)
        assert at.text_area(key="live_text").value  # a test text was filled in
        assert _metrics(at)["DIMEE+ sends it to"][0] == tier_of[key]


def test_long_text_says_it_was_truncated(at):
    at.text_area(key="live_text").input("a long and winding review " * 30).run()
    _clean(at)
    assert any("longer than the model reads (64 tokens)" in w.value for w in at.warning)


def test_csv_upload_routes_every_row(at, smoke_cache_dir):
    cache = load_cache(smoke_cache_dir)
    texts = list(cache.test.texts[:6])
    data = pd.DataFrame({"id": range(6), "review": texts}).to_csv(index=False).encode()
    at.file_uploader(key="live_csv").set_value(("reviews.csv", data, "text/csv")).run()
    at.selectbox(key="live_csv_col").set_value("review").run()
    at.button(key="live_csv_go").click().run()
    _clean(at)
    table = _frame(at, "dimee_tier")
    assert table["text"].tolist() == texts
    assert set(table["dimee_tier"]) <= set(TIERS)
    assert table["exit6_conf"].tolist() == pytest.approx(cache.test.probs[:6, 5].max(1),
                                                         abs=1e-4)
    assert at.get("download_button")


def test_csv_upload_errors_are_one_message(at):
    at.file_uploader(key="live_csv").set_value(("bad.csv", "review\ncaf\u00e9\n".encode(
        "latin-1"), "text/csv")).run()
    assert "not UTF\\-8 text" in at.error[0].value
    at.file_uploader(key="live_csv").set_value(("e.csv", b"review,x\n,1\n", "text/csv")).run()
    at.button(key="live_csv_go").click().run()
    assert "line 2\\:\u2060 the text is empty" in at.error[0].value  # no autolink


def test_csv_upload_over_the_size_limit_is_refused_unread(at, monkeypatch):
    from ui import live

    monkeypatch.setattr(live, "MAX_CSV_BYTES", 2**20)  # 1 MB: the limit, not its size, is tested
    big = b"review\n" + b"x" * (2**20)
    at.file_uploader(key="live_csv").set_value(("big.csv", big, "text/csv")).run()
    assert [e.value for e in at.error] == [
        "The upload holds 1.0 MB; the Live page reads CSVs of at most 1 MB. Split it, or "
        "route it with `python -m dimee_core predict CACHE --file ...`."]
    assert "live_csv_col" not in [s.key for s in at.selectbox]  # never parsed


def test_hostile_label_names_are_escaped(smoke_cache_dir, tmp_path, monkeypatch):
    root = tmp_path / "root"
    folder = shutil.copytree(smoke_cache_dir, root / "hostile")
    meta = json.loads((folder / META_FILE).read_text())
    meta["label_names"] = ["[click me](https://evil.example/)", "![x](http://evil.example/b.png)"]
    (folder / META_FILE).write_text(json.dumps(meta))
    at = _live(root, monkeypatch)
    at.text_area(key="live_text").input(SENTENCE).run()
    _clean(at)
    answers = [m.value for m in at.markdown if m.value.startswith("Answer")]
    assert len(answers) == 2
    for text in answers:
        assert "](" not in text.replace("\\]\\(", "")  # every link bracket escaped


def test_cache_without_model_says_why(smoke_cache_dir, tmp_path, monkeypatch):
    root = tmp_path / "root"
    folder = shutil.copytree(smoke_cache_dir, root / "nomodel")
    shutil.rmtree(folder / MODEL_DIR)
    at = _live(root, monkeypatch)
    assert "this cache has none: the cache's model/ folder is missing" in at.info[0].value
    assert not at.text_area


def test_opens_at_the_illustrative_setting_labelled_not_certified(smoke_cache_dir,
                                                                 monkeypatch):
    """At the data set's defaults the page runs the illustrative setting (not the
    sidebar's), says it is not certified, and routes a text with routers fitted here."""
    from dimee_core.teaching import illustrative_setting

    monkeypatch.setattr(datasets, "CACHE_ROOT", smoke_cache_dir.parent)
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/live.py").run()
    _clean(at)
    assert at.session_state["lesson"] == "illustrative"
    assert "Illustrative setting, not certified" in at.info[0].value
    at.text_area(key="live_text").input(SENTENCE).run()
    cache = load_cache(smoke_cache_dir)
    ill = illustrative_setting(cache).config
    assert ill.features == "signals" and ill.policy == "budget" and ill.epsilon == 1.0
    want, _ = _expected(cache, ill, SENTENCE)
    ref = ill.costs.reference_cost(cache.num_layers)
    shown = _metrics(at)
    for label, key in (("DIMEE sends it to", "dimee"), ("DIMEE+ sends it to", "dimee_plus")):
        r = want[key][0]
        assert shown[label] == (r.tier, f"cost {r.cost:.2f} of {ref:.2f}")
    assert any(f"after layer {ill.m}" in s.value for s in at.subheader)


def test_mark_the_true_label_says_which_routes_were_right(at, smoke_cache_dir):
    """Each answer (final exit, DIMEE's and DIMEE+'s exits) is judged against the label
    the user marks, from the model's own probabilities recomputed here; an unsure
    answer (its exit below α) says so; the tally counts the session's marked texts."""
    at.text_area(key="live_text").input(SENTENCE).run()
    cache = load_cache(smoke_cache_dir)
    cfg = settings.config_from(cache, settings.defaults(cache))
    want, out = _expected(cache, cfg, SENTENCE)
    probs, names = out.probs[0], cache.label_names
    exits = {"final": 6, "DIMEE": want["dimee"][0].exit_layer,
             "DIMEE+": want["dimee_plus"][0].exit_layer}
    labels = {k: names[int(probs[e - 1].argmax())] for k, e in exits.items()}
    truth = names[0]
    at.segmented_control(key="live_truth").set_value(truth).run()
    _clean(at)
    line = next(m.value for m in at.markdown if m.value.startswith("The final exit"))
    for part, key in zip(line.split(" · "), ("final", "DIMEE", "DIMEE+")):
        assert f"**{labels[key]}** from exit {exits[key]}" in part
        assert ("**right**" if labels[key] == truth else "**wrong**") in part
    tally = next(c.value for c in at.caption if c.value.startswith("Your 1 marked text"))
    right = int(labels["final"] == truth)
    assert f"The final exit (all in cloud) right on {right} of 1" in tally
    conf = float(probs[-1].max())
    delta = _metrics(at)["The final exit says"][1]
    assert ("unsure" in delta) == (conf < cfg.alpha), (delta, conf, cfg.alpha)
    # a new text starts unmarked; the tally keeps the first
    at.text_area(key="live_text").input("Dull and far too long.").run()
    _clean(at)
    assert at.segmented_control(key="live_truth").value is None
    assert any(c.value.startswith("Your 1 marked text") for c in at.caption)


def test_features_table_has_no_empty_rows():
    from ui import live

    assert live.table_height(1) == 35 * 2 + 3  # header + one row
    assert live.table_height(4) == 35 * 5 + 3
    assert live.table_height(40) == 35 * 7 + 3  # scrolls past six rows
