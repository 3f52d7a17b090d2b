"""Chapter 4's analysis: how much pre-training is enough when the subnetwork is fine-tuned.

The engine (:mod:`.finetune`) gives one tidy frame per arm (two-layer network, deep MLP, residual
CNN) with the columns of :data:`COLUMNS`: for every (N, seed), pruning step t of the dense network's
pre-training, method, kept fraction and fine-tuning budget F, the evaluated network's loss and
accuracy on each split, its parameters and FLOPs, and the training FLOPs of the whole pipeline.

The quantity (an explicit choice, stated in the chapter): A_ft(t, N) is the held-out accuracy of
the subnetwork pruned at step t and fine-tuned for F steps, and

    t_enough(N) = the first grid t from which A_ft stays within delta of A_ft(T_full),

T_full being the last grid t of pre-training (:func:`t_enough`, per (arm, method, ratio, budget, N,
seed)). It is read on the grid (no interpolation), so no stored number depends on the last bits of
floating point. A curve that is within delta at T_full only (the grid ends before it settles), or a
grid of one point, is *censored*: its t_enough is undefined, left out of the fits, and said in words.

Over sizes, as in chapter 3 (:mod:`companion.analysis`): paired changes over seeds (a seed fixes the
nested subsets, the initialisation and the SGD order), the four laws a + b log N, a + b N, a N^b and
the saturating a - b N^(-c) with leave-one-size-out (LOSO) errors and the bootstrap share of LOSO
wins, and a sensitivity table over delta. The controls (:func:`contrast`): greedy against random
and largest-norm pruning after fine-tuning, the pruned pipeline against the small architecture
trained from scratch (same steps, same FLOPs) and against the dense network at the pipeline's cost,
and for the MLP the three greedy variants. :func:`practitioner_table` is the chapter's table;
:func:`summarize` gives every number and data-dependent sentence of the prose.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from .. import analysis, validate
from ..display import Summary

ARMS = ("two_layer", "mlp", "cnn")
ARM_NAMES = {"two_layer": "two-layer network", "mlp": "deep MLP", "cnn": "residual CNN"}
#: The columns of every arm's frame (the engine's contract, /work/notes/ch4_spec.md).
COLUMNS = ("arm", "n", "seed", "t", "method", "ratio", "budget", "split", "loss", "accuracy", "steps",
           "train_flops", "params", "flops")
#: Methods whose rows are a pruned, fine-tuned subnetwork (the pipeline).
PIPELINES = ("greedy", "greedy_sampled", "greedy_local", "random", "magnitude")
GREEDY_VARIANTS = ("greedy", "greedy_sampled", "greedy_local")
#: The controls: the small architecture from scratch (same steps; same FLOPs), the dense network at
#: the pipeline's cost, and the dense network itself.
CONTROLS = ("scratch", "scratch_flops", "dense_cost", "dense")
METHOD_NAMES = {"greedy": "greedy", "greedy_sampled": "greedy with sampled candidates",
                "greedy_local": "layer-local greedy", "random": "random pruning",
                "magnitude": "largest-norm pruning", "scratch": "scratch training (same steps)",
                "scratch_flops": "scratch training (same FLOPs)", "dense_cost": "the dense network at equal cost",
                "dense": "the dense network"}
KEYS = ["arm", "method", "ratio", "budget", "n", "seed"]
GROUP = ["arm", "method", "ratio", "budget"]
#: The chapter's tolerance (0.5 percentage points) and the sensitivity table's.
DELTA = 0.005
DELTAS = (0.0025, 0.005, 0.01, 0.02)
#: Significance level of every paired test whose verdict the prose states in words.
ALPHA = analysis.PAIRED_ALPHA
#: How a number that cannot be computed for a setting is glued (never NaN).
UNDEFINED = "not defined for these settings"
#: Accuracies are fractions of images: a difference within this of delta is delta (no last bits).
_EPS = 1e-9
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
    below it). Status :data:`STATUS_MET`, or censored (t_enough NaN): :data:`STATUS_NEVER` (only the
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
    ref = v[-1]
    if not math.isfinite(ref):
        return math.nan, STATUS_MISSING
    with np.errstate(invalid="ignore"):
        ok = (v >= ref - delta - _EPS) if side == "below" else (np.abs(v - ref) <= delta + _EPS)
    ok &= np.isfinite(v)
    bad = np.flatnonzero(~ok)
    first = 0 if len(bad) == 0 else int(bad[-1]) + 1
    if first >= len(t) - 1:
        return math.nan, STATUS_NEVER
    return float(t[first]), STATUS_MET


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
    """t_enough in the form :mod:`companion.analysis` takes (n, seed, t_star, reached)."""
    return pd.DataFrame({"n": te["n"].astype(int), "seed": te["seed"].astype(int),
                         "t_star": te["t_enough"].astype(float), "reached": ~te["censored"].astype(bool)})


# --------------------------------------------------------------------------------------------------
# Words (every sentence the data could contradict is chosen here)


def _finite(*values) -> bool:
    return all(v is not None and isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v))
               for v in values)


def _n(n) -> str:
    return f"{int(n):,}"


def _sizes_list(sizes) -> str:
    names = [_n(n) for n in sizes]
    return "N = " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def _pp(x: float, signed: bool = True) -> str:
    """An accuracy difference in percentage points: '+1.2 pp'."""
    return f"{100 * x:+.1f} pp" if signed else f"{100 * x:.1f} pp"


def _steps(x: float) -> str:
    return f"{x:,.0f} step" + ("" if round(x) == 1 else "s")


# The verdicts of a paired change, defined once with it (companion.analysis).
_p_ok, _sig_up, _sig_down = analysis.change_tested, analysis.change_rises, analysis.change_falls


def _untested(change: dict) -> str:
    if change["seeds"] == 0:
        return f"no seed has a t_enough at both N = {_n(change['n_from'])} and {_n(change['n_to'])}"
    if change["seeds"] == 1:
        return f"only one seed has a t_enough at both N = {_n(change['n_from'])} and {_n(change['n_to'])}"
    return "every seed changes by the same amount, so there is no spread to test"


def coverage_words(te: pd.DataFrame) -> str:
    """'' when no unit is censored; else which sizes have censored seeds, and why, in words."""
    if not len(te) or not te["censored"].any():
        return ""
    parts = []
    for n, g in te.groupby("n", sort=True):
        k = int(g["censored"].sum())
        if k:
            parts.append(f"{k} of {len(g)} seeds at N = {_n(n)}")
    why = sorted(set(te.loc[te["censored"], "status"]))
    reasons = {STATUS_NEVER: "the curve is within δ of its final value only at T_full itself",
               STATUS_SHORT: "the grid has fewer than two points", STATUS_MISSING: "no value at T_full"}
    return ("censored (t_enough undefined, left out of the fits) for " + ", ".join(parts) + ": "
            + "; ".join(reasons[w] for w in why))


def change_tested_words(words: str) -> bool:
    """Whether a :func:`shape` sentence reports a tested change of t_enough over N (growth, a fall or
    no significant change), not one that cannot be traced or tested."""
    return not (words.startswith("cannot") or "cannot be tested for a change" in words)


def shape(ts: pd.DataFrame) -> dict:
    """How t_enough(N) moves, from paired tests over seeds (ALPHA), over the sizes where some seed has
    one: ``grows`` (the change from the smallest such size to the last significant rise between
    neighbours, or to the largest, is positive and significant), ``stops`` (beyond that rise the change
    to the largest size is testable and not significant), and ``words``."""
    means = ts[ts["reached"]].groupby("n")["t_star"].mean()
    out = {"defined": len(means) >= 2, "grows": False, "stops": False, "falls": False, "flat": False,
           "first": None, "n0": None, "last": None, "rise": None, "tail": None}
    if len(means) < 2:
        out["words"] = ("cannot be traced over N: t_enough is defined at " +
                        ("no size" if not len(means) else f"one size only ({_sizes_list(means.index)})"))
        return out
    first, last = int(means.index.min()), int(means.index.max())
    sub = ts[ts["n"].isin(means.index)]
    steps = analysis.paired_steps(sub)
    rising = [r for r in steps.to_dict("records") if _sig_up(r)]
    n0 = int(rising[-1]["n_to"]) if rising else last
    rise = analysis.paired_change(sub, first, n0)
    if not _sig_up(rise) and n0 != last:
        n0, rise = last, analysis.paired_change(sub, first, last)
    tail = analysis.paired_change(sub, n0, last) if n0 != last else None
    out |= {"first": first, "n0": n0, "last": last, "rise": rise, "tail": tail}
    if _sig_up(rise):
        out["grows"] = True
        if tail is None or _sig_up(tail):
            words = f"grows with N up to the largest size measured (N = {_n(last)})"
        elif _sig_down(tail):
            words = f"grows up to N = {_n(n0)}, then falls"
        elif _p_ok(tail):
            words, out["stops"] = f"grows up to N = {_n(n0)}, then stops", True
        else:
            words = f"grows up to N = {_n(n0)}; whether it then stops cannot be tested ({_untested(tail)})"
    elif _sig_down(rise):
        words, out["falls"] = "falls with N", True
    elif _p_ok(rise):
        words, out["flat"] = (f"does not change significantly between N = {_n(first)} and {_n(last)} "
                              f"(paired over {rise['seeds']} seeds, p = {rise['p_value']:.2f})"), True
    else:
        words = f"cannot be tested for a change ({_untested(rise)})"
    out["words"] = words
    return out


def shares_words(shares: dict, unranked: dict | None = None) -> str:
    """Which law the data prefer (:func:`companion.analysis.law_shares_words`, chapter 3's rule), among
    the laws that have a leave-one-size-out error; ``unranked`` (law -> why) are left out of the
    ranking and said as such, never given a share of 0%."""
    unranked = {m: why for m, why in (unranked or {}).items() if m in analysis.MODELS}
    ranked = {m: v for m, v in shares.items() if m not in unranked}
    undefined = "t_enough is defined at fewer than three sizes"
    if not unranked:
        return analysis.law_shares_words(shares, undefined)
    if not ranked or pd.Series(ranked, dtype=float).isna().all():
        return analysis.law_shares_words({}, undefined)
    else:
        ranked = pd.Series(ranked, dtype=float)
        best, listed = ranked.idxmax(), ", ".join(f"{analysis.MODEL_FORMULAS[m]} {ranked[m]:.0%}"
                                                   for m in analysis.MODELS if m in ranked.index)
        if len(ranked) == 1:
            words = f"only {analysis.MODEL_FORMULAS[best]} has a leave-one-size-out error, so no law is ranked"
        elif ranked[best] >= 0.95:
            words = (f"{analysis.MODEL_FORMULAS[best]} has the lowest leave-one-size-out error in "
                     f"{ranked[best]:.0%} of bootstrap resamples of the seeds, among {listed}")
        else:
            words = ("the data cannot tell the laws apart (share of bootstrap resamples of the seeds in which "
                     f"each law has the lowest leave-one-size-out error: {listed})"
                     if not ((ranked == ranked[best]).sum() == 1 and ranked[best] > 0.5) else
                     f"{analysis.MODEL_FORMULAS[best]} is preferred but not singled out: it has the lowest "
                     f"leave-one-size-out error in {ranked[best]:.0%} of bootstrap resamples of the seeds ({listed})")
    if unranked:
        words += "; not ranked: " + ", ".join(f"{analysis.MODEL_FORMULAS[m]} ({why})" for m, why in unranked.items())
    return words


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


def range_words(ts: pd.DataFrame) -> str:
    """'from 40 steps at N = 250 to 120 at N = 4,000' (seed means over the seeds that have one)."""
    means = ts[ts["reached"]].groupby("n")["t_star"].mean()
    if not len(means):
        return "defined at no size"
    if len(means) == 1:
        return f"{means.iloc[0]:,.0f} steps at N = {_n(means.index[0])} only"
    return (f"from {means.iloc[0]:,.0f} steps at N = {_n(means.index[0])} to {means.iloc[-1]:,.0f} at "
            f"N = {_n(means.index[-1])}")


# --------------------------------------------------------------------------------------------------
# Fits and the sensitivity table


def _label(arm, method, ratio, budget) -> str:
    return f"{arm}|{method}|{float(ratio):g}|{int(budget)}"


def fit_laws(te: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The four laws fitted to every seed's t_enough(N) of each (arm, method, ratio, budget) with
    :func:`companion.analysis.fit_table` (censored units left out), plus ``loso_win_share`` (bootstrap
    share of LOSO wins, :func:`companion.analysis.model_choice`); columns GROUP + analysis's."""
    parts = []
    for key, g in te.groupby(GROUP, sort=True):
        ts = as_thresholds(g).assign(quantity=_label(*key))
        table = analysis.fit_table(ts, n_boot=n_boot, seed=seed, by="quantity")
        if table.empty:
            continue
        ok = ts[ts["reached"]]
        table["loso_win_share"] = table["model"].map(analysis.model_choice(ok["n"], ok["t_star"],
                                                                           n_boot=min(n_boot, 200), seed=seed))
        t_max = float(ok["t_star"].max()) if len(ok) else 0.0
        table["flag"] = [fit_flag(r, t_max) for r in table.to_dict("records")]
        parts.append(table.assign(**dict(zip(GROUP, key))))
    cols = GROUP + ["model", "formula", "a", "b", "c", "fit_ok", "aic", "loso_rmse", "points", "sizes",
                    "b_lo", "b_hi", "best_loso", "best_aic", "loso_win_share", "flag"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def sensitivity(frame: pd.DataFrame, deltas=DELTAS, *, methods=("greedy",), split: str = "heldout") -> pd.DataFrame:
    """How t_enough moves with delta: per delta and (arm, method, ratio, budget), the share of units
    not censored, the mean t_enough at the smallest and the largest N, the paired change between them
    in words, and the law with the lowest LOSO error (no bootstrap)."""
    rows = []
    for delta in deltas:
        te = t_enough(frame, delta, split=split, methods=methods)
        te = te[te["budget"] > 0]
        for key, g in te.groupby(GROUP, sort=True):
            ts = as_thresholds(g)
            means = ts[ts["reached"]].groupby("n")["t_star"].mean()
            small, large = int(g["n"].min()), int(g["n"].max())
            row = dict(zip(GROUP, key)) | {"delta": float(delta), "delta_pp": 100 * float(delta),
                                           "met": float(ts["reached"].mean()),
                                           "t_smallest_n": float(means.get(small, math.nan)),
                                           "t_largest_n": float(means.get(large, math.nan)),
                                           "change": shape(ts)["words"]}
            ok = ts[ts["reached"]]
            if ok["n"].nunique() >= 3:
                table = analysis.fit_table(ok.assign(quantity="q"), n_boot=0, by="quantity")
                best = table.loc[table["best_loso"], "model"]
                row["best_law"] = analysis.MODEL_FORMULAS[best.iloc[0]] if len(best) else "no fit"
            else:
                row["best_law"] = "defined at fewer than 3 sizes"
            rows.append(row)
    cols = GROUP + ["delta", "delta_pp", "met", "t_smallest_n", "t_largest_n", "change", "best_law"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------------------
# Controls: paired differences of held-out accuracy


CONTRAST_COLUMNS = ["arm", "ratio", "budget", "n", "t", "a", "b", "seeds", "mean", "ci_lo", "ci_hi", "p_value"]


def contrast(frame: pd.DataFrame, a: str, b: str, *, split: str = "heldout", metric: str = "accuracy"
             ) -> pd.DataFrame:
    """``metric`` of method ``a`` minus that of method ``b`` at the same (arm, ratio, budget, N, t),
    paired over seeds: mean, 95% t-interval and two-sided paired t-test p-value (NaN with fewer than
    two seeds or no spread). Rows only where both methods have a value."""
    from scipy import stats

    check_frame(frame)
    idx = ["arm", "ratio", "budget", "n", "t", "seed"]
    sub = frame[(frame["split"] == split) & frame["method"].isin([a, b])]
    wide = sub.pivot_table(index=idx, columns="method", values=metric, aggfunc="first")
    if a not in wide.columns or b not in wide.columns:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    d = (wide[a] - wide[b]).dropna().rename("d").reset_index()
    if not len(d):
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    g = d.groupby(idx[:-1], sort=True)["d"]
    out = pd.DataFrame({"seeds": g.count(), "mean": g.mean(), "sd": g.std(ddof=1)}).reset_index()
    k = out["seeds"].to_numpy(float)
    sd = out["sd"].to_numpy(float)
    ok = (k >= 2) & np.isfinite(sd) & (sd > 1e-12)
    se = np.where(ok, sd / np.sqrt(np.maximum(k, 1)), np.nan)
    q = np.where(ok, stats.t.ppf(0.975, np.maximum(k - 1, 1)), np.nan)
    out["ci_lo"] = out["mean"] - q * se
    out["ci_hi"] = out["mean"] + q * se
    with np.errstate(invalid="ignore", divide="ignore"):
        out["p_value"] = np.where(ok, 2 * stats.t.sf(np.abs(out["mean"] / se), np.maximum(k - 1, 1)), np.nan)
    out = out.assign(a=a, b=b).astype({"seeds": int})
    return out[CONTRAST_COLUMNS]


def contrast_words(c: pd.DataFrame, a: str, b: str) -> str:
    """One (arm, ratio, budget, N) slice of :func:`contrast` over t, in words: at t = 0 and at T_full
    the difference with its interval, and at how many pre-training lengths it is significant."""
    name_a, name_b = METHOD_NAMES.get(a, a), METHOD_NAMES.get(b, b)
    if not len(c):
        return f"{name_a} and {name_b} cannot be compared (no common rows)"
    c = c.sort_values("t")

    def at(row):
        text = f"{_pp(row['mean'])}"
        if _finite(row["ci_lo"], row["ci_hi"]):
            text += f" (95% interval {_pp(row['ci_lo'])} to {_pp(row['ci_hi'])})"
        else:
            text += " (no interval: " + ("one seed" if row["seeds"] < 2 else "the same in every seed") + ")"
        return text

    first, last = c.iloc[0], c.iloc[-1]
    up = int(((c["p_value"] < ALPHA) & (c["mean"] > 0)).sum())
    down = int(((c["p_value"] < ALPHA) & (c["mean"] < 0)).sum())
    tested = int(c["p_value"].notna().sum())
    text = (f"{name_a} minus {name_b}: {at(first)} when pruned at t = {int(first['t']):,}, {at(last)} at "
            f"T_full = {int(last['t']):,}")
    if tested == 0:
        return text + "; no pre-training length can be tested (fewer than two seeds, or no spread)"
    lengths = "the one pre-training length tested" if tested == 1 else f"the {tested} pre-training lengths tested"
    return text + f"; significantly above at {up} and below at {down} of {lengths} (5% level)"


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
# The practitioner's table


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
            if _finite(spent, full) and full > 0:
                saved.append(1.0 - spent / full)
        te_mean = float(met["t_enough"].mean()) if len(met) else math.nan
        rows.append({"arm": arm, "method": method, "ratio": float(ratio), "budget": int(budget), "n": int(n),
                     "seeds": len(g), "met": len(met), "t_enough": te_mean,
                     "epochs": float((met["t_enough"] * batch / n).mean()) if len(met) else math.nan,
                     "pct_full": 100 * te_mean / t_full if _finite(te_mean) and t_full > 0 else math.nan,
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


# --------------------------------------------------------------------------------------------------
# Chapter 3's T*(N), next to t_enough(N)


def chapter3_thresholds():
    """Chapter 3's T*(N) of the greedy subnetwork (SGD arm, its paper preset and its threshold rule)
    from the committed results: (frame n, seed, t_star, reached; a description of the rule), or
    (None, why) when the committed results are not all there (nothing is computed)."""
    from ..chapters import mnist
    from . import engine, schema

    p, options = schema.check(mnist.SCHEMA, None)
    exp = mnist.experiments(p)["sgd"]
    if engine.missing(exp, options.cache_dir):
        return None, "chapter 3's committed results are not all present, so its T*(N) is not shown"
    sgd = engine.run(exp, dataclasses.replace(options, progress=False))
    r = p.rules
    ts = analysis.thresholds(sgd, rule=r["rule"], metric=r["metric"], delta=r["delta"], level=r["level"],
                             method="greedy")
    rule = (f"the first step at which the greedy subnetwork's training {r['metric']} reaches {r['level']:g}"
            if r["rule"] == "reaches" else
            f"the first step at which its training {r['metric']} is within {r['delta']:g} of its best")
    return ts[["n", "seed", "t_star", "reached"]], f"{rule}, k = {p.k} of m = {p.width}"


# --------------------------------------------------------------------------------------------------
# The summary


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the analysis takes from the chapter's parameters (defaults when a name is absent)."""

    delta: float = DELTA
    deltas: tuple = DELTAS
    n_boot: int = 1000
    split: str = "heldout"

    @classmethod
    def of(cls, params) -> "Settings":
        values = {f.name: getattr(params, f.name) for f in dataclasses.fields(cls)
                  if params is not None and hasattr(params, f.name)}
        values.setdefault("deltas", DELTAS)
        s = cls(**values)
        deltas = tuple(sorted({float(d) for d in (*s.deltas, s.delta)}))
        return dataclasses.replace(s, deltas=deltas, delta=validate.positive("delta", s.delta))


def _arm_frame(frames: dict, arm: str) -> pd.DataFrame:
    frame = frames.get(arm) if isinstance(frames, dict) else None
    if frame is None:
        return pd.DataFrame(columns=list(COLUMNS))
    return check_frame(frame, f"frames[{arm!r}]")


def _budgets(frame: pd.DataFrame, method: str = "greedy") -> tuple:
    """(short, long): the smallest and the largest positive fine-tuning budget of ``method``."""
    b = sorted(int(x) for x in frame.loc[(frame["method"] == method) & (frame["budget"] > 0), "budget"].unique())
    return (b[0], b[-1]) if b else (None, None)


def _slice(te: pd.DataFrame, method: str, ratio, budget) -> pd.DataFrame:
    return te[(te["method"] == method) & (te["ratio"] == ratio) & (te["budget"] == budget)]


def per_doubling(t0: float, a0: float, t1: float, a1: float) -> float:
    """The change a1 - a0 per doubling of steps from t0 to t1 (t1 > t0 > 0): a learning curve that rises
    by the same amount per doubling (log-linear) gives the same number on any grid."""
    if not (t0 > 0 and t1 > t0):
        raise ValueError(f"per_doubling needs 0 < t0 < t1, got t0 = {t0}, t1 = {t1}")
    return (a1 - a0) / math.log2(t1 / t0)


def converged_words(curve: pd.Series, delta: float, what: str) -> dict:
    """Whether a curve (accuracy indexed by steps) has converged at its last point by the chapter's
    criterion: a change of less than ``delta`` per doubling of steps over its last interval (both ends
    positive). ``converged`` is None when the curve has fewer than two positive points (undecidable),
    and ``words`` says which, with the numbers."""
    curve = curve[curve.index > 0].sort_index()
    if len(curve) < 2:
        return {"converged": None, "per_doubling": math.nan,
                "words": f"cannot be checked for convergence: it has fewer than two {what} lengths above zero"}
    (t0, a0), (t1, a1) = list(curve.items())[-2:]
    rate = per_doubling(float(t0), float(a0), float(t1), float(a1))
    ok = bool(abs(rate) < delta)
    return {"converged": ok, "per_doubling": rate,
            "words": (f"changes by {100 * (a1 - a0):+.1f} pp from {int(t0):,} to {int(t1):,} {what} steps, "
                      f"{100 * rate:+.2f} pp per doubling: "
                      + ("converged by the chapter's criterion" if ok else "not converged by the chapter's criterion")
                      + f" (less than δ = {100 * delta:g} pp per doubling)")}


#: A dense network below this held-out accuracy at T_full has not learned (MNIST chance is 10%).
TRAINED_ACCURACY = 0.5

#: What a run that has not learned means for the arm, by its cause (:func:`failure_cause`).
FAILURE_CONSEQUENCE = {
    "under-trained": "this arm is under-trained at T_full (its dense network is still learning), so its "
                     "comparisons and t_enough are not informative; a longer T_full would tell more",
    "unstable": "this arm's training is unstable at its step (its loss rises or is not finite), so its "
                "comparisons and t_enough are not informative; a smaller step would tell more",
    "stalled": "this arm's dense network does not move from where it started, so its comparisons and "
               "t_enough are not informative",
    "stalled and under-trained": "some runs are still learning at T_full and others do not move, so this "
                                 "arm's comparisons and t_enough are not informative",
    "stalled and unstable": "some runs are unstable at this step and others do not move, so this arm's "
                            "comparisons and t_enough are not informative",
    "under-trained and unstable": "some runs are still learning at T_full and others are unstable at "
                                  "this step, so this arm's comparisons and t_enough are not informative",
    "stalled and under-trained and unstable": "its runs fail for different reasons (see each), so this "
                                              "arm's comparisons and t_enough are not informative",
}


def _cause_words(causes: list, cause: str) -> str:
    """'in 8: loss falls, accuracy +9.5 to +17.3 pp per doubling over the last two checkpoints'."""
    mine = [c for c in causes if c["cause"] == cause]
    rates = [100 * c["rate"] for c in mine if math.isfinite(c["rate"])]
    what = {"under-trained": "loss falling", "unstable": "loss rising or not finite",
            "stalled": "accuracy flat"}[cause]
    span = (f", accuracy {min(rates):+.1f} to {max(rates):+.1f} pp per doubling" if len(rates) > 1 else
            f", accuracy {rates[0]:+.1f} pp per doubling" if rates else "")
    return f"{cause} in {len(mine)} ({what}{span} over the last two checkpoints)"


def failure_cause(dense: pd.DataFrame, delta: float) -> dict:
    """Why one dense run (its rows of one split: t, loss, accuracy) has not learned, from its own curve
    over the last two checkpoints: ``unstable`` when its loss is not finite or rises; ``under-trained``
    when its loss falls and its accuracy rises by at least ``delta`` per doubling of steps; else
    ``stalled``. ``words`` gives the numbers."""
    curve = dense[dense["t"] > 0].groupby("t")[["loss", "accuracy"]].mean().sort_index()
    if len(curve) < 2:
        return {"cause": "stalled", "rate": math.nan, "words": "one checkpoint only, so its trend cannot be read"}
    (t0, l0, a0), (t1, l1, a1) = [(int(t), float(r.loss), float(r.accuracy)) for t, r in curve.iloc[-2:].iterrows()]
    rate = per_doubling(t0, a0, t1, a1)
    trend = (f"loss {l0:.3g} -> {l1:.3g}, accuracy {100 * a0:.1f}% -> {100 * a1:.1f}% from {t0:,} to {t1:,} "
             f"steps ({100 * rate:+.1f} pp per doubling)")
    if not (math.isfinite(l0) and math.isfinite(l1)) or l1 > l0:
        return {"cause": "unstable", "rate": rate, "words": trend}
    return {"cause": "under-trained" if rate >= delta else "stalled", "rate": rate, "words": trend}


def _arm_summary(arm: str, frame: pd.DataFrame, s: Settings, params) -> tuple[dict, dict]:
    """Numbers and sentences of one arm (keys without the ``ch4_<arm>_`` prefix), and its tables."""
    name = ARM_NAMES[arm]
    out: dict = {}
    tables: dict = {}
    greedy = frame[frame["method"] == "greedy"]
    if not len(greedy) or not (greedy["split"] == s.split).any():
        why = "no rows" if not len(frame) else "no greedy rows on the held-out split"
        for k in ("verdict", "range", "laws", "coverage", "budget_sentence", "random", "magnitude", "scratch",
                  "scratch_flops", "dense_cost", "worth", "saved", "ceiling", "failed", "convergence",
                  "long_convergence"):
            out[k] = f"the {name} arm has {why} for these settings"
        out |= {"has_data": False, "defined": False, "grows": False, "stops": False, "ratio": UNDEFINED, "short": UNDEFINED,
                "long": UNDEFINED, "t_full": UNDEFINED, "largest": UNDEFINED, "smallest": UNDEFINED,
                "sizes": UNDEFINED, "n_seeds": 0, "pct_largest": UNDEFINED, "saved_largest": UNDEFINED,
                "failed_runs": 0, "failed_cause": UNDEFINED, "dense_converged": None, "long_converged": None}
        return out, tables
    ratio = float(greedy["ratio"].min())
    short, long_ = _budgets(frame)
    long_ = long_ if long_ is not None else int(greedy["budget"].max())
    sizes = sorted(int(n) for n in greedy["n"].unique())
    smallest, largest = sizes[0], sizes[-1]
    te = t_enough(frame, s.delta, split=s.split)
    t_full = t_full_of(frame)[arm]
    out |= {"has_data": True, "ratio": ratio, "short": short if short is not None else UNDEFINED, "long": long_, "t_full": t_full,
            "smallest": smallest, "largest": largest, "sizes": ", ".join(_n(n) for n in sizes),
            "n_seeds": int(greedy["seed"].nunique())}
    main = _slice(te, "greedy", ratio, long_)
    ts = as_thresholds(main)
    sh = shape(ts)
    out |= {"defined": sh["defined"], "grows": sh["grows"], "stops": sh["stops"]}
    cov = coverage_words(main)
    out["verdict"] = (f"with the long fine-tuning budget (F = {long_:,} steps), the greedy subnetwork's "
                      f"t_enough(N) {sh['words']}")
    out["range"] = range_words(ts)
    out["coverage"] = (cov[0].upper() + cov[1:]) if cov else "No unit is censored: every seed has a t_enough at every size"
    out["shape"] = sh
    # Did the dense network itself train? A run left near chance at T_full makes every comparison of
    # that run meaningless, so the chapter says how many there are.
    dense_end = frame[(frame["method"] == "dense") & (frame["split"] == s.split) & (frame["t"] == t_full)]
    failed = dense_end[dense_end["accuracy"] < TRAINED_ACCURACY]
    # Has the dense network converged at T_full, and does F_long let a subnetwork pruned at t = 0
    # converge? Both by one criterion: less than delta per doubling, at the largest N (seed mean).
    dense = frame[(frame["method"] == "dense") & (frame["split"] == s.split) & (frame["n"] == largest)]
    curve = dense.groupby("t")["accuracy"].mean()
    conv = converged_words(curve[curve.index <= t_full], s.delta, "pre-training")
    out["dense_converged"] = conv["converged"]
    out["convergence"] = (f"at N = {_n(largest)} the dense network's held-out accuracy (seed mean) "
                          + conv["words"]
                          + ("" if conv["converged"] is not False else
                             ": a t_enough near T_full partly measures the dense network's own learning"))
    at0 = frame[(frame["method"] == "greedy") & (frame["split"] == s.split) & (frame["n"] == largest)
                & (frame["t"] == 0) & (frame["ratio"] == ratio) & (frame["budget"] > 0)]
    conv = converged_words(at0.groupby("budget")["accuracy"].mean(), s.delta, "fine-tuning")
    out["long_converged"] = conv["converged"]
    out["long_convergence"] = (
        f"at N = {_n(largest)} the greedy subnetwork pruned at t = 0 (kept fraction {ratio:g}) has a held-out "
        f"accuracy (seed mean) that " + conv["words"]
        + ("" if conv["converged"] is not False else
           f": F = {long_:,} steps is not long enough for it to converge, so this arm cannot show where "
           "t_enough goes when fine-tuning is long"))
    out["failed_runs"] = int(len(failed))
    causes = [failure_cause(frame[(frame["method"] == "dense") & (frame["split"] == s.split)
                                  & (frame["n"] == r.n) & (frame["seed"] == r.seed)], s.delta)
              for r in failed.itertuples()]
    out["failed_cause"] = (" and ".join(sorted(set(c["cause"] for c in causes))) if causes else UNDEFINED)
    out["failed"] = (
        f"In {len(failed)} of {len(dense_end)} runs the dense network itself has not learned by T_full "
        f"(held-out accuracy below {TRAINED_ACCURACY:.0%}: "
        + ", ".join(f"N = {_n(r.n)}, seed {int(r.seed)}" for r in failed.itertuples()) + "; "
        + "; ".join(_cause_words(causes, cause) for cause in sorted(set(c["cause"] for c in causes)))
        + "): " + FAILURE_CONSEQUENCE[out["failed_cause"]] if len(failed) else
        f"The dense network has learned in every run (held-out accuracy at least {TRAINED_ACCURACY:.0%} at T_full)")
    # laws
    fits = fit_laws(te[(te["method"] == "greedy") & (te["budget"] > 0)], n_boot=s.n_boot)
    tables["fits"] = fits
    row = fits[(fits["method"] == "greedy") & (fits["ratio"] == ratio) & (fits["budget"] == long_)]
    flags = row.set_index("model")["flag"].to_dict() if len(row) else {}
    out["laws"] = shares_words(row.set_index("model")["loso_win_share"].to_dict() if len(row) else {},
                               {m: why for m, why in flags.items() if why})
    sat = row[row["model"] == "saturating"]
    if len(sat) and bool(sat["fit_ok"].iloc[0]) and not sat["flag"].iloc[0]:
        out["ceiling"] = (f"the saturating law levels off at a = {float(sat['a'].iloc[0]):,.0f} steps "
                          f"(c = {float(sat['c'].iloc[0]):.2f})")
    else:
        out["ceiling"] = ("the saturating law has a " + sat["flag"].iloc[0] if len(sat) and sat["flag"].iloc[0]
                          and bool(sat["fit_ok"].iloc[0]) else
                          "the saturating law cannot be fitted (it needs t_enough at three sizes at least)")
    # the short budget against the long one, paired per (N, seed)
    if short is not None and short != long_:
        a = _slice(te, "greedy", ratio, short).set_index(["n", "seed"])
        b = main.set_index(["n", "seed"])
        both = (~a["censored"]) & (~b["censored"].reindex(a.index, fill_value=True))
        d = (b.loc[both[both].index, "t_enough"] - a.loc[both[both].index, "t_enough"])
        if len(d):
            more, less = int((d > 0).sum()), int((d < 0).sum())
            out["budget_sentence"] = (
                f"Fine-tuning for F = {long_:,} instead of {short:,} steps changes t_enough by {d.mean():+,.0f} steps "
                f"on average over the {len(d)} (N, seed) pairs that have one with both budgets ({more} need more "
                f"pre-training, {less} less)")
        else:
            out["budget_sentence"] = (f"t_enough cannot be compared between F = {short:,} and {long_:,} steps: no "
                                      "(N, seed) has one with both budgets")
        out["short_range"] = range_words(as_thresholds(_slice(te, "greedy", ratio, short)))
    else:
        out["budget_sentence"] = "The arm has one positive fine-tuning budget only, so its effect cannot be shown"
        out["short_range"] = UNDEFINED
    # controls at the largest size, the long budget
    contrasts = {}
    for b_method in ("random", "magnitude", "scratch", "scratch_flops", "dense_cost", "greedy_sampled", "greedy_local"):
        c = contrast(frame, "greedy", b_method, split=s.split)
        contrasts[b_method] = c
        here = c[(c["ratio"] == ratio) & (c["budget"] == long_) & (c["n"] == largest)]
        out[b_method] = (f"At N = {_n(largest)}, F = {long_:,} steps, " + contrast_words(here, "greedy", b_method)
                         if len(here) else f"{METHOD_NAMES[b_method]} has no rows in the {name} arm")
    tables["contrasts"] = contrasts
    # where pruning early is worth it
    table = practitioner_table(frame, te[te["method"].isin(("greedy",))], batch=_batch(params, arm, frame),
                               split=s.split)
    tables["practitioner"] = table
    row = table[(table["ratio"] == ratio) & (table["budget"] == long_) & (table["n"] == largest)]
    pct = float(row["pct_full"].iloc[0]) if len(row) else math.nan
    saved = float(row["flops_saved"].iloc[0]) if len(row) else math.nan
    out["pct_largest"] = pct if _finite(pct) else UNDEFINED
    out["saved_largest"] = saved if _finite(saved) else UNDEFINED
    vs = contrasts["scratch_flops"]
    vs = vs[(vs["ratio"] == ratio) & (vs["budget"] == long_) & (vs["n"] == largest)]
    wf = worth_from(vs) if len(vs) else None
    if _finite(pct, saved):
        text = (f"at N = {_n(largest)} pruning at t_enough ({pct:.0f}% of T_full) saves {saved:.0f}% of the full "
                f"pipeline's training FLOPs")
    else:
        text = f"at N = {_n(largest)} t_enough is undefined (censored), so no saving can be stated"
    if wf is None:
        text += "; scratch training at equal FLOPs is not in the frame"
    elif _finite(wf["t"]):
        text += (f"; against the small network trained from scratch with the same FLOPs the pipeline is "
                 f"significantly better from t = {wf['t']:,.0f} on" + ("" if wf["stays"] else
                                                                      " (but not at every later t)"))
    elif wf["tested"]:
        text += "; it is never significantly better than the small network trained from scratch with the same FLOPs"
    else:
        text += "; whether it beats scratch training at equal FLOPs cannot be tested (fewer than two seeds)"
    out["worth"] = text
    out["worth_any"] = bool(wf is not None and _finite(wf["t"]))
    out["saved"] = saved
    tables["t_enough"] = te
    return out, tables


def _compare_ch3(arm_out: dict, arm_te: pd.DataFrame, ch3, ch3_rule: str) -> dict:
    """Chapter 3's T*(N) against the two-layer arm's t_enough(N)."""
    if ch3 is None or not len(ch3):
        why = ch3_rule or "chapter 3's T*(N) is not available here"
        return {"ch3_sentence": why[0].upper() + why[1:], "ch3_verdict": "cannot be compared with chapter 3's T*(N) here",
                "ch3_range": UNDEFINED}
    sh3 = shape(ch3)
    out = {"ch3_range": range_words(ch3), "ch3_words": sh3["words"]}
    text = f"Chapter 3's T*(N) ({ch3_rule}) {sh3['words']}, {range_words(ch3)}"
    if not arm_out.get("defined"):
        out["ch3_sentence"] = text + "; the two-layer arm's t_enough(N) " + arm_out.get("shape", {}).get(
            "words", "is not defined") + ", so the two cannot be set side by side"
        out["ch3_verdict"] = "cannot be compared with chapter 3's T*(N) (t_enough is defined at fewer than two sizes)"
        return out
    sh = arm_out["shape"]
    text += f"; the two-layer arm's t_enough(N) {sh['words']}, {arm_out['range']}"
    tested = sh["grows"] or sh["falls"] or sh["flat"]
    if not tested:  # an untestable change is not "does not grow"
        verdict = f"cannot be compared with chapter 3's T*(N): it {sh['words']}"
    elif sh3["grows"] == sh["grows"] and sh3["stops"] == sh["stops"]:
        verdict = ("behaves like chapter 3's T*(N): both grow, then stop" if sh["stops"] else
                   "behaves like chapter 3's T*(N): both grow" if sh["grows"] else
                   "behaves like chapter 3's T*(N): neither grows significantly")
    elif sh3["grows"] and not sh["grows"]:
        verdict = "differs from chapter 3's T*(N): the theorem's quantity grows with N, the practitioner's does not"
    elif sh["grows"] and not sh3["grows"]:
        verdict = "differs from chapter 3's T*(N): the practitioner's quantity grows with N, the theorem's does not"
    else:
        verdict = ("differs from chapter 3's T*(N) in where it stops: " +
                   ("t_enough stops growing within the sizes measured, T* does not" if sh["stops"] else
                    "T* stops growing within the sizes measured, t_enough does not"))
    common = sorted(set(ch3["n"]) & set(arm_te["n"]))
    m3 = ch3[ch3["reached"]].groupby("n")["t_star"].mean()
    m4 = arm_te[arm_te["reached"]].groupby("n")["t_star"].mean()
    ratios = [m4[n] / m3[n] for n in common if n in m3 and n in m4 and m3[n] > 0]
    if ratios:
        text += (f"; at the {len(ratios)} size{'s' if len(ratios) > 1 else ''} both measure, t_enough is "
                 f"{min(ratios):.2g} to {max(ratios):.2g} times T*" if len(ratios) > 1 else
                 f"; at the one size both measure, t_enough is {ratios[0]:.2g} times T*")
    else:
        text += "; the two are measured at no common size"
    out["ch3_sentence"] = text
    out["ch3_verdict"] = verdict
    return out


def summarize(frames: dict, params=None, *, chapter3=None) -> Summary:
    """Every number chapter 4's prose quotes and every sentence whose truth depends on the data, and the
    tables its figures draw. ``frames``: the arms' frames (``two_layer``, ``mlp``, ``cnn``; a missing or
    empty one is said in words) and optionally ``units``. ``params``: the chapter's parameters (the
    analysis reads ``delta``, ``deltas``, ``n_boot``, ``split`` and the batch sizes when present).
    ``chapter3``: chapter 3's T*(N) frame (n, seed, t_star, reached), ``False`` to leave it out, or
    None to load it from the committed results (:func:`chapter3_thresholds`). A number that cannot be
    computed is glued as :data:`UNDEFINED`, and the sentence around it says why."""
    s = Settings.of(params)
    out: dict = {"ch4_delta_pp": 100 * s.delta, "ch4_deltas_pp": ", ".join(f"{100 * d:g}" for d in s.deltas),
                 "ch4_n_boot": s.n_boot}
    out |= _parameter_numbers(params)
    tables: dict = {"frames": {}, "t_enough": [], "practitioner": [], "fits": [], "contrasts": {}}
    arm_outs = {}
    for arm in ARMS:
        frame = _arm_frame(frames, arm)
        a_out, a_tab = _arm_summary(arm, frame, s, params)
        arm_outs[arm] = a_out
        for k, v in a_out.items():
            if k != "shape":
                out[f"ch4_{arm}_{k}"] = v
        tables["frames"][arm] = frame
        for k in ("t_enough", "practitioner", "fits"):
            if k in a_tab:
                tables[k].append(a_tab[k])
        tables["contrasts"][arm] = a_tab.get("contrasts", {})
    for k in ("t_enough", "practitioner", "fits"):
        tables[k] = pd.concat(tables[k], ignore_index=True) if tables[k] else pd.DataFrame()
    # sensitivity over delta (greedy, every ratio and budget)
    sens = [sensitivity(tables["frames"][arm], s.deltas, split=s.split) for arm in ARMS
            if (tables["frames"][arm]["method"] == "greedy").any()]
    tables["sensitivity"] = pd.concat(sens, ignore_index=True) if sens else pd.DataFrame()
    out["ch4_sens_sentence"] = _sensitivity_words(tables["sensitivity"], arm_outs, s)
    # chapter 3
    if chapter3 is None:
        ch3, rule = chapter3_thresholds()
    elif chapter3 is False:
        ch3, rule = None, "chapter 3's T*(N) is left out of this run"
    else:
        ch3, rule = chapter3, "chapter 3's threshold"
    tables["ch3"] = ch3 if ch3 is not None else pd.DataFrame(columns=["n", "seed", "t_star", "reached"])
    two = arm_outs["two_layer"]
    two_te = (as_thresholds(_slice(tables["t_enough"][tables["t_enough"]["arm"] == "two_layer"], "greedy",
                                   two["ratio"], two["long"]))
              if two["has_data"] else pd.DataFrame(columns=["n", "seed", "t_star", "reached"]))
    cmp3 = _compare_ch3(two, two_te, ch3, rule)
    out |= {f"ch4_{k}": v for k, v in cmp3.items()}
    # the MLP's greedy variants
    out["ch4_variants_sentence"] = _variants_words(tables, arm_outs["mlp"])
    # the verdict
    out |= _verdict(arm_outs, cmp3)
    tables["arms"] = {arm: {k: v for k, v in o.items() if k != "shape"} for arm, o in arm_outs.items()}
    numbers = {k: (UNDEFINED if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
    return Summary(numbers, tables)


def budgets_protocol(budgets: dict) -> str:
    """When the subnetworks are evaluated after fine-tuning, per arm (arm -> its budgets), as the
    protocol says it: 'the short and the long budget' only for an arm that has two or more."""
    parts = []
    for arm, b in budgets.items():
        b = sorted(int(x) for x in b)
        listed = ", ".join(f"{x:,}" for x in b)
        parts.append(f"after its one budget, F = {listed} steps ({ARM_NAMES[arm]})" if len(b) == 1 else
                     f"after the short and the long budget and those between, F ∈ {{{listed}}} steps "
                     f"({ARM_NAMES[arm]})" if len(b) > 2 else
                     f"after the short and the long budget, F ∈ {{{listed}}} steps ({ARM_NAMES[arm]})")
    text = "; ".join(parts)
    if any(len(b) > 1 for b in budgets.values()):
        text += "; a shorter budget is a prefix of the longest run"
    return text


def _parameter_numbers(params) -> dict:
    """``ch4_p_<name>`` for every number or list of numbers among the chapter's parameters, as the
    prose writes them (lists: '500, 1,000, 2,000'; kept fractions as fractions of one)."""
    if params is None or not dataclasses.is_dataclass(params):
        return {}
    out = {}
    source = getattr(params, "source", None)
    if source is not None:
        out["ch4_source"] = {"torchvision": "full MNIST (60,000 training images)",
                             "embedded": "the embedded 4,000-image MNIST pool"}.get(source, str(source))

    head, init = getattr(params, "cnn_head", None), getattr(params, "cnn_init", None)
    if head is not None and init is not None:
        out["ch4_cnn_design"] = (
            {"he": "He et al.'s initialisation", "pytorch": "PyTorch's default initialisation"}.get(init, str(init))
            + " and " + {"flatten": "a linear head on all the last stage's features",
                         "pool": "a linear head on globally average-pooled features"}.get(head, str(head)))
    mlp_ratios = getattr(params, "mlp_ratios", None)
    if mlp_ratios:
        out["ch4_variants_ratio"] = f"{min(mlp_ratios):g}"
    budgets = {arm: getattr(params, f"{arm}_budgets", None) for arm in ARMS}
    if all(budgets.values()):
        out["ch4_budgets_protocol"] = budgets_protocol(budgets)

    def word(v):
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        return f"{float(v):g}"

    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        if isinstance(v, (bool, np.bool_)) or isinstance(v, str):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            out[f"ch4_p_{f.name}"] = v
        elif isinstance(v, (tuple, list)) and v and all(isinstance(x, (int, float)) for x in v):
            out[f"ch4_p_{f.name}"] = ", ".join(word(x) for x in v)
            out[f"ch4_p_{f.name}_count"] = len(v)
            if all(x > 0 for x in v):
                out[f"ch4_p_{f.name}_span"] = max(v) / min(v)
    return out


def _sensitivity_words(sens: pd.DataFrame, arm_outs: dict, s: Settings) -> str:
    """Whether the verdict on growth moves with delta, for each arm's main setting."""
    if not len(sens):
        return "The sensitivity to δ cannot be shown: no arm has greedy rows"
    parts = []
    for arm in ARMS:
        o = arm_outs[arm]
        if not o["has_data"]:
            continue
        g = sens[(sens["arm"] == arm) & (sens["method"] == "greedy") & (sens["ratio"] == o["ratio"])
                 & (sens["budget"] == o["long"])]
        if not len(g):
            continue
        words = [str(w) for w in g["change"]]
        tested = [change_tested_words(w) for w in words]
        grows = [t and w.startswith("grows") for t, w in zip(tested, words)]
        deltas = ", ".join(f"{d:g}" for d in g["delta_pp"])
        untested = [f"{d:g}" for d, t in zip(g["delta_pp"], tested) if not t]
        if not any(tested):
            parts.append(f"for the {ARM_NAMES[arm]} whether t_enough grows cannot be tested at any δ "
                         f"({deltas} pp)")
            continue
        if all(grows):
            part = f"for the {ARM_NAMES[arm]} t_enough grows with N at every δ ({deltas} pp)"
        elif not any(grows):
            part = (f"for the {ARM_NAMES[arm]} it grows significantly at none of the δ where it can be "
                    f"tested ({', '.join(f'{d:g}' for d, t in zip(g['delta_pp'], tested) if t)} pp)")
        else:
            which = ", ".join(f"{d:g}" for d, gr in zip(g["delta_pp"], grows) if gr)
            part = f"for the {ARM_NAMES[arm]} it grows significantly at δ = {which} pp only"
        parts.append(part + (f"; at δ = {', '.join(untested)} pp it cannot be tested" if untested else ""))
    if not parts:
        return "The sensitivity to δ cannot be shown for any arm"
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def _variants_words(tables: dict, mlp: dict) -> str:
    te = tables["t_enough"]
    if not len(te) or not mlp["has_data"]:
        return "The three greedy variants cannot be compared: the MLP arm has no rows"
    present = [m for m in GREEDY_VARIANTS if (te["method"] == m).any() and (te["arm"] == "mlp").any()]
    present = [m for m in present if len(te[(te["arm"] == "mlp") & (te["method"] == m)])]
    if len(present) < 2:
        return "The three greedy variants cannot be compared: the MLP arm has fewer than two of them"
    parts = []
    for m in present:
        g = _slice(te[te["arm"] == "mlp"], m, mlp["ratio"], mlp["long"])
        g = g[g["n"] == mlp["largest"]]
        ok = g[~g["censored"]]
        acc = g["a_full"].mean()
        te_words = (f"t_enough {ok['t_enough'].mean():,.0f} steps" if len(ok) else "t_enough censored")
        parts.append(f"{METHOD_NAMES[m]} {100 * acc:.1f}% after full pre-training, {te_words}" if _finite(acc)
                     else f"{METHOD_NAMES[m]}: no value")
    return (f"At N = {_n(mlp['largest'])}, F = {mlp['long']:,} steps, the MLP's greedy variants reach: "
            + "; ".join(parts))


def _verdict(arm_outs: dict, cmp3: dict) -> dict:
    """The verdict box: growth per arm, against chapter 3, where pruning early is worth it, and what
    the data cannot decide."""
    grow = []
    for arm in ARMS:
        o = arm_outs[arm]
        if not o["has_data"]:
            grow.append(f"the {ARM_NAMES[arm]} arm has no data for these settings")
            continue
        grow.append(f"for the {ARM_NAMES[arm]} t_enough(N) {o['shape']['words']}" +
                    (f" ({o['laws']})" if o["shape"]["defined"] and o["shape"]["grows"] else ""))
    text = "; ".join(grow)
    worth = [f"{ARM_NAMES[a]}: {arm_outs[a]['worth']}" for a in ARMS
             if arm_outs[a]["has_data"]]
    cannot = []
    for arm in ARMS:
        o = arm_outs[arm]
        if not o["has_data"]:
            continue
        sizes = len(str(o["sizes"]).split(", "))
        if sizes < 4:
            cannot.append(f"with {sizes} size{'s' if sizes > 1 else ''} the {ARM_NAMES[arm]} arm cannot rank the "
                          "saturating law by leave-one-size-out error (it needs four)")
        elif o["shape"]["grows"] and "cannot tell" in o["laws"]:
            cannot.append(f"which law t_enough follows on the {ARM_NAMES[arm]} ({o['laws']})")
        if o["shape"]["defined"] and o["shape"].get("flat"):
            cannot.append(f"whether t_enough grows on the {ARM_NAMES[arm]} by an amount too small for "
                          f"{o['n_seeds']} seeds to detect")
        elif o["shape"]["defined"] and not (o["shape"]["grows"] or o["shape"]["falls"]):
            cannot.append(f"whether t_enough grows on the {ARM_NAMES[arm]} at all (too few seeds have a "
                          "t_enough at both ends of the sizes to test it)")
        if "censored" in str(o.get("coverage", "")).lower() and not str(o["coverage"]).startswith("No unit"):
            cannot.append(f"t_enough of the {ARM_NAMES[arm]} units whose curve settles only at T_full (censored)")
        if o.get("dense_converged") is False:
            cannot.append(f"t_enough of the {ARM_NAMES[arm]} against a converged dense network (it has not "
                          "converged by T_full)")
        if o.get("long_converged") is False:
            cannot.append(f"where the {ARM_NAMES[arm]}'s t_enough goes when fine-tuning is long enough for a "
                          "subnetwork pruned at t = 0 to converge (its longest budget is not)")
        if o.get("long_converged") is None:
            cannot.append(f"whether the {ARM_NAMES[arm]}'s fine-tuning budget lets a subnetwork pruned at "
                          "t = 0 converge (checking it needs two budgets)")
        if o.get("failed_runs"):
            cannot.append(f"anything about the {ARM_NAMES[arm]}, whose dense network did not learn in "
                          f"{o['failed_runs']} of its runs ({o['failed_cause']})")
    cannot.append("how the answer carries beyond MNIST, these architectures and this fine-tuning schedule")
    return {"ch4_verdict_growth": text[0].upper() + text[1:],
            "ch4_verdict_ch3": "The two-layer network's t_enough(N) " + cmp3["ch3_verdict"],
            "ch4_verdict_worth": ("Pruning early: " + "; ".join(worth)) if worth else
            "Where pruning early is worth it cannot be said: no arm has data",
            "ch4_verdict_cannot": "The data cannot decide: " + "; ".join(cannot)}


# --------------------------------------------------------------------------------------------------
# The explorer


def explorer_settings(params=None) -> dict:
    """Keyword arguments of :func:`companion.explorer_finetune.show` for the chapter's parameters: the
    tolerances of the sensitivity table, the chapter's delta and the long budget's greedy curves first."""
    s = Settings.of(params)
    return {"deltas": list(s.deltas), "split": s.split,
            "initial": {"arm": "two_layer", "method": "greedy", "delta": s.delta}}
