"""Fine-tune a multi-exit encoder on real data and write a DIMEE cache.

Steps: load + group-split the data, fine-tune every exit with PABEE's weighted loss,
run calibration and test once through the model, reduce each layer's pooled hidden
state with PCA fitted on calibration, write the cache atomically.
"""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cache import MAX_FEATURE_DIM, Split, write_cache
from .data import BUILTIN, DataError, TextDataset, load_hf_dataset, make_splits


@dataclass
class BuildConfig:
    """Everything that determines a cache build (recorded in its meta.json)."""

    dataset: str  # a built-in name (rt-snippets, trec, sms-spam, vitaminc) or a datasets spec
    out: str  # cache folder to write
    model: str = "all-MiniLM-L6-v2"
    data_file: str | None = None  # built-ins: override the packaged file
    text_column: str = "sentence"
    text_pair_column: str | None = None
    label_column: str = "label"
    n_calibration: int = 2000
    n_test: int = 2000
    max_train_samples: int | None = None
    epochs: float = 2.0
    batch_size: int = 32
    max_length: int = 64
    bucket_by_length: bool = True  # batch similar lengths together (less padding)
    lr: float = 5e-5
    head_lr: float = 5e-4
    feature_dim: int = MAX_FEATURE_DIM
    random_state: int = 0
    threads: int | None = None
    defaults: dict[str, Any] = field(default_factory=lambda: {"m": 2, "n": 4})


def load_dataset_for(cfg: BuildConfig) -> TextDataset:
    if cfg.dataset in BUILTIN:
        return BUILTIN[cfg.dataset](Path(cfg.data_file) if cfg.data_file else None)
    return load_hf_dataset(cfg.dataset, cfg.text_column, cfg.label_column,
                           cfg.text_pair_column)


def _fit_split_sizes(cfg: BuildConfig, n: int) -> tuple[int, int]:
    """Shrink calibration/test to 30 % each when the data is too small for the request."""
    cal, test = cfg.n_calibration, cfg.n_test
    if cal + test > 0.6 * n:
        cal = test = max(1, int(0.3 * n))
    return cal, test


BUCKET_BATCHES = 50  # batches per length bucket: local sorting, global shuffling


def _batches(n: int, size: int, rng: np.random.Generator | None,
             lengths: np.ndarray | None = None):
    """Index batches over range(n). With ``lengths``, similar lengths share a batch so
    padding (most of a batch's compute on pair data) stays small: shuffled buckets of
    ``BUCKET_BATCHES`` batches are sorted by length, then the batches are shuffled."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    if lengths is not None:
        span = size * BUCKET_BATCHES
        order = np.concatenate([c[np.argsort(lengths[c], kind="stable")]
                                for c in np.split(order, range(span, n, span))])
    batches = [order[start:start + size] for start in range(0, n, size)]
    if lengths is not None and rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    yield from batches


def _char_lengths(ds: TextDataset, idx: np.ndarray) -> np.ndarray:
    """A cheap proxy for token length, to group a batch's samples."""
    b = ds.text_b
    return np.array([len(ds.text_a[i]) + (len(b[i]) if b is not None else 0) for i in idx])


def _encode(tokenizer, ds: TextDataset, idx: np.ndarray, max_length: int):
    a = [ds.text_a[i] for i in idx]
    b = [ds.text_b[i] for i in idx] if ds.text_b is not None else None
    return tokenizer(a, b, padding=True, truncation=True, max_length=max_length,
                     return_tensors="pt")


