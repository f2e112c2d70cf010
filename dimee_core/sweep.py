"""Many builds at once: a sweep file of build configs, run as Ray tasks (each task
runs the local engine and writes its own cache)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields, replace
from pathlib import Path

from .build import run_build
from .engines.ray import EngineError, first_line, ray_session
from .training import BuildConfig


def load_sweep(path: str | os.PathLike[str]) -> list[BuildConfig]:
    """A sweep file: a JSON list of build configs (BuildConfig fields), all checked
    before any build starts."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EngineError(f"cannot read the sweep file: {exc}") from None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise EngineError("a sweep file holds a non-empty JSON list of build configs")
    known = {f.name for f in fields(BuildConfig)}
    configs = []
    for n, item in enumerate(items, 1):
        unknown = sorted(set(item) - known)
        if unknown:
            raise EngineError(f"sweep entry {n}: unknown field {unknown[0]!r}")
        if item.get("engine", "local") != "local":
            raise EngineError(f"sweep entry {n}: each sweep build runs the local engine "
                              f"inside one Ray task; drop its engine field")
        try:
            cfg = BuildConfig(**item)
        except (TypeError, ValueError) as exc:
            raise EngineError(f"sweep entry {n}: {exc}") from None
        # tasks may run in another folder: paths are the driver's, made absolute
        configs.append(replace(cfg, out=str(Path(cfg.out).resolve()), data_file=(
            str(Path(cfg.data_file).resolve()) if cfg.data_file else None)))
    outs = [c.out for c in configs]
    if len(set(outs)) < len(outs):
        raise EngineError("two sweep entries write the same cache folder (out)")
    return configs


def _sweep_task(cfg: dict) -> str:
    return str(run_build(BuildConfig(**cfg), progress=False))


def run_sweep(configs: list[BuildConfig], concurrency: int = 2, progress: bool = True
              ) -> list[Path]:
    """Run many builds as Ray tasks (each writes its own cache), one progress bar; the
    caches come back in ``configs``' order. Every build runs to its end; failures are
    reported together afterwards."""
    from tqdm.auto import tqdm

    configs = [replace(c, threads=c.threads or 1) for c in configs]
    with ray_session(max(1, concurrency)) as ray:
        task = ray.remote(_sweep_task)
        pending = {task.options(num_cpus=c.threads, max_retries=0).remote(asdict(c)): k
                   for k, c in enumerate(configs)}
        done: dict[int, Path] = {}
        failed = []
        with tqdm(total=len(configs), desc="builds", disable=not progress) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                k = pending.pop(ready[0])
                try:
                    done[k] = Path(ray.get(ready[0]))
                except ray.exceptions.RayError as exc:
                    failed.append(f"{configs[k].out}: {first_line(getattr(exc, 'cause', exc))}")
                bar.update(1)
                bar.set_postfix_str(Path(configs[k].out).name)
    if failed:
        raise EngineError(f"{len(failed)} of {len(configs)} builds failed: "
                          + "; ".join(failed))
    return [done[k] for k in range(len(configs))]
