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
- chapter 4: t_enough of the deep MLP arm's greedy subnetwork (smallest kept fraction, longest
  fine-tuning budget).
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
    "ntk_k64": (3, "MNIST NTK, k/m = 1/8"),
    "ntk_k256": (3, "MNIST NTK, k/m = 1/2"),
    "finetune": (4, "fine-tuning protocol (deep MLP), t_enough"),
}
#: What T* is in each chapter's rows.
QUANTITY = {2: "dense residual ≤ ε", 3: "subnetwork reaches a fixed accuracy",
            4: "fine-tuned accuracy stops changing"}

TABLE_COLUMNS = ["setting", "label", "chapter", "quantity", "n_min", "n_max", "sizes", "units", "reached",
                 "reached_share", "growth_total", "growth_factor", *SPLIT_PARTS, "split_words", "b", "b_lo",
                 "b_hi", "exponent_words", "growth", "growth_lo", "growth_hi", "best_law", "law_words", "within_log_band", "band_words",
                 "summed_words"]
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
    positive = means[means > 0]
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
    defined = ratios.dropna(subset=["ratio"])
    n_max = int(defined["n"].iloc[-1]) if len(defined) >= 2 else None
    total = float(np.log(defined["ratio"].iloc[-1])) if n_max else math.nan
    row = {"setting": key, "label": label, "chapter": chapter, "quantity": QUANTITY[chapter],
           "n_min": n_min if n_min else math.nan, "n_max": n_max if n_max else math.nan,
           "sizes": int(len(defined)), "units": int(len(ts)), "reached": int(len(ok)),
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


def _rises(row) -> bool:
    """Whether the threshold grows over the sizes run, by the book's one growth criterion
    (:func:`.stats.verdicts.growth`: paired over seeds), whatever the best law: a setting can leave the
    logarithm's band at some sizes and still not grow overall (a threshold that rises, then falls back)."""
    return str(row["growth"]).startswith("grows")


def _levels(row) -> bool:
    """Whether the threshold stops growing, stays flat or falls over the sizes run (same criterion)."""
    return row["growth"] in ("grows_then_stops", "grows_then_falls", "flat", "falls")


def sentences(table: pd.DataFrame, missing: dict) -> dict:
    """The five sentences of the intro (the answer, where it holds, where not, why, what it means for
    someone who prunes) and the map's coverage, each chosen from the table; no formula in them."""
    out = {}
    ch2 = table[table["chapter"] == 2]
    known = ch2[np.isfinite(ch2["growth_total"].astype(float))]
    if len(known):
        factors = known["growth_factor"]
        log_share = (known["share_log"] / known["growth_total"]).dropna()
        grows = int(known.apply(_rises, axis=1).sum())
        out["ch2_map_answer"] = (
            f"In the theorem's own setting the threshold grows with N in {grows} of {len(known)} sets of runs, "
            f"by a factor {_range(factors.min(), factors.max(), _factor)} over the sizes run"
            + (f", and the logarithm the theorem is about carries {_range(log_share.min(), log_share.max(), _pct)} "
               "of that growth" if len(log_share) else "") + ".")
    else:
        out["ch2_map_answer"] = "The theorem's own setting has no committed runs that reach the target, so the map cannot answer."
    inside = table[table["within_log_band"]]
    outside = table[~table["within_log_band"] & table["sizes"].ge(2)]
    out["ch2_map_holds"] = (
        "It grows no faster than the theorem's pure logarithm in " + _names(inside["label"]) + "."
        if len(inside) else "In no setting does it grow as slowly as the theorem's pure logarithm.")
    logs = table[table["best_law"] == "log"]
    out["ch2_map_holds"] += (" The logarithm is the best of the four laws by leave-one-size-out error in "
                             + _names(logs["label"]) + "." if len(logs) else
                             " The logarithm is the best of the four laws by leave-one-size-out error in no setting.")
    rising = outside.apply(_rises, axis=1).astype(bool) if len(outside) else pd.Series(dtype=bool)
    stopping = outside.apply(_levels, axis=1).astype(bool) if len(outside) else pd.Series(dtype=bool)
    faster, stops, back = outside[rising & ~stopping], outside[rising & stopping], outside[~rising]

    def labelled(rows):
        return _names(f"{r.label} (exponent {r.b:.2f})" if math.isfinite(r.b) else r.label for r in rows.itertuples())

    out["ch2_map_fails"] = (
        ("It grows faster than that in " + labelled(faster) + "." if len(faster) else
         "It grows faster than the pure logarithm in no setting.")
        + (" In " + labelled(stops) + " it rises above the logarithm's band, then stops growing (paired over "
           "seeds)." if len(stops) else "")
        + (" In " + labelled(back) + " the threshold rises above the logarithm's band at some sizes but does "
           "not grow significantly over the sizes run (paired over seeds)." if len(back) else ""))
    split = known.dropna(subset=["share_log"])
    if len(split):
        dominated = split[split["share_eta"] + split["share_lam"] > split["share_log"]]
        out["ch2_map_why"] = (
            ("Where it grows faster, the reason is the step size and the kernel's smallest eigenvalue, which "
             f"shrink as N grows: together they carry more of the growth than the logarithm in {len(dominated)} "
             f"of the {len(split)} sets of runs of the theorem's setting." if len(dominated) else
             "The logarithm carries more of the growth than the step size and the kernel's smallest eigenvalue "
             f"together in every one of the {len(split)} sets of runs of the theorem's setting.")
            + (" Outside it the threshold is one of accuracy, not of the summed loss the logarithm comes from."
               if (table["chapter"] > 2).any() else ""))
    else:
        out["ch2_map_why"] = "Why it grows cannot be said: no set of runs of the theorem's setting can be split."
    rising = table.apply(_rises, axis=1).astype(bool) if len(table) else pd.Series(dtype=bool)
    levels = table.apply(_levels, axis=1).astype(bool) if len(table) else pd.Series(dtype=bool)
    grow, level = table[rising & ~levels], table[levels]
    if len(grow):
        text = ("For someone who prunes: the pre-training a good subnetwork needs is not a constant of the data "
                f"set's size: it grows with N over the sizes run in {len(grow)} of the {len(table)} settings (by a factor "
                f"of up to {_factor(grow['growth_factor'].max())} over the sizes run)")
        text += (", and stops, stays flat or falls only in " + _names(level["label"]) if len(level) else "")
        text += (", so a pre-training budget found on a small data set is to be measured again, not reused, "
                 "when the data set grows.")
    else:
        text = ("For someone who prunes: in no setting measured does the pre-training a good subnetwork needs "
                "grow with N, so a budget found on a small data set carries over.")
    out["ch2_map_pruning"] = text
    labels = {k: v[1] for k, v in SETTINGS.items()}
    out["ch2_map_missing"] = ("Every setting of the map has its results committed." if not missing else
                              "Not in the map: " + "; ".join(f"{labels[k]}, {why}" for k, why in missing.items()) + ".")
    out["ch2_map_n_settings"] = int(len(table))
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
    rises = table.apply(_rises, axis=1).astype(bool) if len(table) else pd.Series(dtype=bool)
    table["band_words"] = np.where(table["sizes"] < 2, "cannot be compared (fewer than two sizes)",
                                   np.where(table["within_log_band"], "no faster than the pure logarithm",
                                            np.where(rises, "faster than the pure logarithm",
                                                     "above the pure logarithm at some sizes, no growth overall")))
    top = float(ratios["n_over_nmin"].max()) if len(ratios) else 2.0
    band = log_band(np.geomspace(1.0, max(top, 2.0), 60), c_range, n_min_range, p2.eps)
    numbers = sentences(table, missing) | {
        "ch2_map_c_lo": c_range[0], "ch2_map_c_hi": c_range[1], "ch2_map_eps": p2.eps,
        "ch2_map_nmin_lo": int(n_min_range[0]), "ch2_map_nmin_hi": int(n_min_range[1])}
    return RegimeMap(table, ratios, missing, band, c_range, p2.eps, n_min_range, numbers)


#: The reader's table: column -> heading.
READER_COLUMNS = {"label": "setting", "quantity": "T* is the first step at which", "n_range": "N",
                  "ratio_words": "T*(N)/T*(N_min) at each N", "verdict_words": "grows with N? (paired over seeds)", "growth_words": "ln T*(N_max)/T*(N_min)",
                  "split_shown": "of which 1/η, 1/λ0, log, rest", "exponent_words": "growth exponent b (95% interval)",
                  "law_words": "best law (leave-one-size-out)", "reached_words": "units that reach the target",
                  "summed_words": "theorem's summed target"}


def reader_frame(regime: RegimeMap) -> pd.DataFrame:
    """The map's table as the reader sees it: every cell text, rounded as shown, no NaN (words instead)."""
    rows = []
    for r in regime.table.itertuples():
        rat = regime.ratios[regime.ratios["setting"] == r.setting]
        ratio_words = ", ".join(f"{v:.2f}" if math.isfinite(v) else "not reached" for v in rat["ratio"])
        split = ("not split" if not math.isfinite(r.share_log) else
                 ", ".join(f"{getattr(r, part):+.2f}" for part in SPLIT_PARTS))
        rows.append({"label": r.label, "quantity": r.quantity,
                     "n_range": (f"{int(r.n_min):,} to {int(r.n_max):,}" if math.isfinite(r.n_max)
                                 else "fewer than two sizes reached"),
                     "ratio_words": ratio_words or "not reached",
                     "verdict_words": vocabulary.GROWTH_WORDS[r.growth],
                     "growth_words": f"{r.growth_total:.2f}" if math.isfinite(r.growth_total) else "undefined",
                     "split_shown": split, "exponent_words": r.exponent_words, "law_words": r.law_words,
                     "reached_words": f"{r.reached} of {r.units} ({r.reached_share:.0%})",
                     "summed_words": r.summed_words})
    return pd.DataFrame(rows, columns=list(READER_COLUMNS))
