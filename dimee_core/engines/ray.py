"""The Ray build engine: the local engine's steps, spread over a Ray cluster.

- Training: Ray Train ``TorchTrainer``, data-parallel (DDP). The driver hands the
  training split to Ray Data; each worker gets an equal shard, rebuilds the same seeded
  model (``training.init_model``) and runs the same loop (``training.train_model``) for the
  same number of steps. Rank 0 returns the adapters and exit heads as a safetensors
  checkpoint (no pickled model objects).
- Inference: Ray Data ``map_batches`` over a fixed actor pool. Each actor rebuilds the
  shipped model once from those tensors (``model.model_from_tensors``), on its GPU when it
  has one. A row is one of the local engine's planned batches (``training.plan_batches``),
  so every batch is padded exactly as in the local engine; rows carry their positions
  and the driver puts them back in sample order.
- The driver fits the PCA map and writes the cache atomically (``build.run_build``).

With no ``RAY_ADDRESS`` an embedded Ray starts on this machine for the build and stops
after it; with one, the build joins that cluster (connect time-boxed) and ships this
package to it.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..training import (BuildConfig, Trained, infer_batch, init_model, load_tokenizer,
                        model_config, plan_batches, reassemble, train_model, train_steps)
from ..data import SplitIndices, TextDataset

SCALE_REQUIREMENTS = "requirements-scale.txt"
CONNECT_TIMEOUT_S = float(os.environ.get("DIMEE_RAY_CONNECT_TIMEOUT", "15"))
# Test-only: a marker path; the first inference call that creates it kills its actor's
# process, as an OOM kill or a lost node would. Ray must restart the actor and retry.
FAIL_ONCE_ENV = "DIMEE_RAY_TEST_FAIL_ONCE"
ACTOR_RETRIES = 3  # restarts per actor and retries per batch; then the build fails
WEIGHTS_FILE, LOSSES_FILE = "trained.safetensors", "losses.npy"


class EngineError(ValueError):
    """Ray is missing or unreachable, or the request does not fit the cluster or data."""


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
        import ray.train.torch  # noqa: F401
    except ImportError as exc:
        raise EngineError(f"--engine ray needs Ray, which is not installed: pip install -r "
                          f"{SCALE_REQUIREMENTS} torch==2.13.0") from exc
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast (one line) when nothing listens at ``address`` (host:port or
    ray://host:port): Ray's own connect keeps retrying far longer."""
    if address in ("auto", "local"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(f"RAY_ADDRESS must look like host:port or ray://host:port, got "
                          f"{address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EngineError(f"RAY_ADDRESS={address}: no Ray cluster answered within "
                          f"{timeout:g} s ({exc.strerror or type(exc).__name__}); start one "
                          f"with `ray start --head`, or unset RAY_ADDRESS to run on a local "
                          f"Ray") from None


@contextmanager
def ray_session(num_cpus: int) -> Iterator[Any]:
    """Join ``RAY_ADDRESS`` or start an embedded Ray with ``num_cpus`` logical CPUs; a
    session already open in this process (tests, notebooks) is reused and left open."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = os.environ.get("RAY_ADDRESS")
    # Worker logs stay in Ray's session folder: Train's helper actors warn every few
    # seconds without the dashboard; failures still reach the driver as exceptions.
    common = dict(include_dashboard=False, log_to_driver=False, logging_level="WARNING",
                  configure_logging=True)
    if address:
        check_reachable(address)
        package = Path(__file__).resolve().parents[1]
        try:  # Ray gives up on an address that answers but is no Ray after ~20 s
            ray.init(address=address, runtime_env={"py_modules": [str(package)]}, **common)
        except (ConnectionError, RuntimeError, TimeoutError) as exc:
            raise EngineError(f"RAY_ADDRESS={address}: could not join a Ray cluster there "
                              f"({first_line(exc)})") from None
    else:
        ray.init(num_cpus=num_cpus, **common)
    try:
        yield ray
    finally:
        ray.shutdown()


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ---------------------------------------------------------------- training

def _shard_dataset(label_names: tuple[str, ...], name: str, rows: dict[str, np.ndarray]
                   ) -> TextDataset:
    """A worker's shard as a TextDataset, in the driver's training order."""
    order = np.argsort(rows["pos"], kind="stable")
    a = tuple(str(t) for t in rows["a"][order])
    b = tuple(str(t) for t in rows["b"][order]) if "b" in rows else None
    return TextDataset(name=name, title=name, source="", licence="", label_names=label_names,
                       text_a=a, labels=rows["label"][order].astype(np.int64),
                       groups=tuple(str(p) for p in rows["pos"][order]), text_b=b)


def _train_worker(config: dict) -> None:
    """One Ray Train worker: the local engine's training on this worker's shard."""
    import ray.train
    import ray.train.torch
    import torch
    from safetensors.numpy import save_file

    from ..model import export_tensors

    cfg = BuildConfig(**config["cfg"])
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    batches = list(ray.train.get_dataset_shard("train").iter_batches(
        batch_size=None, batch_format="numpy"))
    rows = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    label_names = tuple(config["label_names"])
    ds = _shard_dataset(label_names, cfg.dataset, rows)
    tokenizer, model, weights_sha = init_model(cfg, len(label_names))
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    device = ray.train.torch.get_device()
    forward = ray.train.torch.prepare_model(model)  # moves to device; DDP when world > 1
    losses = train_model(cfg, ds, np.arange(len(ds)), tokenizer, model, device.type,
                         progress=False, steps=config["steps"], forward=forward)
    metrics = {"num_layers": model.num_layers, "weights_sha256": weights_sha,
               "trained_parameters": n_params, "shard": len(ds)}
    if ray.train.get_context().get_world_rank() != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as tmp:
        save_file(export_tensors(model.cpu()), os.path.join(tmp, WEIGHTS_FILE))
        np.save(os.path.join(tmp, LOSSES_FILE), np.asarray(losses, np.float64))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))


def _gloo_env(ray) -> dict[str, str]:
    """Gloo (DDP on CPUs) binds to the address its hostname resolves to; where that is
    loopback while Ray advertises the node's other address (containers), the first
    broadcast hangs. On a one-node cluster every worker is local: pin gloo to loopback."""
    if "GLOO_SOCKET_IFNAME" in os.environ or sum(n["Alive"] for n in ray.nodes()) != 1:
        return {}
    names = {name for _, name in socket.if_nameindex()}
    loopback = next((n for n in ("lo", "lo0") if n in names), None)
    return {"GLOO_SOCKET_IFNAME": loopback} if loopback else {}


# ---------------------------------------------------------------- inference

class _InferActor:
    """One inference actor: the shipped model, loaded once, runs planned batches."""

    def __init__(self, config: dict, weights: bytes, max_length: int, threads: int | None,
                 fail_once: str | None = None):
        import torch
        from safetensors.numpy import load

        from ..model import model_from_tensors

        if threads:
            torch.set_num_threads(threads)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = model_from_tensors(config, load(weights)).to(self.device)
        self.tokenizer = load_tokenizer(config)
        self.max_length, self.fail_once = max_length, fail_once

    def _maybe_fail(self) -> None:
        if not self.fail_once:
            return
        try:
            os.close(os.open(self.fail_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._maybe_fail()
        out: dict[str, list] = {"part": [], "pos": [], "probs": [], "hidden": [], "length": []}
        for row in range(len(batch["pos"])):
            pos = np.asarray(batch["pos"][row], np.int64)
            b = [str(t) for t in batch["b"][row]] if "b" in batch else None
            probs, hidden, lengths = infer_batch(self.model, self.tokenizer,
                                                 [str(t) for t in batch["a"][row]], b,
                                                 self.max_length, self.device)
            out["part"].append(np.full(len(pos), batch["part"][row], np.int64))
            for key, value in (("pos", pos), ("probs", probs), ("hidden", hidden),
                               ("length", lengths)):
                out[key].append(value)
        return {k: np.concatenate(v) for k, v in out.items()}


def _batch_rows(ds: TextDataset, parts: list[np.ndarray], bucket_by_length: bool
                ) -> list[dict]:
    """One Ray Data row per planned batch: its split, positions and texts."""
    rows = []
    for k, idx in enumerate(parts):
        for pos in plan_batches(ds, idx, bucket_by_length):
            row = {"part": k, "pos": pos.tolist(), "a": [ds.text_a[i] for i in idx[pos]]}
            if ds.text_b is not None:
                row["b"] = [ds.text_b[i] for i in idx[pos]]
            rows.append(row)
    return rows


# ---------------------------------------------------------------- engine

class RayEngine:
    """Same inputs and outputs as ``build.LocalEngine``."""

    def __init__(self, cfg: BuildConfig, progress: bool = True):
        self.cfg, self.progress = cfg, progress
        self._session = None

    def __enter__(self) -> "RayEngine":
        cfg = self.cfg
        self._session = ray_session(max(2, cfg.workers * (cfg.threads or 1)))
        self.ray = self._session.__enter__()
        try:
            gpus = self.ray.cluster_resources().get("GPU", 0)
            need = cfg.workers * cfg.gpus_per_worker
            if need > gpus:
                raise EngineError(f"--workers {cfg.workers} x --gpus-per-worker "
                                  f"{cfg.gpus_per_worker:g} needs {need:g} GPUs; the Ray "
                                  f"cluster has {gpus:g}")
            self.ray.data.DataContext.get_current().enable_progress_bars = self.progress
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._session is not None:
            self._session.__exit__(None, None, None)
            self._session = None

    def check(self, ds: TextDataset, splits: SplitIndices) -> None:
        n = len(splits.train)
        if n < self.cfg.workers:
            raise EngineError(f"the training split holds {n} samples, fewer than --workers "
                              f"{self.cfg.workers}: use fewer workers or more data")

    @property
    def _device(self) -> str:
        return "cuda" if self.cfg.gpus_per_worker > 0 else "cpu"

    def train(self, ds: TextDataset, splits: SplitIndices) -> Trained:
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer
        from safetensors.numpy import load_file

        cfg, ray = self.cfg, self.ray
        rows = [{"pos": k, "a": ds.text_a[i], "label": int(ds.labels[i]),
                 **({"b": ds.text_b[i]} if ds.text_b is not None else {})}
                for k, i in enumerate(splits.train)]
        train_data = ray.data.from_items(rows)
        resources = {"CPU": cfg.threads or 1}
        if cfg.gpus_per_worker > 0:
            resources["GPU"] = cfg.gpus_per_worker
        storage = cfg.ray_storage or tempfile.mkdtemp(prefix="dimee-ray-train-")
        if self.progress:
            print(f"fine-tune {ds.name}: {len(splits.train)} samples on {cfg.workers} Ray "
                  f"Train worker(s)", file=sys.stderr)
        trainer = TorchTrainer(
            _train_worker,
            train_loop_config={"cfg": asdict(cfg), "label_names": list(ds.label_names),
                               # equal shards: every worker takes the same step count
                               "steps": train_steps(cfg, len(splits.train) // cfg.workers)},
            scaling_config=ScalingConfig(num_workers=cfg.workers,
                                         use_gpu=cfg.gpus_per_worker > 0,
                                         resources_per_worker=resources),
            run_config=RunConfig(name=f"dimee-build-{uuid.uuid4().hex[:8]}",
                                 storage_path=storage,
                                 worker_runtime_env={"env_vars": _gloo_env(ray)}),
            datasets={"train": train_data})
        try:
            result = trainer.fit()
            if result.error is not None:
                raise result.error
            with result.checkpoint.as_directory() as folder:
                tensors = load_file(os.path.join(folder, WEIGHTS_FILE))
                losses = np.load(os.path.join(folder, LOSSES_FILE), allow_pickle=False)
        except (ray.exceptions.RayError, ray.train.TrainingFailedError) as exc:
            raise EngineError(f"Ray training failed: {first_line(exc)}") from exc
        finally:
            if cfg.ray_storage is None:
                shutil.rmtree(storage, ignore_errors=True)
        m = result.metrics
        return Trained(model_config(cfg, ds, int(m["num_layers"]), m["weights_sha256"]),
                       tensors, None, losses.tolist(), int(m["trained_parameters"]),
                       self._device)

    def infer(self, trained: Trained, ds: TextDataset, parts: list[np.ndarray]
              ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        from safetensors.numpy import save

        cfg, ray = self.cfg, self.ray
        rows = _batch_rows(ds, parts, cfg.bucket_by_length)
        weights = save({k: np.ascontiguousarray(v) for k, v in trained.tensors.items()})
        with warnings.catch_warnings():  # ray_remote_args: deprecated from 2.60, no successor
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
            results = self._infer_dataset(rows, trained, weights)
        try:
            chunks = list(results.iter_batches(batch_size=None, batch_format="numpy"))
        except ray.exceptions.RayError as exc:
            raise EngineError(f"Ray inference failed: {first_line(exc)}") from exc
        got = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        outputs = []
        for k, idx in enumerate(parts):
            mine = got["part"] == k
            if not np.array_equal(np.sort(got["pos"][mine]), np.arange(len(idx))):
                raise EngineError("Ray inference returned an incomplete split")
            outputs.append(reassemble([got["pos"][mine]],
                                      [tuple(got[c][mine] for c in ("probs", "hidden",
                                                                    "length"))]))
        return outputs

    def _infer_dataset(self, rows: list[dict], trained: Trained, weights: bytes):
        """The lazy Ray Data pipeline: planned batches -> actor pool -> per-sample rows."""
        cfg, ray = self.cfg, self.ray
        return ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            _InferActor, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=cfg.workers),
            fn_constructor_kwargs={"config": trained.config, "weights": weights,
                                   "max_length": cfg.max_length, "threads": cfg.threads,
                                   "fail_once": os.environ.get(FAIL_ONCE_ENV)},
            num_cpus=cfg.threads or 1, num_gpus=cfg.gpus_per_worker,
            # Ray Data's default retries a dead actor forever: a batch that always kills
            # its actor would hang the build.
            max_restarts=ACTOR_RETRIES, max_task_retries=ACTOR_RETRIES)
