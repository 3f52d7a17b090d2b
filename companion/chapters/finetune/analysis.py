"""Chapter 4's statistics on the frames: how much pre-training is enough when the subnetwork is
fine-tuned. No words (those are in :mod:`.prose`).

The engine (:mod:`.experiments`) gives one tidy frame per arm with the columns of :data:`COLUMNS`:
for every (N, seed), pruning step t of the dense network's pre-training, method, kept fraction and
fine-tuning budget F, the evaluated network's loss and accuracy on each split, its parameters and
FLOPs, and the training FLOPs of the whole pipeline.

The quantity (an explicit choice, stated in the chapter): A_ft(t, N) is the held-out accuracy of
the subnetwork pruned at step t and fine-tuned for F steps, and

    t_enough(N) = the first grid t from which A_ft stays within delta of A_ft(T_full),

T_full being the last grid t of pre-training (:func:`t_enough`, per (arm, method, ratio, budget, N,
seed)). It is read on the grid (no interpolation), so no stored number depends on the last bits of
floating point. A curve that is within delta at T_full only (the grid ends before it settles), or a
grid of one point, is *censored*: its t_enough is undefined, left out of the fits, and said in words.

Over sizes, as in chapter 3 (:mod:`companion.stats`): paired changes over seeds (a seed fixes the
nested subsets, the initialisation and the SGD order) and one growth criterion (:func:`growth`), the
four laws a + b log N, a + b N, a N^b and the saturating a - b N^(-c) with leave-one-size-out (LOSO)
errors and the bootstrap share of LOSO wins (:func:`fit_laws`). The controls (:func:`contrast`):
greedy against random and largest-norm pruning after fine-tuning, the pruned pipeline against the
small architecture trained from scratch (same steps, same FLOPs) and against the dense network at the
pipeline's cost, and for the MLP the three greedy variants. :func:`practitioner_table` is the
chapter's table.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import validate
from ...stats import laws, paired, thresholds, verdicts
from ...vocabulary import finite

#: The columns of every arm's frame (the engine's contract, :data:`.experiments.FRAME_COLUMNS`).
COLUMNS = ("arm", "n", "seed", "t", "method", "ratio", "budget", "split", "loss", "accuracy", "steps",
           "train_flops", "params", "flops")
#: Methods whose rows are a pruned, fine-tuned subnetwork (the pipeline).
PIPELINES = ("greedy", "greedy_sampled", "greedy_local", "random", "magnitude")
GREEDY_VARIANTS = ("greedy", "greedy_sampled", "greedy_local")
#: The controls: the small architecture from scratch (same steps; same FLOPs), the dense network at
#: the pipeline's cost, and the dense network itself.
CONTROLS = ("scratch", "scratch_flops", "dense_cost", "dense")
KEYS = ["arm", "method", "ratio", "budget", "n", "seed"]
GROUP = ["arm", "method", "ratio", "budget"]
#: The chapter's tolerance (0.5 percentage points) and the sensitivity table's.
DELTA = 0.005
DELTAS = (0.0025, 0.005, 0.01, 0.02)
#: Significance level of every paired test whose verdict the prose states in words.
ALPHA = paired.PAIRED_ALPHA
#: How a number that cannot be computed for a setting is glued (never NaN).
UNDEFINED = "not defined for these settings"
#: Accuracies are fractions of images: a difference within this of delta is delta (no last bits).
_EPS = thresholds.REFERENCE_EPS
STATUS_MET = "met"
STATUS_NEVER = "within delta only at T_full"
STATUS_SHORT = "grid too short"
STATUS_MISSING = "no value at T_full"


# --------------------------------------------------------------------------------------------------
# Checks


def check_frame(frame, name: str = "frame") -> pd.DataFrame:
    """``frame`` if it is a DataFrame with every column of :data:`COLUMNS`, else a ParameterError
    naming what is missing."""
    if not isinstance(frame, pd.DataFrame):
        raise validate.ParameterError(f"parameter {name!r} must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise validate.ParameterError(f"parameter {name!r} lacks the column(s) {missing}: an arm's frame has "
                                      f"the columns {list(COLUMNS)}")
    return frame


def _side(side: str) -> str:
    return validate.choice("side", side, ("both", "below"))


# --------------------------------------------------------------------------------------------------
# t_enough


def t_enough_curve(t, values, delta: float, side: str = "both") -> tuple[float, str]:
    """(t_enough, status) of one curve A(t) on a grid: the first grid t from which every later value
    is within ``delta`` of the value at the last grid t (``side='below'``: no more than ``delta``
    below it), :func:`companion.stats.thresholds.within_reference_time` with that value as the
    reference. Status :data:`STATUS_MET`, or censored (t_enough NaN): :data:`STATUS_NEVER` (only the
    last point itself qualifies), :data:`STATUS_SHORT` (fewer than two grid points),
    :data:`STATUS_MISSING` (no finite value at the last t). A NaN value is never within."""
    delta = validate.positive("delta", delta)
    _side(side)
    t = np.asarray(t, dtype=float)
    v = np.asarray(values, dtype=float)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if len(t) < 2:
        return math.nan, STATUS_SHORT
    if not math.isfinite(v[-1]):
        return math.nan, STATUS_MISSING
    first = thresholds.within_reference_time(t, v, float(v[-1]), delta, side=side)
    if first >= t[-1]:
        return math.nan, STATUS_NEVER
    return first, STATUS_MET


TE_COLUMNS = KEYS + ["t_enough", "t_full", "a_full", "a_enough", "status", "censored", "points"]


def t_full_of(frame: pd.DataFrame) -> dict:
    """arm -> T_full, the last pre-training step of the arm's pipelines (of any row when it has none)."""
    out = {}
    for arm, g in frame.groupby("arm", sort=True):
        pipe = g[g["method"].isin(PIPELINES)]
        out[str(arm)] = int((pipe if len(pipe) else g)["t"].max())
    return out


