"""A recommendation at a cache's stored setting and its words, without computing it: the
record :func:`dimee_core.summary.recommend` computes and :mod:`dimee_core.answer` reads
back from what ``tune`` stored. Light on purpose (no scikit-learn, SciPy or pandas): the
dashboard's first screen draws from it before those are imported."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .cache import Cache
from .config import DELTA, METHOD_LABELS, DIMEEConfig
from .metrics import MethodResult

if TYPE_CHECKING:
    from .router import Routing

TARGET_PP = 0.3  # the target of a cache whose defaults were never tuned (`tune`'s default)
COMPARED = ("dimee", "dimee_plus", "cascade")


@dataclass(frozen=True)
class CalibrationPoint:
    drop_pp: float
    mean_cost: float


@dataclass(frozen=True)
class Recommendation:
    """DIMEE, DIMEE+ and the cascade at one cache's stored setting, and the pick."""

    dataset: str
    title: str
    config: DIMEEConfig
    method: str  # "dimee" or "dimee_plus": chosen on calibration
    target_pp: float  # the cache's stored target (what its settings were certified for)
    cascade_alpha: float  # certified on calibration for target_pp (selection.cascade_alpha)
    calibration: dict[str, CalibrationPoint]  # dimee, dimee_plus, cascade
    test: dict[str, MethodResult]  # dimee, dimee_plus, cascade; with 95 % intervals
    n_test: int
    cloud_accuracy: float  # all-in-cloud test accuracy
    routings: dict[str, Routing]  # the test routings scored above (rescored in real units)
    plus_config: DIMEEConfig | None = None  # DIMEE+'s setting (None: ``config``)
    delta: float = DELTA  # the stored risk of the guarantee
    certified: tuple[str, ...] = ()  # which of dimee, dimee_plus hold a stored guarantee
    joint: bool = False  # both certified by one walk: the pick between them is covered

    def with_test(self, test: dict[str, MethodResult]) -> "Recommendation":
        """The same recommendation with its test results replaced (e.g. the same routings
        scored in a profile's units): the pick and its calibration numbers stay."""
        return replace(self, test=test)

    @property
    def chosen(self) -> MethodResult:
        return self.test[self.method]

    @property
    def chosen_config(self) -> DIMEEConfig:
        """The setting the recommended method runs at."""
        return self.config_of(self.method)

    def config_of(self, method: str) -> DIMEEConfig:
        """The setting a method's routing was made at (its m and n place the tiers)."""
        return (self.plus_config or self.config) if method == "dimee_plus" else self.config


def stored_target(cache: Cache) -> tuple[float, float, tuple[str, ...], bool]:
    """The target (pp) and delta a cache's settings were certified for, which methods
    hold a certified setting, and whether one walk certified both (``tune`` since issue
    22: then choosing between them keeps the guarantee)."""
    d = cache.defaults
    plus = d.get("dimee_plus") if isinstance(d.get("dimee_plus"), dict) else {}
    target = d.get("target_pp", plus.get("target_pp", TARGET_PP))
    delta = d.get("delta", plus.get("delta", DELTA))
    certified = tuple(m for m, e in (("dimee", d), ("dimee_plus", plus))
                      if e.get("certified", "guarantee" in e))
    joint = bool(d.get("joint") and plus.get("joint"))
    return float(target), float(delta), certified, joint


def pick_method(calibration: dict[str, CalibrationPoint], target_pp: float,
                certified: tuple[str, ...] = (), joint: bool = False) -> str:
    """The recommended method. When one walk certified both DIMEE and DIMEE+ (``joint``),
    the cheaper on calibration (ties go to DIMEE, the simpler): any certified candidate
    may be picked. Otherwise DIMEE+, fixed in advance (it contains the cascade): picking
    between separately certified settings on their numbers would hold only at 2 delta."""
    names = ("dimee", "dimee_plus")
    ok = [m for m in names if m in certified]
    if joint and ok:
        return min(ok, key=lambda m: (calibration[m].mean_cost, m != "dimee"))
    return "dimee_plus"


def setting_words(config: DIMEEConfig) -> str:
    """A stored setting in one line (a DIMEE+ setting that is a cascade says so)."""
    c = config
    if c.as_cascade:
        return (f"m = {c.m}, n = {c.n}, every cluster gated at α = {c.alpha:g} (the "
                f"confidence cascade DIMEE+ contains)")
    return (f"m = {c.m}, n = {c.n}, k = {c.k}, features {c.features}, policy {c.policy}, "
            f"ε = {c.epsilon:g} pp, safety {c.safety:g}")


