"""The stored form of a cache's price of certainty (``dimee_core.price`` computes it;
``tune`` stores it in routing.json, whose loader validates it here). Plain dataclasses and
checks only: this module imports nothing else of the package, so the cache loader can
use it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

FRACTIONS = (0.25, 0.5)  # subsamples certified for the curve (N itself is always there)
FAMILY = "dimee_plus"  # what the Overview recommends: DIMEE+ contains the cascade
MAX_POINTS = 16
MAX_NOTE = 1000


@dataclass(frozen=True)
class Interval:
    """The calibration-best rule re-selected on half the held-out part, scored on the
    other half, ``n`` times: no guarantee, an honest spread."""

    mean_saving_pct: float
    lo_pct: float  # 5th percentile of the saving picked
    hi_pct: float  # 95th percentile
    mean_drop_pp: float  # on the halves that did not choose it
    break_share: float  # share of re-splits whose other-half drop exceeds the target
    n: int


@dataclass(frozen=True)
class SizePoint:
    """Certified saving when only ``n_calibration`` labelled samples are at hand."""

    n_calibration: int
    n_held_out: int
    saving_pct: float | None  # None: too small to certify anything at this target
    note: str


@dataclass(frozen=True)
class Price:
    """Everything the screens show beside a recommended saving (JSON round trip)."""

    target_pp: float
    delta: float
    family: str
    n_calibration: int
    certified_pct: float  # 0 when nothing is certified (then ``certified_note`` says why)
    certified_setting: dict
    bound_pp: float | None
    certified_note: str
    best_pct: float | None  # the calibration-best candidate's saving: expected, no guarantee
    best_drop_pp: float | None  # its held-out drop (the samples that chose it)
    interval: Interval | None
    curve: tuple[SizePoint, ...]
    extrapolated_4x_pct: float | None

    @property
    def certified(self) -> bool:
        return bool(self.certified_setting)

    @property
    def too_small_for_curve(self) -> bool:
        """No subsample could certify anything: the curve has nothing to show."""
        return sum(p.saving_pct is not None for p in self.curve) < 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: object) -> "Price":
        """Read back what ``to_dict`` wrote: every field present, of its type, finite and
        in range (ValueError naming the problem on anything else)."""
        try:
            d = dict(d)  # type: ignore[call-overload]
            d["interval"] = (None if d["interval"] is None else
                             Interval(**_fields(Interval, d["interval"])))
            curve = d["curve"]
            if not isinstance(curve, (list, tuple)) or not 0 < len(curve) <= MAX_POINTS:
                raise ValueError("curve must list 1 to 16 points")
            d["curve"] = tuple(SizePoint(**_fields(SizePoint, p)) for p in curve)
            out = cls(**_fields(cls, d))
        except (TypeError, KeyError) as exc:
            raise ValueError(f"malformed price of certainty: {str(exc)[:200]}") from None
        except ValueError as exc:
            raise ValueError(f"malformed price of certainty: {str(exc)[:200]}") from None
        _check(out)
        return out


def _fields(cls, d: object) -> dict:
    """``d`` as keyword arguments of ``cls``: exactly its fields."""
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__} must be an object")
    names = {f.name for f in fields(cls)}
    if set(d) != names:
        raise ValueError(f"{cls.__name__} needs exactly the fields {sorted(names)}")
    return d


def _num(v: object, lo: float, hi: float, what: str, optional: bool = False) -> None:
    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or not lo <= v <= hi:
        raise ValueError(f"malformed price of certainty: {what} is not a number in "
                         f"[{lo:g}, {hi:g}]")


def _text(v: object, what: str) -> None:
    if not isinstance(v, str) or len(v) > MAX_NOTE:
        raise ValueError(f"malformed price of certainty: {what} is not a short text")


def _check(p: "Price") -> None:
    """Types and ranges of every stored number and text."""
    _num(p.target_pp, 0, 100, "target_pp")
    _num(p.delta, 0, 1, "delta")
    _num(p.n_calibration, 1, 1e9, "n_calibration")
    _num(p.certified_pct, -1e9, 100, "certified_pct")
    _num(p.bound_pp, -100, 100, "bound_pp", optional=True)
    _num(p.best_pct, -1e9, 100, "best_pct", optional=True)
    _num(p.best_drop_pp, -100, 100, "best_drop_pp", optional=True)
    _num(p.extrapolated_4x_pct, -1e9, 100, "extrapolated_4x_pct", optional=True)
    _text(p.family, "family")
    _text(p.certified_note, "certified_note")
    if not isinstance(p.certified_setting, dict) or len(p.certified_setting) > 16:
        raise ValueError("malformed price of certainty: certified_setting")
    if p.interval is not None:
        i = p.interval
        for name in ("mean_saving_pct", "lo_pct", "hi_pct"):
            _num(getattr(i, name), -1e9, 100, f"interval.{name}")
        _num(i.mean_drop_pp, -100, 100, "interval.mean_drop_pp")
        _num(i.break_share, 0, 1, "interval.break_share")
        _num(i.n, 1, 1e9, "interval.n")
    for q in p.curve:
        _num(q.n_calibration, 1, 1e9, "curve n_calibration")
        _num(q.n_held_out, 0, 1e9, "curve n_held_out")
        _num(q.saving_pct, -1e9, 100, "curve saving_pct", optional=True)
        _text(q.note, "curve note")


