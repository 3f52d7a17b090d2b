"""Chapter 3's prose: :func:`summarize` turns the frames into every number the chapter's pages quote
and every sentence whose truth depends on them (chosen here from the numbers, through
:mod:`.findings`), and the tables its figures draw. This module writes the SGD arm's thresholds and
their verdict; :mod:`.prose_controls` the controls (grid, full-batch GD, epochs, held-out, the
theorem's summed target, the rule's sensitivity), :mod:`.prose_ntk` the NTK study and the
well-trained arm, :mod:`.prose_words` the shared phrases."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...display import Summary
from ...stats import laws
from ...stats import thresholds as thr
from . import prose_controls, prose_ntk
from .findings import ALPHA, arm as arm_findings, finite, fit_row, grid_ratio, last_rises, p_ok, peak
from .params import SOURCE_LIMITS, MnistParams
from .prose_words import (UNDEFINED, Context, Words, ceiling_sentence, change_stats, growth_words,
                          increments, laws_text, n_words, range_words, rise_sentence, rule_text, rule_words,
                          shares_text, tstar_at, untested, verdict_words, with_b_interval, with_coverage)

#: Glue names (literal, so that ``grep NAME`` finds this code).
WALL_NAMES = {"sgd": "ch3_wall_sgd_min", "gd": "ch3_wall_gd_min", "ntk": "ch3_wall_ntk_min",
              "well": "ch3_wall_well_min", "well_ntk": "ch3_wall_well_ntk_min"}
BEST_NAMES = {"dense": ("ch3_dense_best_worst", "ch3_dense_best_best"),
              "greedy": ("ch3_greedy_best_worst", "ch3_greedy_best_best"),
              "random": ("ch3_random_best_worst", "ch3_random_best_best"),
              "magnitude": ("ch3_magnitude_best_worst", "ch3_magnitude_best_best")}
_Q_FIELDS = ("tstar_smallest", "tstar_largest", "reached", "laws", "log_b", "log_b_lo", "log_b_hi", "power_b",
             "power_ok", "ceiling_sentence")
QUANTITY_NAMES = {
    "greedy": dict(zip(_Q_FIELDS, (
        "ch3_greedy_tstar_smallest", "ch3_greedy_tstar_largest", "ch3_greedy_reached", "ch3_greedy_laws",
        "ch3_greedy_log_b", "ch3_greedy_log_b_lo", "ch3_greedy_log_b_hi", "ch3_greedy_power_b",
        "ch3_greedy_power_ok", "ch3_greedy_ceiling_sentence"))),
    "dense": dict(zip(_Q_FIELDS, (
        "ch3_dense_tstar_smallest", "ch3_dense_tstar_largest", "ch3_dense_reached", "ch3_dense_laws",
        "ch3_dense_log_b", "ch3_dense_log_b_lo", "ch3_dense_log_b_hi", "ch3_dense_power_b", "ch3_dense_power_ok",
        "ch3_dense_ceiling_sentence"))),
    "difference": dict(zip(_Q_FIELDS, (
        "ch3_difference_tstar_smallest", "ch3_difference_tstar_largest", "ch3_difference_reached",
        "ch3_difference_laws", "ch3_difference_log_b", "ch3_difference_log_b_lo", "ch3_difference_log_b_hi",
        "ch3_difference_power_b", "ch3_difference_power_ok", "ch3_difference_ceiling_sentence")))}
_R_FIELDS = ("last_rise", "last_rise_to", "flat_steps", "flat_max_abs", "flat_significant", "rise_sentence",
             "rise_words")
RISE_NAMES = {
    "greedy": dict(zip(_R_FIELDS, (
        "ch3_greedy_last_rise", "ch3_greedy_last_rise_to", "ch3_greedy_flat_steps", "ch3_greedy_flat_max_abs",
        "ch3_greedy_flat_significant", "ch3_greedy_rise_sentence", "ch3_greedy_rise_words"))),
    "dense": dict(zip(_R_FIELDS, (
        "ch3_dense_last_rise", "ch3_dense_last_rise_to", "ch3_dense_flat_steps", "ch3_dense_flat_max_abs",
        "ch3_dense_flat_significant", "ch3_dense_rise_sentence", "ch3_dense_rise_words")))}


def summarize(frames: dict[str, pd.DataFrame], p: MnistParams) -> Summary:
    """Every number chapter 3's prose quotes, and every sentence whose truth depends on them (chosen
    here from the numbers), and the tables its figures draw. A number that cannot be computed for the
    settings is glued as ``UNDEFINED``; the sentence that would quote it says why instead."""
    rule = p.rule
    rw = rule_words(rule)
    sgd, gd, ntk, units = frames["sgd"], frames["gd"], frames["ntk"], frames["units"]
    c = Context(p=p, rule=rule, rw=rw, w=Words(rw["reach"], rw["reached"], "SGD steps", "steps", p.steps),
                wg=Words(rw["reach"], rw["reached"], "GD iterations", "iterations", p.gd_steps),
                sgd=sgd, gd=gd, train=sgd[sgd["split"] == "train"], smallest=min(p.sizes), largest=max(p.sizes),
                last_t=max(p.sweep("sgd").checkpoints), arm=arm_findings(sgd, rule, p.n_boot),
                gd_arm=arm_findings(gd, rule, p.n_boot, ("dense", "greedy")))
    out = _settings(p, units)
    out["ch3_rule_text"] = rule_text(rule)
    out["ch3_meets_words"] = rw["meets"]
    _sgd_arm(out, c)
    interp = prose_controls.grid(out, c)
    gd_steps = prose_controls.gd_arm(out, c)
    epochs, heldout, gap = prose_controls.epochs_and_gap(out, c)
    summed = prose_controls.summed(out, c)
    sens = prose_controls.sensitivity(out, c)
    prose_controls.baselines(out, c)
    ntk_sum = prose_ntk.ntk_summary(ntk, p)
    out |= ntk_sum["numbers"]
    # The well-trained arm (mean-field at tuned steps; the NTK network at k/m = 1/2)
    wt = prose_ntk.well_trained_summary(frames.get("well"), frames.get("well_ntk"), p)
    out |= wt["numbers"]
    # No NaN is ever glued: an undefined number is said in words (the prose quotes the sentences above)
    out = {k: (UNDEFINED if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}
    arm, gd_arm = c.arm, c.gd_arm
    return Summary(out, {"sgd": sgd, "gd": gd, "thresholds": arm.thresholds, "gd_thresholds": gd_arm.thresholds,
                         "fits": with_b_interval(arm.fits.copy()), "gd_fits": with_b_interval(gd_arm.fits.copy()),
                         "means": arm.means, "gd_means": gd_arm.means, "paired": arm.paired,
                         "gd_paired": gd_steps, "interp": interp, "epochs": epochs, "gap": gap,
                         "heldout": heldout,
                         "summed": summed, "sensitivity": sens, "ntk": ntk_sum["table"],
                         "ntk_lrs": ntk_sum["lrs"], "largest": c.largest, "smallest": c.smallest,
                         "shape": arm.growth, "wt_thresholds": wt["thresholds"], "wt_table": wt["table"],
                         "wt_ntk_thresholds": wt["ntk_thresholds"],
                         "wt_lead": wt["lead"]["table"], "wt_windows": wt["lead"]["windows"],
                         "wt_window_table": wt["lead"]["window_table"], "wt_epochs": wt["lead"]["epochs"],
                         "wt_lead_steps": wt["lead"]["steps"], "ntk_steps": ntk_sum["steps"]})


def _settings(p: MnistParams, units: pd.DataFrame) -> dict:
    """The numbers the chapter quotes from its parameters and its units' provenance."""
    smallest, largest = min(p.sizes), max(p.sizes)
    out = {"ch3_width": p.width, "ch3_k": p.k, "ch3_steps": p.steps,
           "ch3_num_checkpoints": len(p.sweep("sgd").checkpoints),
           "ch3_grid_ratio": grid_ratio(p.steps, p.first_checkpoint, p.num_checkpoints),
           "ch3_gd_grid_ratio": grid_ratio(p.gd_steps, p.first_checkpoint, p.gd_num_checkpoints),
           "ch3_batch": p.batch_size, "ch3_lr_mf": p.lr_mean_field,
           "ch3_lr_mf_eff": p.lr_mean_field * p.width, "ch3_random_draws": p.random_draws,
           "ch3_sizes": ", ".join(f"{n:,}" for n in p.sizes), "ch3_n_seeds": len(p.seeds),
           "ch3_smallest": smallest, "ch3_largest": largest,
           "ch3_gd_sizes": ", ".join(f"{n:,}" for n in p.gd_sizes), "ch3_gd_n_seeds": len(p.gd_seeds),
           "ch3_gd_steps": p.gd_steps, "ch3_gd_smallest": min(p.gd_sizes), "ch3_gd_largest": max(p.gd_sizes),
           "ch3_gd_size_ratio": max(p.gd_sizes) / min(p.gd_sizes), "ch3_n_test": p.n_test,
           "ch3_source": {"torchvision": "full MNIST (60,000 training images)",
                          "embedded": "the embedded 4,000-image MNIST pool"}[p.source],
           "ch3_pool": {"torchvision": "60,000", "embedded": "4,000"}[p.source],
           "ch3_n_units": len(units), "ch3_wall_total_min": float(units["wall_time_s"].sum() / 60),
           "ch3_wall_max_s": float(units["wall_time_s"].max()),
           "ch3_device": ", ".join(sorted(set(units["device"].astype(str)))),
           "ch3_epochs_smallest": p.steps * p.batch_size / smallest,
           "ch3_epochs_largest": p.steps * p.batch_size / largest,
           "ch3_max_balanced": SOURCE_LIMITS["torchvision"][0],
           "ch3_rarest_class": SOURCE_LIMITS["torchvision"][0] // 10,
           "ch3_level": p.level, "ch3_n_boot": p.n_boot}
    for key, name in WALL_NAMES.items():
        out[name] = float(units.loc[units["experiment"] == key, "wall_time_s"].sum() / 60)
    return out