def t_enough(frame: pd.DataFrame, delta: float = DELTA, *, split: str = "heldout", metric: str = "accuracy",
             side: str = "both", methods=None) -> pd.DataFrame:
    """t_enough per (arm, method, ratio, budget, N, seed) (:func:`t_enough_curve` on ``metric`` of
    ``split``, on the grid t <= T_full of the arm, :func:`t_full_of`). Columns :data:`TE_COLUMNS`:
    ``t_full``, ``a_full`` (the value at T_full), ``a_enough`` (at t_enough; NaN when censored),
    ``status``, ``censored`` and ``points`` (grid points of the curve)."""
    check_frame(frame)
    delta = validate.positive("delta", delta)
    validate.choice("metric", metric, ("accuracy", "loss"))
    _side(side)
    sub = frame[frame["split"] == split]
    if methods is not None:
        sub = sub[sub["method"].isin(list(methods))]
    if not len(sub):
        return pd.DataFrame(columns=TE_COLUMNS)
    full = t_full_of(frame)
    sub = sub[sub["t"] <= sub["arm"].astype(str).map(full)]
    # vectorised over the curves (the same rule as t_enough_curve, which the tests compare with)
    sub = sub.sort_values(KEYS + ["t"], kind="stable")[KEYS + ["t", metric]].reset_index(drop=True)
    g = sub.groupby(KEYS, sort=True)
    v = sub[metric].to_numpy(float)
    ref = g[metric].transform("last").to_numpy(float)
    last_is_finite = np.isfinite(g[metric].transform(lambda x: x.iloc[-1]).to_numpy(float))
    with np.errstate(invalid="ignore"):
        ok = (v >= ref - delta - _EPS) if side == "below" else (np.abs(v - ref) <= delta + _EPS)
    ok &= np.isfinite(v)
    pos = g.cumcount().to_numpy()
    sub = sub.assign(_pos=pos, _bad=np.where(ok, -1, pos), _finite_ref=last_is_finite)
    g = sub.groupby(KEYS, sort=True)
    agg = g.agg(points=("t", "size"), last_bad=("_bad", "max"), t_full=("t", "max"), a_full=(metric, "last"),
                finite_ref=("_finite_ref", "last")).reset_index()
    first = agg["last_bad"].to_numpy() + 1
    status = np.where(agg["points"] < 2, STATUS_SHORT,
                      np.where(~agg["finite_ref"], STATUS_MISSING,
                               np.where(first >= agg["points"] - 1, STATUS_NEVER, STATUS_MET)))
    at = sub.set_index(KEYS + ["_pos"])
    idx = pd.MultiIndex.from_frame(agg[KEYS].assign(_pos=np.minimum(first, agg["points"] - 1)))
    met = status == STATUS_MET
    agg["t_enough"] = np.where(met, at["t"].reindex(idx).to_numpy(float), np.nan)
    agg["a_enough"] = np.where(met, at[metric].reindex(idx).to_numpy(float), np.nan)
    agg["a_full"] = np.where(agg["finite_ref"], agg["a_full"], np.nan)
    agg["status"] = status
    agg["censored"] = ~met
    out = agg[TE_COLUMNS]
    return out.astype({"n": int, "seed": int, "budget": int, "censored": bool, "points": int,
                       "t_full": float})


