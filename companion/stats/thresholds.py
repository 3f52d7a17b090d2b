"""Thresholds: the first step T* at which a curve meets a rule, per curve and per sweep frame.

One rule value, :class:`Rule`, names every threshold the book uses:

- ``within_delta``: the first t at which the metric is within ``delta`` of its best value over the grid
  (loss <= min + delta, or accuracy >= max - delta);
- ``reaches``: the first t at which the metric reaches ``level`` (loss <= level, accuracy >= level);
- ``gain_share``: the first t at which an accuracy has realised ``share`` of its own gain
  (:func:`gain_level`: a level relative to the curve's own ceiling);
- ``within_reference``: the first t from which the metric stays within ``delta`` of a reference value
  (the value at the longest pre-training), on one side (``below``: only a shortfall counts) or both.

The crossing is located by linear interpolation of the metric in log(1 + t) between the two grid points
that bracket it, so T* is not restricted to grid values. A curve that never meets its rule is censored,
and a censored curve is represented one way: ``t_star`` NaN (``reached`` False, where a frame carries
the flag, is derived from it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import validate

RULES = ("within_delta", "reaches")
#: Every kind of :class:`Rule`.
RULE_KINDS = ("within_delta", "reaches", "gain_share", "within_reference")
METRICS = ("loss", "accuracy")
SIDES = ("below", "both")


@dataclass(frozen=True)
class Rule:
    """A threshold rule: ``kind`` (RULE_KINDS), the ``metric`` it reads, and its one number (``delta``,
    ``level`` or ``share``); ``side`` for ``within_reference``. :meth:`time` computes T* of one curve
    (NaN: censored); :meth:`describe` says the rule in words."""

    kind: str
    metric: str = "accuracy"
    delta: float | None = None
    level: float | None = None
    share: float | None = None
    side: str = "both"

    def __post_init__(self):
        validate.choice("rule", self.kind, RULE_KINDS)
        validate.choice("metric", self.metric, METRICS)
        validate.choice("side", self.side, SIDES)
        if self.kind in ("within_delta", "within_reference"):
            validate.positive("delta", self.delta)
        elif self.kind == "reaches":
            validate.real("level", self.level)
        else:
            validate.real("share", self.share, low=0.0, high=1.0, low_open=True)

    @classmethod
    def from_params(cls, rule: str, metric: str, delta: float | None = None, level: float | None = None
                    ) -> "Rule":
        """The rule a chapter's loose parameters name (``rule``, ``metric``, ``delta``, ``level``)."""
        validate.choice("rule", rule, RULES)
        return cls(rule, metric, delta=delta if rule == "within_delta" else None,
                   level=level if rule == "reaches" else None)

    @property
    def value(self) -> float:
        """The rule's one number."""
        return {"within_delta": self.delta, "within_reference": self.delta, "reaches": self.level,
                "gain_share": self.share}[self.kind]

    def time(self, t, values, reference: float | None = None) -> float:
        """T* of one curve; NaN when the rule is never met (censored). ``reference``: the value a
        ``within_reference`` rule is measured against."""
        if self.kind in RULES:
            return threshold_time(t, values, rule=self.kind, metric=self.metric, delta=self.delta,
                                  level=self.level)
        if self.kind == "gain_share":
            level = gain_level(t, values, self.share)
            return (threshold_time(t, values, rule="reaches", metric=self.metric, level=level)
                    if math.isfinite(level) else math.nan)
        return within_reference_time(t, values, reference, self.delta, side=self.side,
                                     higher_is_better=self.metric == "accuracy")

    def describe(self, what: str = "its") -> str:
        """The rule in words: 'the first step at which its training accuracy reaches 0.85'."""
        metric = f"{what} {self.metric}"
        if self.kind == "reaches":
            return f"the first step at which {metric} reaches {self.level:g}"
        if self.kind == "within_delta":
            return f"the first step at which {metric} is within {self.delta:g} of its best"
        if self.kind == "gain_share":
            return f"the first step at which {metric} has realised {self.share:.0%} of its own gain"
        side = "no more than" if self.side == "below" else "within"
        below = " below" if self.side == "below" else " of"
        return f"the first step at which {metric} is {side} {self.delta:g}{below} its reference"


@dataclass(frozen=True)
class ThresholdSeries:
    """One setting's thresholds as a chapter hands them to the regime map: ``ts`` (n, seed, t_star; NaN
    t_star is a censored unit), or ``missing`` (why there is none, e.g. results not committed);
    ``split``: the growth split of chapter 2's dense threshold; ``summed``: {eps: the largest N at which
    every seed reaches the theorem's summed target, or None}."""

    setting: str
    ts: pd.DataFrame | None = None
    missing: str | None = None
    split: dict | None = None
    summed: dict | None = None
    rule: Rule | None = None


