"""Paired tests over seeds: does T* change between two sizes? A seed fixes the nested subsets, the
initialisation and the SGD order, so the same seed at two sizes is a matched pair. "Rises" and "falls"
are one-sided questions, each tested one-sided; a censored unit stays in the test (:func:`paired_change`). With a family-wise
correction (Holm) or a false-discovery-rate one (Benjamini-Hochberg) for a family of comparisons.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

#: No paired test on fewer seeds (the Standards: with two, a t-test has one degree of freedom).
MIN_PAIRS = 3


def paired_tests(seeds, mean, sd) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paired test of many groups of differences at once, from each group's number of seeds, mean
    and standard deviation (ddof 1): (ci_lo, ci_hi, p_value) arrays, by the rules of
    :func:`paired_test`."""
    k = np.asarray(seeds, float)
    mean = np.asarray(mean, float)
    sd = np.asarray(sd, float)
    ok = k >= MIN_PAIRS
    with np.errstate(invalid="ignore", divide="ignore"):
        flat = ok & (np.nan_to_num(sd, nan=0.0) <= 1e-12 * np.maximum(1.0, np.abs(mean)))
        tested = ok & ~flat
        se = sd / np.sqrt(np.maximum(k, 1))
        dof = np.maximum(k - 1, 1)
        half = stats.t.ppf(0.975, dof) * se
        p = 2 * stats.t.sf(np.abs(mean) / se, dof)
    ci_lo = np.where(tested, mean - half, np.where(flat, mean, np.nan))
    ci_hi = np.where(tested, mean + half, np.where(flat, mean, np.nan))
    p_value = np.where(tested, p, np.where(flat, np.where(mean != 0, 0.0, 1.0), np.nan))
    return ci_lo, ci_hi, p_value


def paired_test(d) -> dict:
    """The paired test of differences ``d`` (one per seed; NaN left out): ``seeds``, ``mean``, the 95%
    t-interval ``ci_lo``/``ci_hi`` and the two-sided t-test ``p_value``. No test (interval and p NaN)
    with fewer than :data:`MIN_PAIRS` seeds. A unanimous change (every seed moves by the same nonzero
    amount) is a change: interval that amount, p 0; no seed moving at all is no change: p 1."""
    d = np.asarray(d, float)
    d = d[np.isfinite(d)]
    k = len(d)
    mean = float(d.mean()) if k else math.nan
    sd = float(d.std(ddof=1)) if k >= 2 else math.nan
    lo, hi, p = (float(v[0]) for v in paired_tests([k], [mean], [sd]))
    return {"seeds": int(k), "mean": mean, "ci_lo": lo, "ci_hi": hi, "p_value": p}


def _one_sided_t(k: int, mean: float, sd: float) -> tuple[float, float]:
    """One-sided paired t-test p-values (p_up: H1 mean > 0; p_down: H1 mean < 0), by the rules of
    :func:`paired_test` (no test below MIN_PAIRS; a unanimous change is a change)."""
    if k < MIN_PAIRS:
        return math.nan, math.nan
    if not math.isfinite(sd) or sd <= 1e-12 * max(1.0, abs(mean)):
        return (0.0 if mean > 0 else 1.0), (0.0 if mean < 0 else 1.0)
    tstat = mean / (sd / math.sqrt(k))
    return float(stats.t.sf(tstat, k - 1)), float(stats.t.cdf(tstat, k - 1))


def sign_test(up: int, down: int) -> tuple[float, float]:
    """Exact one-sided sign test p-values (p_up, p_down) of ``up`` positive and ``down`` negative paired
    signs (ties left out): P(Binomial(up + down, 1/2) >= up), and the same for ``down``. NaN below
    MIN_PAIRS signs. With 5 signs the smallest p is 1/32 = 0.031, with 4 it is 0.0625: a one-sided
    test at 5% needs at least 5 informative seeds."""
    n = up + down
    if n < MIN_PAIRS:
        return math.nan, math.nan
    return float(stats.binom.sf(up - 1, n, 0.5)), float(stats.binom.sf(down - 1, n, 0.5))


def paired_change(ts: pd.DataFrame, n_from: int, n_to: int) -> dict:
    """T*(n_to) - T*(n_from) per seed, a censored unit (t_star NaN: the threshold lies beyond the run)
    kept in the test as right-censored.

    A seed whose T* is finite at both sizes gives a difference; a seed censored at one size only gives
    a known sign (censored at ``n_to``: a rise; at ``n_from``: a fall); a seed censored at both gives
    nothing. When no seed is censored at exactly one size, the test is the paired t-test of the
    differences (``test`` 't'); otherwise it is the exact sign test of every known sign (``test``
    'sign'), so that a censored unit counts instead of being dropped. ``p_up`` and ``p_down`` are the
    one-sided p-values (H1: T* rises; H1: T* falls), ``p_value`` the two-sided one. ``mean`` and the 95%
    t-interval are over the finite differences (``seeds`` of them); ``censored`` counts the seeds with a
    known sign from censoring; ``up``/``down`` count every known sign. ``rel_mean`` is NaN when the
    mean T* at ``n_from`` is 0."""
    a = ts[ts["n"] == n_from].set_index("seed")["t_star"].astype(float)
    b = ts[ts["n"] == n_to].set_index("seed")["t_star"].astype(float)
    both = a.index.intersection(b.index)
    a, b = a.loc[both], b.loc[both]
    d = (b - a).dropna()
    rises = int((np.isfinite(a) & ~np.isfinite(b)).sum())
    falls = int((~np.isfinite(a) & np.isfinite(b)).sum())
    base = float(a.loc[d.index].mean()) if len(d) else math.nan
    test = paired_test(d.to_numpy(float))
    up, down = int((d > 0).sum()) + rises, int((d < 0).sum()) + falls
    if rises or falls:
        kind = "sign"
        p_up, p_down = sign_test(up, down)
        p_two = min(1.0, 2 * min(p_up, p_down)) if math.isfinite(p_up) else math.nan
    else:
        kind = "t"
        p_up, p_down = _one_sided_t(test["seeds"], test["mean"], float(d.std(ddof=1)) if len(d) >= 2 else math.nan)
        p_two = test["p_value"]
    return {"n_from": int(n_from), "n_to": int(n_to), "seeds": test["seeds"], "mean": test["mean"],
            "rel_mean": test["mean"] / base if len(d) and base else math.nan,
            "up": up, "down": down, "censored": rises + falls, "test": kind,
            "ci_lo": test["ci_lo"], "ci_hi": test["ci_hi"], "p_value": p_two, "p_up": p_up, "p_down": p_down}


