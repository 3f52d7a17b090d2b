"""Chapter 4's verdicts in words: the two-layer network against chapter 3, the sensitivity to δ, the
MLP's greedy variants and the verdict box (what grows, where pruning early is worth it, what the data
cannot decide). Each arm's own phrases are in :mod:`.prose`.
"""
from __future__ import annotations

import pandas as pd

from ...vocabulary import finite, n_words
from .analysis import GREEDY_VARIANTS, UNDEFINED, slice_of
from .verdict_box import growth_clause
from .prose import METHOD_NAMES, arm_name, change_tested_words, range_words, shape

def compare_chapter3(arm_out: dict, arm_te: pd.DataFrame, ch3, ch3_rule: str) -> dict:
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
        verdict = "cannot be compared with chapter 3's T*(N): its own change cannot be tested"
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


def sensitivity_words(sens: pd.DataFrame, arm_outs: dict, s=None) -> str:
    """Whether the verdict on growth moves with delta, for each arm's main setting."""
    if not len(sens):
        return "The sensitivity to δ cannot be shown: no arm has greedy rows"
    parts = []
    for arm, o in arm_outs.items():
        if not o["has_data"]:
            continue
        g = sens[(sens["arm"] == arm) & (sens["method"] == "greedy") & (sens["ratio"] == o["ratio"])
                 & (sens["budget"] == o["long"])]
        if not len(g):
            continue
        words = [str(w) for w in g["change_words"]]
        tested = [change_tested_words(w) for w in words]
        grows = [t and w.startswith("grows") for t, w in zip(tested, words)]
        deltas = ", ".join(f"{d:g}" for d in g["delta_pp"])
        untested = [f"{d:g}" for d, t in zip(g["delta_pp"], tested) if not t]
        if not any(tested):
            parts.append(f"for the {arm_name(arm)} whether t_enough grows cannot be tested at any δ "
                         f"({deltas} pp)")
            continue
        if all(grows):
            part = f"for the {arm_name(arm)} t_enough grows with N at every δ ({deltas} pp)"
        elif not any(grows):
            part = (f"for the {arm_name(arm)} it grows significantly at none of the δ where it can be "
                    f"tested ({', '.join(f'{d:g}' for d, t in zip(g['delta_pp'], tested) if t)} pp)")
        else:
            which = ", ".join(f"{d:g}" for d, gr in zip(g["delta_pp"], grows) if gr)
            part = f"for the {arm_name(arm)} it grows significantly at δ = {which} pp only"
        parts.append(part + (f"; at δ = {', '.join(untested)} pp it cannot be tested" if untested else ""))
    if not parts:
        return "The sensitivity to δ cannot be shown for any arm"
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def variants_words(tables: dict, arm: str | None, mlp: dict | None) -> str:
    """The greedy variants of ``arm`` (the arm whose specification has ``variants``: the MLP) at its
    largest size and longest budget."""
    te = tables["t_enough"]
    if arm is None or not len(te) or not mlp["has_data"]:
        return "The three greedy variants cannot be compared: the MLP arm has no rows"
    present = [m for m in GREEDY_VARIANTS if (te["method"] == m).any() and (te["arm"] == arm).any()]
    present = [m for m in present if len(te[(te["arm"] == arm) & (te["method"] == m)])]
    if len(present) < 2:
        return "The three greedy variants cannot be compared: the MLP arm has fewer than two of them"
    parts = []
    for m in present:
        g = slice_of(te[te["arm"] == arm], m, mlp["ratio"], mlp["long"])
        g = g[g["n"] == mlp["largest"]]
        ok = g[~g["censored"]]
        acc = g["a_full"].mean()
        te_words = (f"t_enough {ok['t_enough'].mean():,.0f} steps" if len(ok) else "t_enough censored")
        parts.append(f"{METHOD_NAMES[m]} {100 * acc:.1f}% after full pre-training, {te_words}" if finite(acc)
                     else f"{METHOD_NAMES[m]}: no value")
    return (f"At N = {n_words(mlp['largest'])}, F = {mlp['long']:,} steps, the MLP's greedy variants reach: "
            + "; ".join(parts))


