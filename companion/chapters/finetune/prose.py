"""Chapter 4's words: the phrases the chapter's prose glues, from the numbers of :mod:`.analysis`.

Every glued name of an arm is written out in :data:`ARM_GLUE` (``grep ch4_mlp_verdict`` finds it) and
every glued parameter in :data:`PARAMETER_GLUE`; an arm registered later (a new architecture) has no
pages, so its phrases stay in the summary's ``tables["arms"]``. The verdict box's sentences are in
:mod:`.prose_verdicts`.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from ...stats import paired
from ...stats.laws import MODEL_FORMULAS, MODELS
from ...vocabulary import finite, law_shares_words, n_words, pp, sizes_list
from . import analysis as an
from .analysis import ALPHA, growth, per_doubling
from .arms import ARMS

METHOD_NAMES = {"greedy": "greedy", "greedy_sampled": "greedy with sampled candidates",
                "greedy_local": "layer-local greedy", "random": "random pruning",
                "magnitude": "largest-norm pruning", "scratch": "scratch training (same steps)",
                "scratch_flops": "scratch training (same FLOPs)", "dense_cost": "the dense network at equal cost",
                "dense": "the dense network"}



def arm_name(arm: str) -> str:
    """The reader's name of an arm ("two-layer network")."""
    return ARMS[arm].name


def arm_names() -> dict:
    """arm -> the reader's name, for every registered arm."""
    return {key: spec.name for key, spec in ARMS.items()}


# --------------------------------------------------------------------------------------------------
# Growth over N


def _untested(change: dict) -> str:
    sizes = f"both N = {n_words(change['n_from'])} and {n_words(change['n_to'])}"
    if change["seeds"] == 0:
        return f"no seed has a t_enough at {sizes}"
    if change["seeds"] == 1:
        return f"only one seed has a t_enough at {sizes}; a paired test needs {paired.MIN_PAIRS}"
    return f"only {change['seeds']} seeds have a t_enough at {sizes}; a paired test needs {paired.MIN_PAIRS}"


def _rises(change):
    return paired.change_rises(change, ALPHA)


def _falls(change):
    return paired.change_falls(change, ALPHA)


def growth_words(g) -> str:
    """A :class:`companion.stats.verdicts.Growth` of t_enough(N) in words: 'grows up to N = 2,000, then
    stops'."""
    if not g.defined:
        return ("cannot be traced over N: t_enough is defined at " +
                ("no size" if not g.sizes else f"one size only ({sizes_list(g.sizes)})"))
    rise, tail, n0, first, last = g.rise, g.tail, g.n0, g.first, g.last
    if g.grows:
        if tail is None or _rises(tail):
            return f"grows with N up to the largest size measured (N = {n_words(last)})"
        if _falls(tail):
            return f"grows up to N = {n_words(n0)}, then falls"
        if paired.change_tested(tail):
            return f"grows up to N = {n_words(n0)}, then stops"
        return f"grows up to N = {n_words(n0)}; whether it then stops cannot be tested ({_untested(tail)})"
    if g.falls:
        return "falls with N"
    if g.flat:
        return (f"does not change significantly between N = {n_words(first)} and {n_words(last)} "
                f"(paired over {rise['seeds']} seeds, p = {rise['p_value']:.2f})")
    return f"cannot be tested for a change ({_untested(rise)})"


def shape(ts: pd.DataFrame) -> dict:
    """:func:`.analysis.growth` of a threshold frame (n, seed, t_star; NaN: censored) as the summary
    reads it: its flags, the :class:`~companion.stats.verdicts.Growth` and its ``words``."""
    g = growth(ts)
    return {"defined": g.defined, "grows": g.grows, "stops": g.stops, "falls": g.falls, "flat": g.flat,
            "growth": g, "words": growth_words(g)}


# --------------------------------------------------------------------------------------------------
# Phrases


def change_tested_words(words: str) -> bool:
    """Whether a :func:`growth_words` sentence reports a tested change of t_enough over N (growth, a fall or
    no significant change), not one that cannot be traced or tested."""
    return not (words.startswith("cannot") or "cannot be tested for a change" in words)


