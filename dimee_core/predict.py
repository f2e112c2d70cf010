"""Run a cache's own model on new texts and route them (the Live page, ``predict``).

Two steps, kept apart so that a knob change re-routes without re-running the model:

- :meth:`LiveModel.run` turns texts into :class:`ModelOutputs`: each exit's
  probabilities and the routing features, computed exactly as the build computed the
  cache's (the same tokenisation and inference code, the shipped PCA, float16 features);
- :func:`route` sends those outputs through DIMEE and DIMEE+ routers fitted on the
  cache's calibration split by :func:`evaluate.fit_routers` (the dashboard passes its
  cached fits), and says per text which cluster, tier, rule and cost.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .cache import Cache, CacheError, load_model_files
from .costs import TIERS
from .data import TextDataset
from .config import DIMEEConfig
from .router import EDGE_ESCALATE, DIMEERouter, Routing, gate_of
from .splits import Split

MAX_TEXT_CHARS = 20_000  # cut before tokenising: far beyond any max_length, bounds the work
ROUTED = ("dimee", "dimee_plus")
POOL_OF_TIER = ("easy", "medium", "hard")


class PredictError(ValueError):
    """Input texts the model cannot take (empty, missing pair, unreadable CSV)."""


def _describe_text(i: int) -> str:
    return f"text {i + 1}"


def _first_and_count(bad: Sequence[int], describe: Callable[[int], str]) -> str:
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return f"{describe(bad[0])}{more}"


def check_texts(texts: Sequence[str], pairs: Sequence[str] | None, task: str,
                describe: Callable[[int], str] = _describe_text
                ) -> tuple[tuple[str, ...], tuple[str, ...] | None, np.ndarray]:
    """Validate inputs for a ``task`` ("single" or "pair") model; return the texts cut
    to :data:`MAX_TEXT_CHARS` and which of them were cut. :class:`PredictError` names
    the first offending text (``describe(i)``) on any problem."""
    if len(texts) == 0:
        raise PredictError("no text given")
    for name, seq in (("text", texts), ("pair", pairs or ())):
        bad = [i for i, t in enumerate(seq) if not isinstance(t, str)]
        if bad:
            raise PredictError(f"{_first_and_count(bad, describe)}: the {name} is not a string")
    if task == "pair":
        if pairs is None:
            raise PredictError("this cache's model reads (text, pair) samples: give each "
                               "text its pair (--text-pair, or --text-pair-column)")
        if len(pairs) != len(texts):
            raise PredictError(f"{len(texts)} texts but {len(pairs)} pairs: give one pair "
                               f"per text")
    elif pairs is not None:
        raise PredictError("this cache's model reads single texts: drop the pairs")
    for name, seq in (("text", texts), ("pair", pairs or ())):
        bad = [i for i, t in enumerate(seq) if not t.strip()]
        if bad:
            raise PredictError(f"{_first_and_count(bad, describe)}: the {name} is empty")
    cut = np.array([len(t) > MAX_TEXT_CHARS for t in texts], dtype=bool)
    texts = tuple(t.strip()[:MAX_TEXT_CHARS] for t in texts)
    if pairs is not None:
        cut |= np.array([len(t) > MAX_TEXT_CHARS for t in pairs], dtype=bool)
        pairs = tuple(t.strip()[:MAX_TEXT_CHARS] for t in pairs)
    return texts, pairs, cut


@dataclass(frozen=True)
class ModelOutputs:
    """What the model said about some texts; routing them is a separate, cheap step."""

    texts: tuple[str, ...]
    pairs: tuple[str, ...] | None
    probs: np.ndarray  # [N, L, C] float32, exit l+1's class probabilities
    feats: np.ndarray  # [N, L, d] float16, as stored in a cache
    tokens: np.ndarray  # [N] int32 tokens the model read
    truncated: np.ndarray  # [N] bool: longer than the model's max_length, cut

    @property
    def n(self) -> int:
        return len(self.texts)

    def split(self) -> Split:
        """As a :class:`Split` for the router (labels unknown: zeros, never read)."""
        return Split(np.zeros(self.n, dtype=np.int64), self.probs, self.feats, self.texts,
                     self.tokens)

    @staticmethod
    def concat(parts: Sequence["ModelOutputs"]) -> "ModelOutputs":
        pairs = None if parts[0].pairs is None else tuple(t for p in parts for t in p.pairs)
        return ModelOutputs(tuple(t for p in parts for t in p.texts), pairs,
                            *(np.concatenate([getattr(p, f) for p in parts]) for f in
                              ("probs", "feats", "tokens", "truncated")))


class LiveModel:
    """A cache's shipped model, loaded once: tokenizer, merged LoRA encoder with its exit
    heads, and the per-layer PCA of the routing features. Raises :class:`CacheError`
    when the cache has no usable model, ``model.ModelError`` when the base model is
    missing or is not the one the cache was built on."""

    def __init__(self, cache: Cache):
        from transformers import AutoTokenizer

        from .model import model_from_tensors, resolve_backbone

        problem = cache.model_status
        if problem is not None:
            raise CacheError(f"cache '{cache.name}' has no model to run: {problem}")
        # sha256-verified, and every config field and tensor checked against the cache
        files = load_model_files(cache)
        config, tensors = files.config, files.tensors
        mean, comps = tensors["pca.mean"], tensors["pca.components"]
        self.cache_name = cache.name
        self.label_names = cache.label_names
        self.task = str(config["task"])
        self.max_length = int(config["max_length"])
        self.pca_mean = mean.astype(np.float32)
        self.pca_components = comps.astype(np.float32)
        self.model = model_from_tensors(config, tensors)
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(config["base_model"])[0])

    def check(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
              describe: Callable[[int], str] = _describe_text):
        return check_texts(texts, pairs, self.task, describe)

    def run(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
            batch_size: int = 64, progress: bool = False,
            describe: Callable[[int], str] = _describe_text) -> ModelOutputs:
        """Every exit's probabilities and the routing features for ``texts`` (and their
        ``pairs`` for a pair task), through the build's own inference code."""
        from .training import infer_batches, project

        texts, pairs, cut = self.check(texts, pairs, describe)
        n = len(texts)
        ds = TextDataset("live", "live", "", "", tuple(self.label_names), texts,
                         np.zeros(n, dtype=np.int64), texts, pairs)
        probs, hidden, tokens = infer_batches(self.model, self.tokenizer, ds, np.arange(n),
                                              self.max_length, batch_size=batch_size,
                                              desc="predict", progress=progress)
        feats = project(hidden, self.pca_mean, self.pca_components).astype(np.float16)
        return ModelOutputs(texts, pairs, probs, feats, tokens,
                            cut | self._over_length(texts, pairs, tokens))

    def run_chunks(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
                   chunk: int = 256, on_progress: Callable[[int, int], None] | None = None,
                   describe: Callable[[int], str] = _describe_text) -> ModelOutputs:
        """:meth:`run` in chunks, calling ``on_progress(done, total)`` after each (for a
        progress bar). Every text is checked before the first chunk runs."""
        self.check(texts, pairs, describe)
        parts, total = [], len(texts)
        for start in range(0, total, chunk):
            stop = min(start + chunk, total)
            parts.append(self.run(texts[start:stop], None if pairs is None else
                                  pairs[start:stop]))
            if on_progress is not None:
                on_progress(stop, total)
        return ModelOutputs.concat(parts)

    def _over_length(self, texts, pairs, tokens: np.ndarray) -> np.ndarray:
        """Which texts were cut at max_length: only those that reached it can have been;
        tokenising them to one token more tells (no warning on very long texts)."""
        at_limit = np.flatnonzero(tokens >= self.max_length)
        out = np.zeros(len(texts), dtype=bool)
        if at_limit.size:
            a = [texts[i] for i in at_limit]
            b = [pairs[i] for i in at_limit] if pairs is not None else None
            enc = self.tokenizer(a, b, truncation=True, max_length=self.max_length + 1)
            out[at_limit] = [len(ids) > self.max_length for ids in enc["input_ids"]]
        return out


