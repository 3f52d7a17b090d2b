"""Chapter 3's well-trained arm at its lead step (issue 34): T*(N) at one level for every N (the rule that
leads), the own-ceiling rule as a sensitivity row, the words from the book's one growth criterion
(:func:`.findings.growth`) with its interval, the epochs at T* (the mechanism) and the accuracy window
(where the subnetwork first reaches the level and where it falls below it for good). Numbers and short
phrases only: the sentences live in the notebook's markdown.

Glue names are literal (``grep`` finds them); the smaller and the larger k of ``wt_ks`` are ``ksmall``
and ``klarge`` (64 and 256 in the paper preset)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...stats import paired
from .findings import ALPHA, epochs_at, finite, growth, window_summary, wt_windows
from .params import MnistParams
from .prose_words import Words, growth_words, n_words

#: The glue names of each k (literal, so that grep finds them).
K_NAMES = {
    "ksmall": {"k": "ch3_wt_ksmall", "tstars": "ch3_wt_ksmall_tstars", "growth": "ch3_wt_ksmall_growth",
               "change": "ch3_wt_ksmall_change", "tail": "ch3_wt_ksmall_tail",
               "own_tstars": "ch3_wt_ksmall_own_tstars", "own_growth": "ch3_wt_ksmall_own_growth",
               "own_verdict": "ch3_wt_ksmall_own_verdict",
               "level": "ch3_wt_ksmall_level", "epochs_large": "ch3_wt_ksmall_epochs_large",
               "epochs_small": "ch3_wt_ksmall_epochs_small", "images_large": "ch3_wt_ksmall_images_large",
               "open_large": "ch3_wt_ksmall_open_large", "close_large": "ch3_wt_ksmall_close_large",
               "closed_large": "ch3_wt_ksmall_closed_large", "peak_large": "ch3_wt_ksmall_peak_large",
               "peak_t_large": "ch3_wt_ksmall_peak_t_large", "end_large": "ch3_wt_ksmall_end_large",
               "end_prev": "ch3_wt_ksmall_end_prev", "closed_sizes": "ch3_wt_ksmall_closed_sizes"},
    "klarge": {"k": "ch3_wt_klarge", "tstars": "ch3_wt_klarge_tstars", "growth": "ch3_wt_klarge_growth",
               "change": "ch3_wt_klarge_change", "tail": "ch3_wt_klarge_tail",
               "own_tstars": "ch3_wt_klarge_own_tstars", "own_growth": "ch3_wt_klarge_own_growth",
               "own_verdict": "ch3_wt_klarge_own_verdict",
               "level": "ch3_wt_klarge_level", "epochs_large": "ch3_wt_klarge_epochs_large",
               "epochs_small": "ch3_wt_klarge_epochs_small", "images_large": "ch3_wt_klarge_images_large",
               "open_large": "ch3_wt_klarge_open_large", "close_large": "ch3_wt_klarge_close_large",
               "closed_large": "ch3_wt_klarge_closed_large", "peak_large": "ch3_wt_klarge_peak_large",
               "peak_t_large": "ch3_wt_klarge_peak_t_large", "end_large": "ch3_wt_klarge_end_large",
               "end_prev": "ch3_wt_klarge_end_prev", "closed_sizes": "ch3_wt_klarge_closed_sizes"},
}


def change_phrase(change: dict | None) -> str:
    """'+24 steps from N = 16,000 to 50,000 (95% interval +10 to +38)', or why there is none."""
    if not change or not change.get("seeds"):
        return "no paired change"
    text = f"{change['mean']:+.0f} steps from N = {n_words(change['n_from'])} to {n_words(change['n_to'])}"
    if finite(change["ci_lo"], change["ci_hi"]):
        return text + f" (95% interval {change['ci_lo']:+.0f} to {change['ci_hi']:+.0f})"
    return text + f" ({change['seeds']} seeds: no interval)"


def tstar_list(ts: pd.DataFrame) -> str:
    """'33, 53, 61 and 78': the seed-mean T* at each size (NaN sizes said)."""
    means = ts.groupby("n")["t_star"].mean()
    vals = [f"{v:.0f}" if finite(v) else "not reached" for v in means.to_numpy(float)]
    return vals[0] if len(vals) == 1 else ", ".join(vals[:-1]) + " and " + vals[-1]


def lead_step(p: MnistParams, lrs, best_lr: float) -> float:
    """The step the verdict leads with: ``wt_lead_lr`` when the arm ran it, else the best-trained one."""
    return float(p.wt_lead_lr) if p.wt_lead_lr in set(float(v) for v in lrs) else float(best_lr)


def lead_summary(frame: pd.DataFrame, ts: pd.DataFrame, p: MnistParams, lead: float) -> dict:
    """Numbers, phrases and tables of the lead step (see the module docstring)."""
    w = Words("reaches its level", "the level is reached", "SGD steps", "steps", p.steps)
    ks = sorted(int(k) for k in ts.loc[ts["lr"] == lead, "k"].unique())
    out = {"ch3_wt_lead_lr": lead, "ch3_wt_batch": p.batch_size}
    grid = sorted(frame.loc[frame["lr"] == lead, "t"].unique())
    out["ch3_wt_lead_n_checkpoints"] = len(grid)
    train = ts[(ts["lr"] == lead) & (ts["split"] == "train")]
    fixed = train[train["rule"] == "largest"]
    span = fixed.groupby(["k", "n"])["t_star"].mean().dropna()
    if len(span):
        lo, hi = float(span.min()), float(span.max())
        inside = [t for t in grid if lo <= t <= hi]
        out |= {"ch3_wt_lead_tstar_lo": lo, "ch3_wt_lead_tstar_hi": hi,
                "ch3_wt_lead_in_range": len(inside)}
        # the widest gap between neighbouring checkpoints inside that range, as a factor
        ratios = [b / a for a, b in zip(grid, grid[1:]) if a > 0 and a < hi and b > lo]
        out["ch3_wt_lead_grid_factor"] = float(max(ratios)) if ratios else math.nan
    windows = wt_windows(frame, ts, lead)
    wsum = window_summary(windows)
    epochs = epochs_at(fixed, p.batch_size) if len(fixed) else fixed.assign(images=[], epochs=[])
    sizes = sorted(int(n) for n in train["n"].unique())
    largest = sizes[-1] if sizes else None
    prev = sizes[-2] if len(sizes) >= 2 else None
    out["ch3_wt_lead_largest"] = largest if largest else 0
    out["ch3_wt_lead_prev"] = prev if prev else 0
    rows, verdicts = [], {}
    if not ks:
        for slot, names in K_NAMES.items():
            out |= {name: math.nan for name in names.values()}
            out |= {names["tstars"]: "not reached", names["growth"]: "cannot be traced: no results",
                    names["change"]: "no paired change", names["tail"]: "no paired change",
                    names["own_tstars"]: "not reached", names["own_growth"]: "cannot be traced: no results",
                    names["own_verdict"]: "cannot be traced: no results",
                    names["closed_large"]: "no window", names["closed_sizes"]: "at no size", names["k"]: 0}
    for slot, k in zip(("ksmall", "klarge"), ks[:1] + ks[-1:] if len(ks) > 1 else ks * 2):
        names = K_NAMES[slot]
        f = fixed[fixed["k"] == k]
        own = train[(train["rule"] == "own") & (train["k"] == k)]
        g, go = growth(f), growth(own)
        verdicts[k] = g
        out[names["k"]] = k
        out[names["level"]] = float(f["level"].mean()) if len(f) else math.nan
        out[names["tstars"]] = tstar_list(f)
        out[names["growth"]] = growth_words(g, w)
        out[names["change"]] = change_phrase(g.rise)
        out[names["tail"]] = (change_phrase(g.tail) if g.tail is not None else
                              "no tail: the last significant rise ends at the largest N")
        out[names["own_tstars"]] = tstar_list(own)
        out[names["own_growth"]] = growth_words(go, w) + "; " + change_phrase(go.rise)
        out[names["own_verdict"]] = growth_words(go, w)
        e = epochs[epochs["k"] == k].groupby("n")[["epochs", "images"]].mean()
        out[names["epochs_large"]] = float(e["epochs"].get(largest, np.nan)) if largest else math.nan
        out[names["epochs_small"]] = float(e["epochs"].iloc[0]) if len(e) else math.nan
        out[names["images_large"]] = float(e["images"].get(largest, np.nan)) if largest else math.nan
        ws = wsum[wsum["k"] == k].set_index("n")
        if largest in ws.index:
            r = ws.loc[largest]
            out |= {names["open_large"]: float(r["open"]), names["close_large"]: float(r["close"]),
                    names["closed_large"]: f"{int(r['closed'])} of {int(r['seeds'])}",
                    names["peak_large"]: float(r["peak"]), names["peak_t_large"]: float(r["peak_t"]),
                    names["end_large"]: float(r["end"])}
            out[names["end_prev"]] = float(ws.loc[prev, "end"]) if prev in ws.index else math.nan
            closed = [n for n in ws.index if ws.loc[n, "closed"] == ws.loc[n, "seeds"] and ws.loc[n, "seeds"]]
            out[names["closed_sizes"]] = ("at no size" if not closed else
                                          "at N = " + ", ".join(n_words(n) for n in closed))
        else:
            for key in ("open_large", "close_large", "peak_large", "peak_t_large", "end_large", "end_prev"):
                out[names[key]] = math.nan
            out[names["closed_large"]] = "no window"
            out[names["closed_sizes"]] = "at no size"
        for rule, sub, gg in (("one level", f, g), ("own ceiling", own, go)):
            means = sub.groupby("n")["t_star"].mean()
            basis = gg.rise
            rows.append({"k": k, "rule": rule, **{f"T*({n_words(n)})": float(v) for n, v in means.items()},
                         "verdict": growth_words(gg, w),
                         "change": basis["mean"] if basis else np.nan,
                         "ci_lo": basis["ci_lo"] if basis else np.nan,
                         "ci_hi": basis["ci_hi"] if basis else np.nan,
                         "p": basis["p_value"] if basis else np.nan})
    # the rise between neighbouring sizes, one level: smallest relative step against the grid's factor
    steps = []
    for k in ks:
        f = fixed[fixed["k"] == k]
        for a, b in zip(sizes, sizes[1:]):
            c = paired.paired_change(f, a, b)
            steps.append({"k": k, "n_from": a, "n_to": b, **{x: c[x] for x in ("seeds", "mean", "ci_lo", "ci_hi",
                                                                                   "p_value", "rel_mean")}})
    steps = pd.DataFrame(steps)
    if len(steps):
        rel = steps["rel_mean"].dropna()
        out["ch3_wt_lead_min_step_rel"] = float(rel.min()) if len(rel) else math.nan
        out["ch3_wt_lead_steps_up"] = int((steps["mean"] > 0).sum())
        out["ch3_wt_lead_steps_sig"] = int(sum(paired.change_rises(r, ALPHA) for r in steps.to_dict("records")))
        out["ch3_wt_lead_steps_all"] = int(len(steps))
    g_all = [v for v in verdicts.values()]
    out["ch3_wt_lead_grows_k"] = int(sum(v.grows for v in g_all))
    out["ch3_wt_lead_n_k"] = len(g_all)
    # epochs: from which size on is T* shorter than one pass over the data (both k)?
    per_n = epochs.groupby("n")["epochs"].max() if len(epochs) else pd.Series(dtype=float)
    below = [int(n) for n, e in per_n.items() if e < 1]
    out["ch3_wt_one_pass_from"] = (f"from N = {n_words(min(below))} on" if below and all(
        n in below for n in per_n.index if n >= min(below)) else "at no size")
    return {"numbers": out, "table": pd.DataFrame(rows), "windows": windows, "window_table": wsum,
            "epochs": epochs, "steps": steps}
