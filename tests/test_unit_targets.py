"""Issue 18's target on the shipped caches: for every preset profile and real objective,
the answer tune stored saves at least what the cheapest certified setting chosen in
abstract units saves in that unit on the test split, and >= 0 against all-in-cloud on
test; on calibration a stored setting saves at least the margin (else all-in-cloud).
Each stored setting is rebuilt from its knobs through the evaluation path (not the
selection's code) and scored with the profile's per-request model (profiles.summarise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dimee_core import baselines
from dimee_core.config import DIMEEConfig
from dimee_core.evaluate import fit_routers, plus_routing
from dimee_core.objective import WORDS, preset_objectives
from dimee_core.profiles import summarise
from dimee_core.selection import certify, evaluate_candidates
from dimee_core.tokens import with_lengths
from dimee_core.unit_answers import MIN_SAVING_PCT
from dimee_core.unit_store import KNOBS, setting_words, stored

pytestmark = pytest.mark.slow
FIGURE = {"latency_ms": lambda s: s.latency_ms["mean"],
          "latency_p95_ms": lambda s: s.latency_ms["p95"],
          "energy_mj": lambda s: s.phone_energy_mj["mean"],
          "usd": lambda s: s.money_per_million}


def _test_routing(cache, e):
    """A stored setting's test routing, rebuilt from its knobs alone."""
    knobs = {k: v for k, v in e.items() if k in KNOBS}
    if e["method"] == "cascade":
        return baselines.cascade(cache.test.probs, knobs["alpha"], knobs["m"], knobs["n"],
                                 DIMEEConfig.for_cache(cache).costs), knobs["m"], knobs["n"]
    cfg = DIMEEConfig.for_cache(cache, **knobs)
    dimee, plus = fit_routers(cache, cfg)
    routing = (plus_routing(cache.test, cfg, plus) if e["method"] == "dimee_plus"
               else dimee.route(cache.test))
    return routing, cfg.m, cfg.n


def _saving(cache, o, routing, m, n) -> float:
    kw = dict(lengths=cache.test.lengths, m=m, n=n, num_layers=cache.num_layers)
    own = FIGURE[o.name](summarise(o.profile, routing.tier, routing.escalated, **kw))
    ref = FIGURE[o.name](summarise(o.profile, routing.tier, None, **kw, reference=True))
    return 100 * (1 - own / ref)


def test_every_stored_answer_saves_and_beats_the_abstract_choice(shipped):
    cache = with_lengths(shipped)[0]
    units = cache.defaults["units"]
    cands = evaluate_candidates(cache.calibration, DIMEEConfig.for_cache(cache))
    plain = certify(cands, units["target_pp"], units["delta"])  # chosen in abstract units
    plain_routing = cands.routing(plain.index, cache.test)
    rebuilt = {}
    for o in preset_objectives():
        e = stored(cache.defaults, o)
        assert e is not None, (o.profile.name, o.name)
        if e["method"] == "all_in_cloud":
            saved = 0.0
            assert e["test"]["reduction_pct"] == 0.0
        else:
            key = tuple(sorted((k, v) for k, v in e.items() if k in KNOBS)) + (e["method"],)
            if key not in rebuilt:
                rebuilt[key] = _test_routing(cache, e)
            saved = _saving(cache, o, *rebuilt[key])
            assert e["test"]["reduction_pct"] == pytest.approx(saved, abs=1e-6)
            assert e["calibration_reduction_pct"] >= MIN_SAVING_PCT
        abstract = _saving(cache, o, plain_routing, plain.config.m, plain.config.n)
        assert e["calibration_reduction_pct"] >= 0
        assert saved >= abstract - 1e-9, (cache.name, o.profile.name, o.name, saved, abstract)
        assert saved >= 0, (cache.name, o.profile.name, o.name, saved)


README = Path(__file__).resolve().parent.parent / "README.md"
HEADER = "| cache | profile | objective | recommended setting |"


def _readme_rows() -> dict[tuple[str, str, str], list[str]]:
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[tuple(cells[:3])] = cells[3:]
    return rows


def test_the_readme_table_is_the_stored_answers(shipped):
    """README's cache x profile x objective table says what routing.json stores: the
    setting, its certified bound and its test saving, which is >= 0 and >= the abstract
    choice's saving beside it (test_every_stored_answer_saves... recomputes both)."""
    rows = _readme_rows()
    for o in preset_objectives():
        e = stored(shipped.defaults, o)
        setting, bound, saved, abstract = rows[(shipped.name, o.profile.name, WORDS[o.name])]
        assert setting == setting_words(e)
        assert bound == ("—" if e.get("bound_pp") is None else f"{e['bound_pp']:+.2f}")
        assert saved == f"{e['test']['reduction_pct']:.1f} %"
        assert float(saved[:-2]) >= 0 and float(saved[:-2]) >= float(abstract[:-2])
