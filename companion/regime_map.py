"""The regime map: where the pre-training threshold T*(N) grows like log N and where it does not, one row
per setting of the book, from the committed results only (each chapter's experiments at its paper
preset; a setting whose units are not all committed is left out and said so in words, never computed).

Per setting: T*(N) / T*(N_min) at every N (means over seeds of the units that reach the target), the
growth ln(T*(N_max) / T*(N_min)), split where the chapter defines the split (chapter 2, the theorem's
setting: the threshold is the product 1/eta x 1/lambda_0 x log(||y - u(0)||^2 / eps) x the rest, see
:func:`.stats.laws.log_growth_split`), the growth exponent b of a power law a N^b fitted on T* itself
with a bootstrap interval over seeds (:func:`.stats.laws.bootstrap`), the best of the four laws by
leave-one-size-out error (:func:`.stats.laws.fit_table`), and the share of units that reach the target.

Beside the rows, the theorem's pure logarithm: with eta and lambda_0 fixed, T*(N) / T*(N_min) =
log(cN/eps) / log(cN_min/eps), ||y - u(0)||^2 ~ cN being step 2 of chapter 2; :func:`log_band` draws it
over the range of c that chapter 2's runs measure.

Which threshold each row measures:

- chapter 2: the dense residual's first step with ||y - u(t)||^2 <= eps (the quantity the bound bounds);
- chapter 3, mean field (SGD and full-batch GD): the first step at which the k-neuron greedy
  subnetwork's training accuracy reaches the chapter's fixed level;
- chapter 3, NTK (the well-trained arm, k = 64 and 256 of m = 512): the first step at which the greedy
  subnetwork's training accuracy reaches one level for every N, the share ``wt_share`` of the way from
  its start to its best at the largest N (chapter 3's "one level for every N");
- chapter 3, mean field, well trained (the well-trained arm's lead step, k = 64 and 256): the same one
  level for every N (chapter 3's lead verdict);
- chapter 4: t_enough of the deep MLP arm's greedy subnetwork (smallest kept fraction, longest
  fine-tuning budget), read through chapter 4's findings. It is not normalised (:data:`ABSOLUTE`: its
  value at the smallest N is at the noise level of the measurement) and is drawn as absolute t_enough in
  its own panel.

Every row is in exactly one class (:func:`classify`, :data:`CLASSES`): the map, its table and every
sentence of the intro read that class, never a second criterion.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from . import vocabulary
from .chapters import derivation, finetune, mnist
from .stats import laws, verdicts

#: Bootstrap resamples of the growth exponent's interval.
N_BOOT = 1000
#: The parts of the growth split, in the order the figure stacks them, and how the reader names them.
SPLIT_PARTS = {"share_eta": "1/η", "share_lam": "1/λ0", "share_log": "log(‖y−u(0)‖²/ε)", "share_rest": "rest"}
#: How each law is named in words (formulas go in the surrounding math, never in glued text).
LAW_WORDS = {"log": "logarithm", "power": "power law", "linear": "straight line",
             "saturating": "law with a ceiling"}
#: A row "stays within the pure logarithm" when T*(N)/T*(N_min) exceeds the band's upper edge by at
#: most this share at no N.
BAND_TOLERANCE = 0.05

#: Every setting of the map, in its order: key -> (chapter, reader label).
SETTINGS = {
    "sphere200_fixed": (2, "sphere d = 200, fixed step"),
    "sphere200_per_n": (2, "sphere d = 200, step per N"),
    "sphere10_fixed": (2, "sphere d = 10, fixed step"),
    "sphere10_per_n": (2, "sphere d = 10, step per N"),
    "mnist_fixed": (2, "MNIST (theorem's setting), fixed step"),
    "mnist_per_n": (2, "MNIST (theorem's setting), step per N"),
    "mf_sgd": (3, "MNIST mean field, SGD"),
    "mf_gd": (3, "MNIST mean field, full-batch GD"),
    "mf_wt_k64": (3, "MNIST mean field, well trained, k/m = 1/8"),
    "mf_wt_k256": (3, "MNIST mean field, well trained, k/m = 1/2"),
    "ntk_k64": (3, "MNIST NTK, k/m = 1/8"),
    "ntk_k256": (3, "MNIST NTK, k/m = 1/2"),
    "finetune": (4, "fine-tuning protocol (deep MLP), t_enough"),
}
#: The families the map groups its rows into (one panel each), by chapter.
FAMILIES = {2: "the theorem's setting", 3: "MNIST as trained", 4: "fine-tuning"}
#: The one classification of every row (:func:`classify`), in the order the intro names them.
CLASSES = {"faster": "grows faster than the pure logarithm",
           "within_log": "grows, no faster than the pure logarithm",
           "levels": "grows, then stops or falls",
           "no_growth": "no significant growth",
           "untested": "cannot be tested"}
#: Rows a practitioner would prune (a subnetwork someone would use), and why the others are not.
NOT_PRUNED = {"sphere200_fixed": "the dense residual, no subnetwork", "sphere200_per_n": "the dense residual, no subnetwork",
              "sphere10_fixed": "the dense residual, no subnetwork", "sphere10_per_n": "the dense residual, no subnetwork",
              "mnist_fixed": "the dense residual, no subnetwork", "mnist_per_n": "the dense residual, no subnetwork",
              "ntk_k64": "k/m = 1/8 in the NTK network: chapter 3 finds such subnetworks useless"}
#: Rows not normalised by T*(N_min) (shown as absolute thresholds in their own panel), and why.
ABSOLUTE = {"finetune": "t_enough at the smallest N is at the noise level of the measurement"}

#: What T* is in each chapter's rows.
QUANTITY = {2: "dense residual ≤ ε", 3: "subnetwork reaches a fixed accuracy",
            4: "fine-tuned accuracy stops changing"}

TABLE_COLUMNS = ["setting", "label", "chapter", "quantity", "n_min", "n_max", "sizes", "units", "reached",
                 "reached_share", "growth_total", "growth_factor", *SPLIT_PARTS, "split_words", "b", "b_lo",
                 "b_hi", "exponent_words", "growth", "growth_lo", "growth_hi", "best_law", "law_words", "within_log_band", "band_words",
                 "summed_words", "log_free_best", "like_words", "family", "prunable", "klass"]
RATIO_COLUMNS = ["setting", "label", "chapter", "n", "n_over_nmin", "t_star_mean", "ratio", "seeds", "seeds_reached"]


@dataclass
class RegimeMap:
    """The map: ``table`` (one row per setting present, :data:`TABLE_COLUMNS`), ``ratios`` (one row per
    setting and N, :data:`RATIO_COLUMNS`), ``missing`` (setting -> why it is not in the map, in words),
    ``band`` (the pure logarithm's edges against N/N_min), ``c_range`` and ``eps`` (chapter 2's), and
    ``numbers`` (what the book glues, every sentence chosen from the data)."""

    table: pd.DataFrame
    ratios: pd.DataFrame
    missing: dict
    band: pd.DataFrame
    c_range: tuple
    eps: float
    n_min_range: tuple
    numbers: dict


# --------------------------------------------------------------------------------------------------
# Committed results only


# --------------------------------------------------------------------------------------------------
# One row


def _row(key: str, ts: pd.DataFrame, *, n_boot: int = N_BOOT, split: dict | None = None,
         summed_words: str = "not measured") -> tuple[dict, pd.DataFrame]:
    """The row and the ratios of one setting from its thresholds ``ts`` (n, seed, t_star; NaN: the
    unit did not reach the target). ``split``: chapter 2's growth split (else: not split)."""
    chapter, label = SETTINGS[key]
    ts = ts[["n", "seed", "t_star"]].astype({"n": int, "seed": int, "t_star": float})
    ok = ts[np.isfinite(ts["t_star"])]
    g = ts.groupby("n")
    means = ok.groupby("n")["t_star"].mean().reindex(sorted(ts["n"].unique()))
    positive = means[means > 0] if key not in ABSOLUTE else means.iloc[:0]
    n_min = int(positive.index[0]) if len(positive) else None
    base = float(positive.iloc[0]) if len(positive) else math.nan
    ratios = pd.DataFrame({"setting": key, "label": label, "chapter": chapter, "n": means.index.astype(int),
                           "n_over_nmin": means.index / n_min if n_min else math.nan,
                           "t_star_mean": means.to_numpy(float),
                           "ratio": means.to_numpy(float) / base if n_min else math.nan,
                           "seeds": g.size().reindex(means.index).to_numpy(int),
                           "seeds_reached": ok.groupby("n").size().reindex(means.index, fill_value=0).to_numpy(int)},
                          columns=RATIO_COLUMNS)
    if n_min:
        ratios = ratios[ratios["n"] >= n_min].reset_index(drop=True)
    if key in ABSOLUTE:  # not normalised: the absolute threshold at every size, no ratio
        n_min = int(means.index[0]) if len(means) else None
        ratios["n_over_nmin"] = ratios["n"] / n_min if n_min else math.nan
    defined = ratios.dropna(subset=["ratio"])
    n_max = int(defined["n"].iloc[-1]) if len(defined) >= 2 else None
    total = float(np.log(defined["ratio"].iloc[-1])) if n_max else math.nan
    if key in ABSOLUTE and len(means.dropna()) >= 2:
        n_max = int(means.dropna().index[-1])
    row = {"setting": key, "label": label, "chapter": chapter, "quantity": QUANTITY[chapter],
           "n_min": n_min if n_min else math.nan, "n_max": n_max if n_max else math.nan,
           "sizes": int(len(defined) if key not in ABSOLUTE else len(means.dropna())),
           "units": int(len(ts)), "reached": int(len(ok)),
           "reached_share": len(ok) / len(ts) if len(ts) else math.nan,
           "growth_total": total, "growth_factor": math.exp(total) if math.isfinite(total) else math.nan,
           "summed_words": summed_words}
    if split is not None and math.isfinite(split["total"]):
        row |= {"share_eta": split["inv_eta"], "share_lam": split["inv_lam"], "share_log": split["log"],
                "share_rest": split["rest"], "growth_total": split["total"],
                "split_words": "split into 1/η, 1/λ0, the logarithm and the rest"}
    else:
        row |= dict.fromkeys(SPLIT_PARTS, math.nan)
        row["split_words"] = ("not split (the chapter defines no split of this threshold)" if split is None
                              else "cannot be split (fewer than two sizes reached the target)")
    # the growth exponent: a N^b on T* itself, bootstrap over seeds within each size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a, b = laws.fit(ok["n"], ok["t_star"], "power") if ok["n"].nunique() >= 2 else (math.nan, math.nan)
        boot = (laws.bootstrap(ok["n"], ok["t_star"], ok["seed"], "power", n_boot=n_boot)
                if math.isfinite(b) else {"b_lo": math.nan, "b_hi": math.nan})
        fits = laws.fit_table(ok, n_boot=0)
    row |= {"b": b, "b_lo": boot["b_lo"], "b_hi": boot["b_hi"]}
    if not math.isfinite(b):
        row["exponent_words"] = "not fitted (fewer than two sizes reached the target)"
    elif math.isfinite(boot["b_lo"]) and math.isfinite(boot["b_hi"]):
        row["exponent_words"] = f"{b:.2f} ({boot['b_lo']:.2f} to {boot['b_hi']:.2f})"
    else:
        row["exponent_words"] = f"{b:.2f} (no interval: some size has fewer than two seeds that reach the target)"
    growth = verdicts.growth(ts)
    lo, hi = growth.interval
    row |= {"growth": growth.verdict, "growth_lo": lo, "growth_hi": hi}
    best = laws.best_model(fits, "all") if len(fits) else None
    row["best_law"] = best or "none"
    row["law_words"] = LAW_WORDS[best] if best else "cannot be told (fewer than three sizes reached the target)"
    # a + b log N, a N^b and a + b N by leave-one-size-out error with the book's margin: a tie is said
    compared = laws.compare_laws(ok["n"], ok["t_star"])
    row["log_free_best"] = compared["best"] == "log"
    if compared["best"] in laws.NO_LAW:
        tied = compared.get("tied", [])
        row["like_words"] = ("cannot be told apart" + (f" ({', '.join(LAW_WORDS[t] for t in tied)})" if tied else ""))
    else:
        row["like_words"] = LAW_WORDS[compared["best"]] + (" (free slope)" if compared["best"] == "log" else "")
    return row, ratios