def accuracy_words(r: MethodResult) -> str:
    """The accuracy change in words, led by what its 95 % interval allows one to say."""
    d, ci = r.accuracy_drop_pp, r.drop_ci95
    span = f" (95 % interval {ci[0]:+.2f} to {ci[1]:+.2f} pp)" if ci else ""
    if ci is not None and ci[0] <= 0 <= ci[1]:
        return f"no measurable accuracy loss{span}"
    if d > 0:
        return f"an accuracy loss of {d:.2f} pp{span}"
    if d < 0:
        return f"a gain of {-d:.2f} pp in accuracy{span}"
    return "the same accuracy as all-in-cloud"


def saving_words(r: MethodResult, noun: str = "cost") -> str:
    """How much cheaper than all-in-cloud; ``noun`` names what is saved when it is not the
    abstract cost ("latency", "phone energy", "money")."""
    ci = r.reduction_ci95
    span = f" (95 % interval {ci[0]:.1f} to {ci[1]:.1f} %)" if ci else ""
    red = r.cost_reduction_pct
    if noun == "cost":
        return f"costs {abs(red):.1f} % {'more' if red < 0 else 'less'} than all-in-cloud{span}"
    return (f"{'raises' if red < 0 else 'cuts'} {noun} by {abs(red):.1f} % against "
            f"all-in-cloud{span}")


def all_to_cloud(r: MethodResult) -> bool:
    """A routing that saves nothing because every request goes to the cloud."""
    return r.tier_shares["cloud"] >= 0.999 and abs(r.cost_reduction_pct) < 0.05


def zero_reason(target_pp: float) -> str:
    """Why a certified method saves 0 %: said in the same sentence as the 0 %."""
    return (f"because at the {target_pp:g} pp target nothing cheaper than sending every "
            f"request to the cloud could be certified on this data set's calibration "
            f"samples")


def cloud_reason(config: DIMEEConfig) -> str:
    """Why a DIMEE router at ``config`` sends every request to the cloud (its policy's
    words: every cluster's cheaper tiers cost too much accuracy on calibration)."""
    if config.policy == "budget":
        return (f"because no cluster's cheaper tier keeps the calibration accuracy within "
                f"the ε = {config.epsilon:g} pp budget"
                + (f" (with a safety margin of {config.safety:g} standard errors)"
                   if config.safety else "")
                + (" with a single cluster" if config.k == 1 else ""))
    if config.policy == "reward":
        return (f"because at μ = {config.mu:g} no cluster's saving is worth its accuracy "
                f"loss on calibration")
    return f"because every cluster's majority pool is hard at α = {config.alpha:g}"


def headline(rec: Recommendation, noun: str = "cost") -> str:
    """One plain sentence (Markdown, no user-controlled text) for the Overview; a method
    that saves nothing says why in the same sentence."""
    r, s = rec.chosen, rec.chosen.tier_shares
    if all_to_cloud(r):
        return (f"**{METHOD_LABELS[rec.method]}** sends every request to the cloud and "
                f"**saves nothing**, {zero_reason(rec.target_pp)}; the accuracy is the "
                f"cloud's own on the {rec.n_test:,} held-out test samples.")
    return (f"**{METHOD_LABELS[rec.method]}** answers {100 * s['mobile']:.0f} % of requests "
            f"on the phone, {100 * s['edge']:.0f} % on the edge and "
            f"{100 * s['cloud']:.0f} % in the cloud: it **{saving_words(r, noun)}**, with "
            f"**{accuracy_words(r)}** on the {rec.n_test:,} held-out test samples.")


def why(rec: Recommendation) -> str:
    """Why this method: the calibration numbers that chose it (test never did), and what
    the choice keeps of the guarantee."""
    c = rec.calibration
    other = "dimee_plus" if rec.method == "dimee" else "dimee"
    a, b = c[rec.method], c[other]
    if rec.joint and rec.method in rec.certified:
        return (f"Chosen on the calibration split: {METHOD_LABELS[rec.method]} costs "
                f"{a.mean_cost:.2f} per sample, {METHOD_LABELS[other]} {b.mean_cost:.2f}. "
                f"Both settings were certified by one walk at {rec.target_pp:g} pp "
                f"(δ = {rec.delta:g}), so the guarantee holds for whichever is picked. "
                f"The test split only scores the choice.")
    return (f"{METHOD_LABELS[rec.method]} is recommended by a rule fixed in advance (it "
            f"contains the cascade): choosing between separately certified settings on "
            f"the same data would void δ. On the calibration split it costs "
            f"{a.mean_cost:.2f} per sample at a {a.drop_pp:+.2f} pp drop, "
            f"{METHOD_LABELS[other]} {b.mean_cost:.2f} at {b.drop_pp:+.2f} pp. The test "
            f"split only scores them.")
