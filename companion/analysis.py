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
#: The laws fitted to T*(N): three that grow without bound, and one with a ceiling ``a`` (the plateau
#: a population-level explanation predicts): a - b N^(-c), c > 0.
MODELS = ("log", "linear", "power", "saturating")
#: Parameters of each law (AIC counts them).
N_PARAMS = {"log": 2, "linear": 2, "power": 2, "saturating": 3}
#: How the prose names each regime (code names are not words).
REGIME_NAMES = {"mean_field": "mean-field", "ntk": "NTK"}
MODEL_FORMULAS = {"log": "a + b log N", "linear": "a + b N", "power": "a N^b",
                  "saturating": "a - b N^(-c)"}
#: The same as math, for prose and captions.
MODEL_MATH = {"log": r"$a + b\log N$", "linear": r"$a + bN$", "power": r"$aN^b$",
              "saturating": r"$a - bN^{-c}$"}


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


#: Columns that name an arm of an experiment (a regime, an optimiser); thresholds keep them.
GROUPS = ("regime", "optimizer")


def _groups(frame: pd.DataFrame) -> list[str]:
    return [c for c in GROUPS if c in frame.columns]


def thresholds(frame: pd.DataFrame, *, rule: str = "within_delta", metric: str = "loss",
               delta: float | None = 0.02, level: float | None = 0.85, method: str = "greedy",
               split: str = "train") -> pd.DataFrame:
    """T* per (arm, n, seed) from a sweep frame: the arm columns present (regime, optimizer), n, seed,
    t_star, best (the best value of the metric over the grid), reached (bool)."""
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


# --------------------------------------------------------------------------------------------------
# Fits


def _design(n, model):
    n = np.asarray(n, dtype=float)
    if model == "log":
        return np.column_stack([np.ones_like(n), np.log(n)])
    return np.column_stack([np.ones_like(n), n])


def _failed(model: str) -> tuple:
    return (math.nan,) * N_PARAMS[model]


def fit(n, t, model: str) -> tuple:
    """Least-squares parameters of ``model`` to points (n, t), on T* itself: (a, b), or (a, b, c) for
    the saturating law; all NaN when it cannot be fitted, including an iterative fit (power,
    saturating) that does not converge (never its starting guess)."""
    validate.choice("model", model, MODELS)
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    ok = np.isfinite(t) & np.isfinite(n) & (n > 0)
    n, t = n[ok], t[ok]
    if len(np.unique(n)) < N_PARAMS[model]:
        return _failed(model)
    if model == "saturating":
        return _fit_saturating(n, t)
    if model in ("log", "linear"):
        coef, *_ = np.linalg.lstsq(_design(n, model), t, rcond=None)
        return float(coef[0]), float(coef[1])
    # power law a N^b: start from the log-log fit of the positive points, refine on T* itself
    pos = t > 0
    if pos.sum() < 2 or len(np.unique(n[pos])) < 2:
        return math.nan, math.nan
    b0, la0 = np.polyfit(np.log(n[pos]), np.log(t[pos]), 1)
    from scipy.optimize import curve_fit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (a, b), _ = curve_fit(lambda x, a, b: a * np.power(x, b), n, t, p0=(math.exp(la0), b0),
                                  maxfev=20000)
    except (RuntimeError, ValueError):
        return math.nan, math.nan
    return (float(a), float(b)) if math.isfinite(a) and math.isfinite(b) else (math.nan, math.nan)


#: The saturating law's exponent c is searched on a fixed geometric grid of C_GRID values in
#: [C_MIN, C_MAX]: below, N^(-c) is flat over any grid of sizes (the law becomes a constant plus a
#: log); above, the curve is a step at the smallest size.
C_MIN, C_MAX, C_GRID = 0.02, 5.0, 400