def verdict(arm_outs: dict, cmp3: dict) -> dict:
    """The verdict box: growth per arm, against chapter 3, where pruning early is worth it, and what
    the data cannot decide."""
    grow = []
    for arm, o in arm_outs.items():
        if not o["has_data"]:
            grow.append(f"the {arm_name(arm)} arm has no data for these settings")
            continue
        grow.append(f"for the {arm_name(arm)} t_enough(N) {o['shape']['words']}" +
                    (f" ({o['laws']})" if o["shape"]["defined"] and o["shape"]["grows"] else ""))
    text = "; ".join(grow)
    cannot = []
    for arm, o in arm_outs.items():
        if not o["has_data"]:
            continue
        sizes = len(str(o["sizes"]).split(", "))
        if sizes < 4:
            cannot.append(f"with {sizes} size{'s' if sizes > 1 else ''} the {arm_name(arm)} arm cannot rank the "
                          "saturating law by leave-one-size-out error (it needs four)")
        elif o["shape"]["grows"] and "cannot tell" in o["laws"]:
            cannot.append(f"which law t_enough follows on the {arm_name(arm)} ({o['laws']})")
        if o["shape"]["defined"] and o["shape"].get("flat"):
            cannot.append(f"whether t_enough grows on the {arm_name(arm)} by an amount too small for "
                          f"{o['n_seeds']} seeds to detect")
        elif o["shape"]["defined"] and not (o["shape"]["grows"] or o["shape"]["falls"]):
            cannot.append(f"whether t_enough grows on the {arm_name(arm)} at all (too few seeds have a "
                          "t_enough at both ends of the sizes to test it)")
        if "censored" in str(o.get("coverage", "")).lower() and not str(o["coverage"]).startswith("No unit"):
            cannot.append(f"t_enough of the {arm_name(arm)} units whose curve settles only at T_full (censored)")
        if o.get("dense_converged") is False:
            cannot.append(f"t_enough of the {arm_name(arm)} against a converged dense network (it has not "
                          "converged by T_full)")
        if o.get("long_converged") is False:
            cannot.append(f"where the {arm_name(arm)}'s t_enough goes when fine-tuning is long enough for a "
                          "subnetwork pruned at t = 0 to converge (its longest budget is not)")
        if o.get("long_converged") is None:
            cannot.append(f"whether the {arm_name(arm)}'s fine-tuning budget lets a subnetwork pruned at "
                          "t = 0 converge (checking it needs two budgets)")
        if o.get("failed_runs"):
            cannot.append(f"anything about the {arm_name(arm)}, whose dense network did not learn in "
                          f"{o['failed_runs']} of its runs ({o['failed_cause']})")
    cannot.append("how the answer carries beyond MNIST, these architectures and this fine-tuning schedule")
    scratch = {k: sum(o.get("counts", {}).get("scratch", {}).get(k, 0) for o in arm_outs.values() if o.get("has_data"))
               for k in ("better", "worse", "tested")}
    # the verdicts the intro quotes: short clauses (the chapter's box has the details)
    short_cannot = []
    if any(o.get("has_data") and o["shape"]["defined"] and o["shape"]["grows"] and "cannot tell" in o.get("laws", "")
           for o in arm_outs.values()):
        short_cannot.append("which law t_enough follows")
    if any(o.get("long_converged") is False for o in arm_outs.values()):
        short_cannot.append("where t_enough goes when fine-tuning converges")
    if any(o.get("has_data") and not (o["shape"]["grows"] or o["shape"]["falls"] or o["shape"]["flat"])
           for o in arm_outs.values()):
        short_cannot.append("whether t_enough grows where too few seeds have one")
    short_cannot.append("how the answer carries beyond MNIST and these networks")
    growth_words = (growth_clause(arm_outs) if all("growth" in o.get("shape", {}) for o in arm_outs.values()
                                                   if o.get("has_data")) else text)
    return {"ch4_verdict_growth": "t_enough " + growth_words,
            "ch4_verdict_ch3": "The two-layer network's t_enough(N) " + cmp3["ch3_verdict"],
            "ch4_verdict_worth": (f"the pipeline beats scratch training at equal steps in {scratch['better']} of "
                                  f"{scratch['tested']} paired comparisons and loses in {scratch['worse']}"
                                  if scratch["tested"] else "whether the pipeline beats scratch training cannot be tested"),
            "ch4_verdict_cannot": "; ".join(short_cannot[:3]),
            "ch4_verdict_cannot_long": "The data cannot decide: " + "; ".join(cannot)}
