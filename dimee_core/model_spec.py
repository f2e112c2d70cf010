"""What a cache's shipped ``model/`` may hold, checked before anything is built.

A cache can arrive by upload with ``model/`` edited and its sha256 in meta.json updated
to match, so the hashes prove nothing about the contents. The base model must be the
packaged all-MiniLM-L6-v2, whose weights are pinned by sha256, so its architecture is
fixed; from it and the cache's own meta follow every config field's type and range and
every tensor's exact name, shape and dtype. Anything else is refused with one line
(ValueError; the loader turns it into CacheError) instead of failing inside torch, peft
or the tokenizer. No torch here: the cache loader imports this module.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

MINILM_ALIASES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@dataclass(frozen=True)
class EncoderShape:
    """The sizes a shipped model's tensors follow (BERT-style encoder)."""

    hidden: int
    layers: int
    intermediate: int
    max_positions: int


# the packaged encoder's config.json (pinned by MINILM_SHA256; a test re-reads it)
MINILM_SHAPE = EncoderShape(hidden=384, layers=6, intermediate=1536, max_positions=512)
TASKS = ("single", "pair")
POOLINGS = ("mean",)
FLOAT_DTYPES = ("F16", "F32")  # what a build writes (LoRA fp16, heads and PCA fp32)
MAX_LORA_ALPHA = 1e4
SHA256 = re.compile(r"[0-9a-f]{64}")
# every linear map the adapters wrap (model.LORA_TARGETS): (input, output) sizes
LORA_MODULES = {"attention.self.query": ("hidden", "hidden"),
                "attention.self.key": ("hidden", "hidden"),
                "attention.self.value": ("hidden", "hidden"),
                "attention.output.dense": ("hidden", "hidden"),
                "intermediate.dense": ("hidden", "intermediate"),
                "output.dense": ("intermediate", "hidden")}
LORA_PREFIX = "lora.base_model.model.encoder.layer."
CONFIG_KEYS = ("base_model", "base_model_sha256", "num_classes", "num_layers", "max_length",
               "lora_r", "lora_alpha", "task", "pooling", "label_names", "feature_dim")
REQUIRED_KEYS = ("base_model", "num_classes", "num_layers", "max_length", "lora_r",
                 "lora_alpha", "task")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _int(config: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    v = config[key]
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{key} must be a whole number in [{lo}, {hi}], not {_short(v)}")
    return v


def check_config(config: Any, num_layers: int, label_names: list[str], feature_dim: int,
                 base_sha256: str | None = None) -> dict[str, Any]:
    """The config's fields, each of the right type, in range and consistent with the
    cache (its layers, classes, feature size and recorded base model hash)."""
    if not isinstance(config, dict):
        raise ValueError("the config must be a JSON object")
    unknown = sorted(str(k) for k in config if k not in CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown config field {_short(unknown[0])}")
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"the config needs {', '.join(missing)}")
    shape = MINILM_SHAPE
    if config["base_model"] not in MINILM_ALIASES:
        raise ValueError(f"base_model must be the packaged encoder ({MINILM_ALIASES[0]}), "
                         f"not {_short(config['base_model'])}")
    sha = config.get("base_model_sha256", MINILM_SHA256)
    if sha != MINILM_SHA256 or (base_sha256 is not None and sha != base_sha256):
        raise ValueError(f"base_model_sha256 {_short(sha)} is not the packaged encoder's "
                         f"or does not match meta.json")
    if _int(config, "num_layers", 1, shape.layers) != num_layers:
        raise ValueError(f"num_layers {config['num_layers']} does not match the cache's "
                         f"{num_layers} layers")
    if _int(config, "num_classes", 2, 10_000) != len(label_names):
        raise ValueError(f"num_classes {config['num_classes']} does not match the cache's "
                         f"{len(label_names)} labels")
    _int(config, "max_length", 1, shape.max_positions)
    _int(config, "lora_r", 1, shape.hidden)
    alpha = config["lora_alpha"]
    if (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
            or not (math.isfinite(alpha) and 0 < alpha <= MAX_LORA_ALPHA)):
        raise ValueError(f"lora_alpha must be a number in (0, {MAX_LORA_ALPHA:g}], "
                         f"not {_short(alpha)}")
    if config["task"] not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {_short(config['task'])}")
    if config.get("pooling", "mean") not in POOLINGS:
        raise ValueError(f"pooling must be mean, not {_short(config['pooling'])}")
    names = config.get("label_names", label_names)  # the build's; meta.json's are shown
    if (not isinstance(names, list) or len(names) != len(label_names)
            or not all(isinstance(n, str) for n in names)):
        raise ValueError(f"label_names must list {len(label_names)} names")
    if config.get("feature_dim", feature_dim) != feature_dim:
        raise ValueError(f"feature_dim {_short(config['feature_dim'])} differs from the "
                         f"cache's {feature_dim}")
    return dict(config)


def expected_tensors(config: Mapping[str, Any], feature_dim: int
                     ) -> dict[str, tuple[int, ...]]:
    """Every tensor a shipped model holds and its shape, from a checked config: the
    LoRA pairs of each wrapped linear in each layer, one exit head per layer, the PCA."""
    shape, C, L, r = MINILM_SHAPE, config["num_classes"], config["num_layers"], config["lora_r"]
    size = {"hidden": shape.hidden, "intermediate": shape.intermediate}
    out: dict[str, tuple[int, ...]] = {}
    for i in range(L):
        for module, (fan_in, fan_out) in LORA_MODULES.items():
            stem = f"{LORA_PREFIX}{i}.{module}"
            out[f"{stem}.lora_A.weight"] = (r, size[fan_in])
            out[f"{stem}.lora_B.weight"] = (size[fan_out], r)
        out[f"exit.{i}.weight"] = (C, shape.hidden)
        out[f"exit.{i}.bias"] = (C,)
    out["pca.mean"] = (L, shape.hidden)
    out["pca.components"] = (L, feature_dim, shape.hidden)
    return out


def check_tensors(header: Any, expected: Mapping[str, tuple[int, ...]]) -> None:
    """A safetensors header (its JSON, read before any tensor) against ``expected``:
    the same names, each of that shape and a float dtype."""
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    names = {k for k in header if k != "__metadata__"}
    missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
    if missing:
        raise ValueError(f"lacks tensor {_short(missing[0])}"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    if extra:
        raise ValueError(f"holds an unexpected tensor {_short(extra[0])}"
                         + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    for name in sorted(expected):
        info = header[name]
        if not isinstance(info, dict):
            raise ValueError(f"tensor {name}: malformed header entry")
        if info.get("dtype") not in FLOAT_DTYPES:
            raise ValueError(f"tensor {name}: dtype {_short(info.get('dtype'))}, expected "
                             f"{' or '.join(FLOAT_DTYPES)}")
        got = info.get("shape")
        if (not isinstance(got, list) or any(type(v) is not int for v in got)
                or tuple(got) != expected[name]):
            raise ValueError(f"tensor {name}: shape {_short(got)}, expected "
                             f"{list(expected[name])}")