def coverage_words(te: pd.DataFrame) -> str:
    """'' when no unit is censored; else which sizes have censored seeds, and why, in words."""
    if not len(te) or not te["censored"].any():
        return ""
    parts = []
    for n, g in te.groupby("n", sort=True):
        k = int(g["censored"].sum())
        if k:
            parts.append(f"{k} of {len(g)} seeds at N = {n_words(n)}")
    why = sorted(set(te.loc[te["censored"], "status"]))
    reasons = {an.STATUS_NEVER: "the curve is within δ of its final value only at T_full itself",
               an.STATUS_SHORT: "the grid has fewer than two points", an.STATUS_MISSING: "no value at T_full"}
    return ("censored (t_enough undefined, left out of the fits) for " + ", ".join(parts) + ": "
            + "; ".join(reasons[w] for w in why))


def range_words(ts: pd.DataFrame) -> str:
    """'from 40 steps at N = 250 to 120 at N = 4,000' (seed means over the seeds that have one)."""
    means = ts[ts["reached"]].groupby("n")["t_star"].mean()
    if not len(means):
        return "defined at no size"
    if len(means) == 1:
        return f"{means.iloc[0]:,.0f} steps at N = {n_words(means.index[0])} only"
    return (f"from {means.iloc[0]:,.0f} steps at N = {n_words(means.index[0])} to {means.iloc[-1]:,.0f} at "
            f"N = {n_words(means.index[-1])}")


def shares_words(shares: dict, unranked: dict | None = None) -> str:
    """Which law the data prefer (:func:`companion.vocabulary.law_shares_words`, chapter 3's rule), among
    the laws that have a leave-one-size-out error; ``unranked`` (law -> why) are left out of the
    ranking and said as such, never given a share of 0%."""
    unranked = {m: why for m, why in (unranked or {}).items() if m in MODELS}
    ranked = {m: v for m, v in shares.items() if m not in unranked}
    undefined = "t_enough is defined at fewer than three sizes"
    if not unranked:
        return law_shares_words(shares, undefined)
    if not ranked or pd.Series(ranked, dtype=float).isna().all():
        return law_shares_words({}, undefined)
    else:
        ranked = pd.Series(ranked, dtype=float)
        best, listed = ranked.idxmax(), ", ".join(f"{MODEL_FORMULAS[m]} {ranked[m]:.0%}"
                                                   for m in MODELS if m in ranked.index)
        if len(ranked) == 1:
            words = f"only {MODEL_FORMULAS[best]} has a leave-one-size-out error, so no law is ranked"
        elif ranked[best] >= 0.95:
            words = (f"{MODEL_FORMULAS[best]} has the lowest leave-one-size-out error in "
                     f"{ranked[best]:.0%} of bootstrap resamples of the seeds, among {listed}")
        else:
            words = ("the data cannot tell the laws apart (share of bootstrap resamples of the seeds in which "
                     f"each law has the lowest leave-one-size-out error: {listed})"
                     if not ((ranked == ranked[best]).sum() == 1 and ranked[best] > 0.5) else
                     f"{MODEL_FORMULAS[best]} is preferred but not singled out: it has the lowest "
                     f"leave-one-size-out error in {ranked[best]:.0%} of bootstrap resamples of the seeds ({listed})")
    if unranked:
        words += "; not ranked: " + ", ".join(f"{MODEL_FORMULAS[m]} ({why})" for m, why in unranked.items())
    return words


def contrast_words(c: pd.DataFrame, a: str, b: str) -> str:
    """One (arm, ratio, budget, N) slice of :func:`contrast` over t, in words: at t = 0 and at T_full
    the difference with its interval, and at how many pre-training lengths it is significant."""
    name_a, name_b = METHOD_NAMES.get(a, a), METHOD_NAMES.get(b, b)
    if not len(c):
        return f"{name_a} and {name_b} cannot be compared (no common rows)"
    c = c.sort_values("t")

    def at(row):
        text = f"{pp(row['mean'])}"
        if finite(row["ci_lo"], row["ci_hi"]):
            text += f" (95% interval {pp(row['ci_lo'])} to {pp(row['ci_hi'])})"
        else:
            text += " (no interval: " + ("one seed" if row["seeds"] < 2 else "the same in every seed") + ")"
        return text

    first, last = c.iloc[0], c.iloc[-1]
    up = int(((c["p_value"] < an.ALPHA) & (c["mean"] > 0)).sum())
    down = int(((c["p_value"] < an.ALPHA) & (c["mean"] < 0)).sum())
    tested = int(c["p_value"].notna().sum())
    text = (f"{name_a} minus {name_b}: {at(first)} when pruned at t = {int(first['t']):,}, {at(last)} at "
            f"T_full = {int(last['t']):,}")
    if tested == 0:
        return text + "; no pre-training length can be tested (fewer than 3 seeds)"
    lengths = "the one pre-training length tested" if tested == 1 else f"the {tested} pre-training lengths tested"
    return text + f"; significantly above at {up} and below at {down} of {lengths} (5% level)"


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


