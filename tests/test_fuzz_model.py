"""Hostile but consistent ``model/`` folders: config.json or weights.safetensors edited
and their sha256 in meta.json updated to match, so only the contents can tell.

Every case is a tampered copy of rt-snippets' shipped model, in tmp_path: its config's
fields (nulls, wrong types, out-of-range and mismatched values, a 300-character or
foreign base model) and its tensors (missing, extra, wrong shape or dtype, NaN, a
truncated or hostile header). Each must be refused by the loader with one
``CacheError`` line, before anything is built (the builder is replaced by a trap); the
CLI prints that line and no traceback; the Live page shows it and the other pages work.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import struct
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from dimee_core import cli, model_spec
from dimee_core.cache import META_FILE, MODEL_CONFIG, MODEL_DIR, MODEL_WEIGHTS, CacheError, \
    load_cache, load_model_files

from .conftest import ROOT, SHIPPED

pytest.importorskip("safetensors")
from safetensors.numpy import save as save_safetensors  # noqa: E402

pytestmark = pytest.mark.slow  # 130 model folders, the CLI in a subprocess, AppTest
LORA0 = "lora.base_model.model.encoder.layer.0"
Q_A, Q_B = f"{LORA0}.attention.self.query.lora_A.weight", \
    f"{LORA0}.attention.self.query.lora_B.weight"
OUT_A = f"{LORA0}.output.dense.lora_A.weight"


# ---------------------------------------------------------------- the cases

def _set(key: str, value: Any) -> Callable[[dict], None]:
    return lambda c: c.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict], None]:
    return lambda c: c.pop(key)


CONFIG_CASES: dict[str, Callable[[dict], None]] = {}
for _key, _values in {
        "num_classes": [None, 1.5, -2, 0, 1, 3, 10**9, True, "2", [2], {}],
        "num_layers": [None, 1.5, -6, 0, 5, 7, 10**9, True, "6"],
        "max_length": [None, -5, 0, 513, 10**9, 64.5, "64", False, [64]],
        "lora_r": [None, 1.5, 0, -16, 8, 385, True, "16"],
        "lora_alpha": [None, 0, -32, 1e300, "32", True, []],
        "task": [None, "triple", 1, ""],
        "base_model": [None, "x" * 300, "bert-base-uncased", "../../../etc/passwd",
                       "/tmp/model", 7, ["all-MiniLM-L6-v2"], ""],
        "base_model_sha256": ["0" * 64, None, 5, "nothex"],
        "pooling": ["cls", None],
        "label_names": [None, ["a"], ["a", "b", "c"], [1, 2], "ab"],
        "feature_dim": [63, None, "64", 0]}.items():
    for _v in _values:
        CONFIG_CASES[f"{_key}={_v!r:.30}"] = _set(_key, _v)
for _key in model_spec.REQUIRED_KEYS:
    CONFIG_CASES[f"no {_key}"] = _drop(_key)
CONFIG_CASES["unknown field"] = _set("trust_remote_code", True)


def _del(name: str):
    return lambda t: t.pop(name)


def _shape(name: str, shape: tuple[int, ...]):
    return lambda t: t.__setitem__(name, np.zeros(shape, t[name].dtype))


def _dtype(name: str, dtype: str):
    return lambda t: t.__setitem__(name, t[name].astype(dtype))


def _put(name: str, value: np.ndarray):
    return lambda t: t.__setitem__(name, value)


def _poison(name: str, value: float):
    def f(t):
        t[name] = t[name].copy()
        t[name].flat[0] = value
    return f


TENSOR_CASES: dict[str, Callable[[dict], None]] = {
    **{f"missing {n}": _del(n) for n in ("exit.3.weight", "exit.0.bias", "exit.5.bias",
                                         "pca.mean", "pca.components", Q_A, Q_B, OUT_A)},
    "exit.0.weight [6,10]": _shape("exit.0.weight", (6, 10)),
    "exit.0.weight [384,2]": _shape("exit.0.weight", (384, 2)),
    "exit.0.weight [2,384,1]": _shape("exit.0.weight", (2, 384, 1)),
    "exit.2.bias [3]": _shape("exit.2.bias", (3,)),
    "exit.2.bias scalar": _shape("exit.2.bias", ()),
    "lora A rank 8": _shape(Q_A, (8, 384)),
    "lora B [1536,16] on query": _shape(Q_B, (1536, 16)),
    "lora output A [16,384]": _shape(OUT_A, (16, 384)),
    "lora A empty": _shape(Q_A, (0, 384)),
    "pca.mean [5,384]": _shape("pca.mean", (5, 384)),
    "pca.components [6,63,384]": _shape("pca.components", (6, 63, 384)),
    "pca.components [6,64,383]": _shape("pca.components", (6, 64, 383)),
    **{f"{n} as {d}": _dtype(n, d) for n in ("exit.1.weight", Q_A, "pca.mean")
       for d in ("int64", "float64", "int8", "bool", "uint8")},
    "extra exit.6.weight": _put("exit.6.weight", np.zeros((2, 384), np.float32)),
    "extra evil": _put("evil", np.zeros(1, np.float32)),
    "extra lora layer 6": _put(f"{LORA0[:-1]}6.attention.self.query.lora_A.weight",
                               np.zeros((16, 384), np.float16)),
    "NaN in exit.0.weight": _poison("exit.0.weight", np.nan),
    "inf in pca.components": _poison("pca.components", np.inf),
    "-inf in a LoRA matrix": _poison(Q_B, -np.inf),
}


def _raw(mutate: Callable[[bytes], bytes]):
    return mutate


def _header(weights: bytes, new_header: bytes) -> bytes:
    size = struct.unpack("<Q", weights[:8])[0]
    return struct.pack("<Q", len(new_header)) + new_header + weights[8 + size:]


RAW_CASES: dict[str, Callable[[bytes], bytes]] = {
    "empty weights": lambda w: b"",
    "7 bytes": lambda w: w[:7],
    "header size 2**63": lambda w: struct.pack("<Q", 2**63) + w[8:],
    "header size 0": lambda w: struct.pack("<Q", 0) + w[8:],
    "header cut": lambda w: w[:200],
    "header not JSON": lambda w: _header(w, b"{not json" + b" " * 20),
    "header a list": lambda w: _header(w, b"[1, 2, 3]"),
    "header nested deep": lambda w: _header(w, b"[" * 5000 + b"]" * 5000),
    "header NaN": lambda w: _header(w, b'{"x": NaN}'),
    "data cut": lambda w: w[:-1000],
}


# ---------------------------------------------------------------- building a case

@pytest.fixture(scope="module")
def base():
    cache = load_cache(SHIPPED / "rt-snippets")
    files = load_model_files(cache)
    return cache, files


def _rehash(meta: dict, config: bytes, weights: bytes) -> dict:
    meta = copy.deepcopy(meta)
    meta["model"]["config_sha256"] = hashlib.sha256(config).hexdigest()
    meta["model"]["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    return meta


def _write(folder: Path, config: dict | bytes, tensors: dict | bytes) -> tuple[bytes, bytes]:
    (folder / MODEL_DIR).mkdir(parents=True, exist_ok=True)
    cfg = config if isinstance(config, bytes) else json.dumps(config).encode()
    weights = tensors if isinstance(tensors, bytes) else save_safetensors(tensors)
    (folder / MODEL_DIR / MODEL_CONFIG).write_bytes(cfg)
    (folder / MODEL_DIR / MODEL_WEIGHTS).write_bytes(weights)
    return cfg, weights


def _case(kind: str, name: str, files) -> tuple[dict | bytes, dict | bytes]:
    config, tensors = copy.deepcopy(files.config), dict(files.tensors)
    if kind == "config":
        CONFIG_CASES[name](config)
    elif kind == "tensors":
        TENSOR_CASES[name](tensors)
    else:
        return config, RAW_CASES[name](save_safetensors(tensors))
    return config, tensors


CASES = ([("config", n) for n in CONFIG_CASES] + [("tensors", n) for n in TENSOR_CASES]
         + [("raw", n) for n in RAW_CASES])


def test_enough_cases():
    assert len(CASES) >= 100, len(CASES)


@pytest.fixture
def no_build(monkeypatch):
    """Building the transformer fails the test: every case is refused before it."""
    from dimee_core import model

    def trap(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(model, "model_from_tensors", trap)


def test_the_untampered_copy_loads(base, tmp_path):
    """The harness itself: re-hashed but unchanged files load, with equal tensors."""
    cache, files = base
    cfg, weights = _write(tmp_path, files.config, files.tensors)
    got = load_model_files(replace(cache, path=tmp_path,
                                   meta=_rehash(cache.meta, cfg, weights)))
    assert got.config == files.config and set(got.tensors) == set(files.tensors)
    assert all(np.array_equal(got.tensors[k], v) for k, v in files.tensors.items())


def test_every_tampered_model_is_refused_in_one_line(base, tmp_path, no_build):
    from dimee_core.predict import LiveModel

    cache, files = base
    for i, (kind, name) in enumerate(CASES):
        folder = tmp_path / f"case{i}"
        cfg, weights = _write(folder, *_case(kind, name, files))
        tampered = replace(cache, path=folder, meta=_rehash(cache.meta, cfg, weights))
        with pytest.raises(CacheError) as err:
            LiveModel(tampered)
        msg = str(err.value)
        assert "\n" not in msg and str(tmp_path) not in msg, (name, msg)
        assert "sha256" not in msg or kind == "config", (name, msg)  # not a hash refusal
        shutil.rmtree(folder)


def test_packaged_encoder_has_the_declared_shape():
    """MINILM_SHAPE against the packaged encoder's own config.json."""
    from dimee_core.model import find_minilm

    arch = json.loads((find_minilm() / "config.json").read_text())
    shape = model_spec.MINILM_SHAPE
    assert (arch["hidden_size"], arch["num_hidden_layers"], arch["intermediate_size"],
            arch["max_position_embeddings"]) == (shape.hidden, shape.layers,
                                                 shape.intermediate, shape.max_positions)


