"""Thresholds T*(N) from sweep frames, fits of T*(N) against N, bootstrap CIs, model comparison and an
out-of-sample prediction.

Threshold rules (an explicit choice; the chapter shows how conclusions move with it), applied to the
greedy subnetwork's *training* curve of one (regime, N, seed):

- ``within_delta``: the first t at which the metric is within ``delta`` of its best value over the grid
  (loss <= min + delta, or accuracy >= max - delta);
- ``reaches``: the first t at which the metric reaches ``level`` (loss <= level, accuracy >= level).

The crossing is located by linear interpolation of the metric in log(1 + t) between the two grid points
that bracket it, so T* is not restricted to grid values. A curve that never meets the rule gives NaN.

Models of T*(N): ``log`` a + b log N, ``linear`` a + b N, ``power`` a N^b, all fitted by least squares
on T* itself (so their residuals are comparable), with AIC and leave-one-size-out (LOSO) prediction
error for comparison and a bootstrap over seeds (resampled within each size) for CIs.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from . import validate

RULES = ("within_delta", "reaches")
METRICS = ("loss", "accuracy")
MODELS = ("log", "linear", "power")
#: How the prose names each regime (code names are not words).
REGIME_NAMES = {"mean_field": "mean-field", "ntk": "NTK"}
MODEL_FORMULAS = {"log": "a + b log N", "linear": "a + b N", "power": "a N^b"}


# --------------------------------------------------------------------------------------------------
# Thresholds


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


def thresholds(frame: pd.DataFrame, *, rule: str = "within_delta", metric: str = "loss",
               delta: float | None = 0.02, level: float | None = 0.85, method: str = "greedy",
               split: str = "train") -> pd.DataFrame:
    """T* per (regime, n, seed) from a sweep frame: columns regime, n, seed, t_star, best (the best
    value of the metric over the grid), reached (bool)."""
    sub = frame[(frame["method"] == method) & (frame["split"] == split)]
    rows = []
    for (regime, n, seed), g in sub.groupby(["regime", "n", "seed"], sort=True):
        ts = threshold_time(g["t"], g[metric], rule=rule, metric=metric, delta=delta, level=level)
        best = g[metric].min() if metric == "loss" else g[metric].max()
        rows.append({"regime": regime, "n": int(n), "seed": int(seed), "t_star": ts,
                     "best": float(best), "reached": not math.isnan(ts)})
    return pd.DataFrame(rows, columns=["regime", "n", "seed", "t_star", "best", "reached"])


# --------------------------------------------------------------------------------------------------
# Fits


def _design(n, model):
    n = np.asarray(n, dtype=float)
    if model == "log":
        return np.column_stack([np.ones_like(n), np.log(n)])
    return np.column_stack([np.ones_like(n), n])


def fit(n, t, model: str) -> tuple[float, float]:
    """Least-squares (a, b) of ``model`` to points (n, t); NaNs when it cannot be fitted."""
    validate.choice("model", model, MODELS)
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    ok = np.isfinite(t) & np.isfinite(n) & (n > 0)
    n, t = n[ok], t[ok]
    if len(np.unique(n)) < 2:
        return math.nan, math.nan
    if model in ("log", "linear"):
        coef, *_ = np.linalg.lstsq(_design(n, model), t, rcond=None)
        return float(coef[0]), float(coef[1])
    # power law a N^b: start from the log-log fit of the positive points, refine on T* itself
    pos = t > 0
    if pos.sum() >= 2 and len(np.unique(n[pos])) >= 2:
        b0, la0 = np.polyfit(np.log(n[pos]), np.log(t[pos]), 1)
        p0 = (math.exp(la0), b0)
    else:
        p0 = (max(float(np.mean(t)), 1e-6), 0.0)
    from scipy.optimize import curve_fit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (a, b), _ = curve_fit(lambda x, a, b: a * np.power(x, b), n, t, p0=p0, maxfev=20000)
        return float(a), float(b)
    except (RuntimeError, ValueError):
        return float(p0[0]), float(p0[1])


def predict(n, model: str, a: float, b: float) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    if model == "log":
        return a + b * np.log(n)
    if model == "linear":
        return a + b * n
    return a * np.power(n, b)


def aic(n, t, model: str, a: float, b: float) -> float:
    """Gaussian AIC, n log(RSS/n) + 2p with p = 2 (+ a constant common to all models)."""
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    ok = np.isfinite(t)
    rss = float(np.sum((t[ok] - predict(n[ok], model, a, b)) ** 2))
    k = int(ok.sum())
    return k * math.log(max(rss, 1e-300) / k) + 2 * 2


def loso_rmse(n, t, model: str) -> float:
    """Leave-one-size-out: fit on all other sizes, predict the left-out size's mean T*; the RMSE of
    these predictions over sizes."""
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    sizes = np.unique(n[np.isfinite(t)])
    if len(sizes) < 3:
        return math.nan
    errs = []
    for s in sizes:
        keep = n != s
        a, b = fit(n[keep], t[keep], model)
        measured = np.nanmean(t[n == s])
        errs.append(float(predict([s], model, a, b)[0]) - measured)
    return float(np.sqrt(np.mean(np.square(errs))))


def bootstrap(n, t, seed_ids, model: str, *, n_boot: int = 1000, seed: int = 0,
              at=None) -> dict:
    """Bootstrap over seeds: the (n, t) points of each size (one per seed, ``seed_ids``) are resampled
    with replacement within that size. Returns 95% percentile
    CIs of a, b and, when ``at`` is given, of the prediction at those N (arrays)."""
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(n == s) for s in np.unique(n)]
    params, preds = [], []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        a, b = fit(n[idx], t[idx], model)
        params.append((a, b))
        if at is not None:
            preds.append(predict(at, model, a, b))
    params = np.array(params)
    out = {"a_lo": np.nanpercentile(params[:, 0], 2.5), "a_hi": np.nanpercentile(params[:, 0], 97.5),
           "b_lo": np.nanpercentile(params[:, 1], 2.5), "b_hi": np.nanpercentile(params[:, 1], 97.5)}
    if at is not None:
        preds = np.array(preds)
        out["pred_lo"] = np.nanpercentile(preds, 2.5, axis=0)
        out["pred_hi"] = np.nanpercentile(preds, 97.5, axis=0)
    return out


def fit_table(ts: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """For each regime and model: a, b (with bootstrap CIs), AIC, LOSO RMSE, and the best model by
    LOSO (``best_loso``) and by AIC (``best_aic``). Units whose T* is NaN are left out."""
    rows = []
    for regime, g in ts.groupby("regime", sort=True):
        g = g[np.isfinite(g["t_star"])]
        for model in MODELS:
            a, b = fit(g["n"], g["t_star"], model)
            row = {"regime": regime, "model": model, "formula": MODEL_FORMULAS[model], "a": a, "b": b,
                   "aic": aic(g["n"], g["t_star"], model, a, b) if len(g) > 2 else math.nan,
                   "loso_rmse": loso_rmse(g["n"], g["t_star"], model), "points": len(g)}
            if len(g) > 2:
                ci = bootstrap(g["n"], g["t_star"], g["seed"], model, n_boot=n_boot, seed=seed)
                row.update(ci)
            rows.append(row)
    table = pd.DataFrame(rows)
    for col in ("loso_rmse", "aic"):
        flag = f"best_{col.split('_')[0]}"
        table[flag] = False
        for _, g in table.groupby("regime"):
            if g[col].notna().any():
                table.loc[g[col].idxmin(), flag] = True
    return table


def best_model(table: pd.DataFrame, regime: str, by: str = "loso") -> str | None:
    sub = table[(table["regime"] == regime) & table[f"best_{by}"]]
    return None if sub.empty else str(sub["model"].iloc[0])


def out_of_sample(ts: pd.DataFrame, regime: str, model: str) -> dict:
    """Fit ``model`` on every size but the largest; predict the largest size's mean T*."""
    g = ts[(ts["regime"] == regime) & np.isfinite(ts["t_star"])]
    if g.empty:
        return {"n": math.nan, "predicted": math.nan, "measured": math.nan, "rel_error": math.nan}
    largest = g["n"].max()
    train = g[g["n"] < largest]
    a, b = fit(train["n"], train["t_star"], model)
    pred = float(predict([largest], model, a, b)[0])
    measured = float(g.loc[g["n"] == largest, "t_star"].mean())
    return {"n": int(largest), "predicted": pred, "measured": measured,
            "rel_error": abs(pred - measured) / abs(measured) if measured else math.nan,
            "a": a, "b": b}


