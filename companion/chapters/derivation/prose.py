"""Chapter 2's words for one group of runs (one dataset, one step rule): the numbers and phrases the
chapter quotes for it (:func:`group_numbers`), the glue names the book reads written out
(:data:`GROUP_NAMES`, :data:`DIM_NAMES`, :data:`STEP2_NAMES`: ``grep NAME`` finds them here), and the
number formats every phrase of the chapter uses."""
from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd

from ... import vocabulary
from ...stats import laws
from ...display import significant
from .findings import LINEAR_AGREEMENT, STEP4, collapse_fit, exact_change, growth, growth_split


def _by_field(prefix: str, names: tuple) -> dict[str, str]:
    """field -> glue name, for names that all start with ``prefix`` (the group's)."""
    bad = [name for name in names if not name.startswith(prefix)]
    if bad:
        raise ValueError(f"glue names {bad} do not start with {prefix!r}")
    return {name[len(prefix):]: name for name in names}


#: The glue names of each group of runs that the book's pages read, written out: group key -> field
#: -> name. A name the book does not read (another dimension, a user's setting, a number only the
#: tests read) follows the same pattern, ch2_<group>_<field> (:func:`group_name`).
GROUP_NAMES = {
    "sphere200_fixed": _by_field("ch2_sphere200_fixed_", (
        "ch2_sphere200_fixed_bound_laws", "ch2_sphere200_fixed_bound_words",
        "ch2_sphere200_fixed_collapse_rmse", "ch2_sphere200_fixed_collapse_words",
        "ch2_sphere200_fixed_const_rmse", "ch2_sphere200_fixed_dense_exp",
        "ch2_sphere200_fixed_dense_large", "ch2_sphere200_fixed_dense_laws",
        "ch2_sphere200_fixed_dense_small", "ch2_sphere200_fixed_dense_words",
        "ch2_sphere200_fixed_floor_large", "ch2_sphere200_fixed_floor_small",
        "ch2_sphere200_fixed_floor_verdict", "ch2_sphere200_fixed_gain_words",
        "ch2_sphere200_fixed_lam_exp", "ch2_sphere200_fixed_lam_growth",
        "ch2_sphere200_fixed_lam_trend", "ch2_sphere200_fixed_lin_h0_words",
        "ch2_sphere200_fixed_log_share", "ch2_sphere200_fixed_logr_large",
        "ch2_sphere200_fixed_logr_small", "ch2_sphere200_fixed_n_growth",
        "ch2_sphere200_fixed_pruned_words", "ch2_sphere200_fixed_unreached_words",)),
    "sphere200_per_n": _by_field("ch2_sphere200_per_n_", (
        "ch2_sphere200_per_n_collapse_words", "ch2_sphere200_per_n_eta_exp",
        "ch2_sphere200_per_n_eta_trend",)),
    "sphere10_fixed": _by_field("ch2_sphere10_fixed_", (
        "ch2_sphere10_fixed_bound_words", "ch2_sphere10_fixed_collapse_words",
        "ch2_sphere10_fixed_dense_exp", "ch2_sphere10_fixed_dense_large",
        "ch2_sphere10_fixed_dense_laws", "ch2_sphere10_fixed_dense_small",
        "ch2_sphere10_fixed_dense_words", "ch2_sphere10_fixed_lam_exp", "ch2_sphere10_fixed_lam_growth",
        "ch2_sphere10_fixed_n_growth", "ch2_sphere10_fixed_pruned_words",
        "ch2_sphere10_fixed_unreached_words",)),
    "mnist_fixed": _by_field("ch2_mnist_fixed_", (
        "ch2_mnist_fixed_bound_words", "ch2_mnist_fixed_claim_words", "ch2_mnist_fixed_collapse_rmse",
        "ch2_mnist_fixed_collapse_words", "ch2_mnist_fixed_const_rmse", "ch2_mnist_fixed_dense_exp",
        "ch2_mnist_fixed_dense_large", "ch2_mnist_fixed_dense_laws", "ch2_mnist_fixed_dense_small",
        "ch2_mnist_fixed_dense_words", "ch2_mnist_fixed_eta_small", "ch2_mnist_fixed_fit_words",
        "ch2_mnist_fixed_floor_verdict", "ch2_mnist_fixed_floor_words", "ch2_mnist_fixed_gain_words",
        "ch2_mnist_fixed_lam_exp", "ch2_mnist_fixed_lam_growth", "ch2_mnist_fixed_lam_large",
        "ch2_mnist_fixed_lam_small", "ch2_mnist_fixed_lam_trend", "ch2_mnist_fixed_lin_h0_words",
        "ch2_mnist_fixed_log_share", "ch2_mnist_fixed_logr_large", "ch2_mnist_fixed_logr_small",
        "ch2_mnist_fixed_n_growth", "ch2_mnist_fixed_nmax", "ch2_mnist_fixed_nmin",
        "ch2_mnist_fixed_pruned_words", "ch2_mnist_fixed_settled_frac_max",
        "ch2_mnist_fixed_settled_frac_min", "ch2_mnist_fixed_unreached_words",)),
    "mnist_per_n": _by_field("ch2_mnist_per_n_", (
        "ch2_mnist_per_n_collapse_words", "ch2_mnist_per_n_dense_exp", "ch2_mnist_per_n_dense_laws",
        "ch2_mnist_per_n_dense_words", "ch2_mnist_per_n_eta_exp", "ch2_mnist_per_n_eta_large",
        "ch2_mnist_per_n_eta_small", "ch2_mnist_per_n_eta_trend", "ch2_mnist_per_n_share_words",)),
}
#: The names per input dimension of the sphere (the paper preset's d_high and d_low), as above.
DIM_NAMES = {
    200: _by_field("ch2_d200_", (
        "ch2_d200_eta", "ch2_d200_nmin", "ch2_d200_nmax", "ch2_d200_lam_small", "ch2_d200_lam_large",
        "ch2_d200_lam_trend",)),
    10: _by_field("ch2_d10_", (
        "ch2_d10_eta", "ch2_d10_nmin", "ch2_d10_nmax", "ch2_d10_lam_small", "ch2_d10_lam_large",
        "ch2_d10_lam_trend",)),
}
#: Step 2's names per input dimension, as above.
STEP2_NAMES = {
    200: _by_field("ch2_s2_d200_", (
        "ch2_s2_d200_cv_large", "ch2_s2_d200_cv_small", "ch2_s2_d200_exp", "ch2_s2_d200_per_n",
        "ch2_s2_d200_ratio",)),
    10: _by_field("ch2_s2_d10_", (
        "ch2_s2_d10_cv_large", "ch2_s2_d10_cv_small", "ch2_s2_d10_exp", "ch2_s2_d10_per_n",
        "ch2_s2_d10_ratio",)),
}