# ---------------------------------------------------------------- routing

@dataclass(frozen=True)
class Route:
    """Where one method sends one text, and why."""

    cluster: int
    tier: str  # where the answer comes from: mobile, edge or cloud
    exit_layer: int
    label: str  # the answer
    cost: float
    escalated: bool  # DIMEE+: the edge handed it on to the cloud
    rule: str  # the decision in plain words

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "tier": self.tier, "exit_layer": self.exit_layer,
                "label": self.label, "cost": self.cost, "escalated": self.escalated,
                "rule": self.rule}


def _policy_reason(router: DIMEERouter, cluster: int, option: int) -> str:
    """Why a cluster got a plain tier, from the policy that chose it on calibration."""
    if router.stats_.size[cluster] == 0:
        return "no calibration sample fell in this cluster, so it stays in the cloud"
    if router.policy == "budget":
        return (f"the cheapest choice per cluster whose calibration accuracy drop stays "
                f"within ε = {router.epsilon:g} pp")
    if router.policy == "reward":
        return (f"the best calibration accuracy minus μ = {router.mu:g} × relative cost for "
                f"this cluster")
    return (f"most of its calibration samples are {POOL_OF_TIER[option]} (their first exit "
            f"with confidence ≥ α = {router.alpha:g} is on the {TIERS[option]})")


