"""Inference throughput of the Ray engine against the local engine, in one run.

    python bench/bench_ray.py [--n 2000] [--repeat 2] [--simulate 1 2 4]

Both engines run the same fixed weights (a freshly initialised MiniLM with adapters and
exit heads) over the same ``n`` rt-snippets samples, split in two like calibration and
test, and both times include loading the model (the local process once, every Ray actor
once). Lines printed:

1. the local engine (one process, 2 torch threads) vs Ray Data with 2 actors (1 thread
   each) on this machine: samples/s and the ratio (target >= 0.8);
2. a simulated N-worker run: an embedded Ray with N actors at one thread each, samples/s in all and per worker. On a 2-core machine N > 2 only
   time-slices the same cores, so per-worker throughput must fall there; on a real
   cluster each actor has its own cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from dimee_core.engines.local import LocalEngine
from dimee_core.training import (BuildConfig, Trained, init_model, model_config,
                                 prepare_data)
from dimee_core.engines.ray import RayEngine
from dimee_core.model import export_tensors


def fixed_weights(cfg: BuildConfig, ds) -> Trained:
    _, model, sha = init_model(cfg, len(ds.label_names))
    return Trained(model_config(cfg, ds, model.num_layers, sha), export_tensors(model),
                   None, [0.0], 0, "cpu")


def timed_infer(engine, trained: Trained, ds, parts) -> float:
    started = time.perf_counter()
    outputs = engine.infer(trained, ds, parts)
    seconds = time.perf_counter() - started
    assert sum(len(o[0]) for o in outputs) == sum(len(p) for p in parts)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="samples (calibration + test)")
    ap.add_argument("--simulate", type=int, nargs="*", default=[1, 2, 4],
                    help="worker counts for the simulated cluster")
    ap.add_argument("--repeat", type=int, default=2, help="alternating local/Ray runs")
    args = ap.parse_args()

    half = args.n // 2
    base = dict(dataset="rt-snippets", out="unused", n_calibration=half, n_test=half,
                max_train_samples=64)
    cfg = BuildConfig(**base, threads=2)
    ds, splits = prepare_data(cfg)
    parts = [splits.calibration, splits.test]
    n = sum(len(p) for p in parts)
    trained = fixed_weights(cfg, ds)

    # alternate the two engines so the machine's changing load hits both alike
    local_runs, ray_runs = [], []
    for _ in range(args.repeat):
        local_runs.append(timed_infer(LocalEngine(cfg, progress=False), trained, ds, parts))
        with RayEngine(BuildConfig(**base, engine="ray", workers=2, threads=1),
                       progress=False) as engine:
            ray_runs.append(timed_infer(engine, trained, ds, parts))
    local_s, ray_s = np.median(local_runs), np.median(ray_runs)
    print(f"inference of {n} samples, model load included, median of {args.repeat}")
    print(f"  local engine (1 process, 2 threads): {n / local_s:7.1f} samples/s")
    print(f"  Ray Data, 2 actors x 1 thread:       {n / ray_s:7.1f} samples/s  "
          f"ratio {local_s / ray_s:.2f}x (target >= 0.8x)")

    print("simulated N-worker cluster (N actors x 1 thread)")
    for workers in args.simulate:
        rcfg = BuildConfig(**base, engine="ray", workers=workers, threads=1)
        with RayEngine(rcfg, progress=False) as engine:
            seconds = timed_infer(engine, trained, ds, parts)
        rate = n / seconds
        print(f"  N={workers}: {rate:7.1f} samples/s, {rate / workers:6.1f} per worker")
    print(f"(cores on this machine: {len(os.sched_getaffinity(0))}; load average "
          f"{np.round(os.getloadavg(), 1).tolist()})")


if __name__ == "__main__":
    main()
