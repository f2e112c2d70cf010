"""A real build end to end: real model, real data, a few dozen samples."""

import json

import numpy as np
import pytest

from dimee_core.build import BuildConfig, run_build
from dimee_core.cache import load_cache
from dimee_core.data import load_rt_snippets, make_splits


def test_group_split_has_no_leakage():
    ds = load_rt_snippets()
    s = make_splits(ds.groups, 300, 300, 500, random_state=0)
    sets = [set(ds.groups[i] for i in idx) for idx in (s.train, s.calibration, s.test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(s.train) == 500 and len(s.test) >= 300


def test_smoke_build_writes_a_cache_that_loads(tmp_path):
    pytest.importorskip("torch")
    cfg = BuildConfig(dataset="rt-snippets", out=str(tmp_path / "rt-smoke"), n_calibration=24,
                      n_test=24, max_train_samples=48, epochs=1, batch_size=16,
                      feature_dim=16, threads=2)
    folder = run_build(cfg, progress=False)
    cache = load_cache(folder)
    assert cache.num_layers == 6 and cache.calibration.n == 24 and cache.test.n == 24
    assert cache.calibration.feats.shape == (24, 6, 16)
    np.testing.assert_allclose(cache.test.probs.sum(2), 1, atol=1e-4)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["model_weights_sha256"].startswith("53aa5117")
    assert meta["splits"]["train"] == 48 and meta["build_seconds"] > 0
