"""The local build engine: one process on one device (the default)."""

from __future__ import annotations

import numpy as np

from ..data import SplitIndices, TextDataset
from ..training import (BuildConfig, SplitOutputs, Trained, infer_batches, init_model,
                        load_tokenizer, model_config, pick_device, train_model)


class LocalEngine:
    """One process on one device (the default)."""

    def __init__(self, cfg: BuildConfig, progress: bool = True):
        self.cfg, self.progress = cfg, progress

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def check(self, ds: TextDataset, splits: SplitIndices) -> None:
        return None

    def train(self, ds: TextDataset, splits: SplitIndices) -> Trained:
        import torch

        from ..model import export_tensors

        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        device = pick_device(cfg.device)
        tokenizer, model, weights_sha = init_model(cfg, len(ds.label_names))
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        losses = train_model(cfg, ds, splits.train, tokenizer, model.to(device), device,
                             self.progress)
        config = model_config(cfg, ds, model.num_layers, weights_sha)
        tensors = export_tensors(model.cpu()) if cfg.finetune == "lora" else None
        return Trained(config, tensors, None if tensors else model, losses, n_params, device)

    def infer(self, trained: Trained, ds: TextDataset, parts: list[np.ndarray]
              ) -> list[SplitOutputs]:
        from ..model import model_from_tensors

        # infer with exactly what the cache will ship
        model = (model_from_tensors(trained.config, trained.tensors)
                 if trained.tensors is not None else trained.model)
        model = model.to(trained.device).eval()
        tokenizer = load_tokenizer(trained.config)
        return [infer_batches(model, tokenizer, ds, idx, self.cfg.max_length,
                              trained.device, self.cfg.bucket_by_length, desc=desc,
                              progress=self.progress)
                for idx, desc in zip(parts, ("calibration", "test"))]
