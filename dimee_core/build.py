"""Fine-tune a multi-exit encoder on real data and write a DIMEE cache.

Steps: load + group-split the data, fine-tune every exit with PABEE's weighted loss
(LoRA adapters by default, optionally with self-distillation from the final exit), run
calibration and test once through the model rebuilt from the exact tensors the cache
ships, reduce each layer's pooled hidden state with PCA fitted on calibration, write
the cache (and its ``model/``) atomically.
"""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .cache import MAX_TEXT_CHARS, ModelFiles
from .splits import Split
from .training import BuildConfig, fit_pca, prepare_data, project
from .writer import write_cache


def make_engine(cfg: BuildConfig, progress: bool = True):
    if cfg.engine == "ray":
        from .engines.ray import RayEngine

        return RayEngine(cfg, progress)
    from .engines.local import LocalEngine

    return LocalEngine(cfg, progress)


def run_build(cfg: BuildConfig, progress: bool = True) -> Path:
    """Train, infer calibration + test, fit the PCA map, write the cache atomically.
    Only training and inference differ between engines; nothing is written unless every
    step succeeded."""
    started = time.perf_counter()
    with make_engine(cfg, progress) as engine:
        ds, splits = prepare_data(cfg)
        engine.check(ds, splits)
        trained = engine.train(ds, splits)
        train_seconds = time.perf_counter() - started
        infer_started = time.perf_counter()
        (cal_probs, cal_hidden, cal_len), (test_probs, test_hidden, test_len) = engine.infer(
            trained, ds, [splits.calibration, splits.test])
        infer_seconds = time.perf_counter() - infer_started
    pca_mean, pca_components = fit_pca(cal_hidden, cfg.feature_dim, cfg.random_state)
    d = pca_components.shape[1]

    def split(idx, probs, hidden, lengths) -> Split:
        return Split(ds.labels[idx], probs, project(hidden, pca_mean, pca_components),
                     tuple(ds.display_text(i)[:MAX_TEXT_CHARS] for i in idx),  # loader's cap
                     lengths)

    cal = split(splits.calibration, cal_probs, cal_hidden, cal_len)
    test = split(splits.test, test_probs, test_hidden, test_len)
    files = None
    if trained.tensors is not None:
        files = ModelFiles(dict(trained.config, feature_dim=int(d)),
                           dict(trained.tensors, **{"pca.mean": pca_mean,
                                                    "pca.components": pca_components}))
    exit_acc = (test.probs.argmax(2) == test.labels[:, None]).mean(0)
    cal_acc = (cal.probs.argmax(2) == cal.labels[:, None]).mean(0)
    losses = trained.losses
    meta = {
        "name": cfg.name or ds.name,
        "title": cfg.title or ds.title,
        "source": ds.source,
        "licence": ds.licence,
        "task": "pair" if ds.text_b is not None else "single",
        "label_names": list(ds.label_names),
        "model_id": cfg.model,
        "model_weights_sha256": trained.config["base_model_sha256"],
        "num_layers": int(trained.config["num_layers"]),
        "hidden_size": int(cal_hidden.shape[2]),
        "feature_dim": int(d),
        "feature_note": "mean-pooled hidden state per layer, PCA (fit on calibration)",
        "splits": {"train": int(len(splits.train)), "calibration": cal.n, "test": test.n},
        "requested_splits": {"calibration": cfg.n_calibration, "test": cfg.n_test},
        "rows": len(ds),
        "class_counts_test": np.bincount(test.labels, minlength=len(ds.label_names)).tolist(),
        "test_exit_accuracy": [round(float(a), 4) for a in exit_acc],
        "calibration_exit_accuracy": [round(float(a), 4) for a in cal_acc],
        "final_train_loss": round(float(np.mean(losses[-20:])), 4),
        "finetune": cfg.finetune,
        "trained_parameters": int(trained.trained_parameters),
        "truncated_share": round(float(np.mean(np.concatenate([cal_len, test_len])
                                               >= cfg.max_length)), 4),
        "build_command": "python -m dimee_core build " + " ".join(
            shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["build"] else None,
        "build_config": asdict(cfg),
        "engine": cfg.engine,
        "device": trained.device,
        "throughput": {
            "train_samples_per_s": round(len(losses) * cfg.batch_size * cfg.workers
                                         / max(train_seconds, 1e-9), 1),
            "inference_samples_per_s": round((cal.n + test.n) / max(infer_seconds, 1e-9), 1)},
        "build_seconds": round(time.perf_counter() - started, 1),
        "train_seconds": round(train_seconds, 1),
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": _torch_version(),
    }
    return write_cache(cfg.out, meta, cal, test, files, routing=cfg.defaults)


def _torch_version() -> str:
    import torch

    return torch.__version__
