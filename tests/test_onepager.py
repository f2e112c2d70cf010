"""The one-page summary: what it says, and valid PDF / PNG bytes."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from dimee_core import onepager


def _page() -> onepager.OnePage:
    frontier = pd.DataFrame({"method": ["dimee"] * 3 + ["cascade"] * 2,
                             "mean_cost": [11, 8, 5, 9, 6], "accuracy": [.86, .85, .8, .86, .83]})
    return onepager.OnePage(
        "DIMEE Studio: trec", "model all-MiniLM-L6-v2, 1,614 test samples",
        "DIMEE+ answers 40 % on the phone and saves 38.1 %.",
        "Accuracy drop vs all-in-cloud ≤ 0.3 pp with 90 % confidence.",
        [("Accuracy", "93.06 %"), ("Drop", "+0.00 pp"), ("Mean cost", "6.81"),
         ("Saved", "38.1 %")], {"mobile": 0.4, "edge": 0.1, "cloud": 0.5}, 1614, frontier,
        (6.81, 0.9306), "DIMEE+ (the answer)", notes=("Frontier in layer-equivalents.",))


@pytest.mark.slow
def test_the_page_says_the_answer_guarantee_and_numbers():
    fig = onepager.figure(_page())
    texts = [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes
                                                 for t in ax.texts]
    joined = " ".join(texts).replace("\n", " ")
    for want in ("DIMEE+ answers 40 % on the phone", "≤ 0.3 pp with 90 % confidence",
                 "38.1 %", "answered on the phone: 40.0 %", "answered on the edge: 10.0 %",
                 "answered in the cloud: 50.0 %", "all 1,614", "layer-equivalents"):
        assert want in joined, want
    frontier_ax = fig.axes[1]
    labels = [l.get_label() for l in frontier_ax.get_lines()]
    assert labels == ["DIMEE (knob swept)", "Confidence cascade (knob swept)",
                      "DIMEE+ (the answer)"]
    star = frontier_ax.get_lines()[-1]
    assert list(star.get_xdata()) == [6.81] and list(star.get_ydata()) == [pytest.approx(93.06)]


@pytest.mark.slow
def test_render_writes_pdf_and_png():
    pdf = onepager.render(_page(), "pdf")
    assert pdf.startswith(b"%PDF") and b"/Count 1" in pdf  # one page
    png = onepager.render(_page(), "png", dpi=100)
    assert png.startswith(b"\x89PNG")
    from PIL import Image

    w, h = Image.open(io.BytesIO(png)).size
    assert (w, h) == (827, 1169)  # A4 portrait at 100 dpi
    with pytest.raises(ValueError):
        onepager.render(_page(), "svg")


@pytest.mark.slow
def test_dollar_signs_stay_text():
    """'$' from a unit or a title must not switch matplotlib into maths mode."""
    from dataclasses import replace

    page = replace(_page(), title="Cheap $ cloud $ run", kpis=[("Money", "$0.031")])
    texts = [t.get_text() for t in onepager.figure(page).texts]
    assert r"Cheap \$ cloud \$ run" in texts and r"\$0.031" in texts
    assert onepager.render(page, "png", dpi=50).startswith(b"\x89PNG")