def run_build(cfg: BuildConfig, progress: bool = True) -> Path:
    import torch
    from sklearn.decomposition import PCA
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    from .model import MultiExitEncoder, pabee_loss, resolve_backbone

    started = time.perf_counter()
    torch.manual_seed(cfg.random_state)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ds = load_dataset_for(cfg)
    n_cal, n_test = _fit_split_sizes(cfg, len(ds))
    splits = make_splits(ds.groups, n_cal, n_test, cfg.max_train_samples, cfg.random_state)
    if len(np.unique(ds.labels[splits.train])) < 2:
        raise DataError("training split holds a single class; use more training samples")

    source, weights_sha = resolve_backbone(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = MultiExitEncoder(AutoModel.from_pretrained(source), len(ds.label_names))
    L = model.num_layers

    # ---- fine-tune all exits jointly
    rng = np.random.default_rng(cfg.random_state)
    steps_per_epoch = int(np.ceil(len(splits.train) / cfg.batch_size))
    total_steps = max(1, int(round(cfg.epochs * steps_per_epoch)))
    optim = torch.optim.AdamW([
        {"params": model.backbone.parameters(), "lr": cfg.lr},
        {"params": model.exits.parameters(), "lr": cfg.head_lr},
    ], weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(optim, int(0.1 * total_steps), total_steps)
    model.train()
    train_lengths = _char_lengths(ds, splits.train) if cfg.bucket_by_length else None
    step, losses = 0, []
    bar = tqdm(total=total_steps, desc=f"fine-tune {ds.name}", disable=not progress)
    while step < total_steps:
        for batch in _batches(len(splits.train), cfg.batch_size, rng, train_lengths):
            idx = splits.train[batch]
            enc = _encode(tokenizer, ds, idx, cfg.max_length)
            logits, _ = model(**enc)
            loss = pabee_loss(logits, torch.as_tensor(ds.labels[idx]))
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            losses.append(loss.item())
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if step >= total_steps:
                break
    bar.close()
    train_seconds = time.perf_counter() - started

    # ---- one inference pass per split: exit probabilities and pooled hidden states
    model.eval()

    def infer(idx: np.ndarray, desc: str) -> tuple[np.ndarray, np.ndarray]:
        probs, pooled, order = [], [], []
        lengths = _char_lengths(ds, idx) if cfg.bucket_by_length else None
        with torch.inference_mode():
            for batch in tqdm(list(_batches(len(idx), 64, None, lengths)), desc=desc,
                              disable=not progress):
                logits, hidden = model(**_encode(tokenizer, ds, idx[batch], cfg.max_length))
                probs.append(torch.stack([lg.softmax(-1) for lg in logits], 1).numpy())
                pooled.append(torch.stack(hidden, 1).numpy())
                order.append(batch)
        back = np.argsort(np.concatenate(order))  # undo the length sort
        return np.concatenate(probs).astype(np.float32)[back], np.concatenate(pooled)[back]

    cal_probs, cal_hidden = infer(splits.calibration, "calibration")
    test_probs, test_hidden = infer(splits.test, "test")

    d = min(cfg.feature_dim, cal_hidden.shape[2], len(splits.calibration))
    cal_feats = np.empty(cal_hidden.shape[:2] + (d,), np.float32)
    test_feats = np.empty(test_hidden.shape[:2] + (d,), np.float32)
    for layer in range(L):  # PCA per layer, fitted on calibration only
        pca = PCA(n_components=d, random_state=cfg.random_state).fit(cal_hidden[:, layer])
        cal_feats[:, layer] = pca.transform(cal_hidden[:, layer])
        test_feats[:, layer] = pca.transform(test_hidden[:, layer])

    def split(idx: np.ndarray, probs: np.ndarray, feats: np.ndarray) -> Split:
        return Split(ds.labels[idx], probs, feats, tuple(ds.display_text(i) for i in idx))

    cal, test = split(splits.calibration, cal_probs, cal_feats), split(
        splits.test, test_probs, test_feats)
    exit_acc = (test.probs.argmax(2) == test.labels[:, None]).mean(0)
    meta = {
        "name": ds.name,
        "title": ds.title,
        "source": ds.source,
        "licence": ds.licence,
        "task": "pair" if ds.text_b is not None else "single",
        "label_names": list(ds.label_names),
        "model_id": cfg.model,
        "model_weights_sha256": weights_sha,
        "num_layers": L,
        "hidden_size": int(cal_hidden.shape[2]),
        "feature_dim": int(d),
        "feature_note": "mean-pooled hidden state per layer, PCA (fit on calibration)",
        "splits": {"train": int(len(splits.train)), "calibration": cal.n, "test": test.n},
        "class_counts_test": np.bincount(test.labels, minlength=len(ds.label_names)).tolist(),
        "test_exit_accuracy": [round(float(a), 4) for a in exit_acc],
        "final_train_loss": round(float(np.mean(losses[-20:])), 4),
        "build_command": "python -m dimee_core build " + " ".join(
            shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["build"] else None,
        "build_config": asdict(cfg),
        "build_seconds": round(time.perf_counter() - started, 1),
        "train_seconds": round(train_seconds, 1),
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "defaults": cfg.defaults,
    }
    return write_cache(cfg.out, meta, cal, test)