def censored(ts: pd.DataFrame) -> pd.Series:
    """Which units of a thresholds frame are censored (never met their rule): NaN ``t_star``."""
    return ~np.isfinite(ts["t_star"].astype(float))


def threshold_time(t, values, *, rule: str = "within_delta", metric: str = "loss",
                   delta: float | None = None, level: float | None = None) -> float:
    """T* of one curve (see the module docstring); NaN when the rule is never met."""
    validate.choice("rule", rule, RULES)
    validate.choice("metric", metric, METRICS)
    t = np.asarray(t, dtype=float)
    v = np.asarray(values, dtype=float)
    order = np.argsort(t)
    t, v = t[order], v[order]
    if len(t) == 0 or np.any(t < 0):
        raise validate.ParameterError("parameter 't' must be a non-empty list of iterations >= 0")
    sign = 1.0 if metric == "loss" else -1.0  # work with "lower is better"
    w = sign * v
    if rule == "within_delta":
        target = np.nanmin(w) + validate.positive("delta", delta)
    else:
        target = sign * validate.real("level", level)
    hit = np.flatnonzero(w <= target)
    if len(hit) == 0:
        return math.nan
    i = int(hit[0])
    if i == 0:
        return float(t[0])
    x0, x1 = np.log1p(t[i - 1]), np.log1p(t[i])
    w0, w1 = w[i - 1], w[i]
    frac = 1.0 if w0 == w1 else (w0 - target) / (w0 - w1)
    return float(np.expm1(x0 + frac * (x1 - x0)))


#: Columns that name an arm of an experiment (a regime, an optimiser); thresholds keep them.
GROUPS = ("regime", "optimizer")


def _groups(frame: pd.DataFrame) -> list[str]:
    return [c for c in GROUPS if c in frame.columns]


def thresholds(frame: pd.DataFrame, *, rule: "str | Rule" = "within_delta", metric: str = "loss",
               delta: float | None = 0.02, level: float | None = 0.85, method: str = "greedy",
               split: str = "train") -> pd.DataFrame:
    """T* per (arm, n, seed) from a sweep frame: the arm columns present (regime, optimizer), n, seed,
    t_star, best (the best value of the metric over the grid), reached (bool). ``rule``: a
    :class:`Rule` of kind ``reaches`` or ``within_delta`` (then ``metric``, ``delta`` and ``level``
    are the rule's), or its kind as a string."""
    if isinstance(rule, Rule):
        validate.choice("rule", rule.kind, RULES)
        rule, metric, delta, level = rule.kind, rule.metric, rule.delta, rule.level
    keys = _groups(frame) + ["n", "seed"]
    sub = frame[(frame["method"] == method) & (frame["split"] == split)]
    rows = []
    for key, g in sub.groupby(keys, sort=True):
        ts = threshold_time(g["t"], g[metric], rule=rule, metric=metric, delta=delta, level=level)
        best = g[metric].min() if metric == "loss" else g[metric].max()
        rows.append({**dict(zip(keys, key)), "t_star": ts, "best": float(best),
                     "reached": not math.isnan(ts)})
    out = pd.DataFrame(rows, columns=keys + ["t_star", "best", "reached"])
    return out.astype({"n": int, "seed": int}) if len(out) else out


def summed_thresholds(frame: pd.DataFrame, eps: float, *, method: str = "greedy",
                      split: str = "train") -> pd.DataFrame:
    """The theorem's criterion: the first t at which half the *summed* squared loss,
    sum_i 0.5 ||f(x_i) - y_i||^2 = N * (mean loss), is at most ``eps`` (a mean loss <= eps / N, which
    tightens as N grows). Columns as :func:`thresholds`; ``best`` is the lowest summed loss."""
    validate.positive("eps", eps)
    summed = frame.assign(loss=frame["loss"] * frame["n"])
    return thresholds(summed, rule="reaches", metric="loss", level=eps, method=method, split=split)


def value_at(t, values, t_star: float) -> float:
    """A curve's value at iteration ``t_star``, interpolated linearly in log(1 + t) (as T* itself)."""
    if not math.isfinite(t_star):
        return math.nan
    t = np.asarray(t, dtype=float)
    order = np.argsort(t)
    return float(np.interp(np.log1p(t_star), np.log1p(t[order]), np.asarray(values, float)[order]))


