"""Pure analysis helpers for the dashboard: frontiers and drill-down tables.

Nothing here imports Streamlit. Functions that take fitted routers re-solve them for a
sweep and always leave them solved for the passed ``config`` again (``try/finally``),
so a caller holding routers in a cache sees the same state before and after.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from . import baselines, words
from .cache import Cache
from .costs import TIERS, CostModel
from .config import METHOD_LABELS, DIMEEConfig
from .evaluate import Evaluation, resolve
from .features import confidences, correct_matrix, exit_layer, pools, routing_features
from .metrics import MethodResult
from .objective import Objective, routing_figures
from .router import CLOUD, MOBILE, DIMEERouter, Routing, gate_of
from .splits import Split

POOLS = ("easy", "medium", "hard")
FRONTIER_COLUMNS = ("method", "param", "value", "accuracy", "accuracy_drop_pp",
                    "mean_cost", "cost_reduction_pct")
EPSILON_GRID = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0,
                20.0, 30.0)
MU_GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
ALPHA_GRID = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99,
              0.999, 1.01)  # alpha > 1: no exit is ever confident, everything goes up


# ---------------------------------------------------------------- scoring helpers

UnitScore = Callable[[Routing], tuple[float, float]]  # a routing -> (figure, all-in-cloud's)


def _frontier_row(method: str, param: str, value: float, routing: Routing, split: Split,
                  ref_cost: float, ref_acc: float | None = None,
                  unit: UnitScore | None = None) -> dict:
    """Accuracy and cost of one routing on ``split``, relative to its final exit; the
    cost in a real unit when ``unit`` scores it (else the abstract one)."""
    acc = float((routing.predictions(split.probs) == split.labels).mean())
    if ref_acc is None:
        ref_acc = float(correct_matrix(split.probs, split.labels)[:, -1].mean())
    mean_cost, ref_cost = (float(routing.cost.mean()), ref_cost) if unit is None else unit(
        routing)
    return {"method": method, "param": param, "value": float(value), "accuracy": acc,
            "accuracy_drop_pp": 100 * (ref_acc - acc), "mean_cost": mean_cost,
            "cost_reduction_pct": 100 * (1 - mean_cost / ref_cost)}


def router_sweep(router: DIMEERouter, config: DIMEEConfig, split: Split, param: str,
                 values: Iterable[float], method: str, unit: UnitScore | None = None
                 ) -> pd.DataFrame:
    """Re-solve a fitted router for each value of ``param`` ("epsilon" or "mu") and score
    it on ``split``. The policy is switched to the one that param belongs to."""
    policy = {"epsilon": "budget", "mu": "reward"}[param]
    ref_cost = config.costs.reference_cost(split.probs.shape[1])
    ref_acc = float(correct_matrix(split.probs, split.labels)[:, -1].mean())
    clusters = router.predict_cluster(split)  # fixed across re-solves
    rows = []
    try:
        for v in values:
            resolve(router, replace(config, policy=policy, **{param: float(v)}))
            rows.append(_frontier_row(method, param, v, router.route(split, clusters), split,
                                      ref_cost, ref_acc, unit))
    finally:
        resolve(router, config)
    return pd.DataFrame(rows, columns=FRONTIER_COLUMNS)


def cascade_sweep(cache: Cache, config: DIMEEConfig, alphas: Iterable[float] = ALPHA_GRID,
                  unit: UnitScore | None = None) -> pd.DataFrame:
    """The confidence cascade on the test split for each alpha."""
    test, L = cache.test, cache.num_layers
    ref_cost = config.costs.reference_cost(L)
    rows = [_frontier_row("cascade", "alpha", a,
                          baselines.cascade(test.probs, a, config.m, config.n, config.costs),
                          test, ref_cost, unit=unit) for a in alphas]
    return pd.DataFrame(rows, columns=FRONTIER_COLUMNS)


def frontiers(cache: Cache, config: DIMEEConfig, routers: tuple[DIMEERouter, DIMEERouter],
              dimee_param: str | None = None, objective: Objective | None = None,
              lengths: np.ndarray | None = None) -> pd.DataFrame:
    """Accuracy-vs-cost curves on the test split: DIMEE over epsilon (or mu when the
    policy is ``reward``), DIMEE+ over epsilon, the cascade over alpha. Under a real
    ``objective`` each point's cost is in its unit (from the test split's token counts
    ``lengths``) and its saving is against all-in-cloud there; the routers still solve
    in the cost model ``config`` gives them."""
    dimee, plus = routers
    param = dimee_param or ("mu" if config.policy == "reward" else "epsilon")
    grid = MU_GRID if param == "mu" else EPSILON_GRID
    unit = None
    if objective is not None and objective.real:
        if lengths is None:
            raise ValueError("a frontier in real units needs the test split's token counts")
        args = (lengths, config.m, config.n, cache.num_layers, config.costs.mode,
                config.hidden_size)
        unit = lambda r: routing_figures(objective, r.tier, r.escalated, *args)  # noqa: E731
    parts = [router_sweep(dimee, config, cache.test, param, grid, "dimee", unit),
             router_sweep(plus, config, cache.test, "epsilon", EPSILON_GRID, "dimee_plus",
                          unit),
             cascade_sweep(cache, config, unit=unit)]
    return pd.concat(parts, ignore_index=True)


def methods_table(evaluation: Evaluation) -> pd.DataFrame:
    """One row per method: the numbers of the Overview / What-if comparison table."""
    rows = []
    for name, r in evaluation.methods.items():
        rows.append({"key": name, "method": METHOD_LABELS[name], "accuracy": r.accuracy,
                     "macro_f1": r.macro_f1, "accuracy_drop_pp": r.accuracy_drop_pp,
                     "mean_cost": r.mean_cost, "cost_reduction_pct": r.cost_reduction_pct,
                     **{f"share_{t}": r.tier_shares[t] for t in TIERS}})
    return pd.DataFrame(rows)


def compare_results(a: MethodResult, b: MethodResult, cost_label: str = "Mean cost per sample",
                    reduction_label: str = "Cost reduction (%)") -> pd.DataFrame:
    """Side-by-side KPIs of two scenarios and their difference (b - a); the labels name
    the unit their costs are in."""
    keys = [("accuracy", 100.0, "Accuracy (%)"),
            ("accuracy_drop_pp", 1.0, "Accuracy drop vs all-in-cloud (pp)"),
            ("mean_cost", 1.0, cost_label),
            ("cost_reduction_pct", 1.0, reduction_label)]
    keys += [(t, 100.0, f"Share answered on {t} (%)") for t in TIERS]
    rows = []
    for key, scale, label in keys:
        va = (a.tier_shares[key] if key in TIERS else getattr(a, key)) * scale
        vb = (b.tier_shares[key] if key in TIERS else getattr(b, key)) * scale
        rows.append({"kpi": label, "a": va, "b": vb, "difference": vb - va})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- per-cluster / per-sample

def tier_name(option: int, beta: float | None = None) -> str:
    """Human name of a router option (DIMEE+ adds the mobile gate and the escalating edge)."""
    gamma = gate_of(int(option))
    if gamma is None:
        return TIERS[int(option)]
    edge = f"edge → cloud if conf < {beta:g}" if beta is not None else "edge → cloud"
    return edge if gamma > 1 else f"mobile if conf ≥ {gamma:g}, else {edge}"


def _phone_gate(option: int) -> float:
    """Confidence a DIMEE+ cluster's sample needs to be answered on the phone: 0 for a
    mobile cluster, gamma for a gated one, NaN when the phone never answers it."""
    if option == MOBILE:
        return 0.0
    gamma = gate_of(int(option))
    return gamma if gamma is not None and gamma <= 1 else float("nan")


def cluster_table(router: DIMEERouter, test_clusters: np.ndarray | None = None) -> pd.DataFrame:
    """Per calibration cluster: size, pool mix, chosen tier and each tier's calibration
    accuracy on it (mobile = exit m, edge = exit n, cloud = final exit)."""
    s, m, n = router.stats_, router.m, router.n
    size = s.size
    denom = np.maximum(size, 1)
    mix = router.pool_mix()
    df = pd.DataFrame({
        "cluster": np.arange(router.n_clusters), "size": size.astype(int),
        "easy": mix[:, 0].astype(int), "medium": mix[:, 1].astype(int),
        "hard": mix[:, 2].astype(int),
        "tier": [tier_name(o, router.beta_) for o in router.cluster_tiers_],
        "gate": [_phone_gate(o) for o in router.cluster_tiers_],
        "acc_mobile": s.correct[:, m - 1] / denom, "acc_edge": s.correct[:, n - 1] / denom,
        "acc_cloud": s.correct[:, -1] / denom})
    if test_clusters is not None:
        df["test_size"] = np.bincount(test_clusters, minlength=router.n_clusters)
    return df


def via_edge(routing: Routing) -> np.ndarray:
    """[N] bool: answered in the cloud after the edge escalated it (DIMEE+, cascade)."""
    if routing.escalated is None:
        return np.zeros(len(routing.tier), dtype=bool)
    return routing.escalated


def sample_table(cache: Cache, config: DIMEEConfig, routing: Routing,
                 escalated: np.ndarray | None = None) -> pd.DataFrame:
    """One row per test sample: text, label, prediction, pool, cluster, tier, cost."""
    test = cache.test
    names = np.array(cache.label_names)
    pred = routing.predictions(test.probs)
    conf = confidences(test.probs)
    texts = test.texts or tuple(f"(sample {i})" for i in range(test.n))
    df = pd.DataFrame({
        "id": np.arange(test.n), "text": list(texts), "label": names[test.labels],
        "prediction": names[pred],
        "pool": np.array(POOLS)[pools(conf, config.alpha, config.m, config.n)],
        "cluster": routing.cluster if routing.cluster is not None else -1,
        "tier": np.array(TIERS)[routing.tier], "exit_layer": routing.exit_layer,
        "correct": pred == test.labels, "cost": routing.cost,
        "conf_mobile": conf[:, config.m - 1]})
    if escalated is not None:
        df["escalated"] = escalated
    return df


def assignments_table(cache: Cache, config: DIMEEConfig, evaluation: Evaluation
                      ) -> pd.DataFrame:
    """The per-sample download: DIMEE's row per test sample plus DIMEE+'s tier, exit,
    correctness, cost and whether the edge escalated it (columns ending in ``_plus``)."""
    df = sample_table(cache, config, evaluation.routings["dimee"])
    plus = evaluation.routings["dimee_plus"]
    pred = plus.predictions(cache.test.probs)
    return df.assign(tier_plus=np.array(TIERS)[plus.tier], exit_layer_plus=plus.exit_layer,
                     prediction_plus=np.array(cache.label_names)[pred],
                     correct_plus=pred == cache.test.labels, cost_plus=plus.cost,
                     escalated_plus=via_edge(plus))


def trajectory(split: Split, index: int, label_names: Sequence[str]) -> pd.DataFrame:
    """Per layer: confidence, predicted class and whether that exit is right."""
    if not 0 <= index < split.n:
        raise ValueError(f"sample index must be in [0, {split.n - 1}], got {index}")
    p = split.probs[index]
    pred = p.argmax(1)
    return pd.DataFrame({"layer": np.arange(1, p.shape[0] + 1),
                         "confidence": p.max(1).astype(float),
                         "p_true": p[:, split.labels[index]].astype(float),
                         "prediction": [label_names[c] for c in pred],
                         "correct": pred == split.labels[index]})


def cost_breakdown(costs: CostModel, m: int, n: int, num_layers: int, tier: int,
                   escalated: bool = False) -> dict[str, float]:
    """Split one sample's route cost into mobile compute, offload, remote compute and
    escalation (edge → cloud hand-over of DIMEE+). The parts sum to the route cost."""
    resume = costs.mode == "resume"
    parts = {"mobile compute": m * costs.lambda_mobile, "offload": 0.0,
             "remote compute": 0.0, "escalation": 0.0}
    if tier == CLOUD and not escalated:
        parts["offload"] = costs.o_cloud
        parts["remote compute"] = (num_layers - m if resume else num_layers) * costs.lambda_cloud
    elif tier != 0:  # edge, or edge that escalated to the cloud
        parts["offload"] = costs.o_edge
        parts["remote compute"] = (n - m if resume else n) * costs.lambda_edge
        if escalated:
            parts["escalation"] = costs.escalation_cost(n, num_layers)
    return parts


# ---------------------------------------------------------------- teaching views

def layer_accuracy(split: Split) -> pd.DataFrame:
    """Per exit: accuracy and mean confidence."""
    corr, conf = correct_matrix(split.probs, split.labels), confidences(split.probs)
    return pd.DataFrame({"layer": np.arange(1, corr.shape[1] + 1),
                         "accuracy": corr.mean(0), "mean_confidence": conf.mean(0)})


def confidence_long(split: Split, max_samples: int = 3000,
                    random_state: int = 0) -> pd.DataFrame:
    """Long table (sample, layer, confidence, correct) for distribution plots; at most
    ``max_samples`` samples (a seeded subsample) to keep charts light."""
    idx = np.arange(split.n)
    if split.n > max_samples:
        idx = np.sort(np.random.default_rng(random_state).choice(split.n, max_samples,
                                                                 replace=False))
    conf = confidences(split.probs)[idx]
    corr = correct_matrix(split.probs, split.labels)[idx]
    L = conf.shape[1]
    return pd.DataFrame({"sample": np.repeat(idx, L), "layer": np.tile(np.arange(1, L + 1),
                                                                       len(idx)),
                         "confidence": conf.ravel(), "correct": corr.ravel()})


def pool_shares(split: Split, m: int, n: int,
                alphas: Iterable[float] = ALPHA_GRID) -> pd.DataFrame:
    """Share of samples in the easy / medium / hard pool for each alpha."""
    conf = confidences(split.probs)
    rows = []
    for a in alphas:
        counts = np.bincount(pools(conf, a, m, n), minlength=3) / split.n
        rows.append({"alpha": float(a), **dict(zip(POOLS, counts.astype(float)))})
    return pd.DataFrame(rows)


def projection(router: DIMEERouter, split: Split, random_state: int = 0,
               max_samples: int = 4000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """2-D PCA of the router's (scaled) routing features, fitted on ``split``.

    Returns the samples (x, y, pool, cluster; a seeded subsample of at most
    ``max_samples``) and the k-means centroids in the same plane.
    """
    X = routing_features(split.probs, split.feats, router.m, router.features)
    Z = router.scaler_.transform(X) * router.block_weights_
    # One routing feature (m = 1, "conf") leaves one axis: draw it as a strip (y = 0).
    pca = PCA(n_components=min(2, Z.shape[1]), random_state=random_state).fit(Z)

    def plane(A: np.ndarray) -> np.ndarray:
        xy = pca.transform(A)
        return np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))

    idx = np.arange(split.n)
    if split.n > max_samples:
        idx = np.sort(np.random.default_rng(random_state).choice(split.n, max_samples,
                                                                 replace=False))
    xy = plane(Z[idx])
    pool = pools(confidences(split.probs[idx]), router.alpha, router.m, router.n)
    pts = pd.DataFrame({"id": idx, "x": xy[:, 0], "y": xy[:, 1],
                        "pool": np.array(POOLS)[pool],
                        "cluster": router.kmeans_.predict(Z[idx])})
    c = plane(router.kmeans_.cluster_centers_)
    centres = pd.DataFrame({"cluster": np.arange(len(c)), "x": c[:, 0], "y": c[:, 1],
                            "tier": [tier_name(o, router.beta_) for o in router.cluster_tiers_]})
    return pts, centres


def example_samples(split: Split, alpha: float, m: int, n: int) -> dict[str, int]:
    """A clear easy sample (most confident at exit m among easy ones the mobile gets
    right) and a clear hard one (least confident at m among hard ones the final exit
    gets right). Never empty: when α leaves a pool empty, the sample closest to it (the
    most / least confident at exit m overall) stands in; the caller can tell by its
    pool."""
    conf = confidences(split.probs)
    corr = correct_matrix(split.probs, split.labels)
    pool = pools(conf, alpha, m, n)
    out: dict[str, int] = {}
    for name, mask, pick in (("easy", (pool == 0) & corr[:, m - 1], np.argmax),
                             ("hard", (pool == 2) & corr[:, -1], np.argmin)):
        for candidates in (mask, pool == (0 if name == "easy" else 2),
                           np.ones(split.n, dtype=bool)):
            idx = np.flatnonzero(candidates)
            if idx.size:
                out[name] = int(idx[pick(conf[idx, m - 1])])
                break
    return out


def _margin(safety: float) -> str:
    """The budget policy's safety margin in words (0: none, and what one would do)."""
    what = ("standard errors, how far a loss measured on that few samples may be off by "
            "chance, so that a small cluster that only looks good by luck is not trusted")
    if safety <= 0:
        return (" (with no safety margin; a margin would raise each cluster's measured loss "
                f"by a number of {what})")
    return (f" (with a safety margin: each cluster's measured loss is raised by {safety:g} "
            f"{what.replace('standard errors', 'standard ' + words.plural(safety, 'error'))})")