def budgets_protocol(budgets: dict) -> str:
    """When the subnetworks are evaluated after fine-tuning, per arm (arm -> its budgets), as the
    protocol says it: 'the short and the long budget' only for an arm that has two or more."""
    parts = []
    for arm, b in budgets.items():
        b = sorted(int(x) for x in b)
        listed = ", ".join(f"{x:,}" for x in b)
        parts.append(f"after its one budget, F = {listed} steps ({arm_name(arm)})" if len(b) == 1 else
                     f"after the short and the long budget and those between, F ∈ {{{listed}}} steps "
                     f"({arm_name(arm)})" if len(b) > 2 else
                     f"after the short and the long budget, F ∈ {{{listed}}} steps ({arm_name(arm)})")
    text = "; ".join(parts)
    if any(len(b) > 1 for b in budgets.values()):
        text += "; a shorter budget is a prefix of the longest run"
    return text


# --------------------------------------------------------------------------------------------------
# Glued names, written out


#: The arms whose phrases the book's pages quote, in the order of the names in :data:`ARM_GLUE`.
BOOK_ARMS = ("two_layer", "mlp", "cnn")


def _per_arm(*names: str) -> dict:
    return dict(zip(BOOK_ARMS, names))


#: Each arm's numbers and phrases as glued: key of :func:`.summary.arm_summary` -> arm -> glue name.
ARM_GLUE = {
    "has_data": _per_arm("ch4_two_layer_has_data", "ch4_mlp_has_data", "ch4_cnn_has_data"),
    "defined": _per_arm("ch4_two_layer_defined", "ch4_mlp_defined", "ch4_cnn_defined"),
    "grows": _per_arm("ch4_two_layer_grows", "ch4_mlp_grows", "ch4_cnn_grows"),
    "stops": _per_arm("ch4_two_layer_stops", "ch4_mlp_stops", "ch4_cnn_stops"),
    "ratio": _per_arm("ch4_two_layer_ratio", "ch4_mlp_ratio", "ch4_cnn_ratio"),
    "short": _per_arm("ch4_two_layer_short", "ch4_mlp_short", "ch4_cnn_short"),
    "long": _per_arm("ch4_two_layer_long", "ch4_mlp_long", "ch4_cnn_long"),
    "t_full": _per_arm("ch4_two_layer_t_full", "ch4_mlp_t_full", "ch4_cnn_t_full"),
    "smallest": _per_arm("ch4_two_layer_smallest", "ch4_mlp_smallest", "ch4_cnn_smallest"),
    "largest": _per_arm("ch4_two_layer_largest", "ch4_mlp_largest", "ch4_cnn_largest"),
    "sizes": _per_arm("ch4_two_layer_sizes", "ch4_mlp_sizes", "ch4_cnn_sizes"),
    "n_seeds": _per_arm("ch4_two_layer_n_seeds", "ch4_mlp_n_seeds", "ch4_cnn_n_seeds"),
    "verdict": _per_arm("ch4_two_layer_verdict", "ch4_mlp_verdict", "ch4_cnn_verdict"),
    "range": _per_arm("ch4_two_layer_range", "ch4_mlp_range", "ch4_cnn_range"),
    "coverage": _per_arm("ch4_two_layer_coverage", "ch4_mlp_coverage", "ch4_cnn_coverage"),
    "convergence": _per_arm("ch4_two_layer_convergence", "ch4_mlp_convergence", "ch4_cnn_convergence"),
    "long_convergence": _per_arm(
        "ch4_two_layer_long_convergence", "ch4_mlp_long_convergence", "ch4_cnn_long_convergence"),
    "dense_converged": _per_arm(
        "ch4_two_layer_dense_converged", "ch4_mlp_dense_converged", "ch4_cnn_dense_converged"),
    "long_converged": _per_arm(
        "ch4_two_layer_long_converged", "ch4_mlp_long_converged", "ch4_cnn_long_converged"),
    "failed": _per_arm("ch4_two_layer_failed", "ch4_mlp_failed", "ch4_cnn_failed"),
    "failed_runs": _per_arm("ch4_two_layer_failed_runs", "ch4_mlp_failed_runs", "ch4_cnn_failed_runs"),
    "failed_cause": _per_arm("ch4_two_layer_failed_cause", "ch4_mlp_failed_cause", "ch4_cnn_failed_cause"),
    "laws": _per_arm("ch4_two_layer_laws", "ch4_mlp_laws", "ch4_cnn_laws"),
    "ceiling": _per_arm("ch4_two_layer_ceiling", "ch4_mlp_ceiling", "ch4_cnn_ceiling"),
    "budget_sentence": _per_arm(
        "ch4_two_layer_budget_sentence", "ch4_mlp_budget_sentence", "ch4_cnn_budget_sentence"),
    "short_range": _per_arm("ch4_two_layer_short_range", "ch4_mlp_short_range", "ch4_cnn_short_range"),
    "random": _per_arm("ch4_two_layer_random", "ch4_mlp_random", "ch4_cnn_random"),
    "magnitude": _per_arm("ch4_two_layer_magnitude", "ch4_mlp_magnitude", "ch4_cnn_magnitude"),
    "scratch": _per_arm("ch4_two_layer_scratch", "ch4_mlp_scratch", "ch4_cnn_scratch"),
    "scratch_flops": _per_arm(
        "ch4_two_layer_scratch_flops", "ch4_mlp_scratch_flops", "ch4_cnn_scratch_flops"),
    "dense_cost": _per_arm("ch4_two_layer_dense_cost", "ch4_mlp_dense_cost", "ch4_cnn_dense_cost"),
    "greedy_sampled": _per_arm(
        "ch4_two_layer_greedy_sampled", "ch4_mlp_greedy_sampled", "ch4_cnn_greedy_sampled"),
    "greedy_local": _per_arm("ch4_two_layer_greedy_local", "ch4_mlp_greedy_local", "ch4_cnn_greedy_local"),
    "worth": _per_arm("ch4_two_layer_worth", "ch4_mlp_worth", "ch4_cnn_worth"),
    "worth_any": _per_arm("ch4_two_layer_worth_any", "ch4_mlp_worth_any", "ch4_cnn_worth_any"),
    "saved": _per_arm("ch4_two_layer_saved", "ch4_mlp_saved", "ch4_cnn_saved"),
    "pct_largest": _per_arm("ch4_two_layer_pct_largest", "ch4_mlp_pct_largest", "ch4_cnn_pct_largest"),
    "saved_largest": _per_arm(
        "ch4_two_layer_saved_largest", "ch4_mlp_saved_largest", "ch4_cnn_saved_largest"),
    "delta_pp": _per_arm("ch4_two_layer_delta_pp", "ch4_mlp_delta_pp", "ch4_cnn_delta_pp"),
    "noise_pp": _per_arm("ch4_two_layer_noise_pp", "ch4_mlp_noise_pp", "ch4_cnn_noise_pp"),
    "step_confound": _per_arm("ch4_two_layer_step_confound", "ch4_mlp_step_confound", "ch4_cnn_step_confound"),
}