def _edge_rule(router: DIMEERouter, conf_n: float, escalated: bool) -> str:
    n, beta = router.n, router.beta_
    if beta is None or beta <= 0:
        return "the edge answers"
    verdict = "below: the cloud answers" if escalated else "not below: the edge answers"
    return (f"the edge hands it to the cloud when exit {n}'s confidence < {beta:g}; "
            f"this text's is {conf_n:.3f}, {verdict}")


def rule_text(router: DIMEERouter, cluster: int, conf_m: float, conf_n: float,
              escalated: bool) -> str:
    """The rule that decided one text's tier, with this text's numbers."""
    option = int(router.cluster_tiers_[cluster])
    gamma = gate_of(option)
    if gamma is None:
        return f"cluster {cluster} → {TIERS[option]}: {_policy_reason(router, cluster, option)}"
    if option == EDGE_ESCALATE:
        return f"cluster {cluster} → edge; {_edge_rule(router, conf_n, escalated)}"
    m = router.m
    if conf_m >= gamma:
        return (f"cluster {cluster} answers on the phone when exit {m}'s confidence ≥ "
                f"{gamma:g}; this text's is {conf_m:.3f}: the phone answers")
    return (f"cluster {cluster} answers on the phone when exit {m}'s confidence ≥ {gamma:g}; "
            f"this text's is {conf_m:.3f}, so it goes to the edge; "
            f"{_edge_rule(router, conf_n, escalated)}")


def _routes(router: DIMEERouter, routing: Routing, probs: np.ndarray,
            label_names: Sequence[str]) -> list[Route]:
    conf = probs.max(2)
    answer = routing.predictions(probs)
    m, n = router.m, router.n
    escalated = routing.escalated if routing.escalated is not None else np.zeros(
        len(answer), dtype=bool)
    return [Route(int(c), TIERS[int(t)], int(e), label_names[int(a)], float(cost), bool(up),
                  rule_text(router, int(c), float(conf[i, m - 1]), float(conf[i, n - 1]),
                            bool(up)))
            for i, (c, t, e, a, cost, up) in enumerate(zip(
                routing.cluster, routing.tier, routing.exit_layer, answer, routing.cost,
                escalated))]


def route(outputs: ModelOutputs, dimee: DIMEERouter, plus: DIMEERouter,
          label_names: Sequence[str]) -> dict[str, list[Route]]:
    """Route model outputs with fitted routers (``evaluate.fit_routers``, re-solved for
    the wanted settings with ``evaluate.resolve``). Both share their clusters."""
    split = outputs.split()
    clusters = dimee.predict_cluster(split)
    return {"dimee": _routes(dimee, dimee.route(split, clusters), outputs.probs, label_names),
            "dimee_plus": _routes(plus, plus.route(split, clusters), outputs.probs,
                                  label_names)}


# ---------------------------------------------------------------- results

def to_json(outputs: ModelOutputs, routes: dict[str, list[Route]], cache: Cache,
            config: DIMEEConfig) -> dict[str, Any]:
    """``{"texts": [{"text", "exits": [{"layer", "probs", "label"}], "routes": {...}}]}``
    plus the dataset, label names, settings and the all-in-cloud cost for reference."""
    names = cache.label_names
    rows = []
    for i, text in enumerate(outputs.texts):
        p = outputs.probs[i]
        row: dict[str, Any] = {"text": text}
        if outputs.pairs is not None:
            row["text_pair"] = outputs.pairs[i]
        row.update(tokens=int(outputs.tokens[i]), truncated=bool(outputs.truncated[i]),
                   exits=[{"layer": layer + 1, "probs": [float(x) for x in p[layer]],
                           "label": names[int(p[layer].argmax())]}
                          for layer in range(p.shape[0])],
                   routes={k: routes[k][i].to_dict() for k in ROUTED})
        rows.append(row)
    return {"dataset": cache.name, "label_names": names, "config": config.to_dict(),
            "reference_cost": config.costs.reference_cost(cache.num_layers), "texts": rows}