def at_threshold(frame: pd.DataFrame, ts: pd.DataFrame, *, method: str, metric: str = "accuracy"
                 ) -> pd.DataFrame:
    """For each unit of ``ts``: ``method``'s training and held-out ``metric`` at that unit's T*, and the
    train - test gap (memorisation shows as a large gap, the population regime as a small one)."""
    rows = []
    sub = frame[frame["method"] == method]
    curves = {key: g for key, g in sub.groupby(["n", "seed", "split"])}
    for row in ts.itertuples():
        vals = {}
        for split in ("train", "test"):
            g = curves.get((row.n, row.seed, split))
            vals[split] = math.nan if g is None else value_at(g["t"], g[metric], row.t_star)
        rows.append({"n": row.n, "seed": row.seed, "t_star": row.t_star, "train": vals["train"],
                     "test": vals["test"], "gap": vals["train"] - vals["test"]})
    return pd.DataFrame(rows, columns=["n", "seed", "t_star", "train", "test", "gap"])


def interpolation_error(frame: pd.DataFrame, **rule) -> pd.DataFrame:
    """How much T* moves when every other checkpoint is dropped (t = 0 and the last one kept): an upper
    bound on the interpolation error of the coarser grid, so a conservative one for the grid used.
    Columns n, seed, t_star, t_star_half, abs_diff."""
    grid = sorted(frame["t"].unique())
    half = set(grid[::2]) | {grid[0], grid[-1]}
    full = thresholds(frame, **rule)
    coarse = thresholds(frame[frame["t"].isin(half)], **rule)
    out = full.merge(coarse[["n", "seed", "t_star"]], on=["n", "seed"], suffixes=("", "_half"))
    out["abs_diff"] = (out["t_star"] - out["t_star_half"]).abs()
    return out[["n", "seed", "t_star", "t_star_half", "abs_diff"]]


#: A pruned threshold's tolerance: the share of the way from the residual at t = 0 down to the floor
#: that may remain (see :func:`pruned_threshold`).
PRUNED_TOLERANCE = 0.1


def pruned_threshold(t, residual, floor: float, tolerance: float = PRUNED_TOLERANCE) -> float:
    """The pre-training a subnetwork needs, independently of how long the run goes on: the first
    checkpoint t (interpolated in log(1 + t), as :func:`threshold_time`) at which its summed residual
    ||y - u_S(t)||^2 has come down to ``floor`` + ``tolerance`` x (residual(0) - floor), i.e. within
    ``tolerance`` of the way from its value at initialisation down to ``floor``, the O(1/k) term that
    pre-training does not remove (to be measured on *other* runs, so that this run's length does not
    enter). 0 when the residual at t = 0 is already at or below the floor; NaN when the run ends first
    (censored: the threshold is beyond the run). NaN ``floor``: NaN."""
    validate.real("tolerance", tolerance, low=0.0, high=1.0, low_open=True)
    t, v = np.asarray(t, float), np.asarray(residual, float)
    order = np.argsort(t)
    t, v = t[order], v[order]
    if not math.isfinite(floor) or not len(t):
        return math.nan
    if v[0] <= floor:
        return float(t[0])
    level = floor + tolerance * (v[0] - floor)
    return threshold_time(t, v, rule="reaches", metric="loss", level=level)


def leave_one_out_mean(frame: pd.DataFrame, by, value: str) -> pd.Series:
    """For each row, the mean of ``value`` over the *other* rows of its group ``by`` (one row per run:
    the other seeds): an estimate that does not use the row's own run. NaN where the group has one row."""
    by = [by] if isinstance(by, str) else list(by)
    total = frame.groupby(by)[value].transform("sum")
    count = frame.groupby(by)[value].transform("count")
    own = frame[value]
    out = (total - own) / (count - 1)
    return out.where(count > 1)


def gain_level(t, values, share: float) -> float:
    """The level a curve reaches after ``share`` of its gain: v(t_0) + share x (best - v(t_0)), best the
    largest value over the grid (an accuracy), t_0 its first grid point. A level set relative to the
    curve's own ceiling, so that a subnetwork that can never reach a fixed level still has a threshold."""
    validate.real("share", share, low=0.0, high=1.0, low_open=True)
    t, v = np.asarray(t, float), np.asarray(values, float)
    if not len(t):
        return math.nan
    v = v[np.argsort(t)]
    return float(v[0] + share * (np.nanmax(v) - v[0]))