#: The chapter's parameters as glued: parameter -> its name (a number; a list written '500, 1,000'),
#: and for a list the names of its length and of its span (largest / smallest, positive lists only).
PARAMETER_GLUE = {
    "two_layer_sizes": ("ch4_p_two_layer_sizes", "ch4_p_two_layer_sizes_count", "ch4_p_two_layer_sizes_span"),
    "two_layer_seeds": ("ch4_p_two_layer_seeds", "ch4_p_two_layer_seeds_count", "ch4_p_two_layer_seeds_span"),
    "two_layer_width": ("ch4_p_two_layer_width",),
    "two_layer_ratios": ("ch4_p_two_layer_ratios", "ch4_p_two_layer_ratios_count",
                         "ch4_p_two_layer_ratios_span"),
    "two_layer_lr": ("ch4_p_two_layer_lr",),
    "two_layer_finetune_lr": ("ch4_p_two_layer_finetune_lr",),
    "two_layer_steps": ("ch4_p_two_layer_steps",),
    "two_layer_num_checkpoints": ("ch4_p_two_layer_num_checkpoints",),
    "two_layer_first_checkpoint": ("ch4_p_two_layer_first_checkpoint",),
    "two_layer_budgets": ("ch4_p_two_layer_budgets", "ch4_p_two_layer_budgets_count",
                          "ch4_p_two_layer_budgets_span"),
    "mlp_sizes": ("ch4_p_mlp_sizes", "ch4_p_mlp_sizes_count", "ch4_p_mlp_sizes_span"),
    "mlp_seeds": ("ch4_p_mlp_seeds", "ch4_p_mlp_seeds_count", "ch4_p_mlp_seeds_span"),
    "mlp_hidden": ("ch4_p_mlp_hidden", "ch4_p_mlp_hidden_count", "ch4_p_mlp_hidden_span"),
    "mlp_ratios": ("ch4_p_mlp_ratios", "ch4_p_mlp_ratios_count", "ch4_p_mlp_ratios_span"),
    "mlp_lr": ("ch4_p_mlp_lr",),
    "mlp_finetune_lr": ("ch4_p_mlp_finetune_lr",),
    "mlp_momentum": ("ch4_p_mlp_momentum",),
    "mlp_steps": ("ch4_p_mlp_steps",),
    "mlp_num_checkpoints": ("ch4_p_mlp_num_checkpoints",),
    "mlp_first_checkpoint": ("ch4_p_mlp_first_checkpoint",),
    "mlp_budgets": ("ch4_p_mlp_budgets", "ch4_p_mlp_budgets_count", "ch4_p_mlp_budgets_span"),
    "mlp_sampled_candidates": ("ch4_p_mlp_sampled_candidates",),
    "mlp_sampled_batch": ("ch4_p_mlp_sampled_batch",),
    "cnn_sizes": ("ch4_p_cnn_sizes", "ch4_p_cnn_sizes_count", "ch4_p_cnn_sizes_span"),
    "cnn_seeds": ("ch4_p_cnn_seeds", "ch4_p_cnn_seeds_count", "ch4_p_cnn_seeds_span"),
    "cnn_channels": ("ch4_p_cnn_channels", "ch4_p_cnn_channels_count", "ch4_p_cnn_channels_span"),
    "cnn_blocks_per_stage": ("ch4_p_cnn_blocks_per_stage",),
    "cnn_ratios": ("ch4_p_cnn_ratios", "ch4_p_cnn_ratios_count", "ch4_p_cnn_ratios_span"),
    "cnn_lr": ("ch4_p_cnn_lr",),
    "cnn_finetune_lr": ("ch4_p_cnn_finetune_lr",),
    "cnn_momentum": ("ch4_p_cnn_momentum",),
    "cnn_steps": ("ch4_p_cnn_steps",),
    "cnn_num_checkpoints": ("ch4_p_cnn_num_checkpoints",),
    "cnn_first_checkpoint": ("ch4_p_cnn_first_checkpoint",),
    "cnn_budgets": ("ch4_p_cnn_budgets", "ch4_p_cnn_budgets_count", "ch4_p_cnn_budgets_span"),
    "batch_size": ("ch4_p_batch_size",),
    "score_n": ("ch4_p_score_n",),
    "n_heldout": ("ch4_p_n_heldout",),
    "heldout_from": ("ch4_p_heldout_from",),
    "n_test": ("ch4_p_n_test",),
    "delta": ("ch4_p_delta",),
    "deltas": ("ch4_p_deltas", "ch4_p_deltas_count", "ch4_p_deltas_span"),
    "n_boot": ("ch4_p_n_boot",),
    "reference_seeds": ("ch4_p_reference_seeds",),
    "reference_factor": ("ch4_p_reference_factor",),
    "eb_epsilon": ("ch4_p_eb_epsilon",),
    "eb_window": ("ch4_p_eb_window",),
}