#: Significance level of every paired test whose verdict a chapter states in words.
PAIRED_ALPHA = 0.05


def change_tested(change: dict | None) -> bool:
    """A :func:`paired_change` with a p-value (at least :data:`MIN_PAIRS` informative seeds)."""
    p = None if change is None else change.get("p_value")
    return p is not None and math.isfinite(float(p))


def _one_sided(change: dict, key: str) -> float:
    # a change from before the one-sided keys (a hand-built dict): its two-sided p, halved, in the
    # direction of its mean
    if key in change:
        return float(change[key])
    sign = 1 if key == "p_up" else -1
    return change["p_value"] / 2 if sign * change["mean"] > 0 else 1.0


def change_rises(change: dict | None, alpha: float = PAIRED_ALPHA) -> bool:
    """A significant rise: the one-sided test of a rise (``p_up``) below ``alpha``."""
    return change_tested(change) and _one_sided(change, "p_up") < alpha


def change_falls(change: dict | None, alpha: float = PAIRED_ALPHA) -> bool:
    """A significant fall: the one-sided test of a fall (``p_down``) below ``alpha``."""
    return change_tested(change) and _one_sided(change, "p_down") < alpha


#: Keys of :func:`paired_change`, the columns of :func:`paired_steps`.
PAIRED_COLUMNS = ["n_from", "n_to", "seeds", "mean", "rel_mean", "up", "down", "censored", "test", "ci_lo", "ci_hi",
                  "p_value", "p_up", "p_down"]


def ratio_change(ts: pd.DataFrame, n_from: int, n_to: int) -> dict:
    """The growth factor of T* between two sizes, paired over seeds: mean T*(n_to) / mean T*(n_from)
    over the seeds whose T* is finite at both, i.e. 1 + (mean change) / (mean at n_from), with the
    95% t-interval of :func:`paired_change` carried over the same way (the mean at ``n_from`` taken as
    fixed). ``ratio`` is NaN when no seed counts or the mean at ``n_from`` is 0; the interval is NaN
    whenever the paired change has none (fewer than MIN_PAIRS seeds)."""
    change = paired_change(ts, n_from, n_to)
    a = ts[ts["n"] == n_from].set_index("seed")["t_star"]
    b = ts[ts["n"] == n_to].set_index("seed")["t_star"]
    both = (b - a).dropna().index
    base = float(a.loc[both].mean()) if len(both) else math.nan
    out = {"n_from": int(n_from), "n_to": int(n_to), "seeds": change["seeds"], "ratio": math.nan,
           "lo": math.nan, "hi": math.nan}
    if not (math.isfinite(base) and base != 0):
        return out
    out["ratio"] = 1.0 + change["mean"] / base
    if math.isfinite(change["ci_lo"]):
        out |= {"lo": 1.0 + change["ci_lo"] / base, "hi": 1.0 + change["ci_hi"] / base}
    return out


def paired_steps(ts: pd.DataFrame) -> pd.DataFrame:
    """:func:`paired_change` between every pair of neighbouring sizes (``PAIRED_COLUMNS``; no rows with
    fewer than two sizes)."""
    sizes = sorted(ts["n"].unique())
    return pd.DataFrame([paired_change(ts, a, b) for a, b in zip(sizes, sizes[1:])], columns=PAIRED_COLUMNS)


def _family(p_values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the p-values, an all-NaN result of their shape, the indices of the tested ones in increasing
    order of p): a family counts its tested comparisons only."""
    p = np.asarray(p_values, float)
    idx = np.flatnonzero(np.isfinite(p))
    return p, np.full(p.shape, math.nan), idx[np.argsort(p[idx], kind="stable")]


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values of a family (Holm 1979): controls the family-wise error rate.
    NaN p-values (untested comparisons) stay NaN and do not count in the family's size."""
    p, out, order = _family(p_values)
    m = len(order)
    if m:
        out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of a family: controls the false-discovery rate.
    NaN p-values stay NaN and do not count in the family's size."""
    p, out, order = _family(p_values)
    m = len(order)
    if m:
        ranked = p[order] * m / np.arange(1, m + 1)
        out[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return out