def group_name(key: str, field: str) -> str:
    """The glue name of ``field`` of group ``key`` ('sphere200_fixed', ...): the book's, written out
    in :data:`GROUP_NAMES`, or ch2_<key>_<field> for a name the book does not read."""
    return GROUP_NAMES.get(key, {}).get(field) or f"ch2_{key}_{field}"


def dim_name(d: int, field: str) -> str:
    """The glue name of ``field`` of the sphere in dimension ``d`` (:data:`DIM_NAMES`)."""
    return DIM_NAMES.get(d, {}).get(field) or f"ch2_d{d}_{field}"


def step2_name(d: int, field: str) -> str:
    """The glue name of step 2's ``field`` in dimension ``d`` (:data:`STEP2_NAMES`)."""
    return STEP2_NAMES.get(d, {}).get(field) or f"ch2_s2_d{d}_{field}"


def group_text(dataset: str, d: int, rule: str) -> str:
    """'sphere d = 200, fixed step', 'MNIST, step per N': a group of runs, for the reader."""
    name = f"sphere d = {d}" if dataset == "sphere" else "MNIST"
    return f"{name}, {'fixed step' if rule == 'fixed' else 'step per N'}"


def num(value, spec: str = ".3g") -> str:
    """A number inside a glued phrase: rounded to the glued precision first (no noise digits), then
    shown with ``spec``."""
    value = significant(float(value))
    if spec.endswith("f") and spec[:-1].lstrip(".").isdigit() and abs(value) >= 1000:
        return f"{value:,{spec}}"
    return format(value, spec)


def iters(value) -> str:
    """A count of iterations inside a phrase: '7.37', '53', '1,396'."""
    value = significant(float(value))
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def range_words(lo, hi, spec: str = ".2f") -> str:
    """'1.1' or '1.1 to 5.4'."""
    a, b = num(lo, spec), num(hi, spec)
    return a if a == b else f"{a} to {b}"


def sizes_words(ns) -> str:
    ns = [str(int(n)) for n in ns]
    return ns[0] if len(ns) == 1 else ", ".join(ns[:-1]) + " and " + ns[-1]