def parameter_numbers(params) -> dict:
    """The chapter's parameters as the prose writes them (:data:`PARAMETER_GLUE`; lists: '500, 1,000,
    2,000'; kept fractions as fractions of one), and the phrases made of parameters only."""
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
    budgets = {arm: getattr(params, spec.reads["budgets"], None) for arm, spec in ARMS.items()}
    if all(budgets.values()):
        out["ch4_budgets_protocol"] = budgets_protocol(budgets)

    def word(v):
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        return f"{float(v):g}"

    for f in dataclasses.fields(params):
        names = PARAMETER_GLUE.get(f.name)
        v = getattr(params, f.name)
        if names is None or isinstance(v, (bool, np.bool_)) or isinstance(v, str):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            out[names[0]] = v
        elif isinstance(v, (tuple, list)) and v and all(isinstance(x, (int, float)) for x in v):
            out[names[0]] = ", ".join(word(x) for x in v)
            out[names[1]] = len(v)
            if all(x > 0 for x in v):
                out[names[2]] = max(v) / min(v)
    return out


#: Chapter 3's T*(N) against the two-layer network's t_enough(N) (:func:`.prose_verdicts.compare_chapter3`).
CH3_GLUE = {"ch3_range": "ch4_ch3_range", "ch3_words": "ch4_ch3_words", "ch3_sentence": "ch4_ch3_sentence",
            "ch3_verdict": "ch4_ch3_verdict"}
