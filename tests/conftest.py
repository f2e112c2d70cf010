"""Shared fixtures: synthetic splits with known structure, and the shipped caches."""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from dimee_core.cache import load_cache
from dimee_core.splits import Split

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "cache"
REQUIRE_OPTIONAL_ENV = "DIMEE_REQUIRE_OPTIONAL"  # "1" (.ci/run): a missing part fails


def optional_required() -> bool:
    return os.environ.get(REQUIRE_OPTIONAL_ENV) == "1"


def optional_import(name: str):
    """``pytest.importorskip(name)``; a plain import under DIMEE_REQUIRE_OPTIONAL=1, so CI
    fails instead of skipping when an optional part (Ray) is missing."""
    return importlib.import_module(name) if optional_required() else pytest.importorskip(name)


def browser_missing() -> str | None:
    """Why the real-browser tests cannot run here (None: Playwright and Chromium are
    installed)."""
    from tests.browser import CHROMIUM

    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is not installed at {CHROMIUM}"
    return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these marks
def pytest_collection_modifyitems(config, items):
    why = None if optional_required() else browser_missing()
    for item in items:
        if "smoke_cache_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)  # needs the session's real build (minutes)
        if why and item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=why))


def synthetic_split(n: int = 400, L: int = 6, C: int = 3, d: int = 8,
                    seed: int = 0) -> Split:
    """Samples of mixed difficulty: confidence and correctness grow with depth."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, n)
    difficulty = rng.uniform(0, 1, n)
    probs = np.empty((n, L, C), np.float32)
    for layer in range(L):
        strength = (layer + 1) / L * 4 * (1 - 0.8 * difficulty)
        logits = rng.normal(0, 1, (n, C))
        logits[np.arange(n), labels] += strength
        e = np.exp(logits - logits.max(1, keepdims=True))
        probs[:, layer] = e / e.sum(1, keepdims=True)
    feats = rng.normal(0, 1, (n, L, d)).astype(np.float32)
    feats[:, :, 0] += 3 * difficulty[:, None]
    return Split(labels, probs, feats, tuple(f"sample {i}" for i in range(n)))


@pytest.fixture
def split() -> Split:
    return synthetic_split()


def shipped_names() -> list[str]:
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "meta.json").is_file())


@pytest.fixture(scope="session", params=shipped_names())
def shipped(request):
    return load_cache(SHIPPED / request.param)


SMOKE_BUILD = dict(dataset="rt-snippets", n_calibration=24, n_test=24, max_train_samples=48,
                   epochs=1, batch_size=16, feature_dim=16, threads=2)


@pytest.fixture(scope="session")
def smoke_cache_dir(tmp_path_factory) -> Path:
    """One real LoRA build on a few dozen rt-snippets samples (model/ included), shared
    by the build and predict tests. Read-only: copy it before tampering."""
    pytest.importorskip("torch")
    from dimee_core.build import BuildConfig, run_build

    out = tmp_path_factory.mktemp("smoke") / "rt-smoke"
    return run_build(BuildConfig(out=str(out), **SMOKE_BUILD), progress=False)
