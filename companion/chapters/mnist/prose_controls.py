"""Chapter 3's prose about the controls: the checkpoint grid, the full-batch GD arm, the epoch view,
the held-out threshold and the train-test gap, the theorem's summed target, the rule's sensitivity and
the baselines. Each function writes its glue names (literal) into ``out`` from :mod:`.findings`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...stats import laws, paired
from ...stats import thresholds as thr
from ...stats.thresholds import Rule
from .findings import (ALPHA, crossings as unit_crossings, finite, fit_row, heldout_pairs, most_sizes_met,
                       ratio, sig_down, sig_up, p_ok, sizes_met, summed_nmax, summed_table)
from .params import SOURCE_LIMITS
from .prose_words import (Context, count_steps, growth_words, increments, laws_text, n_words, range_words,
                          step_words, with_coverage)

#: Glue names (literal, so that ``grep NAME`` finds this code).
_GD_FIELDS = ("tstar_smallest", "tstar_largest", "growth", "reached", "laws", "log_b")
GD_NAMES = {"dense": dict(zip(_GD_FIELDS, ("ch3_gd_dense_tstar_smallest", "ch3_gd_dense_tstar_largest",
                                           "ch3_gd_dense_growth", "ch3_gd_dense_reached", "ch3_gd_dense_laws",
                                           "ch3_gd_dense_log_b"))),
            "greedy": dict(zip(_GD_FIELDS, ("ch3_gd_greedy_tstar_smallest", "ch3_gd_greedy_tstar_largest",
                                            "ch3_gd_greedy_growth", "ch3_gd_greedy_reached", "ch3_gd_greedy_laws",
                                            "ch3_gd_greedy_log_b")))}
#: The first two targets eps (a third and more are said in the sentence, not glued on their own).
SUMMED_EPS_NAMES = ("ch3_summed_eps_0", "ch3_summed_eps_1")
SUMMED_NAMES = ({("sgd", "dense"): "ch3_summed_sgd_dense_0_nmax", ("sgd", "greedy"): "ch3_summed_sgd_greedy_0_nmax",
                 ("gd", "dense"): "ch3_summed_gd_dense_0_nmax", ("gd", "greedy"): "ch3_summed_gd_greedy_0_nmax"},
                {("sgd", "dense"): "ch3_summed_sgd_dense_1_nmax", ("sgd", "greedy"): "ch3_summed_sgd_greedy_1_nmax",
                 ("gd", "dense"): "ch3_summed_gd_dense_1_nmax", ("gd", "greedy"): "ch3_summed_gd_greedy_1_nmax"})
SENS_NAMES = (("ch3_sens_level_lo", "ch3_sens_tsmall_lo", "ch3_sens_tlarge_lo"),
              ("ch3_sens_level_hi", "ch3_sens_tsmall_hi", "ch3_sens_tlarge_hi"))
FINAL_NAMES = {("dense", "train"): "ch3_final_dense_train", ("dense", "test"): "ch3_final_dense_test",
               ("greedy", "train"): "ch3_final_greedy_train", ("greedy", "test"): "ch3_final_greedy_test",
               ("random", "train"): "ch3_final_random_train", ("random", "test"): "ch3_final_random_test",
               ("magnitude", "train"): "ch3_final_magnitude_train",
               ("magnitude", "test"): "ch3_final_magnitude_test"}


def met_words(summed: pd.DataFrame, method: str) -> tuple[str, int]:
    """Where every seed of ``method`` meets the theorem's target, in words ('only at N = 250 (GD,
    eps = 50)', 'at no size'), and the most sizes met within one arm and one eps (a law needs three)."""
    parts = [f"N = {n_words(n)} ({optimizer.upper()}, ε = {eps:g})" for optimizer in ("sgd", "gd")
             for n, eps in sizes_met(summed, optimizer, method).items()]
    most = most_sizes_met(summed, method)
    if not parts:
        return "at no size", 0
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return ("only at " if most < 3 else "at ") + listed, most


