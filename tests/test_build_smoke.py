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


@pytest.mark.slow
def test_smoke_build_writes_a_cache_that_loads(smoke_cache_dir):
    folder = smoke_cache_dir
    cache = load_cache(folder)
    assert cache.num_layers == 6 and cache.calibration.n == 24 and cache.test.n == 24
    assert cache.calibration.feats.shape == (24, 6, 16)
    np.testing.assert_allclose(cache.test.probs.sum(2), 1, atol=1e-4)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["model_weights_sha256"].startswith("53aa5117")
    assert meta["splits"]["train"] == 48 and meta["build_seconds"] > 0
    assert meta["requested_splits"] == {"calibration": 24, "test": 24}
    assert folder.stat().st_mode & 0o777 == 0o755  # shareable cache files
    assert {p.stat().st_mode & 0o777 for p in folder.rglob("*")} == {0o644, 0o755}


@pytest.mark.parametrize("rng", [None, np.random.default_rng(0)])
def test_length_buckets_cover_every_index_once_and_cut_padding(rng):
    from dimee_core.training import BUCKET_BATCHES, _batches

    lengths = np.random.default_rng(1).integers(5, 300, size=1000)
    batches = list(_batches(1000, 16, rng, lengths))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    sizes = [len(b) for b in batches]  # 62 full batches and the rest, wherever shuffled
    assert sorted(sizes, reverse=True) == [16] * (1000 // 16) + [1000 % 16]
    if rng is None:
        assert sizes[-1] == 1000 % 16  # in order: the short batch comes last
    # padding cost: each batch pays its longest sample
    padded = sum(len(b) * lengths[b].max() for b in batches)
    plain = sum(len(b) * lengths[b].max() for b in _batches(1000, 16, rng))
    assert padded < 0.75 * plain
    assert BUCKET_BATCHES * 16 < 1000  # more than one bucket was exercised


@pytest.mark.slow
def test_length_sorted_inference_keeps_sample_order(tmp_path):
    """With frozen weights (lr 0) the bucketed and the plain build must agree row by
    row: the length sort inside inference is undone before the cache is written."""
    pytest.importorskip("torch")
    common = dict(dataset="rt-snippets", n_calibration=40, n_test=40, max_train_samples=16,
                  epochs=1, batch_size=16, feature_dim=8, threads=2, lr=0.0, head_lr=0.0)
    a = load_cache(run_build(BuildConfig(out=str(tmp_path / "a"), **common), progress=False))
    b = load_cache(run_build(BuildConfig(out=str(tmp_path / "b"), bucket_by_length=False,
                                         **common), progress=False))
    assert a.test.texts == b.test.texts
    np.testing.assert_allclose(a.test.probs, b.test.probs, atol=1e-4)
    np.testing.assert_allclose(a.calibration.probs, b.calibration.probs, atol=1e-4)


def test_precision_is_validated_and_reaches_the_build_config():
    assert BuildConfig(dataset="trec", out="x").precision == "fp32"
    assert BuildConfig(dataset="trec", out="x", precision="bf16").precision == "bf16"
    with pytest.raises(ValueError, match="precision must be fp32 or bf16"):
        BuildConfig(dataset="trec", out="x", precision="fp16")
    from dimee_core.cli import main

    with pytest.raises(SystemExit):  # argparse's choices refuse it before any build
        main(["build", "--dataset", "trec", "--out", "x", "--precision", "fp16"])
