"""Shared fixtures: synthetic splits with known structure, and the shipped caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dimee_core.cache import load_cache
from dimee_core.splits import Split

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "cache"


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