def _fit_saturating(n, t) -> tuple:
    """a - b N^(-c) by least squares, c on a fixed grid (ratio 1.4% between neighbours): for each c the
    best (a, b) is a straight-line fit of t on -N^(-c), all c at once; the c with the lowest residual
    wins. A grid instead of an iterative optimiser: where the residual is nearly flat in c (a ceiling
    far above the data), an optimiser's end point depends on the last bits of the data, and the law's
    curve with it; the grid's choice does not. NaN when no c gives a finite fit."""
    c = np.geomspace(C_MIN, C_MAX, C_GRID)
    x = -np.power(n[None, :], -c[:, None])                      # (grid, points)
    xm, tm = x.mean(1, keepdims=True), t.mean()
    sxx = ((x - xm) ** 2).sum(1)
    sxt = ((x - xm) * (t - tm)).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = sxt / sxx
        rss = ((t - tm) ** 2).sum() - b * sxt
    rss[~np.isfinite(rss)] = np.inf
    i = int(np.argmin(rss))
    if not np.isfinite(rss[i]):
        return _failed("saturating")
    a = float(tm - b[i] * xm[i, 0])
    return (a, float(b[i]), float(c[i]))


def predict(n, model: str, *params) -> np.ndarray:
    """``model`` with ``params`` (as :func:`fit` returns them) at N = ``n``."""
    n = np.asarray(n, dtype=float)
    if model == "log":
        a, b = params
        return a + b * np.log(n)
    if model == "linear":
        a, b = params
        return a + b * n
    if model == "saturating":
        a, b, c = params
        return a - b * np.power(n, -c)
    a, b = params
    return a * np.power(n, b)


def _size_means(n, t):
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    ok = np.isfinite(t)
    frame = pd.DataFrame({"n": n[ok], "t": t[ok]}).groupby("n")["t"].mean()
    return frame.index.to_numpy(float), frame.to_numpy(float)


def aic(n, t, model: str, *params) -> float:
    """Gaussian AIC of the seed-mean T* at each size (as LOSO uses them): k log(RSS/k) + 2p with k the
    number of sizes and p the law's number of parameters (+ a constant common to all models); NaN for
    a failed fit, or when there are no more sizes than parameters (the fit interpolates)."""
    if not all(math.isfinite(v) for v in params):
        return math.nan
    sizes, means = _size_means(n, t)
    k = len(sizes)
    if k <= len(params):
        return math.nan
    rss = float(np.sum((means - predict(sizes, model, *params)) ** 2))
    return k * math.log(max(rss, 1e-300) / k) + 2 * len(params)


def loso_rmse(n, t, model: str) -> float:
    """Leave-one-size-out: fit on all other sizes (every seed's T*), predict the left-out size's
    seed-mean T*; the RMSE of these predictions over sizes (NaN if a fit fails, or with fewer sizes
    than the law's parameters plus one: 3, or 4 for the saturating law)."""
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    sizes = np.unique(n[np.isfinite(t)])
    if len(sizes) < N_PARAMS[model] + 1:
        return math.nan
    errs = []
    for s in sizes:
        keep = n != s
        params = fit(n[keep], t[keep], model)
        measured = float(np.mean(t[(n == s) & np.isfinite(t)]))
        errs.append(float(predict([s], model, *params)[0]) - measured)
    return float(np.sqrt(np.mean(np.square(errs))))


def _resample(n, rng):
    groups = [np.flatnonzero(n == s) for s in np.unique(n)]
    return np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])