def why_tier(cluster: Mapping[str, Any], tier_costs: Sequence[float], config: DIMEEConfig,
             n_calibration: int) -> str:
    """Why DIMEE sent a cluster to its tier, from the numbers its policy used: the
    cluster's calibration accuracy on each tier and each tier's cost per sample.
    ``cluster`` is a row of :func:`cluster_table` (a plain-tier DIMEE router)."""
    acc = {t: float(cluster[f"acc_{t}"]) for t in TIERS}
    size, tier = int(cluster["size"]), str(cluster["tier"])
    facts = (f"Cluster #{int(cluster['cluster'])} holds "
             f"{words.count(size, 'calibration sample')} that looked alike to the phone. "
             f"On them the phone's exit is right {100 * acc['mobile']:.0f} % of the time, "
             f"the edge's {100 * acc['edge']:.0f} % and the cloud's {100 * acc['cloud']:.0f} %; an answer costs "
             f"{tier_costs[0]:.3g} on the phone, {tier_costs[1]:.3g} on the edge and "
             f"{tier_costs[2]:.3g} in the cloud. ")
    if config.policy == "pools":
        counts = {p: int(cluster[p]) for p in POOLS}
        return facts + (f"The pools policy follows the majority: {max(counts, key=counts.get)}"
                        f" ({', '.join(f'{v} {p}' for p, v in counts.items())} at α = "
                        f"{config.alpha:g}), so {tier}.")
    if config.policy == "reward":
        ref = tier_costs[2] if tier_costs[2] > 0 else 1.0
        score = {t: acc[t] - config.mu * c / ref for t, c in zip(TIERS, tier_costs)}
        return facts + ("The reward policy scores accuracy − μ·cost/cloud cost (μ = "
                        f"{config.mu:g}, how much accuracy one all-in-cloud cost is "
                        "worth): " + ", ".join(f"{t} {v:.3f}" for t, v in score.items())
                        + f"; the highest wins: {tier}.")
    cheaper = [t for t, c in zip(TIERS, tier_costs) if c < tier_costs[TIERS.index(tier)]]
    loss = {t: 100 * (acc["cloud"] - acc[t]) * size / max(n_calibration, 1)
            for t in cheaper}
    if not cheaper:
        return facts + f"The {tier} is the cheapest tier at these costs, so: {tier}."
    first, *rest = cheaper
    tail = (f"Sending it to the {first} instead would lose {loss[first]:.2f} pp of the "
            f"whole calibration accuracy" + "".join(f", to the {t} {loss[t]:.2f} pp"
                                                   for t in rest)
            + f". The budget policy picks, for all clusters together, the cheapest tiers "
            f"whose total loss stays within ε = {config.epsilon:g} pp{_margin(config.safety)}"
            f"; a cheaper tier for this cluster did not fit, so: {tier}.")
    return facts + tail


def first_exit(split: Split, alpha: float) -> np.ndarray:
    """The early-exit layer of every sample (re-exported for pages)."""
    return exit_layer(confidences(split.probs), alpha)