def gain_thresholds(frame: pd.DataFrame, share: float, keys, *, level_from: str = "own",
                    metric: str = "accuracy") -> pd.DataFrame:
    """T* per curve (``keys`` + n + seed) at a level relative to the ceiling (:func:`gain_level`).

    ``level_from='own'``: each curve's own start and best (T* = the time to realise ``share`` of its own
    gain; always defined when the curve rises at all). ``level_from='largest'``: one level per ``keys``
    group, the mean over seeds of :func:`gain_level` at the group's largest n, used for every n (a fixed
    level, as ``reaches``; a curve that never gets there is NaN, censored). Columns: keys, n, seed, level,
    start, best, t_star, reached."""
    keys = list(keys)
    validate.choice("level_from", level_from, ("own", "largest"))
    cols = keys + ["n", "seed", "level", "start", "best", "t_star", "reached"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for key, g in frame.groupby(keys + ["n", "seed"], sort=True):
        g = g.sort_values("t")
        rows.append({**dict(zip(keys + ["n", "seed"], key)), "level": gain_level(g["t"], g[metric], share),
                     "start": float(g[metric].iloc[0]), "best": float(g[metric].max()), "_g": g})
    out = pd.DataFrame(rows)
    if level_from == "largest":
        grouped = out.groupby(keys) if keys else [((), out)]
        for key, g in grouped:
            top = g[g["n"] == g["n"].max()]["level"].mean()
            out.loc[g.index, "level"] = top
    out["t_star"] = [threshold_time(r["_g"]["t"], r["_g"][metric], rule="reaches", metric=metric,
                                    level=r["level"]) if math.isfinite(r["level"]) else math.nan
                     for _, r in out.iterrows()]
    out["reached"] = out["t_star"].notna()
    return out[cols].astype({"n": int, "seed": int})


#: Accuracies are fractions of images: a gap within this of delta is delta (no last bits).
REFERENCE_EPS = 1e-9


def within_reference_time(t, values, reference: float, delta: float, *, side: str = "both",
                          higher_is_better: bool = True) -> float:
    """The first grid point t from which ``values`` stays within ``delta`` of ``reference`` at every
    later grid point: on both sides (|v - reference| <= delta) or ``below`` only (a shortfall of at
    most delta; a value above the reference counts as within). No interpolation: the grid's own
    points. NaN when not even the last point is within, or when the reference is NaN; a NaN value is
    never within. (Chapter 4's t_enough is this rule with the value at T_full as the reference.)"""
    validate.choice("side", side, SIDES)
    if reference is None or not math.isfinite(reference):
        return math.nan
    t, v = np.asarray(t, float), np.asarray(values, float)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    gap = (v - reference) if higher_is_better else (reference - v)
    with np.errstate(invalid="ignore"):
        ok = (gap >= -delta - REFERENCE_EPS) if side == "below" else (np.abs(gap) <= delta + REFERENCE_EPS)
    ok &= np.isfinite(v)
    bad = np.flatnonzero(~ok)
    first = 0 if len(bad) == 0 else int(bad[-1]) + 1
    return float(t[first]) if first < len(t) else math.nan


def usefulness(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method: the best training accuracy over t (seed means), at the worst and the best N."""
    sub = frame[frame["split"] == "train"]
    curve = sub.groupby(["method", "n", "t"])["accuracy"].mean().reset_index()
    best = curve.groupby(["method", "n"])["accuracy"].max().reset_index()
    return best.groupby("method")["accuracy"].agg(["min", "max"]).reset_index() \
        .rename(columns={"min": "best_acc_worst_n", "max": "best_acc_best_n"})


def accuracy_window(t, values, level: float) -> dict:
    """The window in which an accuracy curve stays at or above ``level``: ``open``, the first t at which
    it reaches the level (as :func:`threshold_time`, interpolated in log(1 + t)); ``close``, the t after
    which it stays below the level to the end of the grid (the crossing between the last checkpoint at or
    above the level and the next one, interpolated the same way); ``peak_t`` and ``peak``, where the
    curve is highest. ``open`` NaN: the level is never reached (no window); ``close`` NaN with ``open``
    finite: the window is still open at the last checkpoint (censored)."""
    t = np.asarray(t, dtype=float)
    v = np.asarray(values, dtype=float)
    order = np.argsort(t)
    t, v = t[order], v[order]
    out = {"open": math.nan, "close": math.nan, "peak_t": math.nan, "peak": math.nan}
    if not len(t) or not np.isfinite(v).any():
        return out
    i_peak = int(np.nanargmax(v))
    out |= {"peak_t": float(t[i_peak]), "peak": float(v[i_peak])}
    out["open"] = threshold_time(t, v, rule="reaches", metric="accuracy", level=level)
    if not math.isfinite(out["open"]):
        return out
    above = np.flatnonzero(v >= level)
    j = int(above[-1])
    if j == len(t) - 1:
        return out  # still open at the end of the grid
    x0, x1 = np.log1p(t[j]), np.log1p(t[j + 1])
    v0, v1 = v[j], v[j + 1]
    frac = 1.0 if v0 == v1 else (v0 - level) / (v0 - v1)
    out["close"] = float(np.expm1(x0 + frac * (x1 - x0)))
    return out