def bootstrap(n, t, seed_ids, model: str, *, n_boot: int = 1000, seed: int = 0,
              at=None) -> dict:
    """Bootstrap over seeds: the (n, t) points of each size (one per seed, ``seed_ids``) are resampled
    with replacement within that size. Returns 95% percentile CIs of a, b (and c for the saturating law) and, when ``at`` is given, of
    the prediction at those N (arrays); ``failed``, the share of resamples whose fit failed.

    Undefined (every interval NaN, ``failed`` NaN) when there is no point, or when some size has fewer
    than two points: resampling one seed gives that seed back, an interval of zero width that would
    claim a certainty the data do not have."""
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    _, counts = np.unique(n, return_counts=True)
    if len(n) == 0 or counts.min() < 2:
        nan = np.full(len(np.atleast_1d(at)), math.nan) if at is not None else None
        out = dict.fromkeys(("a_lo", "a_hi", "b_lo", "b_hi", "failed"), math.nan)
        if model == "saturating":
            out |= {"c_lo": math.nan, "c_hi": math.nan}
        return out if at is None else out | {"pred_lo": nan, "pred_hi": nan.copy()}
    rng = np.random.default_rng(seed)
    params, preds = [], []
    for _ in range(n_boot):
        idx = _resample(n, rng)
        p = fit(n[idx], t[idx], model)
        params.append(p)
        if at is not None:
            preds.append(predict(at, model, *p))
    params = np.array(params)
    failed = float(np.mean(~np.isfinite(params[:, 0])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {"failed": failed}
        for i, name in enumerate("abc"[:params.shape[1]]):
            out[f"{name}_lo"] = np.nanpercentile(params[:, i], 2.5)
            out[f"{name}_hi"] = np.nanpercentile(params[:, i], 97.5)
        if at is not None:
            preds = np.array(preds)
            out["pred_lo"] = np.nanpercentile(preds, 2.5, axis=0)
            out["pred_hi"] = np.nanpercentile(preds, 97.5, axis=0)
    return out


def model_choice(n, t, *, n_boot: int = 200, seed: int = 0) -> dict:
    """How often each law wins by LOSO when the seeds are resampled within each size: the share of
    bootstrap resamples each of MODELS has the lowest LOSO RMSE (failed fits never win). A law the data
    single out wins nearly always; shares spread over several laws say the data cannot tell them apart.
    Every share is NaN (undefined) when the finite T* cover fewer than three sizes."""
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    ok = np.isfinite(t)
    n, t = n[ok], t[ok]
    if len(np.unique(n)) < 3:  # LOSO needs three sizes: no law can win
        return dict.fromkeys(MODELS, math.nan)
    rng = np.random.default_rng(seed)
    wins = dict.fromkeys(MODELS, 0)
    for _ in range(n_boot):
        idx = _resample(n, rng)
        errs = {m: loso_rmse(n[idx], t[idx], m) for m in MODELS}
        errs = {m: e for m, e in errs.items() if math.isfinite(e)}
        if errs:
            wins[min(errs, key=errs.get)] += 1
    return {m: wins[m] / n_boot for m in MODELS}


#: Columns of :func:`fit_table` after the group column.
FIT_COLUMNS = ["model", "formula", "a", "b", "c", "fit_ok", "aic", "loso_rmse", "points", "sizes", "a_lo",
               "a_hi", "b_lo", "b_hi", "c_lo", "c_hi", "failed", "best_loso", "best_aic"]


def fit_table(ts: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, by: str | None = None
              ) -> pd.DataFrame:
    """For each group (``by``, default the arm column present) and model: a, b and, for the saturating
    law, its exponent c (with bootstrap CIs),
    whether the fit converged (``fit_ok``), AIC and LOSO RMSE (both on seed-mean T* per size), and the
    best model by LOSO (``best_loso``) and by AIC (``best_aic``). Units whose T* is NaN are left out.

    Always the same columns (the group column, then ``FIT_COLUMNS``). A group whose finite T* cover
    too few sizes keeps its rows (one per law), with NaN where a quantity is undefined (a fit needs two sizes,
    AIC and LOSO three, an interval two points at every size: :func:`bootstrap`) and ``fit_ok`` False;
    a frame without rows gives a table without rows."""
    by = by or (_groups(ts) or [None])[0]
    groups = ts.groupby(by, sort=True) if by and len(ts) else ([("all", ts)] if not by and len(ts) else [])
    rows = []
    for key, g in groups:
        g = g[np.isfinite(g["t_star"])]
        for model in MODELS:
            params = fit(g["n"], g["t_star"], model)
            a, b, c = (*params, math.nan)[:3]
            row = {by or "group": key, "model": model, "formula": MODEL_FORMULAS[model], "a": a, "b": b,
                   "c": c, "fit_ok": bool(math.isfinite(a)),
                   "aic": aic(g["n"], g["t_star"], model, *params) if g["n"].nunique() > 2 else math.nan,
                   "loso_rmse": loso_rmse(g["n"], g["t_star"], model), "points": len(g),
                   "sizes": int(g["n"].nunique())}
            row.update(dict.fromkeys(("a_lo", "a_hi", "b_lo", "b_hi", "c_lo", "c_hi", "failed"), math.nan))
            if len(g) > 2 and n_boot:
                row.update(bootstrap(g["n"], g["t_star"], g["seed"], model, n_boot=n_boot, seed=seed))
            rows.append(row)
    col = by or "group"
    table = pd.DataFrame(rows, columns=[col, *FIT_COLUMNS[:-2]])
    for score in ("loso_rmse", "aic"):
        flag = f"best_{score.split('_')[0]}"
        table[flag] = False
        for _, g in table.groupby(col):
            if g[score].notna().any():
                table.loc[g[score].idxmin(), flag] = True
    return table


def best_model(table: pd.DataFrame, group, by: str = "loso") -> str | None:
    col = next(c for c in (*GROUPS, "group") if c in table.columns)
    sub = table[(table[col] == group) & table[f"best_{by}"]]
    return None if sub.empty else str(sub["model"].iloc[0])


def out_of_sample(ts: pd.DataFrame, model: str) -> dict:
    """Fit ``model`` on every size but the largest; predict the largest size's mean T*. Every value is
    NaN (undefined) when the finite T* cover fewer than three sizes (the fit needs two others)."""
    g = ts[np.isfinite(ts["t_star"])]
    if g["n"].nunique() < 3:
        return {"n": math.nan, "predicted": math.nan, "measured": math.nan, "rel_error": math.nan,
                "a": math.nan, "b": math.nan}
    largest = g["n"].max()
    train = g[g["n"] < largest]
    params = fit(train["n"], train["t_star"], model)
    a, b = params[:2]
    pred = float(predict([largest], model, *params)[0])
    measured = float(g.loc[g["n"] == largest, "t_star"].mean())
    return {"n": int(largest), "predicted": pred, "measured": measured,
            "rel_error": abs(pred - measured) / abs(measured) if measured else math.nan,
            "a": a, "b": b}


# --------------------------------------------------------------------------------------------------
# Does T* still change between two sizes? Paired over seeds (a seed fixes the nested subsets, the
# initialisation and the SGD order, so the same seed at two sizes is a matched pair)


def paired_change(ts: pd.DataFrame, n_from: int, n_to: int) -> dict:
    """T*(n_to) - T*(n_from) per seed: mean, 95% t-interval, two-sided paired t-test p-value, and
    how many seeds rise / fall. Only seeds whose T* is finite at both sizes count (``seeds``); with none
    the mean is NaN; with fewer than two, or differences without spread, the interval and the p-value
    are NaN (no test). ``rel_mean`` is NaN when the mean T* at ``n_from`` is 0."""
    from scipy import stats

    a = ts[ts["n"] == n_from].set_index("seed")["t_star"]
    b = ts[ts["n"] == n_to].set_index("seed")["t_star"]
    d = (b - a).dropna()
    base = float(a.loc[d.index].mean()) if len(d) else math.nan
    out = {"n_from": int(n_from), "n_to": int(n_to), "seeds": int(len(d)),
           "mean": float(d.mean()) if len(d) else math.nan,
           "rel_mean": float(d.mean()) / base if len(d) and base else math.nan,
           "up": int((d > 0).sum()), "down": int((d < 0).sum())}
    if len(d) >= 2 and d.std(ddof=1) > 0:
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        out |= {"ci_lo": out["mean"] - half, "ci_hi": out["mean"] + half,
                "p_value": float(stats.ttest_rel(b.loc[d.index], a.loc[d.index]).pvalue)}
    else:
        out |= {"ci_lo": math.nan, "ci_hi": math.nan, "p_value": math.nan}
    return out


#: Significance level of every paired test whose verdict a chapter states in words.
PAIRED_ALPHA = 0.05


def change_tested(change: dict | None) -> bool:
    """A :func:`paired_change` with a p-value (at least two seeds with spread)."""
    p = None if change is None else change.get("p_value")
    return p is not None and math.isfinite(float(p))


def change_rises(change: dict | None, alpha: float = PAIRED_ALPHA) -> bool:
    """A significant positive paired change."""
    return change_tested(change) and change["p_value"] < alpha and change["mean"] > 0


def change_falls(change: dict | None, alpha: float = PAIRED_ALPHA) -> bool:
    """A significant negative paired change."""
    return change_tested(change) and change["p_value"] < alpha and change["mean"] < 0


#: Keys of :func:`paired_change`, the columns of :func:`paired_steps`.
PAIRED_COLUMNS = ["n_from", "n_to", "seeds", "mean", "rel_mean", "up", "down", "ci_lo", "ci_hi", "p_value"]


def ratio_change(ts: pd.DataFrame, n_from: int, n_to: int) -> dict:
    """The growth factor of T* between two sizes, paired over seeds: mean T*(n_to) / mean T*(n_from)
    over the seeds whose T* is finite at both, i.e. 1 + (mean change) / (mean at n_from), with the
    95% t-interval of :func:`paired_change` carried over the same way (the mean at ``n_from`` taken as
    fixed). ``ratio`` is NaN when no seed counts or the mean at ``n_from`` is 0; the interval is NaN
    whenever the paired change has none (fewer than two seeds, or no spread)."""
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


def sensitivity(frame: pd.DataFrame, *, metric: str, deltas, levels,
                level_metric: str = "accuracy", method: str = "greedy") -> pd.DataFrame:
    """How the conclusion moves with the threshold rule: for each delta (``within_delta`` on
    ``metric``) and each level (``reaches`` on ``level_metric``), the share of units that meet the
    rule, mean T* at the smallest and largest N, the fitted log-slope b, the best model by LOSO and the
    log model's out-of-sample relative error at the largest N."""
    settings = [("within_delta", metric, d) for d in deltas] + \
               [("reaches", level_metric, lv) for lv in levels]
    rows = []
    for rule, met, value in settings:
        ts = thresholds(frame, rule=rule, metric=met, delta=value if rule == "within_delta" else None,
                        level=value if rule == "reaches" else None, method=method)
        ok = ts[ts["reached"]]
        means = ok.groupby("n")["t_star"].mean()
        row = {"rule": rule, "metric": met, "value": value, "reached": float(ts["reached"].mean()),
               "t_star_smallest_n": float(means.get(ts["n"].min(), math.nan)),
               "t_star_largest_n": float(means.get(ts["n"].max(), math.nan))}
        if ok["n"].nunique() >= 3:
            table = fit_table(ok, n_boot=0)  # one arm, one group
            row["log_slope_b"] = float(table.loc[table["model"] == "log", "b"].iloc[0])
            row["best_model_loso"] = str(table.loc[table["best_loso"], "model"].iloc[0]) \
                if table["best_loso"].any() else "(no fit)"
            row["log_oos_rel_error"] = out_of_sample(ok, "log")["rel_error"]
        else:
            row.update(log_slope_b=math.nan, best_model_loso="(met at fewer than 3 sizes)",
                       log_oos_rel_error=math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def usefulness(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method: the best training accuracy over t (seed means), at the worst and the best N."""
    sub = frame[frame["split"] == "train"]
    curve = sub.groupby(["method", "n", "t"])["accuracy"].mean().reset_index()
    best = curve.groupby(["method", "n"])["accuracy"].max().reset_index()
    return best.groupby("method")["accuracy"].agg(["min", "max"]).reset_index() \
        .rename(columns={"min": "best_acc_worst_n", "max": "best_acc_best_n"})


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


# --------------------------------------------------------------------------------------------------
# Chapter 2: three laws compared, the growth of a threshold split into its factors, and a pruned
# threshold that does not depend on how long the run lasts
# --------------------------------------------------------------------------------------------------

#: The laws :func:`compare_laws` compares, in the order the chapters name them.
LAWS = ("log", "power", "linear")
#: A law is called better only when its RMSE is below every other law's by more than this share.
LAW_MARGIN = 0.1
#: :func:`compare_laws`'s verdicts that name no law.
NO_LAW = ("cannot be told apart", "not enough sizes")


def compare_laws(n, t, margin: float = LAW_MARGIN) -> dict:
    """a + b log N, a N^b and a + b N fitted to (n, t) by least squares on t itself (as :func:`fit`);
    per law a, b and the RMSE over the points. ``best`` is the law whose RMSE is lower than every other
    law's by more than ``margin`` (relative); 'cannot be told apart' with only two sizes (each of these
    two-parameter laws passes exactly through two size means, so all errors are equal) or when no law
    wins by the margin (``tied`` lists the laws within it of the lowest); 'not enough sizes' below two.
    Points with a NaN t are left out."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    keep = np.isfinite(t) & np.isfinite(n)
    n, t = n[keep], t[keep]
    sizes = int(len(np.unique(n)))
    out = {"sizes": sizes, "points": int(len(t))}
    for law in LAWS:
        a, b = fit(n, t, law) if sizes >= 2 else (math.nan, math.nan)
        rmse = float(np.sqrt(np.mean((t - predict(n, law, a, b)) ** 2))) if math.isfinite(a) else math.nan
        out[law] = {"a": a, "b": b, "rmse": rmse}
    if sizes < 2:
        return out | {"best": "not enough sizes", "tied": []}
    errs = {law: out[law]["rmse"] for law in LAWS if math.isfinite(out[law]["rmse"])}
    low = min(errs.values())
    tied = [law for law in LAWS if law in errs and errs[law] <= (1 + margin) * low + 1e-12 * max(1.0, low)]
    if sizes < 3:
        return out | {"best": "cannot be told apart", "tied": list(errs)}
    return out | {"best": tied[0] if len(tied) == 1 else "cannot be told apart", "tied": tied}


def law_words(comparison: dict, digits: int = 3) -> str:
    """A verdict of :func:`compare_laws` for the reader: 'power (RMSE 0.83; log 1.9, linear 2.5)',
    'log and power cannot be told apart (RMSE ...)', 'cannot be told apart: two sizes only', ..."""
    best = comparison["best"]
    if best == "not enough sizes":
        return "no law can be fitted (fewer than two sizes)"
    errs = {law: comparison[law]["rmse"] for law in LAWS if math.isfinite(comparison[law]["rmse"])}
    shown = ", ".join(f"{law} {_short(v, digits)}" for law, v in errs.items())
    if comparison["sizes"] < 3:
        # (every law passes through the two size means: the errors are the seeds' scatter, or rounding)
        return "the laws cannot be told apart with two sizes"
    if best in LAWS:
        others = ", ".join(f"{law} {_short(v, digits)}" for law, v in errs.items() if law != best)
        return f"{best} (RMSE {_short(errs[best], digits)}; {others})"
    tied = comparison["tied"]
    names = " and ".join([", ".join(tied[:-1]), tied[-1]]) if len(tied) > 2 else " and ".join(tied)
    return f"{names} cannot be told apart (RMSE {shown})"


def _short(value: float, digits: int) -> str:
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"


def log_growth_split(n, t, factors: dict) -> dict:
    """How the growth of t between the smallest and the largest n splits over the factors of t:
    t = (prod of ``factors``) x rest. With size means (over the points whose t is finite),
    ln(t(n_max) / t(n_min)) = sum of ln(f(n_max) / f(n_min)) over the factors + the rest, the rest
    being what the factors do not explain. ``factors`` maps a name to an array of the same length as
    t, each the factor itself (a factor 1/eta: pass 1/eta). Returns the total, each factor's term, the
    rest, and n_min, n_max (NaN everywhere when fewer than two sizes have a finite t)."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    keep = np.isfinite(t)
    cols = {name: np.asarray(v, float)[keep] for name, v in factors.items()}
    frame = pd.DataFrame({"n": n[keep], "t": t[keep], **cols}).groupby("n").mean()
    if len(frame) < 2:
        return {"n_min": math.nan, "n_max": math.nan, "total": math.nan, "rest": math.nan,
                **{name: math.nan for name in factors}}
    lo, hi = frame.iloc[0], frame.iloc[-1]
    out = {"n_min": float(frame.index[0]), "n_max": float(frame.index[-1]),
           "total": float(np.log(hi["t"] / lo["t"]))}
    for name in factors:
        out[name] = float(np.log(hi[name] / lo[name]))
    out["rest"] = out["total"] - sum(out[name] for name in factors)
    # a factor constant up to rounding (the fixed step, stored per unit) contributes 0, not +-1e-13:
    # a log-ratio below one part in a billion is no growth on any machine
    return {k: (0.0 if k not in ("n_min", "n_max") and abs(v) < GROWTH_FLOOR else v) for k, v in out.items()}


#: Log-ratios smaller than this are zero up to rounding (:func:`log_growth_split`).
GROWTH_FLOOR = 1e-9


def constant_fit(y) -> dict:
    """The model y = c (no dependence on anything): c = mean(y), and the RMSE relative to the mean, to
    set beside a fitted line's (e.g. the collapse line against a constant)."""
    y = np.asarray(y, float)
    y = y[np.isfinite(y)]
    if not len(y):
        return {"c": math.nan, "rel_rmse": math.nan, "runs": 0}
    c = float(y.mean())
    return {"c": c, "rel_rmse": float(np.sqrt(np.mean((y - c) ** 2)) / c) if c else math.nan, "runs": int(len(y))}


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


def law_shares_words(shares: dict, undefined: str) -> str:
    """Which of the laws the data prefer: the bootstrap share of LOSO wins of each (a law that wins in
    95% of the resamples is singled out; one that wins most often, but less, is preferred; a tie
    prefers none). ``undefined``: why, when no law has a share (chapters 3 and 4 say it their way)."""
    shares = pd.Series(shares, dtype=float)
    if shares.isna().all():
        return f"the laws cannot be compared ({undefined})"
    best = shares.idxmax()
    others = ", ".join(f"{MODEL_FORMULAS[m]} {shares[m]:.0%}" for m in MODELS if m != best)
    if shares[best] >= 0.95:
        return (f"{MODEL_FORMULAS[best]} has the lowest leave-one-size-out error in "
                f"{shares[best]:.0%} of bootstrap resamples of the seeds ({others})")
    if (shares == shares[best]).sum() == 1 and shares[best] > 0.5:
        return (f"{MODEL_FORMULAS[best]} is preferred but not singled out: it has the lowest "
                f"leave-one-size-out error in {shares[best]:.0%} of bootstrap resamples of the seeds ({others})")
    parts = ", ".join(f"{MODEL_FORMULAS[m]} {shares[m]:.0%}" for m in MODELS)
    return (f"the data cannot tell the laws apart (share of bootstrap resamples of the seeds in which "
            f"each law has the lowest leave-one-size-out error: {parts})")