def _summed_words(summed: dict | None) -> str:
    """Whether every seed of the subnetwork reaches the theorem's summed target (half the summed squared
    training loss at most eps), per eps: up to which N, or at no size (``summed``: eps -> that N)."""
    if summed is None:
        return "not measured"
    return "summed target " + "; ".join(
        f"ε = {eps:g}: " + (f"every seed up to N = {n:,}" if n is not None else "at no size")
        for eps, n in summed.items())


def _rows(series: dict, n_boot: int):
    """(rows, ratios, missing) of the settings ``series`` (setting -> ThresholdSeries, the chapters'
    findings from their committed results)."""
    rows, ratios, missing = [], [], {}
    for setting, s in series.items():
        if s.ts is None:
            missing[setting] = s.missing
            continue
        row, rat = _row(setting, s.ts, n_boot=n_boot, split=s.split, summed_words=_summed_words(s.summed))
        rows.append(row)
        ratios.append(rat)
    return rows, ratios, missing


# --------------------------------------------------------------------------------------------------
# The chapters' settings: each chapter's findings, never re-derived here


def chapter2_rows(n_boot: int = N_BOOT):
    """Chapter 2's rows (the theorem's setting) from its committed GD runs: (rows, ratios, missing,
    every, params), ``every`` one row per run (:func:`.chapters.derivation.findings.run_summary`)."""
    p = derivation.paper_params()
    runs = derivation.committed_runs(p)
    rows, ratios, missing = _rows(derivation.committed_thresholds(p, runs), n_boot)
    everies = [r.every.assign(setting=k) for k, r in runs.items() if r.every is not None]
    every = pd.concat(everies, ignore_index=True) if everies else pd.DataFrame()
    return rows, ratios, missing, every, p


