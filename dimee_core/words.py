"""Numbers in generated sentences, written as a person would: "1 cluster", "2,000 samples",
"layer 1" but "layers 1–3". One format for counts everywhere: thousands separators."""

from __future__ import annotations

_IRREGULAR = {"this": "these", "is": "are", "was": "were", "it": "they"}


def number(n: int) -> str:
    """A count with thousands separators: 2000 -> '2,000'."""
    return f"{int(n):,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """The noun for ``n`` of them: 'cluster' for 1, 'clusters' otherwise."""
    if int(n) == 1:
        return one
    return many if many is not None else _IRREGULAR.get(one, _plural_of(one))


def _plural_of(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def count(n: int, one: str, many: str | None = None) -> str:
    """'1 cluster', '12 clusters', '2,000 samples'."""
    return f"{number(n)} {plural(n, one, many)}"


def span(one: str, lo: int, hi: int, many: str | None = None) -> str:
    """A range of numbered things: 'layer 1' when lo == hi, else 'layers 1–3'."""
    if lo == hi:
        return f"{one} {lo}"
    return f"{plural(2, one, many)} {lo}–{hi}"
