import json
import subprocess
import sys

import pytest

from .conftest import ROOT, SHIPPED

DEFAULT = SHIPPED / "rt-snippets"


def run(*args):
    return subprocess.run([sys.executable, "-m", "dimee_core", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_evaluate_json_schema():
    p = run("evaluate", str(DEFAULT), "--json", "--bootstrap", "100")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["dataset"] == "rt-snippets" and out["L"] == 6
    assert set(out["methods"]) >= {"dimee", "dimee_plus", "all_in_cloud", "mobile_only",
                                   "edge_only", "random", "cascade", "oracle"}
    for m in out["methods"].values():
        assert {"accuracy", "mean_cost", "cost_reduction_pct", "accuracy_drop_pp",
                "tier_shares"} <= set(m)
        assert set(m["tier_shares"]) == {"mobile", "edge", "cloud"}
    assert out["config"]["m"] < out["config"]["n"] < out["L"]


def test_evaluate_table_and_options():
    p = run("evaluate", str(DEFAULT), "--m", "1", "--n", "3", "--k", "4", "--policy", "reward",
            "--mu", "0.5", "--o-cloud", "8", "--bootstrap", "0")
    assert p.returncode == 0, p.stderr
    assert "DIMEE" in p.stdout and "Confidence cascade" in p.stdout
    assert "m=1 n=3 k=4" in p.stdout and "o_cloud=8.0" in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--m", "4", "--n", "3"], "1 <= m < n < L=6"),
    (["--n", "6"], "1 <= m < n < L=6"),
    (["--k", "0"], "k must be in [1,"),
    (["--k", "99999"], "k must be in [1,"),
    (["--o-cloud", "-2"], "o_cloud must be finite and in [0"),
    (["--lambda-edge", "inf"], "must be finite"),
    (["--o-edge", "abc"], "not a number"),
    (["--policy", "magic"], "invalid choice"),
])
def test_bad_arguments_one_line(args, message):
    p = run("evaluate", str(DEFAULT), *args)
    assert p.returncode != 0
    assert message in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_missing_and_malformed_cache(tmp_path):
    p = run("evaluate", str(tmp_path / "nope"))
    assert p.returncode != 0 and "not a cache folder" in p.stderr
    (tmp_path / "meta.json").write_text("{broken")
    p = run("evaluate", str(tmp_path))
    assert p.returncode != 0 and "meta.json: not valid UTF-8 JSON" in p.stderr
    assert "Traceback" not in p.stderr