# ---------------------------------------------------------------- CLI and Live page

ISSUE_CASES = [("tensors", "missing exit.3.weight"), ("tensors", "exit.0.weight [6,10]"),
               ("tensors", "lora B [1536,16] on query"), ("config", "lora_r=1.5"),
               ("config", "num_classes=None"), ("config", "num_layers=None"),
               ("config", "base_model=None"), ("config", "max_length=-5"),
               ("config", f"base_model={'x' * 300!r:.30}")]


@pytest.fixture(scope="module")
def cache_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("model_root")
    return Path(shutil.copytree(SHIPPED / "rt-snippets", root / "tampered"))


def _tamper(folder: Path, kind: str, name: str, files) -> None:
    cfg, weights = _write(folder, *_case(kind, name, files))
    meta = json.loads((folder / META_FILE).read_text())
    (folder / META_FILE).write_text(json.dumps(_rehash(meta, cfg, weights)))


def test_cli_predict_one_line_each(base, cache_copy, capsys, no_build):
    """The issue's crashing cases, through the CLI in-process (an escaping exception
    fails the test): exit 2 and one ``error: model/…`` line."""
    for kind, name in ISSUE_CASES:
        _tamper(cache_copy, kind, name, base[1])
        code = cli.main(["predict", str(cache_copy), "--text", "x"])
        out, err = capsys.readouterr()
        assert code == 2 and not out, (name, out)
        assert err.startswith("error: model/") and err.count("\n") == 1, (name, err)


def test_cli_subprocess_no_traceback(base, cache_copy):
    _tamper(cache_copy, "tensors", "exit.0.weight [6,10]", base[1])
    p = subprocess.run([sys.executable, "-m", "dimee_core", "predict", str(cache_copy),
                        "--text", "x"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr == ("error: model/weights.safetensors: tensor exit.0.weight: shape "
                        "[6, 10], expected [2, 384]\n")


def test_live_page_says_it_and_the_rest_works(base, cache_copy, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui import datasets

    _tamper(cache_copy, "config", "lora_r=1.5", base[1])
    monkeypatch.setattr(datasets, "CACHE_ROOT", cache_copy.parent)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("pages/live.py").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The model cannot be loaded: model/config\\.json\\:\u2060 lora\\_r must be a "
        "whole number in "
        "\\[1, 384\\], not 1\\.5"]
    for page in ("pages/overview.py", "pages/whatif.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error, page
        assert at.metric, page
