"""routing.json, the tuned settings beside a cache: the loader refuses hostile settings,
old caches with settings inside meta.json load and migrate, and the shipped caches are
migrated with their build identity intact."""
import json
import re

import pytest

from dimee_core.cache import CacheError, load_cache

from . import hostile


@pytest.fixture
def toy(tmp_path):
    return hostile.small_cache(tmp_path / "toy")


@pytest.mark.parametrize("defaults, message", [
    ({"k": "12"}, "n_clusters must be an integer"),
    ({"k": 31}, r"n_clusters must be an integer \[1, 30\]"),  # more than calibration
    ({"m": 4, "n": 3}, "1 <= m < n < L=6"),
    ({"m": 2.0}, "split points must be integers"),
    ({"alpha": 2}, r"alpha must be a number in \[0.0, 1.0\]"),
    ({"features": "magic"}, "features must be one of"),
    ({"policy": None}, "policy must be one of"),
    ({"epsilon": True}, "epsilon must be a number"),
    ({"random_state": -1}, "random_state must be an integer"),
    ({"fit_fraction": "x"}, r"fit_fraction must be a number in \(0.0, 1.0\], got 'x'"),
    ({"fit_fraction": 0}, r"fit_fraction must be a number in \(0.0, 1.0\]"),
    ({"target_pp": "1"}, "target_pp must be a number"),
    ({"delta": 1.5}, "delta must be a number"),
    ({"n_fit": 1.5}, "n_fit must be an integer"),
    ({"chosen_by": ["a"]}, "chosen_by must be a string"),
    ({"surprise": 1}, "unknown setting 'surprise'"),
    ({"dimee_plus": {"method": "magic"}}, "dimee_plus: method must be one of"),
    ({"dimee_plus": {"method": "cascade", "alpha": "x"}}, "dimee_plus: alpha must be a number"),
    ({"dimee_plus": [1]}, "dimee_plus must be an object"),
    ({"costs": {"o_cloud": -1}}, "cost o_cloud must be a number in"),
    ({"costs": {"warp": 1}}, "costs: unknown setting 'warp'"),
    ({"costs": [1, 2]}, "costs must be an object"),
    ([1, 2], "the settings must be an object"),
    ("k=3", "the settings must be an object"),
])
def test_hostile_routing_settings_are_refused_by_the_loader(toy, defaults, message):
    """Every stored field is checked by type and range: one CacheError line naming
    routing.json, never a TypeError from deep inside (issue 21, item 4)."""
    hostile.write_routing(toy, defaults)
    with pytest.raises(CacheError, match="routing settings are not a valid configuration"
                       ) as err:
        load_cache(toy)
    assert "routing.json" in str(err.value)
    assert re.search(message, str(err.value)), str(err.value)


def test_an_old_cache_with_settings_in_meta_loads_and_migrates(toy):
    """An old cache (settings in meta.json["defaults"]) loads through the same
    validation; migrate moves them into routing.json and keeps the build's identity."""
    from dimee_core import tuned
    from dimee_core.writer import migrate

    new = load_cache(toy)
    (toy / "routing.json").unlink()
    hostile.edit_meta(toy, defaults=dict(hostile.ROUTING))
    old = load_cache(toy)
    assert old.defaults == new.defaults == hostile.ROUTING
    assert old.build_id == new.build_id
    assert migrate(toy) is True
    assert "defaults" not in json.loads((toy / "meta.json").read_text())
    assert json.loads((toy / tuned.ROUTING_FILE).read_text()) == hostile.ROUTING
    assert load_cache(toy).build_id == new.build_id
    assert migrate(toy) is False  # nothing left to move
    hostile.edit_meta(toy, defaults={"fit_fraction": "x"})  # a bad old cache: one line
    (toy / "routing.json").unlink()
    with pytest.raises(CacheError, match=r"meta.json: the stored routing settings .*"
                                         r"fit_fraction must be a number"):
        load_cache(toy)


def test_valid_defaults_and_notes_survive(toy):
    c = load_cache(toy)
    assert c.defaults["k"] == 3 and c.defaults["chosen_by"] == "a note"
    assert c.warnings == ()


def test_settings_are_validated_before_they_are_written(toy):
    from dimee_core import tuned

    before = (toy / "routing.json").read_text()
    with pytest.raises(ValueError, match="alpha must be a number"):
        tuned.save(toy, {"alpha": 7}, 6, 30)
    assert (toy / "routing.json").read_text() == before
    tuned.save(toy, {"alpha": 0.7, "k": 2}, 6, 30)
    assert load_cache(toy).defaults == {"alpha": 0.7, "k": 2}


@pytest.mark.slow
def test_shipped_caches_are_migrated_and_keep_their_identity():
    """The four shipped caches hold their tuned settings in routing.json (meta.json is the
    build's record only); their build ids are the ones measured before the migration,
    so the Overview still finds their rows in docs/results.json."""
    from dimee_core import tuned
    from dimee_core.cache import list_caches
    from dimee_core.report import headline_table, load_results

    from .conftest import ROOT

    before = {"rt-snippets": "4ff2b70ea4c6b0a8", "sms-spam": "eca58a4fb50a857b",
              "trec": "481fe3f9e7e59f43", "vitaminc": "1e2522099e8e40c4"}
    result = load_results(ROOT / "docs" / "results.json")
    folders = list_caches(ROOT / "cache")
    assert sorted(p.name for p in folders) == sorted(before)
    for folder in folders:
        assert "defaults" not in json.loads((folder / "meta.json").read_text())
        cache = load_cache(folder)
        assert cache.build_id == before[folder.name]
        assert cache.defaults == json.loads((folder / tuned.ROUTING_FILE).read_text())
        assert tuned.guarantee(cache.defaults).target_pp in (0.3, 1.0)
        assert headline_table(result, cache) is not None
