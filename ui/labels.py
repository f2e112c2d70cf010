"""Where to print point labels on a Plotly scatter so that they overlap neither each other
nor a marker, nor stick out of the plot (pure: numbers in, Plotly textpositions out)."""

from __future__ import annotations

from typing import Sequence

_LABEL_SPOTS = {  # Plotly textposition -> direction of the label from its marker
    "top center": (0, 1), "bottom center": (0, -1), "middle right": (1, 0),
    "middle left": (-1, 0), "top right": (1, 1), "bottom right": (1, -1),
    "top left": (-1, 1), "bottom left": (-1, -1)}


def _overlap(a: tuple, b: tuple) -> float:
    """Overlapping area of two boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def label_positions(xs: Sequence[float], ys: Sequence[float], texts: Sequence[str],
                    width_px: float = 700, height_px: float = 300, char_px: float = 7.5,
                    line_px: float = 16, marker_px: float = 9,
                    extent: tuple[Sequence[float], Sequence[float]] | None = None
                    ) -> list[str]:
    """A Plotly textposition per point so that labels overlap neither each other nor
    another marker, nor stick out of the plot (where they would be cut), as far as the
    plot's estimated pixel size allows. Points are placed in the order given (put the
    important ones first); each takes the first free spot, or the least crowded one.
    A text may hold several lines ("<br>"); an empty text takes no room. ``extent``:
    (x values, y values) that set the axes' ranges when other traces widen them
    (default: the labelled points)."""
    ex, ey = extent if extent is not None else (xs, ys)

    def px(v: Sequence[float], size: float, span: Sequence[float]) -> list[float]:
        lo, hi = min(span), max(span)
        pad = 0.08 * ((hi - lo) or 1.0)
        return [size * (x - lo + pad) / ((hi - lo) + 2 * pad) for x in v]

    def outside(box: tuple) -> float:  # area beyond the plot's edges
        inner = (0.0, 0.0, width_px, height_px)
        return (box[2] - box[0]) * (box[3] - box[1]) - _overlap(box, inner)

    X, Y = px(xs, width_px, ex), px(ys, height_px, ey)
    markers = [(x - marker_px, y - marker_px, x + marker_px, y + marker_px)
               for x, y in zip(X, Y)]
    placed: list[tuple] = []
    out = []
    for i, (x, y, text) in enumerate(zip(X, Y, texts)):
        lines = text.split("<br>")
        w, h = char_px * max(map(len, lines)), line_px * len(lines)
        best, best_area = "top center", float("inf")
        for spot, (dx, dy) in _LABEL_SPOTS.items():
            cx = x + dx * (w / 2 + marker_px)
            cy = y + dy * (h / 2 + marker_px)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            area = sum(_overlap(box, b) for b in placed) + sum(
                _overlap(box, m) for j, m in enumerate(markers) if j != i) + 4 * outside(box)
            if area < best_area - 1e-9:
                best, best_area = spot, area
            if area == 0:
                break
        dx, dy = _LABEL_SPOTS[best]
        cx, cy = x + dx * (w / 2 + marker_px), y + dy * (h / 2 + marker_px)
        if text:
            placed.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        out.append(best)
    return out


def coincident_labels(xs: Sequence[float], ys: Sequence[float], names: Sequence[str],
                      tol: float = 0.01) -> list[str]:
    """One label per spot: points within ``tol`` of each axis' span of an earlier one
    share its label ("DIMEE<br>= All in cloud"), and their own label is empty, so names
    never print over each other."""
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    out = list(names)
    for i in range(len(xs)):
        if not out[i]:
            continue
        for j in range(i + 1, len(xs)):
            if out[j] and abs(xs[i] - xs[j]) <= tol * span_x \
                    and abs(ys[i] - ys[j]) <= tol * span_y:
                out[i] += f"<br>= {out[j]}"
                out[j] = ""
    return out