def chapter3_rows(n_boot: int = N_BOOT):
    """Chapter 3's rows: the mean-field network under SGD and full-batch GD (the chapter's fixed
    level), and the NTK network of the well-trained arm at k = 64 and 256 (one level for every N)."""
    return _rows(mnist.committed_thresholds(), n_boot)


def chapter4_rows(n_boot: int = N_BOOT):
    """Chapter 4's row: t_enough of the deep MLP arm's greedy subnetwork (the smallest kept fraction,
    the longest fine-tuning budget), only when every unit of that arm is committed."""
    return _rows(finetune.committed_thresholds(), n_boot)


# --------------------------------------------------------------------------------------------------
# The theorem's pure logarithm


def log_band(x, c_range, n_min_range, eps: float) -> pd.DataFrame:
    """The theorem's T*(N)/T*(N_min) = log(cN/eps) / log(cN_min/eps) with eta and lambda_0 fixed,
    against x = N/N_min: ``lower`` and ``upper``, its edges over c in ``c_range`` and N_min in
    ``n_min_range`` (the largest c N_min grows slowest)."""
    x = np.asarray(x, float)
    lo_arg, hi_arg = min(c_range) * min(n_min_range) / eps, max(c_range) * max(n_min_range) / eps
    if lo_arg <= 1:
        raise ValueError(f"c N_min / eps must exceed 1 for the logarithm to be positive, got {lo_arg:g}")
    upper = np.log(lo_arg * x) / np.log(lo_arg)
    lower = np.log(hi_arg * x) / np.log(hi_arg)
    return pd.DataFrame({"n_over_nmin": x, "lower": lower, "upper": upper})


