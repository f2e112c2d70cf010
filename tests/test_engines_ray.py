"""The Ray build engine on an embedded local Ray, with smoke-sized builds.

One Ray session serves the module. The local-engine reference build runs through the
sweep (each sweep entry is ``run_build`` with the local engine inside one Ray task), so
the module pays for two local builds (in parallel) and two Ray builds (1 and 2 workers).
"""

import json
import socket
import sys

import numpy as np
import pytest

from dimee_core.build import run_build
from dimee_core.cache import load_cache, load_model_files
from dimee_core.cli import main
from dimee_core.engines.ray import (FAIL_ONCE_ENV, EngineError, check_reachable, import_ray,
                                    ray_session)
from dimee_core.sweep import load_sweep, run_sweep
from dimee_core.training import BuildConfig, load_tokenizer, prepare_data

from .conftest import SMOKE_BUILD, optional_import

ray = optional_import("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

SMOKE = dict(SMOKE_BUILD, threads=1)  # one CPU per Ray worker: 2 workers fit on 2 cores


@pytest.fixture(scope="module")
def session():
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def sweep_caches(session, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    spec = [dict(SMOKE, out=str(root / "rt-local")),
            dict(dataset="trec", out=str(root / "trec"), n_calibration=16, n_test=16,
                 max_train_samples=24, epochs=1, batch_size=8, feature_dim=8)]
    (root / "sweep.json").write_text(json.dumps(spec))
    return [load_cache(p) for p in run_sweep(load_sweep(root / "sweep.json"), 2,
                                             progress=False)]


@pytest.fixture(scope="module")
def local_cache(sweep_caches):
    return sweep_caches[0]


@pytest.fixture(scope="module")
def ray_build(session, tmp_path_factory):
    """A 1-worker Ray build whose first inference call kills its actor's process."""
    root = tmp_path_factory.mktemp("ray")
    marker = root / "failed-once"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(FAIL_ONCE_ENV, str(marker))
        cfg = BuildConfig(out=str(root / "rt-ray"), engine="ray", workers=1, **SMOKE)
        cache = load_cache(run_build(cfg, progress=False))
    return cfg, cache, marker


def test_sweep_writes_every_cache(sweep_caches):
    rt, trec = sweep_caches
    assert (rt.name, rt.calibration.n, rt.test.n) == ("rt-snippets", 24, 24)
    assert (trec.name, trec.test.n, trec.calibration.feats.shape[2]) == ("trec", 16, 8)
    assert rt.meta["engine"] == "local" and rt.model_status is None


def test_one_worker_ray_build_matches_the_local_engine(ray_build, local_cache):
    _, cache, _ = ray_build
    assert cache.meta["engine"] == "ray" and cache.meta["splits"]["train"] == 48
    assert cache.test.texts == local_cache.test.texts  # same samples, same order
    for split in ("test_exit_accuracy", "calibration_exit_accuracy"):
        diff = np.abs(np.subtract(cache.meta[split], local_cache.meta[split]))
        assert diff.max() <= 0.005, (split, cache.meta[split], local_cache.meta[split])


def _single_process(cache, cfg):
    """Probabilities and token counts of ``cache``'s shipped model, run in this process."""
    from dimee_core.training import infer_batches
    from dimee_core.model import model_from_tensors

    files = load_model_files(cache)
    ds, splits = prepare_data(cfg)
    model = model_from_tensors(files.config, files.tensors)
    tok = load_tokenizer(files.config)
    return ds, splits, [infer_batches(model, tok, ds, idx, cfg.max_length)
                        for idx in (splits.calibration, splits.test)]


def test_a_killed_inference_actor_is_retried_and_the_cache_is_complete(ray_build):
    cfg, cache, marker = ray_build
    assert marker.exists()  # the failure was injected: one actor process died
    ds, splits, (cal, test) = _single_process(cache, cfg)
    assert cache.test.texts == tuple(ds.display_text(i) for i in splits.test)
    for got, (probs, _, lengths) in ((cache.calibration, cal), (cache.test, test)):
        assert got.n == len(lengths)
        np.testing.assert_array_equal(got.lengths, lengths)
        assert np.abs(got.probs - probs).max() <= 1e-5


def test_two_worker_build_ships_weights_whose_probabilities_ray_reproduces(session,
                                                                           tmp_path):
    """DDP training on 2 workers, inference on 2 actors. For the fixed weights the cache
    ships, Ray Data returned the single-process numbers, row by row."""
    cfg = BuildConfig(out=str(tmp_path / "rt-2"), engine="ray", workers=2, **SMOKE)
    cache = load_cache(run_build(cfg, progress=False))
    assert cache.meta["build_config"]["workers"] == 2
    assert np.isfinite(cache.meta["final_train_loss"])
    ds, splits, (cal, test) = _single_process(cache, cfg)
    assert cache.test.texts == tuple(ds.display_text(i) for i in splits.test)
    for got, (probs, _, lengths) in ((cache.calibration, cal), (cache.test, test)):
        np.testing.assert_array_equal(got.lengths, lengths)  # token counts: sample order
        assert np.abs(got.probs - probs).max() <= 1e-5


# ---------------------------------------------------------------- bad input

def test_zero_workers_is_refused(capsys):
    with pytest.raises(ValueError, match="--workers must be at least 1"):
        BuildConfig(dataset="trec", out="x", engine="ray", workers=0)
    assert main(["build", "--dataset", "trec", "--out", "x", "--engine", "ray",
                 "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def _assert_nothing_written(folder):
    assert not folder.exists()
    assert list(folder.parent.iterdir()) == []  # no staging folder left either


def test_gpus_on_a_cluster_without_gpus_fail_before_any_work(session, tmp_path):
    cfg = BuildConfig(out=str(tmp_path / "c"), engine="ray", gpus_per_worker=1, **SMOKE)
    with pytest.raises(EngineError, match="needs 1 GPUs; the Ray cluster has 0"):
        run_build(cfg, progress=False)
    _assert_nothing_written(tmp_path / "c")


def test_fewer_training_samples_than_workers_fail_before_training(session, tmp_path):
    cfg = BuildConfig(out=str(tmp_path / "c"), engine="ray", workers=4,
                      **dict(SMOKE, max_train_samples=3))
    with pytest.raises(EngineError, match="holds 3 samples, fewer than --workers 4"):
        run_build(cfg, progress=False)
    _assert_nothing_written(tmp_path / "c")


def test_unreachable_ray_address_fails_fast_with_one_line(monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(EngineError, match=f"RAY_ADDRESS=127.0.0.1:{port}: no Ray cluster "
                                          f"answered"):
        with ray_session(1):
            pass
    with pytest.raises(EngineError, match="host:port"):
        check_reachable("nonsense")


def test_missing_ray_names_the_requirements_file(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EngineError, match=r"pip install -r requirements-scale\.txt"):
        import_ray()


@pytest.mark.parametrize("spec, message", [
    ([{"dataset": "trec", "out": "a", "epoch": 1}], "unknown field 'epoch'"),
    ([{"dataset": "trec", "out": "a"}, {"dataset": "sms-spam", "out": "a"}],
     "same cache folder"),
    ([{"dataset": "trec", "out": "a", "engine": "ray"}], "local engine"),
    ([{"dataset": "trec", "out": "a", "lora_r": 0}], "entry 1: LoRA rank"),
    ({"dataset": "trec"}, "non-empty JSON list"),
])
def test_bad_sweep_files_are_refused_before_any_build(tmp_path, spec, message):
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(EngineError, match=message):
        load_sweep(path)
