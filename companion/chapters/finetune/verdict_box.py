"""Chapter 4's verdict box: per arm, each question answered by one corrected family of comparisons,
in short phrases (the sentences around them are in the notebook's markdown).

The families, each corrected by Holm's step-down method (:func:`.analysis.family`) and named next to
its verdict:

- growth: does t_enough grow with N? The book's one criterion (:func:`companion.stats.verdicts.growth`,
  one-sided paired tests, censored units kept), and Holm over the arms of the rise it rests on;
- greedy against random pruning, and against largest-norm pruning: one paired test per (N, t) at the
  arm's main setting (smallest kept fraction, longest budget);
- the pipeline against the small network trained from scratch for the same steps: one test per (N, t);
  "from which t" at the largest N is the first t from which every later test is significantly better;
- the step check of that control (:func:`.analysis.step_confound`): one test per N.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...stats import paired
from ...vocabulary import finite, n_words
from . import analysis as an
from .prose import arm_name

#: The questions of the box, in the order of its rows, with the family each is tested in.
QUESTIONS = {
    "growth": ("Does t_enough grow with N?", "the arms' rises, one-sided"),
    "random": ("Greedy against random pruning", "every (N, t)"),
    "magnitude": ("Greedy against largest-norm pruning", "every (N, t)"),
    "scratch": ("Pipeline against scratch training (same steps)", "every (N, t)"),
    "scratch_from": ("Better than scratch from t =", "t at the largest N"),
    "step_check": ("Random(t = 0) against scratch: do the two fresh small networks differ?", "every N"),
    "early_bird": ("Early-bird stop (mean t; cost; FLOPs saved)", "—"),
}

GROWTH_SHORT = {"grows": "grows", "grows_then_stops": "grows, then stops", "grows_then_falls": "grows, then falls",
                "grows_tail_untested": "grows (its tail untested)", "falls": "falls", "flat": "no detectable change",
                "untestable": "cannot be tested", "undefined": "not defined (censored)"}


def counts_phrase(counts: dict) -> str:
    """'better in 3, worse in 12 of 40' (a family's verdicts); 'untested (fewer than 3 seeds)'."""
    if not counts["tested"]:
        return f"untested (fewer than {paired.MIN_PAIRS} seeds)"
    return f"better in {counts['better']}, worse in {counts['worse']} of {counts['tested']}"


def growth_phrase(g, holm_p: float) -> str:
    """The growth verdict in a few words, with the Holm-adjusted p of the rise it rests on."""
    words = GROWTH_SHORT[g.verdict]
    if g.grows and finite(holm_p):
        words += f" (N = {n_words(g.first)} → {n_words(g.n0)}, Holm p = {holm_p:.2g})"
        if holm_p >= an.ALPHA:
            words = f"no rise after Holm (p = {holm_p:.2g})"
    elif g.verdict == "flat" and g.rise:
        words += f" (N = {n_words(g.first)} → {n_words(g.last)}, p = {g.rise.get('p_up', math.nan):.2g})"
    return words


def arm_families(frame: pd.DataFrame, ratio: float, budget: int, split: str, contrasts: dict) -> dict:
    """The corrected families of one arm at its main setting: control -> :func:`.analysis.family` rows.
    ``contrasts``: the summary's greedy-minus-control contrasts (control -> :func:`.analysis.contrast`
    rows), reused rather than computed again."""
    out = {}
    for control in ("random", "magnitude", "scratch", "scratch_flops"):
        c = contrasts[control]
        out[control] = an.family(c[(c["ratio"] == ratio) & (c["budget"] == budget)])
    out["step_check"] = an.step_confound(frame, ratio, budget, split=split)
    return out


def early_bird_phrase(stop: pd.DataFrame) -> str:
    """'t ≈ 120; −0.4 pp; 85% saved' from :func:`.analysis.stop_at_early_bird` rows (seed means at the
    largest N); where the mask settles only at smaller N, how often it does."""
    if not len(stop):
        return "no reference runs"
    big = stop[stop["n"] == stop["n"].max()]
    if not np.isfinite(big["t_eb"]).any():
        settled = int(np.isfinite(stop["t_eb"]).sum())
        if not settled:
            return "the mask never settles"
        # say where it does settle: the row reads the largest N only, the chapter's short one every run
        return f"not at N = {int(big['n'].iloc[0]):,}; settles in {settled} of {len(stop)} runs at smaller N"
    return (f"t = {big['t_stop'].mean():,.0f}; {100 * big['cost'].mean():+.1f} pp; "
            f"{100 * big['saved'].mean():.0f}% saved")


def box(arm_outs: dict) -> pd.DataFrame:
    """The verdict box as a table: one row per question, one column per arm with data, and the
    family each answer is tested in (every test at 5%, Holm within its family)."""
    arms = [a for a, o in arm_outs.items() if o.get("has_data")]
    rows = []
    for key, (question, fam) in QUESTIONS.items():
        row = {"question": question, "family (Holm)": fam}
        for arm in arms:
            row[arm] = arm_outs[arm].get("box", {}).get(key, "—")
        rows.append(row)
    return pd.DataFrame(rows, columns=["question", *arms, "family (Holm)"])


def _arms_phrase(names: list[str]) -> str:
    names = [f"the {n}" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def growth_clause(arm_outs: dict) -> str:
    """'grows for the two-layer network; no detectable change for the deep MLP and the residual CNN'."""
    groups: dict = {}
    for arm, o in arm_outs.items():
        if not o.get("has_data"):
            groups.setdefault("no data", []).append(arm_name(arm))
        else:
            g = o["shape"]["growth"]
            words = GROWTH_SHORT[g.verdict]
            if g.grows and o.get("growth_holm_p", 0.0) >= an.ALPHA:
                words = "no rise after Holm's correction"
            groups.setdefault(words, []).append(arm_name(arm))
    if set(groups) == {"no data"}:
        return "cannot be traced: no arm has data"
    return "; ".join(f"{w} for {_arms_phrase(names)}" for w, names in groups.items())


def trivial_clause(arm_outs: dict) -> str:
    """The arms whose longest budget is at least T_full: there a subnetwork pruned at t = 0 trains as
    long as the dense network, so a t_enough of 0 says little. '' when there is none."""
    names = [arm_name(a) for a, o in arm_outs.items()
             if o.get("has_data") and isinstance(o.get("long"), int) and o["long"] >= o["t_full"]]
    return _arms_phrase(names) if names else "no arm"


#: The In short's counts over the arms, each glued name written out: control -> count -> name.
TOTAL_GLUE = {
    "random": {"better": "ch4_random_better_total", "worse": "ch4_random_worse_total",
               "tested": "ch4_random_tested_total"},
    "magnitude": {"better": "ch4_magnitude_better_total", "worse": "ch4_magnitude_worse_total",
                  "tested": "ch4_magnitude_tested_total"},
    "scratch": {"better": "ch4_scratch_better_total", "worse": "ch4_scratch_worse_total",
                "tested": "ch4_scratch_tested_total"},
    "scratch_flops": {"better": "ch4_scratch_flops_better_total", "worse": "ch4_scratch_flops_worse_total",
                      "tested": "ch4_scratch_flops_tested_total"},
}


def in_short(arm_outs: dict, tables: dict) -> dict:
    """The numbers and short clauses of the chapter's "In short" (each bullet's sentence is in the
    notebook)."""
    out = {"ch4_short_growth": growth_clause(arm_outs), "ch4_long_covers": trivial_clause(arm_outs)}
    with_data = {a: o for a, o in arm_outs.items() if o.get("has_data")}
    for control, names in TOTAL_GLUE.items():
        for k, name in names.items():
            out[name] = sum(o["counts"][control][k] for o in with_data.values())
    deltas = [o["delta_pp"] for o in with_data.values()]
    lo, hi = (min(deltas), max(deltas)) if deltas else (math.nan, math.nan)
    out["ch4_delta_range"] = (f"{lo:g}" if lo == hi else f"{lo:g} to {hi:g}") if deltas else "undefined"
    step = sum(o["counts"]["step_check"]["better"] + o["counts"]["step_check"]["worse"] for o in with_data.values())
    step_tested = sum(o["counts"]["step_check"]["tested"] for o in with_data.values())
    out["ch4_step_check"] = ("cannot be tested (fewer than 3 seeds)" if not step_tested else
                             f"differs at none of the {step_tested} sizes tested" if not step else
                             f"differs at {step} of the {step_tested} sizes tested")
    stop = tables.get("early_bird")
    out |= early_bird_clause(stop, arm_outs)
    out["ch4_ref_converged"] = reference_clause(arm_outs)
    return out


def early_bird_clause(stop, arm_outs: dict) -> dict:
    """``ch4_eb_short``: in how many reference runs the greedy mask settles by the early-bird rule, in
    which arms, and, over those runs, what stopping there changes in held-out accuracy (pp, against
    the reference) and saves in training FLOPs. ``ch4_eb_settled``: 'k of n'."""
    if stop is None or not len(stop):
        return {"ch4_eb_short": "cannot be read: there are no reference runs", "ch4_eb_settled": "none"}
    ok = stop[np.isfinite(stop["t_eb"])]
    settled = f"{len(ok)} of {len(stop)}"
    if not len(ok):
        return {"ch4_eb_short": f"settles in none of the {len(stop)} reference runs", "ch4_eb_settled": settled}
    arms = _arms_phrase([arm_name(a) for a in dict.fromkeys(ok["arm"])])
    return {"ch4_eb_settled": settled,
            "ch4_eb_short": (f"settles in {settled} reference runs ({arms}); stopping there moves accuracy "
                             f"{100 * ok['cost'].mean():+.2f} pp and saves {100 * ok['saved'].mean():.0f}% of "
                             "training FLOPs")}


def reference_clause(arm_outs: dict) -> str:
    """Does the fine-tuned reference move by less than the arm's delta when pre-training doubles?
    'moves by less than δ in every arm (at most +0.60 pp)', or which arms it moves more in."""
    moved, changes = [], []
    for arm, o in arm_outs.items():
        r = (o.get("reference_check") or {}).get("greedy_finetuned") if o.get("has_data") else None
        if r is None or not finite(r["change"]):
            continue
        changes.append(100 * r["change"])
        if abs(r["change"]) > o["delta"]:
            moved.append(arm_name(arm))
    if not changes:
        return "cannot be checked: there are no reference runs"
    largest = max(changes, key=abs)
    if not moved:
        return f"moves by less than the arm's δ in every arm (at most {largest:+.2f} pp)"
    return f"moves by more than δ for {_arms_phrase(moved)} (up to {largest:+.2f} pp)"