def _within_band(ratios: pd.DataFrame, c_range, n_min_range, eps) -> bool:
    r = ratios.dropna(subset=["ratio"])
    if len(r) < 2:
        return False
    band = log_band(r["n_over_nmin"], c_range, n_min_range, eps)
    return bool((r["ratio"].to_numpy() <= (1 + BAND_TOLERANCE) * band["upper"].to_numpy()).all())


# --------------------------------------------------------------------------------------------------
# The map, and its sentences


def _names(labels) -> str:
    labels = list(labels)
    return labels[0] if len(labels) == 1 else "; ".join(labels[:-1]) + " and " + labels[-1]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _factor(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:,.0f}"


def _range(lo: float, hi: float, fmt) -> str:
    a, b = fmt(lo), fmt(hi)
    return a if a == b else f"{a} to {b}"


def classify(row) -> str:
    """The one class of a row (:data:`CLASSES`), from the book's one growth criterion
    (:func:`.stats.verdicts.growth`, paired over seeds) and the theorem's pure-logarithm band: every row
    is in exactly one class, and the map, its table and every intro sentence read this one."""
    verdict = str(row["growth"])
    if verdict in ("grows", "grows_tail_untested"):
        return "within_log" if bool(row["within_log_band"]) else "faster"
    if verdict in ("grows_then_stops", "grows_then_falls"):
        return "levels"
    if verdict in ("flat", "falls"):
        return "no_growth"
    return "untested"


def _rises(row) -> bool:
    """Whether the threshold grows over the sizes run (any class that starts with growth)."""
    return classify(row) in ("faster", "within_log", "levels")