def grid(out: dict, c: Context) -> pd.DataFrame:
    """How the checkpoint grid moves T* (units crossing the level more than once, a grid twice as
    coarse) against the spread over seeds, and how many units meet the rule within the budget: the
    interpolation errors (n, seed, t_star, t_star_half, abs_diff)."""
    p, w, rule, sgd, train = c.p, c.w, c.rule, c.sgd, c.train
    th, means = c.arm.thresholds, c.arm.means
    # Units whose subnetwork crosses the level more than once (then "the first crossing" depends on
    # which checkpoints are recorded, whatever the interpolation)
    kw = dict(rule=rule.kind, metric=rule.metric, delta=rule.delta, level=rule.level)
    interp = thr.interpolation_error(sgd, method="greedy", **kw).dropna()
    if rule.kind == "reaches":
        crossings = unit_crossings(train, rule)
        share = float((crossings["crossings"] > 1).mean())
        out["ch3_multi_cross_share"] = share
        moved = interp.merge(crossings, on=["n", "seed"])
        big = moved[moved["abs_diff"] > moved["abs_diff"].quantile(0.9)] if len(moved) else moved
        share_big = float((big["crossings"] > 1).mean()) if len(big) else np.nan
        if share == 0:
            out["ch3_multi_cross_sentence"] = ("No unit's subnetwork crosses the level more than once, so \"the first "
                                               "crossing\" is well defined in every unit")
        elif finite(share_big) and share_big > share:
            out["ch3_multi_cross_sentence"] = (
                f"The large moves come from subnetworks whose training {rule.metric} crosses the level more than "
                f"once ({share:.0%} of the units, {share_big:.0%} of the largest tenth of moves): there the first "
                "crossing depends on which iterations are recorded")
        else:
            out["ch3_multi_cross_sentence"] = (
                f"{share:.0%} of the units cross the level more than once, but they are no more frequent among the "
                "large moves" + (f" ({share_big:.0%} of the moves beyond the 90th percentile)" if finite(share_big) else ""))
    else:
        out["ch3_multi_cross_share"] = np.nan
        out["ch3_multi_cross_sentence"] = ("Under the within_delta rule T* is the first time within the tolerance; "
                                           "later crossings are not counted")
    # Interpolation error of the grid against the spread over seeds
    out |= {"ch3_interp_median": float(interp["abs_diff"].median()) if len(interp) else np.nan,
            "ch3_interp_p90": float(interp["abs_diff"].quantile(0.9)) if len(interp) else np.nan,
            "ch3_seed_sd_median": float(sd.median()) if len(sd := means["greedy"]["sd"].dropna()) else np.nan,
            "ch3_seed_sd_min": float(sd.min()) if len(sd) else np.nan}
    if not len(interp):
        out["ch3_resolution_sentence"] = (f"How much the checkpoint grid moves T* cannot be measured: no unit "
                                          f"{w.reach} on both grids")
    else:
        text = (f"Dropping every other checkpoint (a grid twice as coarse) moves a unit's T* by "
                f"{count_steps(out['ch3_interp_median'])} (median; 90% of units by at most {out['ch3_interp_p90']:.0f})")
        if not finite(out["ch3_seed_sd_min"]):
            text += "; with fewer than two seeds per size there is no spread over seeds to compare it with"
        elif out["ch3_interp_median"] < out["ch3_seed_sd_median"]:
            text += (f", while the standard deviation over seeds at one size is at least {out['ch3_seed_sd_min']:.0f} "
                     f"steps (median {out['ch3_seed_sd_median']:.0f})")
        else:
            text += (f", as much as the standard deviation over seeds at one size or more (at least "
                     f"{out['ch3_seed_sd_min']:.0f} steps, median {out['ch3_seed_sd_median']:.0f})")
        out["ch3_resolution_sentence"] = text
    n_missed, n_all = int((~th["greedy"]["reached"]).sum()), len(th["greedy"])
    out["ch3_budget_words"] = ("here every unit reaches it within the budget" if n_missed == 0 else
                               f"here no unit gets there within the {p.steps:,} steps (every T* is undefined)"
                               if n_missed == n_all else
                               f"here {n_missed} of the {n_all} units {'does' if n_missed == 1 else 'do'} not get "
                               f"there within the {p.steps:,} steps ({'its' if n_missed == 1 else 'their'} T* is "
                               "undefined, left out of the means and counted in the table below)")
    return interp


