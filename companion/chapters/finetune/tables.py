"""Chapter 4's tables for readers: one row per arm, or per arm and N, at each arm's main setting (the
smallest kept fraction, the longest budget). The long tables (every ratio and budget) stay in the
summary's ``tables`` and are shown in dropdowns with their CSV.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .analysis import GREEDY_VARIANTS, per_doubling
from .arms import ARMS, arms_of
from .experiments import FinetuneArm
from .prose import METHOD_NAMES, arm_name

CONTROL_NAMES = {"random": "random pruning", "magnitude": "largest-norm pruning",
                 "scratch": "scratch, same steps", "scratch_flops": "scratch, same FLOPs"}


def _last_interval(curve: pd.Series) -> float:
    """Change per doubling of steps over a curve's last interval (its two last positive steps)."""
    curve = curve[curve.index > 0].sort_index()
    if len(curve) < 2:
        return math.nan
    (t0, a0), (t1, a1) = list(curve.items())[-2:]
    return per_doubling(float(t0), float(a0), float(t1), float(a1))


def convergence(summary_tables: dict, arm_outs: dict, split: str = "heldout") -> pd.DataFrame:
    """Per arm: the dense network's held-out accuracy at T_full and its change per doubling over the
    last grid interval (largest N); the greedy subnetwork pruned at t = 0 and fine-tuned, its change per
    doubling of the budget; runs whose dense network did not learn; and, from the reference runs, how
    far doubling pre-training moves the dense accuracy and the fine-tuned reference (pp, mean over
    units, with the paired test's p)."""
    rows = []
    for arm, o in arm_outs.items():
        if not o.get("has_data"):
            continue
        f = summary_tables["frames"][arm]
        ev = f[(f["split"] == split) & (f["n"] == o["largest"])]
        dense = ev[ev["method"] == "dense"].groupby("t")["accuracy"].mean()
        dense = dense[dense.index <= o["t_full"]]
        at0 = ev[(ev["method"] == "greedy") & (ev["t"] == 0) & (ev["ratio"] == o["ratio"]) & (ev["budget"] > 0)]
        at0 = at0.groupby("budget")["accuracy"].mean()
        ref = o.get("reference_check") or {}
        row = {"arm": arm_name(arm), "dense_at_full": float(dense.iloc[-1]) if len(dense) else math.nan,
               "dense_per_doubling": 100 * _last_interval(dense),
               "t0_per_doubling": 100 * _last_interval(at0), "failed": int(o.get("failed_runs", 0))}
        for q, col in (("dense", "ref_dense"), ("greedy_finetuned", "ref_finetuned")):
            r = ref.get(q)
            row[col] = 100 * r["change"] if r else math.nan
            row[col + "_p"] = r["p_value"] if r else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["arm", "dense_at_full", "dense_per_doubling", "t0_per_doubling", "failed",
                                       "ref_dense", "ref_dense_p", "ref_finetuned", "ref_finetuned_p"])


def t_enough_by_n(te: pd.DataFrame, arm_outs: dict) -> pd.DataFrame:
    """Per arm and N at the main setting: seeds with a t_enough (of all), its mean and range (steps),
    and the tolerance delta of the arm (pp)."""
    rows = []
    for arm, o in arm_outs.items():
        if not o.get("has_data"):
            continue
        g = te[(te["arm"] == arm) & (te["method"] == "greedy") & (te["ratio"] == o["ratio"]) & (te["budget"] == o["long"])]
        for n, h in g.groupby("n", sort=True):
            ok = h[~h["censored"]]["t_enough"]
            rows.append({"arm": arm_name(arm), "n": int(n), "met": f"{len(ok)} of {len(h)}",
                         "mean": float(ok.mean()) if len(ok) else math.nan,
                         "low": float(ok.min()) if len(ok) else math.nan,
                         "high": float(ok.max()) if len(ok) else math.nan, "delta_pp": o["delta_pp"]})
    return pd.DataFrame(rows, columns=["arm", "n", "met", "mean", "low", "high", "delta_pp"])