#: How the chapter says each verdict of the one growth criterion (:mod:`companion.stats.verdicts`).
GROWTH_WORDS = {"grows": "grows", "grows_tail_untested": "grows", "grows_then_stops": "grows, then stops",
                "grows_then_falls": "grows, then falls", "falls": "falls", "flat": "stays put",
                "untestable": "cannot be tested over seeds", "undefined": "cannot be compared"}


def trend(runs: pd.DataFrame, column: str) -> str:
    """'grows' / 'falls' / 'stays put' / ...: how ``column`` of a group's runs (measured per seed: a
    threshold, lambda_0) moves with N, by the book's one growth criterion (paired over seeds,
    :func:`.findings.growth`)."""
    return GROWTH_WORDS[growth(runs, column).verdict]


def step_trend(runs: pd.DataFrame) -> str:
    """'constant' / 'grows' / 'falls': how the step eta moves with N. It is set, not measured (one
    value per N for every seed), so it is compared exactly, not tested (:func:`.findings.exact_change`)."""
    return {0: "constant", 1: "grows", -1: "falls"}[exact_change(runs, "eta")]


def group_numbers(g: pd.DataFrame, key: str) -> dict:
    """The numbers and phrases the chapter quotes for one group of runs (one dataset, one step rule);
    undefined quantities as NaN here (turned into words by :func:`.prose_chapter._no_nan`), without numpy's warnings."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _group_numbers_unguarded(g, key)


def _group_numbers_unguarded(g: pd.DataFrame, key: str) -> dict:
    means = g.groupby("N")[["eta", "lambda_0", "log_r0_eps", "t_bound", "t_dense", "t_pruned",
                            "floor", "floor_rel", "floor_zero"]].mean()
    reached = g.dropna(subset=["t_dense"])
    nm = partial(group_name, key)
    out = {nm("nmin"): int(means.index[0]), nm("nmax"): int(means.index[-1]),
           nm("n_growth"): float(means.index[-1] / means.index[0]),
           nm("n_runs"): int(len(g)), nm("n_unreached"): int(g["t_dense"].isna().sum())}
    for col, name in [("eta", "eta"), ("lambda_0", "lam"), ("log_r0_eps", "logr"), ("t_bound", "bound"),
                      ("t_dense", "dense"), ("t_pruned", "pruned"), ("floor", "floor"),
                      ("floor_rel", "floor_rel"), ("floor_zero", "floor_zero")]:
        out[nm(f"{name}_small")] = float(means[col].iloc[0])
        out[nm(f"{name}_large")] = float(means[col].iloc[-1])
        out[nm(f"{name}_growth")] = float(means[col].iloc[-1] / means[col].iloc[0])
    for col, name in [("eta", "eta"), ("lambda_0", "lam"), ("t_dense", "dense"), ("t_bound", "bound")]:
        ok = g.dropna(subset=[col])
        ok = ok[ok[col] > 0]
        # a quantity constant up to rounding (the fixed step) has exponent 0, not +-1e-13
        constant = np.ptp(ok[col]) <= 1e-9 * np.abs(ok[col]).mean() if len(ok) else True
        out[nm(f"{name}_exp")] = (float("nan") if ok["N"].nunique() < 2 else 0.0 if constant
                                    else laws.fit_power_law(ok["N"], ok[col])["exponent"])
    for col in ("lam", "eta"):
        out[nm(f"{col}_trend")] = trend(g, "lambda_0") if col == "lam" else step_trend(g)

    # the three laws, for each threshold
    for q in STEP4:
        tag = q[2:]
        cmp = laws.compare_laws(g["N"], g[q])
        tied = cmp["tied"]
        out |= {nm(f"{tag}_better"): cmp["best"], nm(f"{tag}_laws"): vocabulary.law_words(cmp),
                nm(f"{tag}_tied"): (" and ".join([", ".join(tied[:-1]), tied[-1]]) if len(tied) > 2
                                      else " and ".join(tied)),
                nm(f"{tag}_loso_log"): cmp["log"]["loso"], nm(f"{tag}_loso_lin"): cmp["linear"]["loso"],
                nm(f"{tag}_loso_pow"): cmp["power"]["loso"], nm(f"{tag}_b_log"): cmp["log"]["b"],
                nm(f"{tag}_b_pow"): cmp["power"]["b"]}

    # the measured dense threshold in words (undefined where no run of a size reached eps)
    dense = means["t_dense"]
    n_un = out[nm("n_unreached")]
    if dense.notna().sum() >= 2:
        lo, hi = dense.dropna().iloc[0], dense.dropna().iloc[-1]
        out[nm("dense_trend")] = trend(g, "t_dense")
        out[nm("dense_words")] = (f"{out[nm('dense_trend')]} from {iters(lo)} to {iters(hi)} "
                                     f"iterations (N = {int(dense.dropna().index[0])} to "
                                     f"{int(dense.dropna().index[-1])}, a factor {num(hi / lo, '.2f')})")
    else:
        out[nm("dense_trend")] = "cannot be compared"
        out[nm("dense_words")] = "cannot be followed in N: fewer than two sizes have a run that reached ε"
    missing = [int(n) for n, v in dense.items() if not np.isfinite(v)]
    out[nm("unreached_words")] = (
        "Every run reached ε." if n_un == 0 else
        f"{n_un} of {len(g)} runs did not reach ε within their run (left out of the means and fits"
        + (f"; no run reached it at N = {sizes_words(missing)}" if missing else "") + ").")
    ratio = reached["t_bound"] / reached["t_dense"]
    out[nm("ratio_min")] = float(ratio.min()) if len(ratio) else float("nan")
    out[nm("ratio_max")] = float(ratio.max()) if len(ratio) else float("nan")
    if not len(ratio):
        out[nm("bound_words")] = "The bound cannot be compared with a measured threshold: no run reached ε."
    elif ratio.min() >= 1:
        out[nm("bound_words")] = (f"The bound is an upper bound, {range_words(ratio.min(), ratio.max(), '.1f')} "
                                     "times the measured threshold.")
    else:
        out[nm("bound_words")] = (f"The bound is below the measured threshold in {int((ratio < 1).sum())} of "
                                     f"{len(ratio)} runs (bound / measured from {num(ratio.min(), '.2f')} to "
                                     f"{num(ratio.max(), '.2f')}).")

    # the pruned threshold (horizon-free, see run_summary), censored runs said as such
    status = g["pruned_status"]
    pm = g.groupby("N")["t_pruned"].mean()
    n_cens, n_undef = int((status == "censored").sum()), int((status == "undefined").sum())
    out[nm("pruned_n_censored")] = n_cens
    cens_sizes = sorted(int(n) for n in g[status == "censored"]["N"].unique())
    if n_undef == len(g):
        out[nm("pruned_words")] = ("is undefined: with one seed per size there is no separate run to "
                                      "measure the floor on")
    else:
        measured = pm.dropna()
        shown = (f"goes from {iters(measured.iloc[0])} iterations at N = {int(measured.index[0])} to "
                 f"{iters(measured.iloc[-1])} at N = {int(measured.index[-1])} (mean of the measured runs)"
                 if len(measured) >= 2 else
                 f"is measured at {len(measured)} size(s) only" if len(measured) else "is measured in no run")
        cens = ("; no run is censored" if not n_cens else
                f"; censored (the threshold lies beyond the run): {n_cens} of {len(g)} runs, at N = "
                f"{sizes_words(cens_sizes)}")
        both = g[g["t_pruned"].notna() & g["t_pruned_half"].notna()]
        # relative to the threshold, or to one iteration where it is below one
        moved = (both["t_pruned_half"] - both["t_pruned"]).abs() / np.maximum(both["t_pruned"], 1.0)
        out[nm("pruned_jitter_median")] = float(moved.median()) if len(moved) else float("nan")
        jitter = ("" if not len(moved) else
                  f"; on every other checkpoint it moves by a median of {num(100 * moved.median(), '.0f')}%")
        out[nm("pruned_words")] = shown + cens + jitter
    settled_frac = g["t_settled"] / g["steps"]
    out[nm("settled_frac_min")] = float(settled_frac.min())
    out[nm("settled_frac_max")] = float(settled_frac.max())
    out[nm("floor_words")] = (
        f"{num(means['floor_rel'].iloc[0], '.2f')} times the initial residual at the "
        f"smallest N and {num(means['floor_rel'].iloc[-1], '.2f')} times at the largest, i.e. "
        f"{num(means['floor_zero'].iloc[0], '.2f')} and {num(means['floor_zero'].iloc[-1], '.2f')} times the "
        "residual of predicting zero")

    fz, fr = means["floor_zero"].iloc[-1], means["floor_rel"].iloc[-1]
    out[nm("floor_verdict")] = (
        "at the largest N the subnetwork ends worse than predicting zero, however long the pre-training"
        if fz > 1 else "the subnetwork fits the labels poorly at the largest N" if fr > 0.1 else
        "the subnetwork fits the labels")
    out[nm("fit_words")] = "does not fit" if fr > 0.1 else "fits"
    out[nm("claim_words")] = (
        "the claim can be tested for the dense term, not for a useful subnetwork" if fr > 0.1 else
        "the claim can be tested for the dense term and for the subnetwork")
    big = g[g.N == g.N.max()]
    tp, td = big["t_pruned"].mean(), big["t_dense"].mean()
    gain = float(((big["pruned_initial"] - big["floor"]) / big["pruned_initial"]).mean())
    out[nm("gain_words")] = (
        "at the largest N no run has a measured pruned threshold" if not np.isfinite(tp) else
        f"at the largest N it gets there {'before' if tp < td else 'after'} the dense network reaches ε "
        f"({iters(tp)} against {iters(td) if np.isfinite(td) else 'no'} iterations), and what pre-training "
        f"takes off its residual on the way is {num(100 * gain, '.0f')}% of its value at initialisation")

    # the collapse, against a constant with no logarithm
    col = collapse_fit(g["log_r0_eps"], g["collapse"])
    const = laws.constant_fit(g["collapse"])
    out[nm("collapse_c")], out[nm("collapse_rmse")] = col["c"], col["rel_rmse"]
    out[nm("const_rmse")] = const["rel_rmse"]
    out[nm("collapse_words")] = (
        "no run reached ε" if not col["runs"] else
        f"slope {num(col['c'], '.2f')}, relative RMSE {num(col['rel_rmse'], '.2f')} against "
        f"{num(const['rel_rmse'], '.2f')} for a constant")
    out[nm("log_earns")] = ("the logarithm improves on a constant" if col["runs"] and col["rel_rmse"] < const["rel_rmse"]
                               else "the logarithm does not improve on a constant")

    # where the growth comes from: ln(T*(N_max) / T*(N_min)) split into 1/eta, 1/lambda_0, log, rest
    split = growth_split(g)
    out |= {nm("share_total"): split["total"], nm("share_eta"): split["inv_eta"],
            nm("share_lam"): split["inv_lam"], nm("share_log"): split["log"],
            nm("share_rest"): split["rest"],
            nm("log_share"): split["log"] / split["total"] if split["total"] else float("nan")}
    if np.isfinite(split["total"]):
        out[nm("share_words")] = (
            f"ln(T*({int(split['n_max'])}) / T*({int(split['n_min'])})) = {num(split['total'], '.2f')} = "
            f"{num(split['inv_eta'], '.2f')} from 1/η + {num(split['inv_lam'], '.2f')} from 1/λ0 + "
            f"{num(split['log'], '.2f')} from the logarithm + {num(split['rest'], '.2f')} rest")
    else:
        out[nm("share_words")] = "the growth cannot be split: fewer than two sizes have a run that reached ε"

    # the linearised predictions, size by size
    if "lin_ratio_h0" in g:
        lin = g.groupby("N")[["lin_ratio_h0", "lin_ratio_inf"]].mean()
        h0, inf = lin["lin_ratio_h0"].dropna(), lin["lin_ratio_inf"].dropna()
        out |= {nm("lin_h0_small"): float(lin["lin_ratio_h0"].iloc[0]),
                nm("lin_h0_large"): float(lin["lin_ratio_h0"].iloc[-1]),
                nm("lin_inf_small"): float(lin["lin_ratio_inf"].iloc[0]),
                nm("lin_inf_large"): float(lin["lin_ratio_inf"].iloc[-1]),
                nm("n_above_slowest"): int(g["above_slowest"].sum())}
        if len(h0):
            agree = bool((np.abs(h0 - 1) <= LINEAR_AGREEMENT).all())
            out[nm("lin_agrees")] = agree
            out[nm("lin_h0_words")] = (f"{num(h0.iloc[0], '.2f')} at N = {int(h0.index[0])} to "
                                          f"{num(h0.iloc[-1], '.2f')} at N = {int(h0.index[-1])}")
            n_div = int(g["t_lin_h0"].isna().sum())
            out[nm("lin_words")] = (
                f"{out[nm('lin_h0_words')]} times the prediction from H(0) (from H∞: "
                f"{num(inf.iloc[0], '.2f')} to {num(inf.iloc[-1], '.2f')})"
                + ("" if not n_div else f"; in {n_div} run(s) the H(0) linearisation never gets to ε "
                   "(η λmax(H(0)) > 2: it diverges at this step)"))
        else:
            out[nm("lin_agrees")] = False
            out[nm("lin_h0_words")] = "not comparable (no run reached ε)"
            out[nm("lin_words")] = "not comparable with the prediction (no run reached ε)"
    return out

