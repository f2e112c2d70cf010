"""Command line: ``python -m dimee_core {evaluate,build,report,tune,predict,migrate}``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import fields

import numpy as np

from . import cli_build
from .cache import CacheError, load_cache
from .cli_args import Parser, UsageError, add_config_flags, eval_config, finite, load
from .config import METHOD_LABELS, DIMEEConfig
from .data import DataError
from .evaluate import evaluate, fit_routers, unit_results
from .objective import OBJECTIVES
from .profiles import PRESETS as PROFILES
from .profiles import ProfileError, load_profile


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score DIMEE and every baseline on a cache")
    p.add_argument("cache_dir")
    add_config_flags(p)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--json", action="store_true", help="print one JSON object")


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
    v = finite(text)
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"delta must lie strictly between 0 and 1, got {text!r}")
    return v


def _target(text: str) -> float:
    v = finite(text)
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
    caches = [load(d) for d in dirs]
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
    p.add_argument("--objective", choices=OBJECTIVES, default="abstract",
                   help="also print the answer minimising this (a real unit needs "
                        "--profile); every preset profile's is stored in routing.json")
    p.add_argument("--profile", help="device-and-network profile for --objective: a preset "
                                     f"({', '.join(PROFILES)}) or a profile JSON file")
    p.add_argument("--units-only", action="store_true",
                   help="keep the stored settings and their target; recompute only the "
                        "answer per preset profile and real objective (routing.json's "
                        "units section)")


def _run_tune(args) -> int:
    from .answer import store
    from .objective import Objective
    from .selection import SelectionError, evaluate_candidates
    from .price import price_of_certainty
    from .tokens import with_lengths
    from .tuned import PRICE_KEY, save
    from .tuning import AUTO, AUTO_TARGETS, stored_settings, tune
    from .unit_answers import answer, entry, score, tune_units
    from .unit_store import SECTION

    cache = load(args.cache_dir)
    objective = Objective(args.objective, load_profile(args.profile) if args.profile
                          else None)  # a bad objective or profile fails before any work
    if args.units_only:
        settings = dict(cache.defaults)
        plus = settings.get("dimee_plus") or {}
        if "target_pp" not in plus or "delta" not in plus:
            raise UsageError("--units-only needs settings stored by tune (a target and δ)")
        cands = evaluate_candidates(cache.calibration, DIMEEConfig.for_cache(cache))
        target, tested = plus["target_pp"], plus["delta"]
    else:
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
        cands, target = tuned.candidates, tuned.target_pp
    # the answer in each preset profile's units: the same walk, at the same delta
    with_tokens = with_lengths(cache)[0]  # real units need each sample's token count
    settings[SECTION] = tune_units(with_tokens, cands, target, tested)
    save(args.cache_dir, settings, cache.num_layers, cache.calibration.n)
    if not args.units_only:
        store(args.cache_dir)  # the Overview's answer at the new settings (dimee_core.answer)
    print(json.dumps(load_cache(args.cache_dir).defaults))
    if objective.real:  # the one asked for (a custom profile's is not stored)
        ans = answer(cands, objective, target, tested)
        print(json.dumps({"objective": objective.name, "profile": objective.profile.name,
                          **entry(ans, score(with_tokens, cands, ans))}))
    return 0


def _add_migrate(sub) -> None:
    p = sub.add_parser("migrate", help="move an old cache's tuned settings from meta.json "
                                       "into routing.json (the build's record stays as it "
                                       "is) and store the Overview's answer there if missing")
    p.add_argument("cache_dirs", nargs="+")


def _run_migrate(args) -> int:
    from .answer import store, stored
    from .writer import migrate

    for folder in args.cache_dirs:
        moved = migrate(folder)
        print(f"{folder}: " + ("moved the tuned settings into routing.json" if moved
                               else "nothing to move"))
        if stored(load_cache(folder)) is None:  # none yet, or computed at other settings
            store(folder)
            print(f"{folder}: stored the Overview's answer in routing.json")
    return 0


def _run_evaluate(args) -> int:
    cache = load(args.cache_dir)
    cfg = eval_config(args, cache)  # a bad profile fails here, before any work
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
    add_config_flags(p)


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
    cfg = eval_config(args, cache)
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
    parser = Parser(prog="python -m dimee_core")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_evaluate(sub)
    cli_build.add_parser(sub)
    _add_report(sub)
    _add_tune(sub)
    _add_predict(sub)
    _add_migrate(sub)
    args = parser.parse_args(argv)
    try:
        return {"evaluate": _run_evaluate, "build": cli_build.run, "report": _run_report,
                "tune": _run_tune, "predict": _run_predict,
                "migrate": _run_migrate}[args.command](args)
    except (CacheError, DataError, UsageError, ProfileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