def _levels(row) -> bool:
    """Whether the threshold stops growing, stays flat or falls over the sizes run."""
    return classify(row) in ("levels", "no_growth")


def _count_names(rows) -> str:
    return _names(rows["label"]) if len(rows) else "none"


#: Per setting, the glue names of its row in the intro's key-results table (literal, for grep).
ROW_NAMES = {
    "sphere200_fixed": ("ch2_map_sphere200_fixed_grows", "ch2_map_sphere200_fixed_like", "ch2_map_sphere200_fixed_logshare"),
    "sphere200_per_n": ("ch2_map_sphere200_per_n_grows", "ch2_map_sphere200_per_n_like", "ch2_map_sphere200_per_n_logshare"),
    "sphere10_fixed": ("ch2_map_sphere10_fixed_grows", "ch2_map_sphere10_fixed_like", "ch2_map_sphere10_fixed_logshare"),
    "sphere10_per_n": ("ch2_map_sphere10_per_n_grows", "ch2_map_sphere10_per_n_like", "ch2_map_sphere10_per_n_logshare"),
    "mnist_fixed": ("ch2_map_mnist_fixed_grows", "ch2_map_mnist_fixed_like", "ch2_map_mnist_fixed_logshare"),
    "mnist_per_n": ("ch2_map_mnist_per_n_grows", "ch2_map_mnist_per_n_like", "ch2_map_mnist_per_n_logshare"),
    "mf_sgd": ("ch2_map_mf_sgd_grows", "ch2_map_mf_sgd_like", "ch2_map_mf_sgd_logshare"),
    "mf_gd": ("ch2_map_mf_gd_grows", "ch2_map_mf_gd_like", "ch2_map_mf_gd_logshare"),
    "mf_wt_k64": ("ch2_map_mf_wt_k64_grows", "ch2_map_mf_wt_k64_like", "ch2_map_mf_wt_k64_logshare"),
    "mf_wt_k256": ("ch2_map_mf_wt_k256_grows", "ch2_map_mf_wt_k256_like", "ch2_map_mf_wt_k256_logshare"),
    "ntk_k64": ("ch2_map_ntk_k64_grows", "ch2_map_ntk_k64_like", "ch2_map_ntk_k64_logshare"),
    "ntk_k256": ("ch2_map_ntk_k256_grows", "ch2_map_ntk_k256_like", "ch2_map_ntk_k256_logshare"),
    "finetune": ("ch2_map_finetune_grows", "ch2_map_finetune_like", "ch2_map_finetune_logshare"),
}


def row_cells(table: pd.DataFrame) -> dict:
    """The intro's key-results table, cell by cell (short phrases): does T* grow with N (the row's class,
    with the exponent b where it grows), like what (the law that wins by leave-one-size-out error, or a
    tie) and the logarithm's share of the growth (chapter 2's split; else 'not split'). A setting not in
    the map says so."""
    out = {}
    by_key = {r.setting: r for r in table.itertuples()}
    for key, (g_name, like_name, share_name) in ROW_NAMES.items():
        r = by_key.get(key)
        if r is None:
            out |= {g_name: "not committed", like_name: "not committed", share_name: "not committed"}
            continue
        words = CLASSES[r.klass] if r.klass != "levels" else vocabulary.GROWTH_WORDS[r.growth]
        if r.klass in ("faster", "within_log") and math.isfinite(r.b):
            words += f" (exponent {r.b:.2f})"
        out[g_name] = words
        out[like_name] = r.like_words
        share = r.share_log / r.growth_total if math.isfinite(r.share_log) and r.growth_total else math.nan
        out[share_name] = _pct(share) if math.isfinite(share) else "not split"
    return out


