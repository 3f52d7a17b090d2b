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
from ...prune.early_bird import settle_time
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


#: t_enough's reference: the mean of the curve's last two grid values (one noisy value at T_full would
#: otherwise move every unit's t_enough), or the last value alone (the sensitivity table's other row).
REFERENCES = ("last_two", "last")
#: t_enough's side: a shortfall only (a subnetwork pruned early that does *better* than after full
#: pre-training has had enough), or both sides (a sensitivity row).
SIDE = "below"


def _reference(reference: str) -> str:
    return validate.choice("reference", reference, REFERENCES)


def reference_value(values, reference: str = "last_two") -> float:
    """The reference of one curve ordered by t: the mean of its last two values (the last one alone
    when the curve has one point), or its last value."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return math.nan
    return float(v[-1]) if _reference(reference) == "last" or len(v) < 2 else float(v[-2:].mean())


# --------------------------------------------------------------------------------------------------
# t_enough


def t_enough_curve(t, values, delta: float, side: str = SIDE, reference: str = "last_two") -> tuple[float, str]:
    """(t_enough, status) of one curve A(t) on a grid: the first grid t from which every later value
    is no more than ``delta`` below the reference (``side='both'``: within ``delta`` of it), the
    reference being the mean of the last two grid values (``reference='last'``: the last value),
    :func:`companion.stats.thresholds.within_reference_time`. Status :data:`STATUS_MET`, or censored
    (t_enough NaN: it lies beyond the grid's second-to-last point): :data:`STATUS_NEVER` (only the last
    point itself qualifies), :data:`STATUS_SHORT` (fewer than two grid points), :data:`STATUS_MISSING`
    (no finite value at the last t). A NaN value is never within."""
    delta = validate.positive("delta", delta)
    _side(side)
    _reference(reference)
    t = np.asarray(t, dtype=float)
    v = np.asarray(values, dtype=float)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if len(t) < 2:
        return math.nan, STATUS_SHORT
    ref = reference_value(v, reference)
    if not math.isfinite(v[-1]) or not math.isfinite(ref):
        return math.nan, STATUS_MISSING
    first = thresholds.within_reference_time(t, v, ref, delta, side=side)
    if not math.isfinite(first) or first >= t[-1]:
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
             side: str = SIDE, reference: str = "last_two", methods=None) -> pd.DataFrame:
    """t_enough per (arm, method, ratio, budget, N, seed) (:func:`t_enough_curve` on ``metric`` of
    ``split``, on the grid t <= T_full of the arm, :func:`t_full_of`). Columns :data:`TE_COLUMNS`:
    ``t_full``, ``a_full`` (the value at T_full), ``a_enough`` (at t_enough; NaN when censored),
    ``status``, ``censored`` and ``points`` (grid points of the curve). ``a_full`` is the reference
    (the mean of the last two values, or the last one: ``reference``)."""
    check_frame(frame)
    delta = validate.positive("delta", delta)
    validate.choice("metric", metric, ("accuracy", "loss"))
    _side(side)
    _reference(reference)
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
    ref = g[metric].transform(lambda x: reference_value(x.to_numpy(float), reference)).to_numpy(float)
    last_is_finite = np.isfinite(g[metric].transform(lambda x: x.iloc[-1]).to_numpy(float)) & np.isfinite(ref)
    with np.errstate(invalid="ignore"):
        ok = (v >= ref - delta - _EPS) if side == "below" else (np.abs(v - ref) <= delta + _EPS)
    ok &= np.isfinite(v)
    pos = g.cumcount().to_numpy()
    sub = sub.assign(_pos=pos, _bad=np.where(ok, -1, pos), _finite_ref=last_is_finite)
    g = sub.groupby(KEYS, sort=True)
    sub["_ref"] = ref
    g = sub.groupby(KEYS, sort=True)
    agg = g.agg(points=("t", "size"), last_bad=("_bad", "max"), t_full=("t", "max"), a_full=("_ref", "last"),
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


# --------------------------------------------------------------------------------------------------
# The tolerance from the measured noise


#: The arm's tolerance is at least this many times its measured seed-paired noise (:func:`noise_floor`):
#: a flat curve's value at one checkpoint lies within 2 SD of another's about 95% of the time.
NOISE_MULTIPLE = 2.0
#: Tolerances are rounded up to a tenth of a percentage point (no stored number depends on last bits).
DELTA_STEP = 0.001


def noise_floor(frame: pd.DataFrame, ratio: float, budget: int, *, method: str = "greedy",
                split: str = "heldout") -> dict:
    """The seed-to-seed noise of the fine-tuned accuracy where the curve is flat: per N, the standard
    deviation over seeds of A_ft(T_full) - A_ft(t_prev), the difference of the last two grid points of
    the same seed (a paired difference: what the seed shares cancels); ``sd`` pools the sizes (root mean
    square over the sizes with at least two seeds). ``per_n``: N -> SD; NaN when no size has two seeds."""
    sub = frame[(frame["method"] == method) & (frame["split"] == split) & (frame["ratio"] == ratio)
                & (frame["budget"] == budget)]
    per_n = {}
    if len(sub):
        t_full = t_full_of(frame)[str(sub["arm"].iloc[0])]
        grid = sorted(t for t in sub["t"].unique() if t <= t_full)
        if len(grid) >= 2:
            wide = sub[sub["t"].isin(grid[-2:])].pivot_table(index=["n", "seed"], columns="t", values="accuracy",
                                                            aggfunc="first")
            d = (wide[grid[-1]] - wide[grid[-2]]).dropna()
            for n, g in d.groupby(level="n"):
                if len(g) >= 2:
                    per_n[int(n)] = float(g.std(ddof=1))
    sd = float(np.sqrt(np.mean(np.square(list(per_n.values()))))) if per_n else math.nan
    return {"sd": sd, "per_n": per_n}


def arm_delta(delta: float, noise_sd: float, multiple: float = NOISE_MULTIPLE) -> float:
    """The arm's tolerance: the chapter's ``delta``, raised to ``multiple`` x the measured noise where
    that is larger (never below the noise), rounded up to :data:`DELTA_STEP`."""
    delta = validate.positive("delta", delta)
    if not math.isfinite(noise_sd):
        return delta
    need = multiple * noise_sd
    if need <= delta:
        return delta
    return round(math.ceil(need / DELTA_STEP - 1e-9) * DELTA_STEP, 6)


# --------------------------------------------------------------------------------------------------
# Families of comparisons, corrected


#: How a family of paired comparisons is corrected (Holm's step-down: the family-wise error rate).
CORRECTION = "Holm"


def family(c: pd.DataFrame) -> pd.DataFrame:
    """One family of paired comparisons (rows of :func:`contrast`) with ``p_holm`` (Holm-adjusted over
    the family's tested rows, :func:`companion.stats.paired.holm`) and ``verdict``: 'better' / 'worse'
    (adjusted p below ALPHA, by the sign of the mean), 'no difference' (tested, not significant) or
    'untested' (fewer than MIN_PAIRS seeds)."""
    c = c.copy()
    c["p_holm"] = paired.holm(c["p_value"].to_numpy(float)) if len(c) else []
    sig = c["p_holm"] < ALPHA
    c["verdict"] = np.where(c["p_holm"].isna(), "untested",
                            np.where(sig & (c["mean"] > 0), "better",
                                     np.where(sig & (c["mean"] < 0), "worse", "no difference")))
    return c


def family_counts(c: pd.DataFrame) -> dict:
    """How many comparisons of a family (:func:`family`) are better, worse, no difference, untested."""
    v = c["verdict"] if len(c) else pd.Series([], dtype=str)
    return {"better": int((v == "better").sum()), "worse": int((v == "worse").sum()),
            "same": int((v == "no difference").sum()), "untested": int((v == "untested").sum()),
            "tested": int((v != "untested").sum())}


def better_from(c: pd.DataFrame) -> float:
    """From one size's rows of a corrected family (:func:`family`) over t: the first t from which the
    pipeline is significantly better at every later t (NaN when it is not better at the last t)."""
    c = c.sort_values("t")
    ok = (c["verdict"] == "better").to_numpy()
    if not len(ok) or not ok[-1]:
        return math.nan
    bad = np.flatnonzero(~ok)
    first = 0 if not len(bad) else int(bad[-1]) + 1
    return float(c["t"].iloc[first])


def step_confound(frame: pd.DataFrame, ratio: float, budget: int, *, split: str = "heldout") -> pd.DataFrame:
    """A check of the scratch control: random pruning at t = 0 keeps random units of a fresh
    initialisation, so after fine-tuning it is the small architecture trained from scratch for F steps,
    trained by the pipeline. Random(t = 0) minus scratch(t = 0), per N, is zero in expectation unless
    the control is trained differently (another step, schedule or batch order); a corrected family
    (:func:`family`, over the sizes) whose 'better'/'worse' rows flag a confound."""
    c = contrast(frame[frame["t"] == 0], "random", "scratch", split=split)
    c = c[(c["ratio"] == ratio) & (c["budget"] == budget)]
    return family(c)


# --------------------------------------------------------------------------------------------------
# The reference runs and the early-bird signal (:mod:`.reference`)


def early_bird(reference: pd.DataFrame, epsilon: float, window: int) -> pd.DataFrame:
    """Per (arm, N, seed) of the reference frame: ``t_eb``, when the greedy mask settles
    (:func:`companion.prune.early_bird.settle_time` on its mask distances; NaN: never within the run)."""
    rows = []
    d = reference[reference["quantity"] == "mask_distance"]
    for (arm, n, seed), g in d.groupby(["arm", "n", "seed"], sort=True):
        g = g.sort_values("t")
        rows.append({"arm": arm, "n": int(n), "seed": int(seed),
                     "t_eb": settle_time(g["t"].to_numpy(float), g["value"].to_numpy(float), epsilon, window)})
    return pd.DataFrame(rows, columns=["arm", "n", "seed", "t_eb"])


def stop_at_early_bird(frame: pd.DataFrame, eb: pd.DataFrame, te: pd.DataFrame, ratio: float, budget: int,
                       *, split: str = "heldout") -> pd.DataFrame:
    """What stopping pre-training at the early-bird signal costs and saves, per (N, seed) of one arm:
    the pipeline pruned at the first grid t at or after t_eb (``t_stop``; the unit's grid), its
    fine-tuned accuracy minus the reference (``cost``: negative is a loss), the share of the full
    pipeline's training FLOPs saved (``saved``), and the unit's t_enough beside it."""
    pipe = frame[(frame["method"] == "greedy") & (frame["split"] == split) & (frame["ratio"] == ratio)
                 & (frame["budget"] == budget)]
    rows = []
    main = te[(te["method"] == "greedy") & (te["ratio"] == ratio) & (te["budget"] == budget)].set_index(["n", "seed"])
    for r in eb.itertuples():
        g = pipe[(pipe["n"] == r.n) & (pipe["seed"] == r.seed)].sort_values("t")
        if not len(g) or (r.n, r.seed) not in main.index:
            continue
        ref = float(main.loc[(r.n, r.seed), "a_full"])
        t_full = float(main.loc[(r.n, r.seed), "t_full"])
        later = g[g["t"] >= r.t_eb] if math.isfinite(r.t_eb) else g.iloc[0:0]
        stop = later.iloc[0] if len(later) else g.iloc[-1]
        full = g[g["t"] == t_full]
        saved = (1.0 - float(stop["train_flops"]) / float(full["train_flops"].iloc[0])) if len(full) else math.nan
        rows.append({"n": int(r.n), "seed": int(r.seed), "t_eb": r.t_eb, "t_stop": float(stop["t"]),
                     "cost": float(stop["accuracy"]) - ref, "saved": saved,
                     "t_enough": float(main.loc[(r.n, r.seed), "t_enough"])})
    return pd.DataFrame(rows, columns=["n", "seed", "t_eb", "t_stop", "cost", "saved", "t_enough"])


def reference_check(reference: pd.DataFrame, arm: str, t_full: int) -> dict:
    """Has the reference converged? From one arm's reference runs: the dense held-out accuracy and the
    fine-tuned greedy subnetwork's, at T_full and at the end of the run (factor x T_full), seed means
    at the largest N and the paired change over all (N, seed) (:func:`companion.stats.paired.paired_test`)."""
    r = reference[reference["arm"] == arm]
    out = {"arm": arm, "t_full": int(t_full), "t_end": int(r["t"].max()) if len(r) else 0}
    for q in ("dense", "greedy_finetuned"):
        w = r[(r["quantity"] == q) & r["t"].isin([t_full, out["t_end"]])].pivot_table(
            index=["n", "seed"], columns="t", values="value", aggfunc="first")
        if t_full in w.columns and out["t_end"] in w.columns and out["t_end"] != t_full:
            d = (w[out["t_end"]] - w[t_full]).dropna()
            test = paired.paired_test(d.to_numpy(float))
            out[q] = {"at_full": float(w[t_full].mean()), "at_end": float(w[out["t_end"]].mean()),
                      "change": test["mean"], "ci_lo": test["ci_lo"], "ci_hi": test["ci_hi"],
                      "p_value": test["p_value"], "units": int(len(d))}
        else:
            out[q] = None
    return out