def as_thresholds(te: pd.DataFrame) -> pd.DataFrame:
    """t_enough in the form :mod:`companion.stats` takes (n, seed, t_star, reached)."""
    return pd.DataFrame({"n": te["n"].astype(int), "seed": te["seed"].astype(int),
                         "t_star": te["t_enough"].astype(float), "reached": ~te["censored"].astype(bool)})


def growth(ts: pd.DataFrame) -> verdicts.Growth:
    """How t_enough(N) moves: the book's one growth criterion (:func:`companion.stats.verdicts.growth`,
    paired tests over seeds at ALPHA, over the sizes where some seed has one; a censored unit is NaN)."""
    return verdicts.growth(ts, ALPHA)


# --------------------------------------------------------------------------------------------------
# Fits


#: A fitted coefficient larger than this many times the largest t_enough it describes (in steps) is
#: a degenerate fit (two huge terms cancelling over the sizes measured), flagged and never ranked.
DEGENERATE_SCALE = 1e6


def fit_flag(row, t_max: float) -> str:
    """'' for a usable fit; else why it is not: failed, no LOSO error, or a degenerate coefficient."""
    if not bool(row["fit_ok"]):
        return "fit failed"
    coeffs = [row[k] for k in ("a", "b", "c") if k in row and row[k] is not None and not pd.isna(row[k])]
    if any(abs(float(v)) > DEGENERATE_SCALE * max(1.0, t_max) for v in coeffs):
        return "degenerate fit (a coefficient over 10^6 times the largest t_enough)"
    if pd.isna(row["loso_rmse"]):
        return "no leave-one-size-out error: fewer than three sizes"
    return ""


def _label(arm, method, ratio, budget) -> str:
    return f"{arm}|{method}|{float(ratio):g}|{int(budget)}"