def sentences(table: pd.DataFrame, missing: dict) -> dict:
    """What the book glues about the map: short phrases and counts for the intro (its sentences live in
    intro.md), and chapter 2's sentences about the map; every one reads the row's one class
    (:func:`classify`), so no setting is named in two classes."""
    out = {}
    table = table.copy()
    if "klass" not in table or table["klass"].isna().any():
        table["klass"] = [classify(r) for _, r in table.iterrows()] if len(table) else []
    if "prunable" not in table or table["prunable"].isna().any():
        table["prunable"] = [k not in NOT_PRUNED for k in table["setting"]] if len(table) else []
    groups = {c: table[table["klass"] == c] for c in CLASSES}
    for c, rows in groups.items():
        out[CLASS_NAMES[c][0]] = int(len(rows))
        out[CLASS_NAMES[c][1]] = _count_names(rows)
    out["ch2_map_n_settings"] = int(len(table))
    # chapter 2: how many grow, by what factor, the logarithm's share
    ch2 = table[table["chapter"] == 2]
    known = ch2[np.isfinite(ch2["growth_total"].astype(float))]
    log_share = (known["share_log"] / known["growth_total"]).dropna() if len(known) else pd.Series(dtype=float)
    out["ch2_map_ch2_n"] = int(len(known))
    out["ch2_map_ch2_grows"] = int(known["klass"].isin(["faster", "within_log", "levels"]).sum()) if len(known) else 0
    out["ch2_map_log_share_lo"] = _pct(log_share.min()) if len(log_share) else "not split"
    out["ch2_map_log_share_hi"] = _pct(log_share.max()) if len(log_share) else "not split"
    split = known.dropna(subset=["share_log"])
    out["ch2_map_n_split"] = int(len(split))
    out["ch2_map_n_eta_lam"] = int((split["share_eta"] + split["share_lam"] > split["share_log"]).sum()) if len(split) else 0
    logs = table[table["log_free_best"].astype(bool)] if "log_free_best" in table else table.iloc[:0]
    out["ch2_map_log_free_list"] = _count_names(logs)
    out["ch2_map_n_log_free"] = int(len(logs))
    # for someone who prunes: the rows of a subnetwork someone would use
    pr = table[table["prunable"].astype(bool)]
    out["ch2_map_prune_n"] = int(len(pr))
    out["ch2_map_prune_grow_n"] = int(pr["klass"].isin(["faster", "within_log"]).sum())
    out["ch2_map_prune_grow_list"] = _count_names(pr[pr["klass"].isin(["faster", "within_log"])])
    out["ch2_map_prune_other_list"] = _count_names(pr[~pr["klass"].isin(["faster", "within_log"])])
    out["ch2_map_prune_levels_n"] = int(pr["klass"].isin(["levels", "no_growth"]).sum())
    # chapter 2's sentences (its markdown reads them), from the same classes
    if len(known):
        factors = known["growth_factor"]
        out["ch2_map_answer"] = (
            f"In the theorem's own setting the threshold grows with N in {out['ch2_map_ch2_grows']} of {len(known)} "
            f"sets of runs, by a factor {_range(factors.min(), factors.max(), _factor)} over the sizes run"
            + (f"; the logarithm carries {_range(log_share.min(), log_share.max(), _pct)} of that growth"
               if len(log_share) else "") + ".")
    else:
        out["ch2_map_answer"] = "The theorem's own setting has no committed runs that reach the target, so the map cannot answer."
    # chapter 2's sentences about the map: counts of the one classification (the table names the rows)
    inside, n_all = groups["within_log"], len(table)
    out["ch2_map_holds"] = ((f"It grows no faster than the theorem's pure logarithm in {len(inside)} of the {n_all} "
                             "settings." if len(inside) else
                             "In no setting does it grow as slowly as the theorem's pure logarithm.")
                            + f" A free-slope logarithm fits best (leave-one-size-out) in {len(logs)} of the {n_all}.")
    out["ch2_map_fails"] = (
        f"It grows faster than that in {len(groups['faster'])} of the {n_all} settings, grows, then stops or falls in "
        f"{len(groups['levels'])}, and does not grow significantly in {len(groups['no_growth'])} (paired over seeds).")
    if len(split):
        n_dom = out["ch2_map_n_eta_lam"]
        out["ch2_map_why"] = (
            f"In {n_dom} of the {len(split)} sets of runs of the theorem's setting, the shrinking step and smallest "
            "eigenvalue carry more of the growth than the logarithm." if n_dom else
            f"In all {len(split)} sets of runs of the theorem's setting, the logarithm carries more of the growth "
            "than the step and the smallest eigenvalue together.")
    else:
        out["ch2_map_why"] = "Why it grows cannot be said: no set of runs of the theorem's setting can be split."
    grow_pr = pr[pr["klass"].isin(["faster", "within_log"])]
    out["ch2_map_pruning"] = (
        (f"For someone who prunes: of the {len(pr)} settings with a usable subnetwork, the pre-training it needs "
         f"grows with N in {len(grow_pr)}" + (" and stops, stays flat or falls only in "
                                              + _names(pr[pr["klass"].isin(["levels", "no_growth"])]["label"])
                                              if pr["klass"].isin(["levels", "no_growth"]).any() else "") + ".")
        if len(pr) else "For someone who prunes: no setting with a usable subnetwork is in the map.")
    labels = {k: v[1] for k, v in SETTINGS.items()}
    out["ch2_map_missing"] = ("Every setting of the map has its results committed." if not missing else
                              "Not in the map: " + "; ".join(f"{labels[k]}, {why}" for k, why in missing.items()) + ".")
    out |= row_cells(table)
    return out


