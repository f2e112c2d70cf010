"""Generated sentences read as a person would write them (dimee_core.words)."""

from __future__ import annotations

import pytest

from dimee_core import words


@pytest.mark.parametrize("n, one, expected", [
    (1, "cluster", "1 cluster"), (0, "cluster", "0 clusters"), (12, "cluster", "12 clusters"),
    (1, "number", "1 number"), (2, "number", "2 numbers"), (2000, "sample", "2,000 samples"),
    (1, "class", "1 class"), (3, "class", "3 classes"), (2, "query", "2 queries"),
    (2, "day", "2 days"), (1_234_567, "text", "1,234,567 texts")])
def test_count(n, one, expected):
    assert words.count(n, one) == expected


def test_irregular_and_given_plurals():
    assert words.plural(2, "this") == "these" and words.plural(1, "this") == "this"
    assert words.count(2, "person", "people") == "2 people"


@pytest.mark.parametrize("lo, hi, expected", [
    (1, 1, "layer 1"), (1, 3, "layers 1–3"), (4, 4, "layer 4")])
def test_span(lo, hi, expected):
    assert words.span("layer", lo, hi) == expected
    assert words.span("exit", lo, hi) == expected.replace("layer", "exit")


def test_number_matches_the_digit_grouping_rule():
    for n in (0, 7, 999, 1000, 10_056, 123_456_789):
        digits = str(n)
        groups = [digits[max(i - 3, 0):i] for i in range(len(digits), 0, -3)][::-1]
        assert words.number(n) == ",".join(groups)