def fit_laws(te: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The four laws fitted to every seed's t_enough(N) of each (arm, method, ratio, budget) with
    :func:`companion.stats.laws.fit_table` (censored units left out), plus ``loso_win_share`` (bootstrap
    share of LOSO wins, :func:`companion.stats.laws.model_choice`); columns GROUP + analysis's."""
    parts = []
    for key, g in te.groupby(GROUP, sort=True):
        ts = as_thresholds(g).assign(quantity=_label(*key))
        table = laws.fit_table(ts, n_boot=n_boot, seed=seed, by="quantity")
        if table.empty:
            continue
        ok = ts[ts["reached"]]
        table["loso_win_share"] = table["model"].map(laws.model_choice(ok["n"], ok["t_star"],
                                                                           n_boot=min(n_boot, 200), seed=seed))
        t_max = float(ok["t_star"].max()) if len(ok) else 0.0
        table["flag"] = [fit_flag(r, t_max) for r in table.to_dict("records")]
        parts.append(table.assign(**dict(zip(GROUP, key))))
    cols = GROUP + ["model", "formula", "a", "b", "c", "fit_ok", "aic", "loso_rmse", "points", "sizes",
                    "b_lo", "b_hi", "best_loso", "best_aic", "loso_win_share", "flag"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


# --------------------------------------------------------------------------------------------------
# Controls: paired differences of held-out accuracy


CONTRAST_COLUMNS = ["arm", "ratio", "budget", "n", "t", "a", "b", "seeds", "mean", "ci_lo", "ci_hi", "p_value"]


def contrast(frame: pd.DataFrame, a: str, b: str, *, split: str = "heldout", metric: str = "accuracy"
             ) -> pd.DataFrame:
    """``metric`` of method ``a`` minus that of method ``b`` at the same (arm, ratio, budget, N, t),
    paired over seeds (:func:`companion.stats.paired.paired_test`): mean, 95% t-interval and two-sided
    paired t-test p-value (NaN with fewer than three seeds). Rows only where both methods have a value."""
    check_frame(frame)
    idx = ["arm", "ratio", "budget", "n", "t", "seed"]
    sub = frame[(frame["split"] == split) & frame["method"].isin([a, b])]
    wide = sub.pivot_table(index=idx, columns="method", values=metric, aggfunc="first")
    if a not in wide.columns or b not in wide.columns:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    d = (wide[a] - wide[b]).dropna().rename("d").reset_index()
    if not len(d):
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    # one paired test per (arm, ratio, budget, N, t), all at once (companion.stats.paired's rules)
    g = d.groupby(idx[:-1], sort=True)["d"]
    out = pd.DataFrame({"seeds": g.count(), "mean": g.mean(), "sd": g.std(ddof=1)}).reset_index()
    out["ci_lo"], out["ci_hi"], out["p_value"] = paired.paired_tests(out["seeds"], out["mean"], out["sd"])
    out = out.assign(a=a, b=b).astype({"seeds": int})
    return out[CONTRAST_COLUMNS]


def worth_from(c: pd.DataFrame) -> dict:
    """From one (arm, ratio, budget, N) slice of :func:`contrast` (pipeline minus control): the first
    grid t at which the pipeline is significantly better (5%), and whether it stays so at every later t."""
    c = c.sort_values("t")
    sig = (c["p_value"] < ALPHA) & (c["mean"] > 0)
    if not sig.any():
        return {"t": math.nan, "stays": False, "tested": int(c["p_value"].notna().sum())}
    i = int(np.flatnonzero(sig.to_numpy())[0])
    return {"t": float(c["t"].iloc[i]), "stays": bool(sig.iloc[i:].all()), "tested": int(c["p_value"].notna().sum())}


# --------------------------------------------------------------------------------------------------
# The practitioner's table and convergence


PRACTITIONER_COLUMNS = ["arm", "method", "ratio", "budget", "n", "seeds", "met", "t_enough", "epochs", "pct_full",
                        "t_full", "acc_enough", "acc_full", "acc_dense", "acc_dense_cost", "params", "params_dense",
                        "flops", "flops_dense", "flops_saved"]


def _batch(params, arm: str, frame: pd.DataFrame) -> float:
    """The arm's pre-training mini-batch: the parameter ``<arm>_batch_size`` or ``batch_size``, else
    from the dense rows (train_flops = 3 x flops x batch x t)."""
    for name in (f"{arm}_batch_size", "batch_size"):
        value = getattr(params, name, None) if params is not None else None
        if isinstance(value, (int, np.integer)) and value > 0:
            return float(value)
    d = frame[(frame["method"] == "dense") & (frame["t"] > 0) & (frame["flops"] > 0)]
    if len(d):
        return float(np.median(d["train_flops"] / (3.0 * d["flops"] * d["t"])))
    return math.nan


def practitioner_table(frame: pd.DataFrame, te: pd.DataFrame, *, batch: float = math.nan,
                       split: str = "heldout") -> pd.DataFrame:
    """Per (arm, method, ratio, budget, N) of ``te``: t_enough (mean over the seeds that have one; ``met``
    of ``seeds``) in steps, epochs (t x batch / N) and % of T_full; held-out accuracy at t_enough and
    after full pre-training (``acc_full``), of the dense network at T_full and at the full pipeline's
    training cost; parameters and forward FLOPs per image of the subnetwork and of the dense network;
    and the share of the full pipeline's training FLOPs (pre-training to T_full + fine-tuning) saved by
    pruning at t_enough (mean over the seeds that have one)."""
    check_frame(frame)
    rows = []
    ev = frame[frame["split"] == split]
    for key, g in te.groupby(GROUP[:2] + ["ratio", "budget", "n"], sort=True):
        arm, method, ratio, budget, n = key
        t_full = float(g["t_full"].max())
        met = g[~g["censored"]]
        here = ev[(ev["arm"] == arm) & (ev["n"] == n)]
        pipe = here[(here["method"] == method) & (here["ratio"] == ratio) & (here["budget"] == budget)]
        dense = here[(here["method"] == "dense") & (here["t"] == t_full)]
        cost = here[(here["method"] == "dense_cost") & (here["ratio"] == ratio) & (here["budget"] == budget)
                    & (here["t"] == t_full)]
        flops_at = pipe.set_index(["seed", "t"])["train_flops"]
        saved = []
        for r in met.itertuples():
            spent, full = flops_at.get((r.seed, r.t_enough), math.nan), flops_at.get((r.seed, t_full), math.nan)
            if finite(spent, full) and full > 0:
                saved.append(1.0 - spent / full)
        te_mean = float(met["t_enough"].mean()) if len(met) else math.nan
        rows.append({"arm": arm, "method": method, "ratio": float(ratio), "budget": int(budget), "n": int(n),
                     "seeds": len(g), "met": len(met), "t_enough": te_mean,
                     "epochs": float((met["t_enough"] * batch / n).mean()) if len(met) else math.nan,
                     "pct_full": 100 * te_mean / t_full if finite(te_mean) and t_full > 0 else math.nan,
                     "t_full": t_full, "acc_enough": float(met["a_enough"].mean()) if len(met) else math.nan,
                     "acc_full": float(g["a_full"].mean()),
                     "acc_dense": float(dense["accuracy"].mean()) if len(dense) else math.nan,
                     "acc_dense_cost": float(cost["accuracy"].mean()) if len(cost) else math.nan,
                     "params": float(pipe["params"].median()) if len(pipe) else math.nan,
                     "params_dense": float(dense["params"].median()) if len(dense) else math.nan,
                     "flops": float(pipe["flops"].median()) if len(pipe) else math.nan,
                     "flops_dense": float(dense["flops"].median()) if len(dense) else math.nan,
                     "flops_saved": 100 * float(np.mean(saved)) if saved else math.nan})
    return pd.DataFrame(rows, columns=PRACTITIONER_COLUMNS)


def per_doubling(t0: float, a0: float, t1: float, a1: float) -> float:
    """The change a1 - a0 per doubling of steps from t0 to t1 (t1 > t0 > 0): a learning curve that rises
    by the same amount per doubling (log-linear) gives the same number on any grid."""
    if not (t0 > 0 and t1 > t0):
        raise ValueError(f"per_doubling needs 0 < t0 < t1, got t0 = {t0}, t1 = {t1}")
    return (a1 - a0) / math.log2(t1 / t0)


def slice_of(te: pd.DataFrame, method: str, ratio, budget) -> pd.DataFrame:
    """The rows of ``te`` of one method, kept fraction and budget."""
    return te[(te["method"] == method) & (te["ratio"] == ratio) & (te["budget"] == budget)]


#: A dense network below this held-out accuracy at T_full has not learned (MNIST chance is 10%).
TRAINED_ACCURACY = 0.5
