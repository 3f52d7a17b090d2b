"""Laws of T*(N): four laws fitted on T* itself, compared by leave-one-size-out error and AIC, with a
bootstrap over seeds for their intervals and for how often each law wins (one family of fits).

``log`` a + b log N, ``linear`` a + b N, ``power`` a N^b (three that grow without bound) and
``saturating`` a - b N^(-c), c > 0 (a ceiling ``a``: the plateau a population-level explanation
predicts). Also the chapters' quoted fits: power laws, log against linear, the O(1/k) term, the growth
split of a threshold into its factors.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from .. import validate
from .thresholds import GROUPS, _groups, thresholds

#: The laws fitted to T*(N): three that grow without bound, and one with a ceiling ``a`` (the plateau
#: a population-level explanation predicts): a - b N^(-c), c > 0.
MODELS = ("log", "linear", "power", "saturating")
#: Parameters of each law (AIC counts them).
N_PARAMS = {"log": 2, "linear": 2, "power": 2, "saturating": 3}
#: Each law as a formula (the fit table's column).
MODEL_FORMULAS = {"log": "a + b log N", "linear": "a + b N", "power": "a N^b",
                  "saturating": "a - b N^(-c)"}
#: The same as math, for prose and captions.
MODEL_MATH = {"log": r"$a + b\log N$", "linear": r"$a + bN$", "power": r"$aN^b$",
              "saturating": r"$a - bN^{-c}$"}


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

def fit_power_law(x, y) -> dict:
    """Least-squares fit of log y = log c + p log x; returns {'exponent': p, 'coefficient': c, 'r2'}."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise validate.ParameterError("a power-law fit needs at least two distinct x values")
    p, logc = np.polyfit(lx, ly, 1)
    return {"exponent": float(p), "coefficient": float(np.exp(logc)), "r2": _r2(ly, logc + p * lx)}


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

#: The laws :func:`compare_laws` compares, in the order the chapters name them.
LAWS = ("log", "power", "linear")
#: A law is called better only when its leave-one-size-out error is below every other law's by more
#: than this share.
LAW_MARGIN = 0.1
#: :func:`compare_laws`'s verdicts that name no law.
NO_LAW = ("cannot be told apart", "not enough sizes")


def compare_laws(n, t, margin: float = LAW_MARGIN) -> dict:
    """a + b log N, a N^b and a + b N fitted to (n, t) by least squares on t itself (:func:`fit`) and
    judged as every law of the book is, by leave-one-size-out error (:func:`loso_rmse`: fit on the
    other sizes, predict the left-out size's mean). Per law a, b (fitted on every point) and ``loso``.
    ``best`` is the law whose error is lower than every other law's by more than ``margin``
    (relative); 'cannot be told apart' with two sizes (no size can be left out and predicted by a
    two-parameter law) or when no law wins by the margin (``tied`` lists the laws within it of the
    lowest); 'not enough sizes' below two. Points with a NaN t are left out."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    keep = np.isfinite(t) & np.isfinite(n)
    n, t = n[keep], t[keep]
    sizes = int(len(np.unique(n)))
    out = {"sizes": sizes, "points": int(len(t))}
    for law in LAWS:
        a, b = fit(n, t, law) if sizes >= 2 else (math.nan, math.nan)
        out[law] = {"a": a, "b": b, "loso": loso_rmse(n, t, law) if sizes >= 3 else math.nan}
    if sizes < 2:
        return out | {"best": "not enough sizes", "tied": []}
    if sizes < 3:
        return out | {"best": "cannot be told apart", "tied": list(LAWS)}
    errs = {law: out[law]["loso"] for law in LAWS if math.isfinite(out[law]["loso"])}
    if not errs:
        return out | {"best": "cannot be told apart", "tied": list(LAWS)}
    low = min(errs.values())
    tied = [law for law in LAWS if law in errs and errs[law] <= (1 + margin) * low + 1e-12 * max(1.0, low)]
    return out | {"best": tied[0] if len(tied) == 1 else "cannot be told apart", "tied": tied}


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
