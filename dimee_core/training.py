"""Training and inference steps of a cache build: data and splits, the seeded model,
PABEE's weighted loss over every exit (LoRA adapters by default, optionally with
self-distillation from the final exit), batched inference and the PCA map. Engines
(``engines.local``, ``engines.ray``) run these steps; ``build`` orchestrates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cache import MAX_FEATURE_DIM
from .data import (BUILTIN, DataError, SplitIndices, TextDataset, load_hf_dataset,
                   make_splits)




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
    finetune: str = "lora"  # "lora": ship adapters in model/; "full": no model shipped
    lora_r: int = 16
    lora_alpha: int = 32
    lr: float | None = None  # default: 2e-3 for LoRA, 5e-5 for full fine-tuning
    head_lr: float | None = None  # default: lr for LoRA, 5e-4 for full fine-tuning
    distill_weight: float = 0.0  # self-distillation lambda (0: PABEE loss only)
    distill_temperature: float = 2.0
    device: str = "auto"  # auto | cpu | cuda
    # fp32 | bf16 (autocast, CUDA only). fp32 by default: for MiniLM-sized layers bf16
    # autocast ran at 0.24-0.70x fp32's training speed on an H200 (bench/bench_gpu.py)
    precision: str = "fp32"
    feature_dim: int = MAX_FEATURE_DIM
    random_state: int = 0
    threads: int | None = None
    name: str | None = None  # cache name (default: the data set's)
    title: str | None = None  # shown in the dashboard (default: the data set's)
    engine: str = "local"  # local | ray (dimee_core/engines/ray.py)
    workers: int = 1  # ray: training workers = inference actors
    gpus_per_worker: float = 0.0  # ray: GPUs each worker and actor asks for
    ray_storage: str | None = None  # ray: Train's checkpoint storage (shared on a cluster)
    defaults: dict[str, Any] = field(default_factory=lambda: {"m": 2, "n": 4})

    def __post_init__(self) -> None:
        if self.finetune not in ("lora", "full"):
            raise ValueError(f"finetune must be lora or full, got {self.finetune!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, got {self.precision!r}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError("distill weight must lie in [0, 1]")
        if self.lora_r < 1 or self.lora_alpha < 1:
            raise ValueError("LoRA rank and alpha must be positive")
        if self.engine not in ("local", "ray"):
            raise ValueError(f"engine must be local or ray, got {self.engine!r}")
        if self.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        if not self.gpus_per_worker >= 0:
            raise ValueError(f"--gpus-per-worker must be >= 0, got {self.gpus_per_worker}")
        if self.engine == "local" and (self.workers != 1 or self.gpus_per_worker):
            raise ValueError("--workers and --gpus-per-worker need --engine ray")
        if self.engine == "ray" and self.finetune != "lora":
            raise ValueError("--engine ray ships the trained model to its inference actors "
                             "as adapters: use --finetune lora")
        if self.lr is None:
            self.lr = 2e-3 if self.finetune == "lora" else 5e-5
        if self.head_lr is None:
            self.head_lr = self.lr if self.finetune == "lora" else 5e-4


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


def pick_device(requested: str) -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to torch")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def _encode(tokenizer, text_a: list[str], text_b: list[str] | None, max_length: int):
    return tokenizer(text_a, text_b, padding=True, truncation=True, max_length=max_length,
                     return_tensors="pt")


def _texts(ds: TextDataset, idx: np.ndarray) -> tuple[list[str], list[str] | None]:
    b = [ds.text_b[i] for i in idx] if ds.text_b is not None else None
    return [ds.text_a[i] for i in idx], b


def prepare_data(cfg: BuildConfig) -> tuple[TextDataset, SplitIndices]:
    """Load the data set and split it (group-aware, seeded): the same for every engine."""
    ds = load_dataset_for(cfg)
    n_cal, n_test = _fit_split_sizes(cfg, len(ds))
    splits = make_splits(ds.groups, n_cal, n_test, cfg.max_train_samples, cfg.random_state)
    if len(np.unique(ds.labels[splits.train])) < 2:
        raise DataError("training split holds a single class; use more training samples")
    return ds, splits


def init_model(cfg: BuildConfig, num_classes: int):
    """(tokenizer, seeded multi-exit model with adapters, base weights' sha256). Every
    engine and every Ray worker starts from these identical weights."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from .model import MultiExitEncoder, add_lora, resolve_backbone

    torch.manual_seed(cfg.random_state)
    source, weights_sha = resolve_backbone(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = MultiExitEncoder(AutoModel.from_pretrained(source), num_classes)
    if cfg.finetune == "lora":
        add_lora(model, cfg.lora_r, cfg.lora_alpha)
    return tokenizer, model, weights_sha


def load_tokenizer(config: dict):
    """The tokenizer of a model config's base model."""
    from transformers import AutoTokenizer

    from .model import resolve_backbone

    return AutoTokenizer.from_pretrained(resolve_backbone(config["base_model"])[0])


def train_steps(cfg: BuildConfig, n_train: int) -> int:
    """Optimizer steps for ``cfg.epochs`` passes over ``n_train`` samples."""
    return max(1, int(round(cfg.epochs * int(np.ceil(n_train / cfg.batch_size)))))


def train_model(cfg: BuildConfig, ds: TextDataset, train_idx: np.ndarray, tokenizer,
                model, device: str, progress: bool = True, steps: int | None = None,
                forward=None) -> list[float]:
    """Fine-tune every exit jointly; returns the per-step losses.

    ``steps`` fixes the step count (data-parallel workers must all take the same number
    of steps); ``forward`` is what runs the batches (``model`` wrapped for DDP), while
    the optimizer sees ``model``'s own parameters."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    from .model import distill_loss, pabee_loss

    forward = forward if forward is not None else model
    rng = np.random.default_rng(cfg.random_state)
    total_steps = steps if steps is not None else train_steps(cfg, len(train_idx))
    body_params = [p for p in model.backbone.parameters() if p.requires_grad]
    optim = torch.optim.AdamW([
        {"params": body_params, "lr": cfg.lr},
        {"params": model.exits.parameters(), "lr": cfg.head_lr},
    ], weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(optim, int(0.1 * total_steps), total_steps)
    forward.train()
    lengths = _char_lengths(ds, train_idx) if cfg.bucket_by_length else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16,
                              enabled=device == "cuda" and cfg.precision == "bf16")
    step, losses = 0, []
    bar = tqdm(total=total_steps, desc=f"fine-tune {ds.name}", disable=not progress)
    while step < total_steps:
        for batch in _batches(len(train_idx), cfg.batch_size, rng, lengths):
            idx = train_idx[batch]
            enc = _encode(tokenizer, *_texts(ds, idx), cfg.max_length).to(device)
            with autocast:
                logits, _ = forward(**enc)
                logits = [lg.float() for lg in logits]
            loss = pabee_loss(logits, torch.as_tensor(ds.labels[idx], device=device))
            if cfg.distill_weight > 0:
                loss = ((1 - cfg.distill_weight) * loss
                        + cfg.distill_weight * distill_loss(logits, cfg.distill_temperature))
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in optim.param_groups for p in g["params"]],
                                           1.0)
            optim.step()
            sched.step()
            losses.append(loss.item())
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if step >= total_steps:
                break
    bar.close()
    return losses


INFER_BATCH = 64


def plan_batches(ds: TextDataset, idx: np.ndarray, bucket_by_length: bool = True,
                 batch_size: int = INFER_BATCH) -> list[np.ndarray]:
    """Inference batches as positions into ``idx``: every engine runs exactly these
    batches (same padding, so the same numbers)."""
    sort_by = _char_lengths(ds, idx) if bucket_by_length else None
    return list(_batches(len(idx), batch_size, None, sort_by))


def infer_batch(model, tokenizer, text_a: list[str], text_b: list[str] | None,
                max_length: int, device: str = "cpu"
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batch: exit probabilities [B, L, C], pooled states [B, L, H], token counts [B]
    (fp32: the cache must be reproducible on a CPU)."""
    import torch

    with torch.inference_mode():
        enc = _encode(tokenizer, text_a, text_b, max_length)
        lengths = enc["attention_mask"].sum(1).numpy().astype(np.int32)
        logits, hidden = model(**enc.to(device))
        probs = torch.stack([lg.softmax(-1) for lg in logits], 1).float().cpu().numpy()
        return probs, torch.stack(hidden, 1).float().cpu().numpy(), lengths


def reassemble(positions: list[np.ndarray], outputs: list[tuple[np.ndarray, ...]]
               ) -> tuple[np.ndarray, ...]:
    """Concatenate per-batch outputs and put every row back at its position."""
    back = np.argsort(np.concatenate(positions), kind="stable")
    return tuple(np.concatenate(part)[back] for part in zip(*outputs))


def infer_batches(model, tokenizer, ds: TextDataset, idx: np.ndarray, max_length: int,
                  device: str = "cpu", bucket_by_length: bool = True,
                  batch_size: int = INFER_BATCH, desc: str = "infer", progress: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exit probabilities [N, L, C], pooled hidden states [N, L, H] and token counts [N]
    for ``idx``, in ``idx``'s order."""
    from tqdm.auto import tqdm

    plan = plan_batches(ds, idx, bucket_by_length, batch_size)
    outputs = [infer_batch(model, tokenizer, *_texts(ds, idx[b]), max_length, device)
               for b in tqdm(plan, desc=desc, disable=not progress)]
    probs, pooled, lengths = reassemble(plan, outputs)
    return probs.astype(np.float32), pooled, lengths


def fit_pca(cal_hidden: np.ndarray, dim: int, random_state: int):
    """Per-layer PCA fitted on calibration only: (mean [L, H], components [L, d, H])."""
    from sklearn.decomposition import PCA

    d = min(dim, cal_hidden.shape[2], cal_hidden.shape[0])
    fits = [PCA(n_components=d, random_state=random_state).fit(cal_hidden[:, layer])
            for layer in range(cal_hidden.shape[1])]
    return (np.stack([p.mean_ for p in fits]).astype(np.float32),
            np.stack([p.components_ for p in fits]).astype(np.float32))


def project(hidden: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """[N, L, H] pooled states -> [N, L, d] routing features (the same map live)."""
    return np.einsum("nlh,ldh->nld", hidden - mean[None], components).astype(np.float32)


def model_config(cfg: BuildConfig, ds: TextDataset, L: int, weights_sha: str | None) -> dict:
    return {"base_model": cfg.model, "base_model_sha256": weights_sha,
            "num_classes": len(ds.label_names), "num_layers": L,
            "max_length": cfg.max_length, "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha,
            "task": "pair" if ds.text_b is not None else "single", "pooling": "mean",
            "label_names": list(ds.label_names)}


@dataclass
class Trained:
    """What an engine's training step hands to its inference step and to the cache."""

    config: dict  # model_config(...)
    tensors: dict[str, np.ndarray] | None  # the shipped adapters + heads (LoRA)
    model: Any  # the trained model itself when nothing is shipped (full fine-tuning)
    losses: list[float]
    trained_parameters: int
    device: str


SplitOutputs = tuple[np.ndarray, np.ndarray, np.ndarray]  # probs, pooled, lengths
