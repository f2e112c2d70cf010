"""The README table "one objective for the whole selection": for every shipped cache x
preset profile x real objective, the answer ``tune`` stored (routing.json's ``units``),
its certified drop bound and its test saving in that unit, beside the saving in that unit
of the cheapest certified setting chosen in abstract units (same candidates, same path).

`python bench/units_table.py` (about 20 s per cache: the candidates are re-evaluated to
score the abstract choice) prints a Markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dimee_core.cache import list_caches, load_cache  # noqa: E402
from dimee_core.config import DIMEEConfig  # noqa: E402
from dimee_core.objective import WORDS, preset_objectives  # noqa: E402
from dimee_core.selection import certify, evaluate_candidates  # noqa: E402
from dimee_core.tokens import with_lengths  # noqa: E402
from dimee_core.unit_answers import Answer, score  # noqa: E402
from dimee_core.unit_store import setting_words, stored  # noqa: E402


def rows_for(folder: Path) -> list[str]:
    cache = with_lengths(load_cache(folder))[0]
    units = cache.defaults.get("units")
    if units is None:
        return [f"| {cache.name} | (no units section: run tune) ||||||"]
    cands = evaluate_candidates(cache.calibration, DIMEEConfig.for_cache(cache))
    plain = certify(cands, units["target_pp"], units["delta"])
    out = []
    for o in preset_objectives():
        e = stored(cache.defaults, o)
        ab = score(cache, cands, Answer(o, plain, None, False, ""), n_boot=0)
        bound = "—" if e.get("bound_pp") is None else f"{e['bound_pp']:+.2f}"
        out.append(f"| {cache.name} | {o.profile.name} | {WORDS[o.name]} | "
                   f"{setting_words(e)} | {bound} | {e['test']['reduction_pct']:.1f} % | "
                   f"{ab.reduction_pct:.1f} % |")
    return out


def main() -> None:
    print("| cache | profile | objective | recommended setting | certified drop bound (pp) "
          "| saving in the unit (test) | abstract choice's saving there (test) |")
    print("|---|---|---|---|---|---|---|")
    for folder in list_caches(ROOT / "cache"):
        print("\n".join(rows_for(folder)), flush=True)


if __name__ == "__main__":
    main()