def to_frame(outputs: ModelOutputs, routes: dict[str, list[Route]],
             label_names: Sequence[str]):
    """One row per text: every exit's label and confidence, then each method's route."""
    import pandas as pd

    conf, pred = outputs.probs.max(2), outputs.probs.argmax(2)
    cols: dict[str, Any] = {"text": list(outputs.texts)}
    if outputs.pairs is not None:
        cols["text_pair"] = list(outputs.pairs)
    cols.update(tokens=outputs.tokens, truncated=outputs.truncated)
    for layer in range(outputs.probs.shape[1]):
        cols[f"exit{layer + 1}_label"] = [label_names[c] for c in pred[:, layer]]
        cols[f"exit{layer + 1}_conf"] = conf[:, layer].astype(float)
    for method in ROUTED:
        for key in ("cluster", "tier", "label", "cost", "rule"):
            cols[f"{method}_{key}"] = [getattr(r, key) for r in routes[method]]
    return pd.DataFrame(cols)


# ---------------------------------------------------------------- CSV input

def _read_frame(source: str | os.PathLike[str] | bytes, name: str, nrows: int | None):
    import pandas as pd

    try:
        raw = source if isinstance(source, bytes) else open(source, "rb").read()
    except OSError as exc:
        raise PredictError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise PredictError(f"{name}: not UTF-8 text (line {line} holds a byte that is not "
                           f"UTF-8); save it as UTF-8 CSV") from None
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, nrows=nrows)
    except pd.errors.EmptyDataError:
        raise PredictError(f"{name}: the file is empty") from None
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PredictError(f"{name}: not a readable CSV ({first})") from None


def csv_columns(source: str | os.PathLike[str] | bytes, name: str = "the CSV") -> list[str]:
    """The header of a UTF-8 CSV (:class:`PredictError` when it cannot be read)."""
    return [str(c) for c in _read_frame(source, name, 0).columns]


def read_csv_texts(source: str | os.PathLike[str] | bytes, text_column: str,
                   pair_column: str | None = None, name: str = "the CSV",
                   max_rows: int | None = None
                   ) -> tuple[list[str], list[str] | None]:
    """Texts (and pairs) from a UTF-8 CSV with a header row. ``source``: a path or the
    file's bytes (an upload). :class:`PredictError` with one plain line on any problem."""
    df = _read_frame(source, name, None if max_rows is None else max_rows + 1)
    for col in (text_column, pair_column):
        if col is not None and col not in df.columns:
            shown = ", ".join(map(str, df.columns[:10])) + (" …" if len(df.columns) > 10 else "")
            raise PredictError(f"{name}: no column '{col}' (its columns: {shown})")
    if max_rows is not None and len(df) > max_rows:
        raise PredictError(f"{name}: more than {max_rows} rows; split it into smaller files")
    if len(df) == 0:
        raise PredictError(f"{name}: no rows under the header")
    return (df[text_column].tolist(),
            df[pair_column].tolist() if pair_column is not None else None)


def csv_row(i: int) -> str:
    """How a text read by :func:`read_csv_texts` is named in messages (header = line 1)."""
    return f"line {i + 2}"


# ---------------------------------------------------------------- examples

EXAMPLE_TIERS = {"easy": 0, "medium": 1, "hard": 2}  # answered on mobile / edge / cloud


def examples_by_tier(split: Split, routing: Routing, m: int) -> dict[str, int | None]:
    """One test sample per tier the router actually sends it to: the phone's most
    confident right answer (easy), the edge's median-confidence one (medium), the
    phone's least confident sample that the cloud gets right (hard). Right answers are
    preferred; None when the router sends nothing to that tier."""
    conf_m = split.probs[:, m - 1].max(1)
    right = routing.predictions(split.probs) == split.labels
    out: dict[str, int | None] = {}
    for name, tier in EXAMPLE_TIERS.items():
        idx = np.flatnonzero((routing.tier == tier) & right)
        if idx.size == 0:
            idx = np.flatnonzero(routing.tier == tier)
        if idx.size == 0:
            out[name] = None
            continue
        order = idx[np.argsort(conf_m[idx], kind="stable")]
        out[name] = int({"easy": order[-1], "medium": order[len(order) // 2],
                         "hard": order[0]}[name])
    return out
