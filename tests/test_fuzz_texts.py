"""Long texts: one huge text among many, or very many texts, cost memory in proportion
to their size, never to (count x longest) as a fixed-width numpy unicode array would.

Each case runs the real CLI (``evaluate --json``) in a fresh process that reports its
peak RSS (``resource.getrusage``, imports included): a clean refusal (exit 2, one
``error:`` line naming texts.json) or a success, and a peak ≤ 1 GB. The old code asked
25 GiB for 1,353 texts with one of 5 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dimee_core.cache import MAX_TEXT_CHARS, MAX_TEXTS_BYTES, CacheError, load_cache
from dimee_core.predict import MAX_TEXT_CHARS as MAX_MODEL_CHARS, check_texts, read_csv_texts
from dimee_core.splits import group_ids

from .conftest import ROOT
from .hostile import ROUTING, small_cache

PEAK_LIMIT_KB = 1024 * 1024  # 1 GB
MB = 1_000_000
# runs the CLI once per argument list (JSON on argv[1]) in this one process: each run's
# exit code, stdout and stderr, then the process's peak RSS in kB
PROBE = """
import contextlib, io, json, resource, sys
# a regression then fails with MemoryError here instead of exhausting the machine
resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
from dimee_core import cli
runs = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    runs.append([code, out.getvalue(), err.getvalue()])
# VmHWM, not ru_maxrss: after fork + exec ru_maxrss keeps the parent's high-water mark
print(json.dumps({"runs": runs, "peak_kb": int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))}))
""".replace("AS_LIMIT", str(6 << 30))


def _with_texts(folder: Path, n: int, long_text: str, at: int = 0) -> Path:
    """A valid cache of ``n`` samples per split whose calibration text ``at`` is
    ``long_text`` (the calibration split is the one the fit/hold-out split groups)."""
    small_cache(folder, n=n, routing={**ROUTING, "fit_fraction": 0.3})  # a fit/hold-out split
    texts = json.loads((folder / "texts.json").read_text())
    texts["calibration"][at] = long_text
    (folder / "texts.json").write_text(json.dumps(texts, ensure_ascii=False))
    return folder


def _run(*runs: list[str]) -> tuple[list[tuple[int, str, str]], int]:
    """Each CLI run's (exit code, stdout, stderr) and the process's peak RSS (kB); a
    traceback anywhere fails the test."""
    p = subprocess.run([sys.executable, "-c", PROBE, json.dumps(runs)], capture_output=True,
                       text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    got = json.loads(p.stdout)
    return [tuple(r) for r in got["runs"]], got["peak_kb"]


CASES = [(1 * MB, "a"), (5 * MB, "a"), (50 * MB, "a"), (5 * MB, "\U0001F600")]  # 😀: 4 bytes


@pytest.mark.slow  # a fresh process
def test_one_huge_text_is_refused_cleanly(tmp_path):
    """1, 5 and 50 MB (and 5 MB of 4-byte characters) among 1,354 texts, all in one
    process: each refused with one line; the process never passes 1 GB."""
    folders = [_with_texts(tmp_path / f"c{i}", 677, char * (size // len(char.encode())), at=5)
               for i, (size, char) in enumerate(CASES)]
    runs, peak = _run(*(["evaluate", str(f), "--json"] for f in folders))
    for (code, out, err), case in zip(runs, CASES):
        assert code == 2 and not out, (case, err)
        assert err.count("\n") == 1 and "texts.json: 'calibration' text 6 is " in err, err
        assert f"(at most {MAX_TEXT_CHARS:,})" in err, err
    print(f"peak RSS, four refusals in one process: {peak / 1024:.0f} MB")
    assert peak <= PEAK_LIMIT_KB, f"peak {peak / 1024:.0f} MB"


@pytest.mark.slow  # a fresh process
def test_hundred_thousand_texts_one_at_the_cap_evaluate(tmp_path):
    """10^5 texts (5·10^4 per split), one of exactly the cap: evaluated, and a padded
    unicode array would have needed 5·10^4 × 10^5 × 4 bytes = 20 GB."""
    folder = _with_texts(tmp_path / "c", 50_000, "b" * MAX_TEXT_CHARS, at=3)
    [(code, out, err)], peak = _run(["evaluate", str(folder), "--json"])
    assert code == 0, err
    shares = json.loads(out)["methods"]["dimee"]["tier_shares"]
    assert sum(shares.values()) == pytest.approx(1.0)
    print(f"peak RSS, evaluate on 10^5 texts: {peak / 1024:.0f} MB")
    assert peak <= PEAK_LIMIT_KB, f"peak {peak / 1024:.0f} MB"


def test_texts_file_over_the_limit_is_refused_before_reading(tmp_path):
    folder = small_cache(tmp_path / "c", n=30)
    with open(folder / "texts.json", "r+b") as fh:  # sparse: costs no disk
        fh.truncate(MAX_TEXTS_BYTES + 1)
    with pytest.raises(CacheError, match="texts.json: file is too large"):
        load_cache(folder)


def test_group_ids_equal_numpy_unique_on_short_texts():
    """The dict-based ids are np.unique's inverse (what the re-splits used before), so
    every seeded split, and every stored number, stays the same."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcé😀 "), rng.integers(0, 6))) for _ in range(2000)]
    want = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)[1]
    np.testing.assert_array_equal(group_ids(texts), want)


@pytest.mark.slow  # a fresh process
def test_csv_cell_of_50_mb_is_cut_before_the_tokenizer(tmp_path):
    """A typed or uploaded text is cut to the model's MAX_TEXT_CHARS and flagged; the
    whole read stays ≤ 1 GB (fresh process)."""
    csv = tmp_path / "big.csv"
    csv.write_text("review\nshort one\n" + "c" * (50 * MB) + "\n")
    texts, _ = read_csv_texts(csv.read_bytes(), "review")
    cut_texts, _, cut = check_texts(texts, None, "single")
    assert [len(t) for t in cut_texts] == [9, MAX_MODEL_CHARS] and cut.tolist() == [False, True]
    probe = ("import resource, sys\nfrom dimee_core.predict import read_csv_texts, check_texts\n"
             "t, _ = read_csv_texts(open(sys.argv[1], 'rb').read(), 'review')\n"
             "check_texts(t, None, 'single')\n"
             "print(int(next(l.split()[1] for l in open(\"/proc/self/status\") if l.startswith(\"VmHWM\"))))")
    p = subprocess.run([sys.executable, "-c", probe, str(csv)], capture_output=True,
                       text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout) <= PEAK_LIMIT_KB, f"peak {int(p.stdout) / 1024:.0f} MB"


def test_display_shortens_a_huge_text_in_bounded_work():
    from ui.text import md, shorten

    huge = "word " * (10 * MB)
    assert len(shorten(huge)) == 1000 and shorten(huge).endswith("…")
    assert len(md(huge, 300)) < 700