def sensitivity(frame: pd.DataFrame, *, regime: str, metric: str, deltas, levels,
                level_metric: str = "accuracy") -> pd.DataFrame:
    """How the conclusion moves with the threshold rule: for each delta (``within_delta`` on
    ``metric``) and each level (``reaches`` on ``level_metric``), the share of units that meet the
    rule, mean T* at the smallest and largest N, the fitted log-slope b, the best model by LOSO, and
    the log model's out-of-sample relative error at the largest N."""
    settings = [("within_delta", metric, d) for d in deltas] + \
               [("reaches", level_metric, lv) for lv in levels]
    rows = []
    sub = frame[frame["regime"] == regime]
    for rule, met, value in settings:
        ts = thresholds(sub, rule=rule, metric=met, delta=value if rule == "within_delta" else None,
                        level=value if rule == "reaches" else None)
        ok = ts[ts["reached"]]
        means = ok.groupby("n")["t_star"].mean()
        row = {"rule": rule, "metric": met, "value": value, "reached": float(ts["reached"].mean()),
               "t_star_smallest_n": float(means.get(ts["n"].min(), math.nan)),
               "t_star_largest_n": float(means.get(ts["n"].max(), math.nan))}
        if ok["n"].nunique() >= 3:
            table = fit_table(ok, n_boot=10)
            row["log_slope_b"] = float(table.loc[table["model"] == "log", "b"].iloc[0])
            row["best_model_loso"] = best_model(table, regime, "loso")
            row["log_oos_rel_error"] = out_of_sample(ok, regime, "log")["rel_error"]
        else:
            row.update(log_slope_b=math.nan, best_model_loso="(too few sizes)",
                       log_oos_rel_error=math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def usefulness(frame: pd.DataFrame) -> pd.DataFrame:
    """Per regime: the best training accuracy (over t, averaged over seeds, at each N) of the dense
    net and of each k-neuron subnetwork, minimum over N: does pruning give a useful subnetwork?"""
    sub = frame[frame["split"] == "train"]
    curve = sub.groupby(["regime", "method", "n", "t"])["accuracy"].mean().reset_index()
    best = curve.groupby(["regime", "method", "n"])["accuracy"].max().reset_index()
    return best.groupby(["regime", "method"])["accuracy"].agg(["min", "max"]).reset_index() \
        .rename(columns={"min": "best_acc_worst_n", "max": "best_acc_best_n"})


def verdict(table: pd.DataFrame, oos: dict, regime: str, useful: bool, pruned_best: float,
            useful_accuracy: float) -> str:
    """The chapter's conclusion for one regime, as a sentence built from computed numbers."""
    name = REGIME_NAMES.get(regime, regime)
    if not useful:
        return (f"In the {name} regime the pruned subnetwork is useless: its best training accuracy "
                f"is {pruned_best:.3f} (below {useful_accuracy:.2f}), so T*(N) measures nothing and "
                "the log-N law cannot be tested there.")
    best = best_model(table, regime, "loso")
    if best is None:
        return (f"In the {name} regime T*(N) could not be compared across sizes: the threshold rule "
                "is met at fewer than three sizes within the grid.")
    best_aic = best_model(table, regime, "aic")
    row = table[(table["regime"] == regime) & (table["model"] == "log")].iloc[0]
    rmse = {m: float(table[(table["regime"] == regime) & (table["model"] == m)]["loso_rmse"].iloc[0])
            for m in MODELS}
    holds = best == "log"
    head = ("the log-N law fits best" if holds else
            f"the log-N law is not the best fit ({best} is)")
    aic_txt = ("AIC agrees" if best_aic == best else f"AIC prefers {best_aic}")
    lo, hi = row.get("b_lo", math.nan), row.get("b_hi", math.nan)
    ci_txt = (f"95% CI {lo:.0f} to {hi:.0f}" if np.isfinite(lo) and hi > lo else
              "no bootstrap interval: a single seed per size")
    return (f"In the {name} regime {head} by leave-one-size-out error (RMSE log {rmse['log']:.0f}, "
            f"linear {rmse['linear']:.0f}, power {rmse['power']:.0f} iterations; {aic_txt}); the "
            f"log-fit slope is b = {row['b']:.0f} iterations per e-fold of N ({ci_txt}). Fitted on "
            f"the smaller "
            f"sizes, the log law predicts T* = {oos['predicted']:.0f} at N = {oos['n']:,} against "
            f"{oos['measured']:.0f} measured (relative error {oos['rel_error']:.1%}).")


def trend(ts: pd.DataFrame, regime: str) -> dict:
    """How the seed-mean T*(N) moves with N in one regime: where it peaks, its value at the largest
    N, whether it is monotone, and a sentence saying so (built from the numbers)."""
    means = ts[ts["regime"] == regime].groupby("n")["t_star"].mean().dropna().sort_index()
    if len(means) < 2:
        return {"n_peak": math.nan, "t_peak": math.nan, "n_last": math.nan, "t_last": math.nan,
                "monotone": False, "text": f"T*(N) is defined at fewer than two sizes in the {regime} regime."}
    n_peak = int(means.idxmax())
    out = {"n_peak": n_peak, "t_peak": float(means.max()), "n_last": int(means.index[-1]),
           "t_last": float(means.iloc[-1]), "monotone": bool(means.is_monotonic_increasing)}
    if out["monotone"]:
        out["text"] = (f"The mean T* grows with N at every size, from {means.iloc[0]:.0f} to "
                       f"{out['t_last']:.0f} iterations.")
    else:
        out["text"] = (f"The mean T* does not grow monotonically with N: it is largest at N = "
                       f"{n_peak:,} ({out['t_peak']:.0f} iterations) and is {out['t_last']:.0f} at the "
                       f"largest size, N = {out['n_last']:,}.")
    return out


# --------------------------------------------------------------------------------------------------
# Fits the chapters quote (power laws, log vs linear, the O(1/k) term)
# --------------------------------------------------------------------------------------------------

def fit_power_law(x, y) -> dict:
    """Least-squares fit of log y = log c + p log x; returns {'exponent': p, 'coefficient': c, 'r2'}."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise validate.ParameterError("a power-law fit needs at least two distinct x values")
    p, logc = np.polyfit(lx, ly, 1)
    return {"exponent": float(p), "coefficient": float(np.exp(logc)), "r2": _r2(ly, logc + p * lx)}


def fit_log_vs_linear(n, t) -> dict:
    """Fit t = a + b log N and t = a + b N by least squares; RMSE and R^2 of each and the better one."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    keep = np.isfinite(t)
    n, t = n[keep], t[keep]
    if len(np.unique(n)) < 2:
        raise validate.ParameterError("a fit in N needs at least two distinct N with a finite threshold")
    out = {}
    for name in ("log", "linear"):
        a, b = fit(n, t, name)
        pred = predict(n, name, a, b)
        out[name] = {"a": a, "b": b, "rmse": float(np.sqrt(np.mean((t - pred) ** 2))),
                     "r2": _r2(t, pred)}
    out["better"] = "log" if out["log"]["rmse"] <= out["linear"]["rmse"] else "linear"
    return out


def _r2(y, pred) -> float:
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    ss = float(((y - y.mean()) ** 2).sum())
    return float("nan") if ss == 0 else 1.0 - float(((y - pred) ** 2).sum()) / ss


def fit_inverse_k(k, gap) -> dict:
    """Fit gap_k = C / k (the O(1/k) term of greedy selection) in log space, i.e. C = geometric mean of
    k * gap_k; also the envelope max_k k * gap_k (the smallest C with gap_k <= C / k at every measured
    k) and a free power law gap_k = c k^p."""
    k, gap = np.asarray(k, float), np.asarray(gap, float)
    keep = gap > 0
    k, gap = k[keep], gap[keep]
    if len(k) < 2:
        raise validate.ParameterError("an O(1/k) fit needs at least two k with a positive gap")
    free = fit_power_law(k, gap)
    return {"C": float(np.exp(np.mean(np.log(k * gap)))), "C_envelope": float(np.max(k * gap)),
            "exponent": free["exponent"], "coefficient": free["coefficient"]}