def gd_arm(out: dict, c: Context) -> pd.DataFrame:
    """The full-batch GD arm (the same rule), and SGD over the sizes both arms cover: the GD arm's
    paired steps between neighbouring sizes."""
    p, w, wg = c.p, c.w, c.wg
    th, means, steps = c.arm.thresholds, c.arm.means, c.arm.paired
    shape = c.arm.growth["greedy"]
    n0 = shape.n0
    # The full-batch GD arm (same rule), and SGD over the same sizes
    gth, gd_fits, gmeans = c.gd_arm.thresholds, c.gd_arm.fits, c.gd_arm.means
    lo_gd, hi_gd = min(p.gd_sizes), max(p.gd_sizes)
    for q, name in GD_NAMES.items():
        m = gmeans[q]["mean"]
        out |= {name["tstar_smallest"]: float(m.get(lo_gd, np.nan)),
                name["tstar_largest"]: float(m.get(hi_gd, np.nan)),
                name["growth"]: ratio(m.get(hi_gd, np.nan), m.get(lo_gd, np.nan)),
                name["reached"]: float(gth[q]["reached"].mean()),
                name["laws"]: laws_text(gd_fits[gd_fits["quantity"] == q])}
        out[name["log_b"]] = float(fit_row(gd_fits, q, "log")["b"])
    gd_steps = c.gd_arm.paired["greedy"]
    out["ch3_gd_greedy_increments"] = increments(gd_steps, wg)
    gm_g = gmeans["greedy"]["mean"]
    if finite(gm_g.get(lo_gd, np.nan), gm_g.get(hi_gd, np.nan)):
        rng_words = f"goes from {gm_g[lo_gd]:.0f} iterations at N = {n_words(lo_gd)} to {gm_g[hi_gd]:.0f} at N = {n_words(hi_gd)}"
    else:
        rng_words = "is " + range_words(gth["greedy"], lo_gd, hi_gd, wg, why=False)
    out["ch3_gd_range_words"] = with_coverage(rng_words, gth["greedy"], wg)
    out["ch3_gd_steps_words"] = ("measured at one size only" if not len(gd_steps) else
                                 "with no change from one size to the next defined"
                                 if out["ch3_gd_greedy_increments"].startswith("not defined at any") else
                                 f"changing by {out['ch3_gd_greedy_increments']} from one size to the next")
    out["ch3_gd_last_step"] = (step_words(gd_steps.iloc[-1].to_dict(), wg) if len(gd_steps) else
                               "there is no step between sizes to test")
    common = sorted(set(p.sizes) & set(p.gd_sizes))
    out["ch3_common_progress"] = f"Each GD iteration costs as much as N / {p.batch_size} SGD steps"
    agree = False
    if len(common) >= 2:
        a, b = common[0], common[-1]
        out |= {"ch3_common_lo": a, "ch3_common_hi": b,
                "ch3_common_sgd_growth": ratio(means["greedy"]["mean"].get(b, np.nan), means["greedy"]["mean"].get(a, np.nan)),
                "ch3_common_gd_growth": ratio(gmeans["greedy"]["mean"].get(b, np.nan), gmeans["greedy"]["mean"].get(a, np.nan))}
        r_s = paired.ratio_change(th["greedy"], a, b)
        r_g = paired.ratio_change(gth["greedy"], a, b)
        c_s = paired.paired_change(th["greedy"], a, b)
        c_g = paired.paired_change(gth["greedy"], a, b)

        def arm_word(c):
            return ("grows" if sig_up(c) else "falls" if sig_down(c) else
                    "does not change significantly" if p_ok(c) else "cannot be tested")

        ws, wgd = arm_word(c_s), arm_word(c_g)
        span = f"N = {n_words(a)} to {n_words(b)}"
        if not finite(r_s["ratio"], r_g["ratio"]):
            missing, r = ("GD", r_g) if not finite(r_g["ratio"]) else ("SGD", r_s)
            why = (f"under {missing} no seed {w.reach} at both N = {n_words(a)} and {n_words(b)}" if r["seeds"] == 0 else
                   f"under {missing} T* is 0 at N = {n_words(a)}")
            out["ch3_verdict_gd"] = f"cannot be compared with SGD over the sizes both cover ({why})"
            out["ch3_common_sentence"] = f"Over the sizes both arms cover ({span}) their growth cannot be compared: {why}"
            out["ch3_common_factors"] = out["ch3_common_sentence"]
            out["ch3_gd_conclusion"] = "Without that comparison this check cannot tell the two explanations apart"
        else:
            intervals = finite(r_s["lo"], r_s["hi"], r_g["lo"], r_g["hi"])
            agree = intervals and r_s["lo"] <= r_g["hi"] and r_g["lo"] <= r_s["hi"]
            fac = f"a factor {r_g['ratio']:.2f} against {r_s['ratio']:.2f}"
            if agree and ws == wgd:
                out["ch3_verdict_gd"] = (f"grows as SGD does over the sizes both cover ({fac}), so a fixed SGD "
                                         "budget is not the cause" if wgd == "grows" else
                                         f"{wgd} over the sizes both cover, as SGD's does ({fac})")
            else:
                desc = {"grows": "a significant rise", "falls": "a significant fall",
                        "does not change significantly": "not significant", "cannot be tested": "not testable"}
                iv = (lambda r: f"; 95% interval {r['lo']:.2f} to {r['hi']:.2f}" if finite(r["lo"], r["hi"]) else "")
                text = (f"changes by a factor {r_g['ratio']:.2f} over the sizes both cover ({desc[wgd]}{iv(r_g)}), "
                        f"SGD's by {r_s['ratio']:.2f} ({desc[ws]}{iv(r_s)})")
                out["ch3_verdict_gd"] = text + (
                    ": too few seeds meet the rule at both sizes for an interval, so the two factors cannot be "
                    "compared by their spread" if not intervals else
                    ": the two factors differ beyond their spread" if not agree else
                    ": the factors agree within their spread, but the paired tests do not give the same verdict")
            iv = (lambda r: f" (95% interval {r['lo']:.2f} to {r['hi']:.2f})" if finite(r["lo"], r["hi"]) else "")
            factors = (f"Over the sizes both arms cover ({n_words(a)} to {n_words(b)}), the greedy threshold changes by a "
                       f"factor {r_g['ratio']:.2f} under GD{iv(r_g)} and {r_s['ratio']:.2f} under SGD{iv(r_s)}")
            out["ch3_common_factors"] = factors
            text = factors + f", and each GD iteration costs as much as N / {p.batch_size} SGD steps"
            cost = f"Each GD iteration costs as much as N / {p.batch_size} SGD steps"
            ts_, tg_ = means["greedy"]["mean"], gmeans["greedy"]["mean"]
            ratios = [tg_[n] / ts_[n] for n in (a, b) if finite(ts_.get(n, np.nan), tg_.get(n, np.nan)) and ts_[n] > 0]
            detail = (f"at N = {n_words(a)} GD needs {tg_[a]:.0f} iterations and SGD {ts_[a]:.0f} steps, at N = {n_words(b)} "
                      f"{tg_[b]:.0f} and {ts_[b]:.0f}")
            if len(ratios) == 2 and all(2 / 3 <= r <= 3 / 2 for r in ratios):
                text += f", yet buys about the same progress ({detail})"
                cost += f", yet buys about the same progress ({detail})"
            elif len(ratios) == 2:
                text += f"; per iteration the two arms progress differently ({detail})"
                cost += f"; per iteration the two arms progress differently ({detail})"
            out["ch3_common_sentence"] = text
            out["ch3_common_progress"] = cost
            if agree and ws == wgd == "grows":
                out["ch3_gd_conclusion"] = (
                    "So the threshold in iterations is set by how fast the population loss falls, not by how "
                    "often each image is seen: GD, which sees every image at every step, slows down with N as SGD does")
            elif agree and ws == wgd:
                out["ch3_gd_conclusion"] = (f"The threshold {ws} in either arm over these sizes, so this check cannot "
                                            "tell the two explanations apart")
            elif not intervals:
                out["ch3_gd_conclusion"] = ("With too few seeds for an interval this check cannot tell the two "
                                            "explanations apart")
            elif agree:
                out["ch3_gd_conclusion"] = ("The two factors agree within their spread but the paired tests do not "
                                            "give the same verdict, so this check cannot tell the two explanations apart")
            else:
                out["ch3_gd_conclusion"] = ("The two arms differ here, so the threshold in iterations depends on the "
                                            "optimiser, not only on how fast the population loss falls")
    else:
        out["ch3_verdict_gd"] = "cannot be compared with SGD: the two arms share fewer than two sizes"
        out["ch3_common_sentence"] = "The two arms share fewer than two sizes, so their growth cannot be compared directly"
        out["ch3_common_factors"] = out["ch3_common_sentence"]
        out["ch3_gd_conclusion"] = "Without that comparison this check cannot tell the two explanations apart"
    # whether GD levels off where SGD does
    text = f"Its arm stops at N = {n_words(hi_gd)} (its cost grows with N)"
    if shape.stops:
        beyond = [r for r in gd_steps.to_dict("records") if r["n_from"] >= n0]
        if len(beyond) >= 2 and all(p_ok(r) and r["p_value"] >= ALPHA for r in beyond):
            text += (f"; its {len(beyond)} steps beyond N = {n_words(n0)}, where SGD's threshold stops rising, do not "
                     "change significantly either")
        else:
            text += (f", {len(beyond)} step{'s' if len(beyond) != 1 else ''} beyond N = {n_words(n0)} where SGD's "
                     "threshold stops rising, so whether GD levels off at the same size as SGD the data cannot say")
    rel = {arm: [v for v in st["rel_mean"] if finite(v)] for arm, st in (("GD", gd_steps), ("SGD", steps["greedy"]))}
    if all(len(v) >= 2 for v in rel.values()):
        ends = ", ".join(f"{arm} from {v[0]:+.0%} to {v[-1]:+.0%}" for arm, v in rel.items())
        shrink = all(v[-1] < v[0] for v in rel.values())
        text += (f"; the relative increments shrink in both arms ({ends})" if shrink else
                 f"; the relative increments do not shrink in both arms ({ends})")
    out["ch3_gd_levels_sentence"] = text
    return gd_steps