#: Per class, the glue names of its count and its list of settings (literal, for grep).
CLASS_NAMES = {"faster": ("ch2_map_n_faster", "ch2_map_faster_list"),
               "within_log": ("ch2_map_n_within_log", "ch2_map_within_log_list"),
               "levels": ("ch2_map_n_levels", "ch2_map_levels_list"),
               "no_growth": ("ch2_map_n_no_growth", "ch2_map_no_growth_list"),
               "untested": ("ch2_map_n_untested", "ch2_map_untested_list")}


def bound_numbers(every: pd.DataFrame) -> dict:
    """What holds and what fails of chapter 2's reconstructed bound, from its runs (each run counted once:
    the two step rules share the run of the largest N): in how many runs that reach eps the bound lies
    above the measured threshold, how loose it is there (t_bound / t_dense: median and quartiles), and
    how lambda_0 and the step set per N shrink with N on MNIST."""
    out = {"ch2_map_bound_above": 0, "ch2_map_bound_reached": 0, "ch2_map_bound_median": math.nan,
           "ch2_map_bound_q1": math.nan, "ch2_map_bound_q3": math.nan, "ch2_map_lam_small": math.nan,
           "ch2_map_lam_large": math.nan, "ch2_map_eta_small": math.nan, "ch2_map_eta_large": math.nan,
           "ch2_map_lam_n_small": 0, "ch2_map_lam_n_large": 0}
    if every.empty:
        return out
    runs = every.drop_duplicates(["dataset", "d", "N", "seed", "eta"]).dropna(subset=["t_dense"])
    above = runs[runs["t_bound"] >= runs["t_dense"]]
    loose = (above["t_bound"] / above["t_dense"]).to_numpy(float)
    out |= {"ch2_map_bound_above": int(len(above)), "ch2_map_bound_reached": int(len(runs))}
    if len(loose):
        out |= {"ch2_map_bound_median": float(np.median(loose)), "ch2_map_bound_q1": float(np.quantile(loose, 0.25)),
                "ch2_map_bound_q3": float(np.quantile(loose, 0.75))}
    mn = every[every["dataset"] == "mnist"]
    if len(mn):
        lam = mn.groupby("N")["lambda_0"].mean()
        out |= {"ch2_map_lam_small": float(lam.iloc[0]), "ch2_map_lam_large": float(lam.iloc[-1]),
                "ch2_map_lam_n_small": int(lam.index[0]), "ch2_map_lam_n_large": int(lam.index[-1])}
        per_n = mn[mn["rule"] == "per_n"].groupby("N")["eta"].mean()
        if len(per_n):
            out |= {"ch2_map_eta_small": float(per_n.iloc[0]), "ch2_map_eta_large": float(per_n.iloc[-1])}
    return out


def build(n_boot: int = N_BOOT) -> RegimeMap:
    """The regime map from the committed results of chapters 2, 3 and 4 (paper presets)."""
    return _build(n_boot)