def controls(families: dict, arm_outs: dict) -> pd.DataFrame:
    """Per arm and control: the corrected family's counts (better / worse / no difference of the
    tested (N, t)) and the mean difference at the largest N and T_full (pp)."""
    rows = []
    for arm, fams in families.items():
        o = arm_outs[arm]
        if not o.get("has_data"):
            continue
        for control, name in CONTROL_NAMES.items():
            c = fams.get(control)
            if c is None or not len(c):
                continue
            at = c[(c["n"] == o["largest"]) & (c["t"] == c["t"].max())]
            tested = int((c["verdict"] != "untested").sum())
            rows.append({"arm": arm_name(arm), "control": name, "tested": tested,
                         "better": int((c["verdict"] == "better").sum()), "worse": int((c["verdict"] == "worse").sum()),
                         "mean_at_full": 100 * float(at["mean"].iloc[0]) if len(at) else math.nan})
    return pd.DataFrame(rows, columns=["arm", "control", "tested", "better", "worse", "mean_at_full"])


def early_bird(stop: pd.DataFrame) -> pd.DataFrame:
    """Per arm and N: the early-bird step (mean over the reference seeds that settle, and how many do),
    the grid step the pipeline would prune at, t_enough of the same seeds, the fine-tuned accuracy
    change of stopping there against the reference (pp) and the training FLOPs saved (%)."""
    if not len(stop):
        return pd.DataFrame(columns=["arm", "n", "settled", "t_eb", "t_stop", "t_enough", "cost_pp", "saved_pct"])
    rows = []
    for (arm, n), g in stop.groupby(["arm", "n"], sort=True):
        ok = g[np.isfinite(g["t_eb"])]
        rows.append({"arm": arm_name(arm), "n": int(n), "settled": f"{len(ok)} of {len(g)}",
                     "t_eb": float(ok["t_eb"].mean()) if len(ok) else math.nan,
                     "t_stop": float(g["t_stop"].mean()), "t_enough": float(g["t_enough"].mean()),
                     "cost_pp": 100 * float(g["cost"].mean()), "saved_pct": 100 * float(g["saved"].mean())})
    return pd.DataFrame(rows)


def main_sensitivity(sens: pd.DataFrame, arm_outs: dict) -> pd.DataFrame:
    """The sensitivity table at each arm's main setting (one row per arm and delta)."""
    parts = []
    for arm, o in arm_outs.items():
        if o.get("has_data") and len(sens):
            parts.append(sens[(sens["arm"] == arm) & (sens["method"] == "greedy") & (sens["ratio"] == o["ratio"])
                              & (sens["budget"] == o["long"])].assign(arm=arm_name(arm)))
    return pd.concat(parts, ignore_index=True) if parts else sens


def protocol(params) -> pd.DataFrame:
    """Per arm, from the parameters: sizes N, seeds, kept fractions, T_full, the pruning steps and the
    fine-tuning budgets."""
    rows = []
    for key in arms_of(params):
        exp = FinetuneArm.of(params, key)
        rows.append({"arm": ARMS[key].name, "N": ", ".join(f"{n:,}" for n in exp.sizes), "seeds": len(exp.seeds),
                     "kept fractions": ", ".join(f"{r:g}" for r in exp.ratios), "T_full": f"{exp.steps:,}",
                     "pruning steps t": ", ".join(f"{t:,}" for t in exp.checkpoints),
                     "budgets F": ", ".join(f"{b:,}" for b in exp.budgets)})
    return pd.DataFrame(rows)


def variants(te: pd.DataFrame, arm_outs: dict) -> pd.DataFrame:
    """The greedy variants of the arm that has them (the MLP) at its largest N and main setting:
    accuracy after full pre-training (the reference), mean t_enough and how many seeds have one."""
    arm = next((k for k in arm_outs if ARMS[k].variants and arm_outs[k].get("has_data")), None)
    rows = []
    if arm is not None and len(te):
        o = arm_outs[arm]
        for m in GREEDY_VARIANTS:
            g = te[(te["arm"] == arm) & (te["method"] == m) & (te["ratio"] == o["ratio"]) & (te["budget"] == o["long"])
                   & (te["n"] == o["largest"])]
            if len(g):
                ok = g[~g["censored"]]
                rows.append({"method": METHOD_NAMES[m], "accuracy": float(g["a_full"].mean()),
                             "t_enough": float(ok["t_enough"].mean()) if len(ok) else math.nan,
                             "met": f"{len(ok)} of {len(g)}"})
    return pd.DataFrame(rows, columns=["method", "accuracy", "t_enough", "met"])