def epochs_and_gap(out: dict, c: Context) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The epoch view (SGD: T* B / N epochs; a GD iteration is one epoch), the held-out threshold next to
    the training one, and the train-test gap at the threshold: (epochs, heldout, gap) frames."""
    p, w, rule, sgd, gd, smallest, largest = c.p, c.w, c.rule, c.sgd, c.gd, c.smallest, c.largest
    th, gth = c.arm.thresholds, c.gd_arm.thresholds
    # The epoch view (SGD: T* B / N epochs; a GD iteration is one epoch)
    epochs = pd.concat([th["greedy"].assign(optimizer="sgd", epochs=lambda f: f["t_star"] * p.batch_size / f["n"]),
                        gth["greedy"].assign(optimizer="gd", epochs=lambda f: f["t_star"])], ignore_index=True)
    em = epochs[epochs["optimizer"] == "sgd"].groupby("n")["epochs"].mean()
    e_s, e_l = float(em.get(smallest, np.nan)), float(em.get(largest, np.nan))
    out |= {"ch3_epochs_at_tstar_smallest": e_s, "ch3_epochs_at_tstar_largest": e_l}
    budget = out["ch3_epochs_largest"]
    at_l = th["greedy"][th["greedy"]["n"] == largest]
    k_l, n_l = int(at_l["reached"].sum()), len(at_l)
    if finite(e_s, e_l):
        text = (f"SGD's threshold {'falls' if e_l < e_s else 'rises'} from "
                f"{e_s:.1f} epochs at N = {n_words(smallest)} to {e_l:.2f} at N = {n_words(largest)}")
        about = "about one pass" if 0.5 <= e_l <= 2 else f"{e_l:.1f} passes"
        if k_l < n_l:
            text += (f": on the largest set the seeds that get there need {about}, but within the budget of "
                     f"{budget:.0f} passes only {k_l} of {n_l} seeds get there at all, so the budget binds")
        elif e_l <= budget / 2:
            text += (f": on the largest set it is good after {about}; the budget of "
                     f"{budget:.0f} passes does not bind")
        else:
            text += (f": on the largest set the subnetwork is good after {about}, more than half of the budget of "
                     f"{budget:.0f} passes")
    else:
        text = (f"Counted in passes over the data, SGD's threshold is not defined at N = "
                f"{n_words(smallest if not finite(e_s) else largest)}: no seed gets there within the budget of "
                f"{p.steps * p.batch_size / (smallest if not finite(e_s) else largest):.0f} passes")
    out["ch3_epochs_sentence"] = text

    # The threshold on held-out accuracy next to the training one: if a fixed level becomes a property
    # of the population at large N, the two thresholds meet there
    heldout, ho_numbers = heldout_thresholds(sgd, th["greedy"], rule, smallest, largest)
    out |= ho_numbers

    # The train-test gap at the greedy threshold
    gap = pd.concat([thr.at_threshold(sgd, th["greedy"], method=mth).assign(method=mth, optimizer="sgd")
                     for mth in ("greedy", "dense")] +
                    [thr.at_threshold(gd, gth["greedy"], method=mth).assign(method=mth, optimizer="gd")
                     for mth in ("greedy", "dense")], ignore_index=True)
    gm = gap[(gap["optimizer"] == "sgd") & (gap["method"] == "greedy")].groupby("n")[["gap", "test"]].mean()
    gs_, gl_ = float(gm["gap"].get(smallest, np.nan)), float(gm["gap"].get(largest, np.nan))
    ts_s, ts_l = float(gm["test"].get(smallest, np.nan)), float(gm["test"].get(largest, np.nan))
    out |= {"ch3_gap_smallest": gs_, "ch3_gap_largest": gl_, "ch3_test_at_tstar_smallest": ts_s,
            "ch3_test_at_tstar_largest": ts_l}
    tol = 2 * np.sqrt(min(max(ts_l, 0.0), 1.0) * (1 - min(max(ts_l, 0.0), 1.0)) / p.n_test) if finite(ts_l) else np.nan
    population = finite(gs_, gl_) and abs(gl_) <= tol and gl_ < gs_
    if finite(gs_, gl_):
        out["ch3_gap_sentence"] = (f"At the subnetwork's threshold its training accuracy exceeds its held-out accuracy by "
                                   f"{gs_:.3f} at N = {n_words(smallest)} {'but by only' if gl_ < gs_ else 'and by'} {gl_:.3f} "
                                   f"at N = {n_words(largest)} (held-out accuracy at the threshold {ts_s:.3f} and {ts_l:.3f})")
        out["ch3_population_sentence"] = (
            f"On large sets the fixed level is met where training and held-out accuracy agree (within twice the "
            f"sampling error of the {p.n_test:,} held-out images, {tol:.3f}): the population regime, in which a "
            "fixed-level threshold has no reason to depend on N" if population else
            f"At the largest N the gap is {'beyond' if abs(gl_) > tol else 'within'} twice the sampling error of the "
            f"{p.n_test:,} held-out images ({tol:.3f}) and {'shrinks' if gl_ < gs_ else 'does not shrink'} with N: "
            "this run does not show the fixed level being met as a population property")
        gap_text = (f"At the threshold the train–test gap is {gl_:+.3f} at the largest N (against {gs_:+.3f} at the "
                    "smallest)")
    else:
        missing = largest if not finite(gl_) else smallest
        out["ch3_gap_sentence"] = (f"The train–test gap at the subnetwork's threshold is not defined at N = {n_words(missing)} "
                                   f"(no seed {w.reach} there)")
        out["ch3_population_sentence"] = "Whether the level is met as a population property cannot be said here"
        gap_text = f"The train–test gap at the threshold is not defined at N = {n_words(missing)} (no seed {w.reach} there)"
    if finite(e_l):
        gap_text += f", and SGD gets there after {e_l:.1f} passes over the data"
    out["ch3_verdict_population"] = (("at large N a fixed level is a property of the population. "
                                      if population else "the controls do not show the level being met as a "
                                      "property of the population at large N. ") + gap_text)
    return epochs, heldout, gap


def summed(out: dict, c: Context) -> pd.DataFrame:
    """The theorem's target: half the summed squared training loss at most eps, per arm, method and
    size (the frame), and where every seed meets it."""
    p, w, sgd, gd, smallest, largest = c.p, c.w, c.sgd, c.gd, c.smallest, c.largest
    shape = c.arm.growth["greedy"]
    # The theorem's target: half the summed squared training loss <= eps
    summed = summed_table({"sgd": sgd, "gd": gd}, p.summed_eps)
    reach = {}  # (optimizer, method, i): 'up to N = 1,000' or 'at no size'
    for optimizer in ("sgd", "gd"):
        for mth in ("dense", "greedy"):
            for i, eps in enumerate(p.summed_eps):
                nmax = summed_nmax(summed, optimizer, mth, eps)
                reach[optimizer, mth, i] = f"up to N = {nmax:,}" if nmax is not None else "at no size"
                if i < len(SUMMED_NAMES):
                    out[SUMMED_NAMES[i][optimizer, mth]] = reach[optimizer, mth, i]
    for name, eps in zip(SUMMED_EPS_NAMES, p.summed_eps):
        out[name] = eps
    gbest = summed[(summed["optimizer"] == "sgd") & (summed["method"] == "greedy")]
    fs = float(gbest[gbest["n"] == smallest]["best_summed"].iloc[0])
    fl = float(gbest[gbest["n"] == largest]["best_summed"].iloc[0])
    out |= {"ch3_summed_greedy_floor_smallest": fs, "ch3_summed_greedy_floor_largest": fl}
    text = (f"the lowest summed loss of the {p.k}-neuron subnetwork is {fs:.0f} at N = {n_words(smallest)} and {fl:.0f} at "
            f"N = {n_words(largest)}")
    if largest == smallest:
        pass
    elif fl / largest >= 0.5 * fs / smallest:
        text += ": its mean loss has a floor (the O(1/k) term), so the summed loss grows like N times that floor"
    else:
        text += (f": its mean loss falls from {fs / smallest:.3g} to {fl / largest:.3g} per image, so the summed loss "
                 "grows more slowly than N")
    out["ch3_summed_floor_sentence"] = text
    parts = []
    for i, eps in enumerate(p.summed_eps):
        v = {(o, m): reach[o, m, i] for o in ("sgd", "gd") for m in ("dense", "greedy")}
        if i == 0:
            parts.append(f"With ε = {eps:g}, every seed of the dense network reaches the target {v['sgd', 'dense']} "
                         f"under SGD and {v['gd', 'dense']} under GD; the subnetwork, under SGD {v['sgd', 'greedy']}, "
                         f"under GD {v['gd', 'greedy']}")
        else:
            parts.append(f"With ε = {eps:g}: the dense network {v['sgd', 'dense']} (SGD) and {v['gd', 'dense']} (GD); "
                         f"the subnetwork, under SGD {v['sgd', 'greedy']}, under GD {v['gd', 'greedy']}")
    out["ch3_summed_targets_sentence"] = ". ".join(parts)
    met_g, most_g = met_words(summed, "greedy")
    met_d, _ = met_words(summed, "dense")
    count = {0: "no size", 1: "one size", 2: "two sizes"}
    if most_g < 3:
        out["ch3_summed_law_sentence"] = (f"So the theorem's threshold can be measured for the subnetwork at "
                                          f"{count[most_g]} at most per arm and ε, too few for a law; chapter 2 "
                                          "measures it in the theorem's setting instead")
        out["ch3_summed_verdict"] = (f"{met_g}, so MNIST cannot test the theorem's law itself; chapter 2 does, in "
                                     "the theorem's setting")
    else:
        out["ch3_summed_law_sentence"] = (f"A threshold in the theorem's sense can be measured for the subnetwork at "
                                          f"{most_g} sizes within one arm and one ε, enough for a law; chapter 2 "
                                          "measures it in the theorem's exact setting as well")
        out["ch3_summed_verdict"] = (f"{met_g}: enough sizes for a law; chapter 2 tests it in the theorem's "
                                     "exact setting")
    out["ch3_summed_caveat"] = f"all seeds of the subnetwork reach such a target {met_g}; of the dense network, {met_d}"
    out["ch3_fixed_level_words"] = ("its flattening at large N is what a fixed level predicts" if shape.stops else
                                    f"the shape it shows here (the threshold {growth_words(shape, w)}) is a property "
                                    "of that threshold" if shape.defined else "what it shows here is a property of that threshold")
    return summed


def sensitivity(out: dict, c: Context) -> pd.DataFrame:
    """How the conclusion moves with the threshold rule (SGD arm, greedy and dense): the frame."""
    p, sgd, train, smallest, largest = c.p, c.sgd, c.train, c.smallest, c.largest
    # How the conclusion moves with the threshold rule (SGD arm, greedy and dense)
    sens = pd.concat([laws.sensitivity(sgd, metric="loss", deltas=list(p.deltas), levels=list(p.levels),
                                           method=mth).assign(method=mth) for mth in ("greedy", "dense")],
                     ignore_index=True)

    def direction(rows):
        up = int((rows["t_star_largest_n"] > rows["t_star_smallest_n"]).sum())
        down = int((rows["t_star_largest_n"] < rows["t_star_smallest_n"]).sum())
        return np.sign(up - down)

    def trend(rows, noun):
        up = int((rows["t_star_largest_n"] > rows["t_star_smallest_n"]).sum())
        down = int((rows["t_star_largest_n"] < rows["t_star_smallest_n"]).sum())
        undefined = int((~np.isfinite(rows["t_star_largest_n"] - rows["t_star_smallest_n"])).sum())
        text = f"T* grows from the smallest to the largest N for {up} and shrinks for {down} of {len(rows)} {noun}"
        return text + (f" (not defined for {undefined})" if undefined else "")

    gs = sens[sens["method"] == "greedy"]
    by_level = gs[gs["rule"] == "reaches"].sort_values("value")
    for (level, tsmall, tlarge), row in zip(SENS_NAMES, (by_level.iloc[0], by_level.iloc[-1])):
        out |= {level: float(row["value"]), tsmall: float(row["t_star_smallest_n"]),
                tlarge: float(row["t_star_largest_n"])}
    out |= {"ch3_sens_trend_delta": trend(gs[gs["rule"] == "within_delta"], "tolerances"),
            "ch3_sens_trend_level": trend(gs[gs["rule"] == "reaches"], "levels"),
            "ch3_sens_unreached": ", ".join(f"{r.rule.replace('_', ' ')} {r.value:g} ({r.reached:.0%} of units)"
                                            for r in gs[gs["reached"] < 1].itertuples()) or "none"}
    lv, dl = direction(gs[gs["rule"] == "reaches"]), direction(gs[gs["rule"] == "within_delta"])
    best_loss = train[train["method"] == "greedy"].groupby(["n", "seed"])["loss"].min().groupby("n").mean()
    bl_s, bl_l = float(best_loss[smallest]), float(best_loss[largest])
    if lv > 0 and dl < 0:
        out["ch3_sens_direction"] = "The two rules disagree about the direction"
    elif lv == dl != 0:
        out["ch3_sens_direction"] = "The two rules agree about the direction"
    else:
        out["ch3_sens_direction"] = "The two rules do not each give one direction"
    if lv > 0 and dl < 0 and bl_l > bl_s:
        out["ch3_sens_explain"] = (f"On more data the subnetwork's training loss levels off sooner and higher "
                                   f"(best {bl_s:.3g} at the smallest N, {bl_l:.3g} at the largest), so \"close to "
                                   "its own best\" comes earlier while a fixed target comes later")
    else:
        out["ch3_sens_explain"] = (f"The subnetwork's best training loss over the grid is {bl_s:.3g} at the smallest N "
                                   f"and {bl_l:.3g} at the largest")
    acc_l = train[(train["method"] == "greedy") & (train["n"] == largest)].groupby("t")["accuracy"].mean().max()
    lo_r, hi_r = by_level.iloc[0], by_level.iloc[-1]
    ends = (f"at {lo_r['value']:.2f} it goes from {lo_r['t_star_smallest_n']:.0f} to {lo_r['t_star_largest_n']:.0f} "
            f"steps, at {hi_r['value']:.2f} from {hi_r['t_star_smallest_n']:.0f} to {hi_r['t_star_largest_n']:.0f}")
    plateau = f"the {p.k}-neuron subnetwork's best accuracy ({acc_l:.3f} at the largest N)"
    if len(by_level) < 2:
        out["ch3_sens_levels_sentence"] = ("Only one accuracy level is compared, so how T* grows with the level is "
                                           "not measured here")
    elif finite(lo_r["t_star_smallest_n"], lo_r["t_star_largest_n"], hi_r["t_star_smallest_n"],
                 hi_r["t_star_largest_n"]) and lo_r["t_star_smallest_n"] > 0 and hi_r["t_star_smallest_n"] > 0:
        if hi_r["t_star_largest_n"] / hi_r["t_star_smallest_n"] > lo_r["t_star_largest_n"] / lo_r["t_star_smallest_n"]:
            out["ch3_sens_levels_sentence"] = (
                f"The closer a fixed level comes to {plateau}, the faster T* grows: {ends}")
        else:
            out["ch3_sens_levels_sentence"] = f"T* does not grow faster at levels closer to {plateau}: {ends}"
    else:
        undefined = [f"{r['value']:.2f}" for r in (lo_r, hi_r)
                     if not (finite(r["t_star_smallest_n"], r["t_star_largest_n"]) and r["t_star_smallest_n"] > 0)]
        out["ch3_sens_levels_sentence"] = (f"How fast T* grows cannot be compared across levels: at "
                                           f"{' and '.join(undefined)} it is not defined (no seed reaches the level at "
                                           f"the smallest or the largest N, or T* is 0 there; for comparison: {plateau})")
    return sens


def baselines(out: dict, c: Context) -> None:
    """Greedy against the baselines at the largest N, end of pre-training; why sizes stop where they do."""
    p, sgd, largest = c.p, c.sgd, c.largest
    # Greedy against the baselines at the largest N, end of pre-training
    final = (sgd[(sgd["t"] == c.last_t) & (sgd["n"] == largest)]
             .groupby(["method", "split"])["accuracy"].mean())
    for key, name in FINAL_NAMES.items():
        out[name] = float(final.get(key, np.nan))

    # Why sizes stop where they do
    max_train = SOURCE_LIMITS[p.source][0]
    src = {"torchvision": "MNIST", "embedded": "the embedded pool"}[p.source]
    if largest >= 0.9 * max_train:
        pool = {"torchvision": 60_000, "embedded": 4_000}[p.source]
        out["ch3_sizes_caveat"] = (f"Sizes stop at {largest:,}, not at the full {pool:,} images: a class-balanced subset "
                                   f"of {src} holds at most {max_train:,} images (digit 5 has only {max_train // 10:,} "
                                   "training images)" if p.source == "torchvision" else
                                   f"Sizes stop at {largest:,}, near the whole embedded pool ({max_train:,} images, "
                                   f"{max_train // 10:,} of each digit)")
    else:
        out["ch3_sizes_caveat"] = (f"Sizes stop at {largest:,}, the largest chosen for this run (a class-balanced subset "
                                   f"of {src} could hold up to {max_train:,} images)")


def loss_gap_sentence(sgd: pd.DataFrame, n: int, t_star: float, k: int) -> str:
    """Greedy minus dense mean training loss at size ``n``, at t = 0, at the checkpoint nearest the
    subnetwork's mean T* and at the end: the theorem bounds the pruned loss by the dense loss plus an
    O(1/k) term; whether the measured gap is anything like a constant is for the data to say."""
    train = sgd[(sgd["split"] == "train") & (sgd["n"] == n) & sgd["method"].isin(["greedy", "dense"])]
    if train.empty:
        return f"The loss gap between the subnetwork and the dense network is not defined at N = {n_words(n)}"
    loss = train.groupby(["t", "method"])["loss"].mean().unstack()
    ts = loss.index.to_numpy()
    picks = [("t = 0", ts.min())]
    if finite(t_star):
        picks.append((f"t = {int(ts[np.argmin(np.abs(ts - t_star))]):,} (near T*)", ts[np.argmin(np.abs(ts - t_star))]))
    picks.append((f"t = {int(ts.max()):,}", ts.max()))
    gaps = [(label, float(loss.loc[t, "greedy"] - loss.loc[t, "dense"])) for label, t in picks]
    parts = ", ".join(f"{g:+.3f} at {label}" for label, g in gaps)
    values = [g for _, g in gaps]
    spread = max(values) - min(values)
    if spread > 0.5 * max(abs(v) for v in values):
        verdict = ("not a constant O(1/k) term" + (": it changes sign" if min(values) < 0 < max(values) else
                                                  ": it changes with pre-training"))
    else:
        verdict = "roughly constant over pre-training, as a fixed O(1/k) term would be"
    return (f"At N = {n_words(n)} the {k}-neuron subnetwork's mean training loss minus the dense network's is "
            f"{parts}; {verdict}")


def heldout_thresholds(sgd: pd.DataFrame, train_ts: pd.DataFrame, rule: Rule, smallest: int,
                       largest: int) -> tuple[pd.DataFrame, dict]:
    """The greedy subnetwork's T* on held-out accuracy, next to its T* on training accuracy (the same
    rule): a tidy frame (n, seed, split, t_star) and the numbers and sentence the prose quotes. Where
    the mean difference (held-out - training) changes sign between two sizes, the thresholds meet
    there; the paired difference at the largest N says whether they still differ."""
    frame, pair = heldout_pairs(sgd, train_ts, rule)
    means = frame.groupby(["split", "n"])["t_star"].mean().unstack(0)
    out = {name: float(means["held-out"].get(n, np.nan)) if "held-out" in means else np.nan
           for name, n in (("ch3_heldout_tstar_smallest", smallest), ("ch3_heldout_tstar_largest", largest))}
    diff = pair.groupby("n")["diff"].mean().dropna()
    if len(diff) == 0:
        out["ch3_heldout_sentence"] = ("The threshold on held-out accuracy is not defined here: no seed meets the "
                                       "rule on both the training and the held-out images at any size")
        out["ch3_heldout_head"] = "The threshold on held-out accuracy is not defined here"
        out["ch3_heldout_rest"] = "No seed meets the rule on both the training and the held-out images at any size"
        return frame, out
    ts_, tl_ = out["ch3_heldout_tstar_smallest"], out["ch3_heldout_tstar_largest"]
    head = (f"On held-out accuracy the subnetwork's T* goes from {ts_:,.0f} steps at N = {n_words(smallest)} to "
            f"{tl_:,.0f} at N = {n_words(largest)}" if finite(ts_, tl_) else
            "On held-out accuracy the subnetwork's threshold is not defined at the smallest or the largest size")
    sign = np.sign(diff.to_numpy())
    flips = [i for i in range(1, len(sign)) if sign[i] != sign[i - 1] or sign[i] == 0]
    where = ""
    if flips:
        lo, hi = diff.index[flips[0] - 1], diff.index[flips[0]]
        where = f"; the two meet between N = {n_words(lo)} and N = {n_words(hi)}"
        out["ch3_heldout_meet_lo"], out["ch3_heldout_meet_hi"] = int(lo), int(hi)
    else:
        side = "above" if sign[0] > 0 else "below"
        where = f"; the held-out threshold stays {side} the training one at every size measured"
    last = pair[(pair["n"] == diff.index.max())]["diff"].dropna()
    test = paired.paired_test(last.to_numpy(float))
    if finite(test["ci_lo"], test["ci_hi"]):
        lo, hi = test["ci_lo"], test["ci_hi"]
        out |= {"ch3_heldout_diff_largest": float(last.mean()), "ch3_heldout_diff_lo": float(lo),
                "ch3_heldout_diff_hi": float(hi)}
        tail = (f" (at the largest N held-out minus training is {last.mean():+,.0f} steps, 95% interval "
                f"{lo:+,.0f} to {hi:+,.0f})")
    else:
        tail = (f" ({len(last)} seed{'s' if len(last) != 1 else ''} at N = {n_words(diff.index.max())}: no interval "
                f"with fewer than {paired.MIN_PAIRS})")
    out["ch3_heldout_sentence"] = head + where + tail
    rest = where.removeprefix("; ")
    out["ch3_heldout_head"], out["ch3_heldout_rest"] = head, rest[:1].upper() + rest[1:] + tail
    return frame, out