def _sgd_arm(out: dict, c: Context) -> None:
    """The SGD arm's thresholds (dense control, greedy, their difference), their growth and laws."""
    p, w, rw, sgd, train, smallest, largest = c.p, c.w, c.rw, c.sgd, c.train, c.smallest, c.largest
    arm = c.arm
    th, fits, means = arm.thresholds, arm.fits, arm.means
    # Is the subnetwork useful, and how good does it get?
    use = thr.usefulness(sgd).set_index("method")
    for method, (worst, best) in BEST_NAMES.items():
        out[worst] = float(use.loc[method, "best_acc_worst_n"])
        out[best] = float(use.loc[method, "best_acc_best_n"])
    train = sgd[sgd["split"] == "train"]
    t0 = train[train["t"] == 0]
    out["ch3_greedy_t0"] = float(t0[t0["method"] == "greedy"]["accuracy"].mean())
    out["ch3_dense_t0"] = float(t0[t0["method"] == "dense"]["accuracy"].mean())

    # The thresholds of the SGD arm: dense control, greedy, and their difference
    for q, name in QUANTITY_NAMES.items():
        m = means[q]["mean"]
        out |= {name["tstar_smallest"]: float(m.get(smallest, np.nan)),
                name["tstar_largest"]: float(m.get(largest, np.nan)),
                name["reached"]: float(th[q]["reached"].mean()),
                name["laws"]: laws_text(fits[fits["quantity"] == q])}
        log = fit_row(fits, q, "log")
        out |= {name["log_b"]: float(log["b"]), name["log_b_lo"]: float(log["b_lo"]),
                name["log_b_hi"]: float(log["b_hi"])}
        power = fit_row(fits, q, "power")
        out[name["power_b"]] = float(power["b"])
        out[name["power_ok"]] = "converged" if power["fit_ok"] else "failed to converge"
        out[name["ceiling_sentence"]] = ceiling_sentence(fit_row(fits, q, "saturating"), means[q]["mean"],
                                                         largest)
    reached = th["greedy"]["reached"]
    if reached.all():
        out["ch3_greedy_good_words"] = "becomes good"
    elif reached.any():
        out["ch3_greedy_good_words"] = (f"becomes good in {reached.mean():.0%} of the units only (the others "
                                        f"never {w.reach.replace('reaches', 'reach').replace('meets', 'meet')} "
                                        f"within the {p.steps:,} steps)")
    else:
        out["ch3_greedy_good_words"] = f"never becomes good (no unit {w.reach} within the {p.steps:,} steps)"
    g0, d0 = out["ch3_greedy_t0"], out["ch3_dense_t0"]
    if g0 > d0:
        text = (f"Even at t = 0 greedy selection reaches {g0:.3f} training accuracy (the dense network "
                f"{d0:.3f}): choosing which random features to keep is itself a fit to the training labels, so "
                "\"good training error\" needs a level well above that")
        at_zero = float((th["greedy"]["t_star"] == 0).mean())
        if at_zero > 0:
            text += f"; with the rule used here {at_zero:.0%} of the units meet it already at t = 0"
        out["ch3_t0_sentence"] = text
    else:
        out["ch3_t0_sentence"] = (f"At t = 0 greedy selection reaches {g0:.3f} training accuracy, no more "
                                  f"than the dense network ({d0:.3f})")
    by_n = train[train["method"].isin(["greedy", "dense"])].groupby(["t", "n", "method"])["accuracy"].mean().unstack()
    start = by_n.loc[0]
    end = by_n.loc[c.last_t]

    def where(mask, side, other, name):
        k, total = int(mask.sum()), len(mask)
        if k in (0, total):
            return f"{side if k else other} {name} at every N"
        return f"{side} {name} at {k} of the {total} sizes and {other} it at the others"

    out["ch3_start_end_sentence"] = (
        f"At t = 0 the subnetwork is {where(start['greedy'] > start['dense'], 'above', 'at or below', 'the dense network')}; "
        f"at the end of pre-training it is {where(end['greedy'] < end['dense'], 'below', 'at or above', 'it')}")

    # The shape of T*(N), from paired tests
    shapes = arm.growth
    shape = shapes["greedy"]
    words = {q: growth_words(g, w) for q, g in shapes.items()}
    out["ch3_verdict_headline"] = with_coverage(f"{rw['target']} the threshold {words['greedy']}", th["greedy"], w)
    out["ch3_verdict_why"] = "Why it stops" if shape.stops else "What the controls say"
    g_means = means["greedy"]["mean"].dropna()
    steps = arm.paired
    out["ch3_greedy_increments"] = increments(steps["greedy"], w)
    out["ch3_dense_increments"] = increments(steps["dense"], w)
    top = peak(th["greedy"])
    after, n_peak, last_defined = top.after, top.n_peak, top.last
    # Read by the intro; no size reaching the level leaves them undefined (said in words there).
    out |= {"ch3_greedy_n_peak": UNDEFINED, "ch3_greedy_t_peak": UNDEFINED}
    if top.n_peak is not None:
        out |= {"ch3_greedy_n_peak": top.n_peak, "ch3_greedy_t_peak": top.t_peak}
    if after is not None:
        out |= {"ch3_after_peak_mean": after["mean"], "ch3_after_peak_lo": after["ci_lo"],
                "ch3_after_peak_hi": after["ci_hi"], "ch3_after_peak_p": after["p_value"],
                "ch3_after_peak_up": after["up"], "ch3_after_peak_down": after["down"],
                "ch3_after_peak_words": verdict_words(after, w)}
        to_largest = ("the largest size" if last_defined == largest else
                      f"the largest size at which it is defined, N = {n_words(last_defined)}")
        stats = (f"95% interval {after['ci_lo']:+.0f} to {after['ci_hi']:+.0f}, p = {after['p_value']:.2f}"
                 if p_ok(after) else untested(after, w))
        out["ch3_after_peak_sentence"] = (
            f"From the size of the largest mean threshold, N = {n_words(n_peak)}, to {to_largest}, the threshold "
            f"{out['ch3_after_peak_words']}: the change is {after['mean']:+.0f} steps ({stats}; "
            f"{after['up']} seeds rise and {after['down']} fall)")
    else:
        out |= {"ch3_after_peak_mean": 0.0, "ch3_after_peak_lo": np.nan, "ch3_after_peak_hi": np.nan,
                "ch3_after_peak_p": np.nan, "ch3_after_peak_up": 0, "ch3_after_peak_down": 0,
                "ch3_after_peak_words": ("peaks at the largest N" if int(g_means.index.max()) == largest else
                                         f"is not defined beyond N = {n_words(g_means.index.max())} (no seed {w.reach} "
                                         "there)") if len(g_means) else f"is not defined ({w.reached} at no size)"}
        out["ch3_after_peak_sentence"] = (
            f"The largest mean threshold is at the largest size at which it is defined, N = {n_words(g_means.idxmax())}: "
            "there is no change after it to test" if len(g_means) else
            f"The largest mean threshold cannot be located: {w.reached} at no size")
    # the verdict's account of the subnetwork's threshold
    reach = tstar_at(th["greedy"], smallest, w, note=False)
    if len(g_means) >= 2 and out["ch3_greedy_n_peak"] != smallest:
        reach += f" and after {out['ch3_greedy_t_peak']:.0f} at N = {n_words(out['ch3_greedy_n_peak'])}"
    elif len(g_means) >= 2:
        reach += ", the largest mean of all sizes"
    if after is not None:
        reach += (f"; from there to N = {n_words(int(g_means.index.max()))} it {out['ch3_after_peak_words']} "
                  f"({change_stats(after, w)})")
    elif len(g_means) >= 2:
        reach += ("; that is the largest size measured" if int(g_means.index.max()) == largest else
                  "; beyond it the threshold is not defined")
    out["ch3_verdict_reach"] = (with_coverage(reach, th["greedy"], w) if len(g_means) else
                                f"at no size within the {p.steps:,} steps")
    # the dense control
    dense_range = range_words(th["dense"], smallest, largest, w)
    d_greedy, d_dense, d_diff = (means[q]["mean"].get(largest, np.nan) - means[q]["mean"].get(smallest, np.nan)
                                 for q in ("greedy", "dense", "difference"))
    follows = finite(d_diff, d_dense) and abs(d_diff) < abs(d_dense)
    if shape.defined and words["dense"] == words["greedy"] and not words["greedy"].startswith("cannot"):
        text = f"The dense network's own threshold has the same shape ({dense_range})"
        text += (", so a fixed-level T*(N) mostly measures how fast the dense network learns" if follows else
                 ", but the difference between the two changes as much as the dense threshold itself")
    else:
        text = f"The dense network's own threshold {words['dense']} ({dense_range})"
    out["ch3_verdict_dense"] = text
    # the difference, section 2
    diff_means = means["difference"]["mean"].dropna()
    defined = finite(d_diff, d_dense, d_greedy)
    if defined:
        head = (f"their difference goes from {means['difference']['mean'][smallest]:.0f} to "
                f"{means['difference']['mean'][largest]:.0f} steps (smallest to largest N), while the thresholds change "
                f"by {d_greedy:+.0f} (subnetwork) and {d_dense:+.0f} (dense)")
        text = ("The greedy threshold follows the dense one: " if follows else
                "The greedy threshold does not simply follow the dense one: ") + head
    else:
        text = ("The difference between the greedy and the dense threshold is not defined at both the smallest "
                f"and the largest N (no seed {w.reach} there for both networks)")
    if not defined:
        pass
    elif p.k == p.width:
        text += f": with k = m = {p.width} the subnetwork is the dense network itself"
    elif (diff_means == 0).all():
        text += ": the two thresholds coincide"
    elif (diff_means > 0).all():
        text += ": the subnetwork needs a good dense network, then more training"
    elif (diff_means < 0).all():
        text += (": the subnetwork meets the rule before the dense network does at every size (choosing neurons "
                 "is itself a fit), so the theorem's decomposition (dense term plus O(1/k)) does not describe "
                 "their order at this level")
    else:
        text += ": the subnetwork meets the rule before the dense network at some sizes and after it at others"
    out["ch3_difference_sentence"] = text
    out["ch3_loss_gap_sentence"] = prose_controls.loss_gap_sentence(sgd, largest, means["greedy"]["mean"].get(largest, np.nan), p.k)
    power, log = fit_row(fits, "greedy", "power"), fit_row(fits, "greedy", "log")
    out["ch3_greedy_power_words"] = (f"converged (exponent {power['b']:.2f})" if power["fit_ok"] else
                                     "failed to converge" if len(g_means) >= 2 else
                                     f"cannot be made ({w.reached} at fewer than two sizes)")
    if finite(log["b"]):
        out["ch3_greedy_log_b_words"] = (
            f"{log['b']:.0f} steps per factor e in N " +
            (f"(95% interval {log['b_lo']:.0f} to {log['b_hi']:.0f})" if finite(log["b_lo"], log["b_hi"]) else
             "(no interval: some size has fewer than two seeds that meet the rule)"))
    else:
        out["ch3_greedy_log_b_words"] = f"not defined ({w.reached} at fewer than two sizes)"
    # the out-of-sample check of the log law
    oos = laws.out_of_sample(th["greedy"], "log")
    out |= {"ch3_oos_pred": oos["predicted"], "ch3_oos_meas": oos["measured"],
            "ch3_oos_relerr": oos["rel_error"]}
    if finite(oos["predicted"], oos["measured"]):
        at = th["greedy"][(th["greedy"]["n"] == oos["n"]) & th["greedy"]["reached"]]["t_star"]
        se = float(at.std(ddof=1) / np.sqrt(len(at))) if len(at) >= 2 else np.nan
        err = abs(oos["predicted"] - oos["measured"])
        out["ch3_oos_sentence"] = (f"Fitted on all sizes but the largest, the log law predicts {oos['predicted']:.0f} "
                                   f"steps at N = {n_words(oos['n'])} against {oos['measured']:.0f} measured (relative "
                                   f"error {oos['rel_error']:.0%})")
        if not finite(se):
            verdict = (f"fitted on the smaller sizes, the log law is off at the largest by {oos['rel_error']:.0%} "
                       "(one seed there: no standard error to judge it by)")
        elif err > 2 * se:
            verdict = (("yet none of the three laws without a ceiling describes the flat end: "
                        if shape.stops else "") +
                       f"fitted on the smaller sizes, the log law misses the largest by {oos['rel_error']:.0%}")
            if not shape.stops:
                verdict += " (more than twice the standard error of its mean over seeds)"
        else:
            verdict = (f"fitted on the smaller sizes, the log law predicts the largest within {oos['rel_error']:.0%}, "
                       "inside twice the standard error of its mean over seeds")
        out["ch3_verdict_oos"] = verdict
    else:
        out["ch3_oos_sentence"] = f"The log law cannot be tested out of sample: {w.reached} at fewer than three sizes"
        out["ch3_verdict_oos"] = f"the log law cannot be tested out of sample ({w.reached} at fewer than three sizes)"
    # what the data say beyond the rising part
    for q, who in (("greedy", "the subnetwork's"), ("dense", "the dense network's")):
        name = RISE_NAMES[q]
        sig = last_rises(steps[q])
        last_to = int(sig[-1]["n_to"]) if sig else smallest
        out[name["last_rise"]] = f"from N = {n_words(sig[-1]['n_from'])} to {n_words(last_to)}" if sig else "none"
        out[name["last_rise_to"]] = last_to
        flat = steps[q][steps[q]["n_from"] >= last_to]
        out[name["flat_steps"]] = len(flat)
        out[name["flat_max_abs"]] = float(flat["mean"].abs().max()) if len(flat) else float("nan")
        out[name["flat_significant"]] = int((flat["p_value"] < ALPHA).sum())
        out[name["rise_sentence"]], out[name["rise_words"]] = rise_sentence(steps[q], who, w)
    n0 = shape.n0
    if shape.stops:
        out["ch3_beyond_last_rise"] = f"What the data show beyond N = {n_words(n0)} is a plateau (next section)"
        out["ch3_tied_sentence"] = ("The sizes beyond the last significant rise are tied: which of them has the "
                                    "largest mean is noise, so \"the peak\" is a plateau, not a maximum")
    elif shape.grows and shape.tail is None:
        out["ch3_beyond_last_rise"] = (f"The threshold rises significantly up to the largest size at which it is "
                                       f"defined, N = {n_words(shape.last)}: the data show no plateau (next section)")
        out["ch3_tied_sentence"] = "The threshold still rises at the largest size, so its largest mean marks no plateau"
    elif shape.grows:
        out["ch3_beyond_last_rise"] = f"Beyond N = {n_words(n0)} the threshold {words['greedy'].split(', then ')[-1]} (next section)"
        out["ch3_tied_sentence"] = (f"Beyond N = {n_words(n0)} the threshold {words['greedy'].split(', then ')[-1]}, "
                                    "so its largest mean is no plateau")
    else:
        out["ch3_beyond_last_rise"] = f"Over the sizes measured the threshold {words['greedy']} (next section)"
        out["ch3_tied_sentence"] = "Without a significant rise there is no plateau to locate"
    if shape.grows:
        rising = th["greedy"][(th["greedy"]["n"] <= n0) & th["greedy"]["reached"]]
        c = rising["n"].nunique()
        span = f"N = {n_words(shape.first)} to {n_words(n0)}, {c} sizes"
        out["ch3_rising_part_span"] = span
        if c < 3:
            out["ch3_rising_part_sentence"] = (f"The rising part alone ({span}) is too short to tell a logarithm "
                                               "from a small power")
            out["ch3_rising_part_laws"] = "it is too short to tell a logarithm from a small power"
        else:
            shares = laws.model_choice(rising["n"], rising["t_star"], n_boot=min(p.n_boot, 200))
            out["ch3_rising_part_sentence"] = f"On the rising part alone ({span}), {shares_text(shares)}"
            out["ch3_rising_part_laws"] = shares_text(shares)
    else:
        out["ch3_rising_part_sentence"] = "Without a significant rise there is no rising part to fit on its own"
        out["ch3_rising_part_span"] = "none: no significant rise"
        out["ch3_rising_part_laws"] = "there is no rising part to fit on its own"