@lru_cache(maxsize=2)
def _build(n_boot: int) -> RegimeMap:
    rows2, rat2, miss2, every, p2 = chapter2_rows(n_boot)
    rows3, rat3, miss3 = chapter3_rows(n_boot)
    rows4, rat4, miss4 = chapter4_rows(n_boot)
    rows, ratios = rows2 + rows3 + rows4, rat2 + rat3 + rat4
    missing = {k: v for k, v in {**miss2, **miss3, **miss4}.items()}
    missing = {k: missing[k] for k in SETTINGS if k in missing}
    order = {k: i for i, k in enumerate(SETTINGS)}
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table = table.sort_values("setting", key=lambda s: s.map(order), kind="stable", ignore_index=True)
    with warnings.catch_warnings():  # an absolute row's ratio column is all NaN, on purpose
        warnings.simplefilter("ignore", FutureWarning)
        ratios = pd.concat(ratios, ignore_index=True) if ratios else pd.DataFrame(columns=RATIO_COLUMNS)
    ratios = ratios.sort_values(["setting", "n"], key=lambda s: s.map(order) if s.name == "setting" else s,
                                kind="stable", ignore_index=True)
    # c of ||y - u(0)||^2 ~ cN: the range chapter 2's runs measure; N_min: its sets of runs'
    per_point = every["r0"] / every["N"]
    c_range = (float(per_point.min()), float(per_point.max()))
    n_min_range = (float(table.loc[table["chapter"] == 2, "n_min"].min()),
                   float(table.loc[table["chapter"] == 2, "n_min"].max()))
    inside = []
    for key in table["setting"]:
        inside.append(_within_band(ratios[ratios["setting"] == key], c_range, n_min_range, p2.eps))
    table["within_log_band"] = inside
    table["klass"] = [classify(r) for _, r in table.iterrows()] if len(table) else []
    table["family"] = table["chapter"].map(FAMILIES)
    table["prunable"] = [k not in NOT_PRUNED for k in table["setting"]] if len(table) else []
    table["band_words"] = np.where(table["sizes"] < 2, "cannot be compared (fewer than two sizes)",
                                   [CLASSES[c] for c in table["klass"]] if len(table) else [])
    top = float(ratios["n_over_nmin"].max()) if len(ratios) else 2.0
    band = log_band(np.geomspace(1.0, max(top, 2.0), 60), c_range, n_min_range, p2.eps)
    numbers = sentences(table, missing) | bound_numbers(every) | {
        "ch2_map_c_lo": c_range[0], "ch2_map_c_hi": c_range[1], "ch2_map_eps": p2.eps,
        "ch2_map_nmin_lo": int(n_min_range[0]), "ch2_map_nmin_hi": int(n_min_range[1])}
    return RegimeMap(table, ratios, missing, band, c_range, p2.eps, n_min_range, numbers)


#: The reader's table: column -> heading.
READER_COLUMNS = {"label": "setting", "quantity": "T* is the first step at which", "n_range": "N",
                  "ratio_words": "T*(N)/T*(N_min) at each N", "verdict_words": "grows with N? (paired over seeds)", "growth_words": "ln T*(N_max)/T*(N_min)",
                  "split_shown": "of which 1/η, 1/λ0, log, rest", "exponent_words": "growth exponent b (95% interval)",
                  "law_words": f"like what: a + b log N, a N^b or a + b N (leave-one-size-out, within {laws.LAW_MARGIN:.0%} a tie)", "reached_words": "units that reach the target",
                  "summed_words": "theorem's summed target"}


def reader_frame(regime: RegimeMap) -> pd.DataFrame:
    """The map's table as the reader sees it: every cell text, rounded as shown, no NaN (words instead)."""
    rows = []
    for r in regime.table.itertuples():
        rat = regime.ratios[regime.ratios["setting"] == r.setting]
        ratio_words = ", ".join(f"{v:.2f}" if math.isfinite(v) else "not reached" for v in rat["ratio"])
        if r.setting in ABSOLUTE:
            ratio_words = ("not normalised (" + ABSOLUTE[r.setting] + "); T* = "
                           + ", ".join(f"{v:.0f}" if math.isfinite(v) else "not reached" for v in rat["t_star_mean"])
                           + " steps")
        split = ("not split" if not math.isfinite(r.share_log) else
                 ", ".join(f"{getattr(r, part):+.2f}" for part in SPLIT_PARTS))
        rows.append({"label": r.label, "quantity": r.quantity,
                     "n_range": (f"{int(r.n_min):,} to {int(r.n_max):,}" if math.isfinite(r.n_max)
                                 else "fewer than two sizes reached"),
                     "ratio_words": ratio_words or "not reached",
                     "verdict_words": f"{CLASSES[r.klass]} ({vocabulary.GROWTH_WORDS[r.growth]})",
                     "growth_words": (f"{r.growth_total:.2f}" if math.isfinite(r.growth_total) else
                                      "not normalised" if r.setting in ABSOLUTE else "undefined"),
                     "split_shown": split, "exponent_words": r.exponent_words, "law_words": r.like_words,
                     "reached_words": f"{r.reached} of {r.units} ({r.reached_share:.0%})",
                     "summed_words": r.summed_words})
    return pd.DataFrame(rows, columns=list(READER_COLUMNS))
