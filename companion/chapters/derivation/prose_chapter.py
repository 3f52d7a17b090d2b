"""Chapter 2's summary: every number its prose quotes, the phrases whose truth depends on them, and
the tables its figures draw (:func:`summarize`); the steps' and the verdict's sentences, chosen from the
numbers. One group's numbers and phrases are :func:`.prose.group_numbers`."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ... import theory
from ...stats import laws, thresholds
from ...display import Summary
from .findings import (COLLAPSE_RMSE, ENVELOPE_TOLERANCE, LINEAR_AGREEMENT, SLOPE_AGREEMENT, STEP4,
                       collapse_fit, group_label, inverse_k_fits, run_summary)
from .params import DerivationParams
from .prose import dim_name, group_name, group_numbers, group_text, num, range_words, step2_name, trend


def _above_words(every: pd.DataFrame) -> str:
    """Where runs are slower than their own slowest linearised direction: per group and size."""
    parts = []
    for runs_text, g in every.groupby("runs", sort=False):
        sizes = [str(int(n)) for n, gn in g.groupby("N") if gn["above_slowest"].any()]
        if sizes:
            parts.append(f"{runs_text} (N = {', '.join(sizes)})")
    return "; ".join(parts)


def _sets(keys: list, texts: dict) -> str:
    """Sets of runs for a phrase: named when there are at most three ("MNIST, fixed step; ..."), else
    counted (the table names them)."""
    if len(keys) <= 3:
        return "; ".join(texts[k] for k in keys)
    return f"{len(keys)} of the {len(texts)} sets of runs"


def _no_nan(numbers: dict) -> dict:
    """Every undefined number said in words: NaN or an infinity is glued as 'undefined' (the prose
    around each such quantity is a phrase that says why)."""
    return {k: ("undefined" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in numbers.items()}


def summarize(frames: dict[str, pd.DataFrame], p: DerivationParams) -> Summary:
    """Every number chapter 2's prose quotes, the phrases whose truth depends on them, and the tables
    its figures draw."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _summarize(frames, p)


def _summarize(frames: dict[str, pd.DataFrame], p: DerivationParams) -> Summary:
    runs, res, gk = frames["gd_runs"], frames["initial_residuals"], frames["greedy_vs_k"]
    every = run_summary(runs, p.eps, frames.get("linear_runs"))
    every["group"] = [group_label(r.dataset, r.d, r.rule) for r in every.itertuples()]
    every["runs"] = [group_text(r.dataset, r.d, r.rule) for r in every.itertuples()]
    # The two rules share the run of the largest N (same step): count each run once where runs are counted
    distinct = every.drop_duplicates(["dataset", "d", "N", "seed", "eta"])
    main_rule = "fixed" if "fixed" in p.step_rules else p.step_rules[0]
    summary = every[(every.dataset == "sphere") & (every.rule == main_rule)]   # steps 1 and 4
    dims = [p.d_high, p.d_low]
    out = {"ch2_width": int(p.width), "ch2_d_high": int(p.d_high), "ch2_d_low": int(p.d_low),
           "ch2_eps": float(p.eps), "ch2_k": int(p.k), "ch2_n_runs": int(len(summary)),
           "ch2_n_seeds": int(len(p.seeds)), "ch2_n_runs_all": int(len(distinct)),
           "ch2_mnist_width": int(p.mnist_width), "ch2_mnist_n_seeds": int(len(p.mnist_seeds)),
           "ch2_mnist_k_share": float(p.k / p.mnist_width),
           "ch2_num_checkpoints": int(p.num_checkpoints),
           "ch2_grid_ratio": float(np.exp(np.log(every["steps"].max()) / (p.num_checkpoints - 1))),
           "ch2_bound_slope": theory.bound_slope(), "ch2_slowest_slope": theory.slowest_direction_slope(0.0),
           "ch2_rate_factor": theory.bound_slope() / theory.slowest_direction_slope(0.0),
           "ch2_pruned_tolerance": float(thresholds.PRUNED_TOLERANCE), "ch2_law_margin": float(laws.LAW_MARGIN),
           "ch2_lin_agreement": float(LINEAR_AGREEMENT),
           "ch2_rules_words": ("every dataset and both step rules" if len(p.step_rules) == 2 else
                               f"every dataset, {'fixed step' if p.step_rules[0] == 'fixed' else 'step per N'} only")}
    for d in dims:
        s = summary[summary.d == d]
        lam = s.groupby("N")["lambda_0"].mean()
        out |= {dim_name(d, "eta"): float(s["eta"].iloc[0]), dim_name(d, "nmin"): int(s["N"].min()),
                dim_name(d, "nmax"): int(s["N"].max()), dim_name(d, "lam_small"): float(lam.iloc[0]),
                dim_name(d, "lam_large"): float(lam.iloc[-1]),
                dim_name(d, "lam_trend"): trend(s, "lambda_0")}

    # Step 1: linear convergence, over every distinct run of every dataset and step rule
    ok = distinct["max_ratio"] <= 1 + ENVELOPE_TOLERANCE
    fails = distinct[~ok]
    where = sorted({f"{r.runs.split(',')[0]}, N = {r.N}" for r in fails.itertuples()})
    ratio = distinct[ok]["t_dense"] / distinct[ok]["t_gd"]
    out |= {"ch2_s1_n_hold": int(ok.sum()), "ch2_s1_n_fail": int((~ok).sum()),
            "ch2_s1_fail_text": "none" if fails.empty else "; ".join(
                f"{r.runs}, N = {r.N}, seed {r.seed} (ratio {num(r.max_ratio, '.1f')})" for r in fails.itertuples()),
            "ch2_s1_worst": float(distinct["max_ratio"].max()),
            "ch2_s1_fail_where": "No run leaves the envelope." if fails.empty else (
                ("They are all at " if len(where) > 1 or len(fails) > 1 else "It is at ") + "; ".join(where)
                + (", where λ0 is small" if fails.lambda_0.mean() < 0.5 * distinct.lambda_0.mean() else "")
                + f" (mean λ0 {num(fails.lambda_0.mean(), '.4f')}, against "
                  f"{num(distinct.lambda_0.mean(), '.4f')} over all runs)."),
            "ch2_s1_speed_min": float(ratio.min()) if len(ratio) else float("nan"),
            "ch2_s1_speed_max": float(ratio.max()) if len(ratio) else float("nan")}
    out["ch2_s1_holds_words"] = ("holds in every one of them" if fails.empty else
                                 f"fails in {len(fails)} ({out['ch2_s1_fail_text']})")
    r_ok = ratio.dropna()
    if not len(r_ok):
        out["ch2_s1_loose"] = "of unmeasured looseness"
        out["ch2_s1_speed_words"] = ("No run that stays below the envelope reached ε, so how loose the "
                                     "envelope is cannot be measured.")
    else:
        loose = r_ok.max() < 0.9
        out["ch2_s1_loose"] = "loose" if loose else "close to tight in some runs"
        out["ch2_s1_speed_words"] = (
            f"Where the envelope holds it is {'loose' if loose else 'close to tight in some runs'}: the "
            f"residual reaches ε after {range_words(r_ok.min(), r_ok.max())} times the iterations the envelope needs.")

    # The linearised dynamics (the code's loss 0.5 sum ||f - y||^2, step eta on that sum): per run
    lin = "t_slowest" in every
    if lin:
        lin_frame = frames["linear_runs"]
        reach = float((lin_frame["eta"] * (lin_frame["lambda_max"] + lin_frame["lambda_0"])).max())
        out["ch2_slowest_valid_words"] = (
            f"since every other direction decays faster (η(λmax + λ0) ≤ {num(reach, '.2f')} ≤ 2 in every run)"
            if reach <= 2 else
            f"as long as every other direction decays faster, η(λmax + λ0) ≤ 2, which fails in some runs here "
            f"(up to {num(reach, '.2f')}): there a fast direction decays more slowly than the slowest one")
        comp = distinct.dropna(subset=["t_dense", "t_slowest"])
        n_above = int(comp["above_slowest"].sum())
        out |= {"ch2_lin_n_compared": int(len(comp)), "ch2_lin_n_above": n_above,
                "ch2_lin_n_above_all": int(every["above_slowest"].sum()), "ch2_lin_n_all": int(len(every)),
                "ch2_lin_above_where": ("No run lies above it." if not n_above else
                                        f"{n_above} of the {len(comp)} distinct runs "
                                        f"{'lies' if n_above == 1 else 'lie'} above it: "
                                        + _above_words(every) + ".")}

    # Step 2: the initial residual
    out |= {"ch2_s2_n_seeds": int(res["seed"].nunique()), "ch2_s2_nmin": int(res["N"].min()),
            "ch2_s2_nmax": int(res["N"].max())}
    s2_ok = True
    for d in dims:
        g = res[res.d == d]
        big, small = g[g.N == g.N.max()], g[g.N == g.N.min()]
        exp = laws.fit_power_law(g["N"], g["residual"])["exponent"]
        rat = float((g["residual"] / g["expected"]).mean())
        s2_ok &= bool(abs(exp - 1) <= 0.1 and 0.75 <= rat <= 1.33)
        cv_l = float(big["residual"].std() / big["residual"].mean())
        cv_s = float(small["residual"].std() / small["residual"].mean())
        out |= {step2_name(d, "exp"): exp, step2_name(d, "ratio"): rat,
                step2_name(d, "per_n"): float((g["residual"] / g["N"]).mean()),
                step2_name(d, "cv_large"): cv_l, step2_name(d, "cv_small"): cv_s}
    mn = every[every.dataset == "mnist"]
    if len(mn):
        out["ch2_s2_mnist_per_n"] = float((mn["r0"] / mn["N"]).mean())
    out["ch2_s2_holds"] = "holds" if s2_ok else "holds only roughly"
    out["ch2_s2_words"] = ("This step holds." if s2_ok else
                           "This step holds only roughly here (an exponent more than 0.1 from 1, or a mean "
                           "ratio outside 0.75 to 1.33).")
    cvs = [(out[step2_name(d, "cv_small")], out[step2_name(d, "cv_large")]) for d in dims]
    out["ch2_s2_spread_words"] = (
        "shrinks with N" if all(b < 0.8 * a for a, b in cvs) else
        "grows with N" if all(b > 1.25 * a for a, b in cvs) else "does not shrink consistently with N")

    # Step 3: greedy selection against k
    fits = inverse_k_fits(gk)
    cw = fits.groupby(["stage", "width"])[["C", "C_envelope", "exponent", "dense_loss"]].mean()
    trained, init = cw.loc["trained"], cw.loc["init"]
    widths = list(trained.index)
    m_fit = laws.fit_power_law(trained.index, trained["C"])
    m_fit_env = laws.fit_power_law(trained.index, trained["C_envelope"])
    k_exps = fits[fits.stage == "trained"]["exponent"]
    mid = widths[len(widths) // 2]
    out |= {"ch2_s3_kmax": int(p.greedy_k_max), "ch2_s3_n": int(p.greedy_size),
            "ch2_s3_m_small": int(widths[0]), "ch2_s3_m_large": int(widths[-1]),
            "ch2_s3_C_small": float(trained["C"].iloc[0]), "ch2_s3_C_large": float(trained["C"].iloc[-1]),
            "ch2_s3_Cenv_small": float(trained["C_envelope"].iloc[0]),
            "ch2_s3_Cenv_large": float(trained["C_envelope"].iloc[-1]),
            "ch2_s3_C_exp_m": m_fit["exponent"], "ch2_s3_Cenv_exp_m": m_fit_env["exponent"],
            "ch2_s3_k_exp": float(k_exps.mean()), "ch2_s3_k_exp_min": float(k_exps.min()),
            "ch2_s3_k_exp_max": float(k_exps.max()),
            "ch2_s3_C_grows": "grows" if m_fit["exponent"] > 0 else "does not grow",
            # the k at which the fitted C/k falls to 1% of the loss of the zero predictor (0.5 per sample)
            "ch2_s3_k_needed_small": float(trained["C"].iloc[0] / 0.005),
            "ch2_s3_k_needed_large": float(trained["C"].iloc[-1] / 0.005),
            "ch2_s3_m_mid": int(mid), "ch2_s3_dense_init": float(init["dense_loss"].mean())}
    for kk, (value, init_loss, trained_loss) in [
            (int(p.k), ("ch2_s3_k_value", "ch2_s3_k_init", "ch2_s3_k_trained")),
            (int(gk["k"].max()), ("ch2_s3_kmax_value", "ch2_s3_kmax_init", "ch2_s3_kmax_trained"))]:
        kk = int(gk["k"][gk["k"] <= kk].max())   # the nearest k on the grid
        at = gk[(gk.width == mid) & (gk.k == kk)].groupby("stage")["loss"].mean()
        out |= {value: kk, init_loss: float(at["init"]), trained_loss: float(at["trained"])}
    kexp = out["ch2_s3_k_exp"]
    out["ch2_s3_rate_words"] = (
        "falls faster than 1/k" if k_exps.max() < -1.05 else "falls slower than 1/k" if k_exps.min() > -0.95
        else "falls about like 1/k")
    out["ch2_s3_rate_consequence"] = (
        "The fitted constant C of C/k therefore depends on the range of k it is fitted over; the rate itself "
        "is the better summary, and C/k is an upper bound that is loose at large k." if kexp < -1.05 else
        "C/k is then a fair summary of the gap.")
    helps = out["ch2_s3_k_trained"] < out["ch2_s3_k_init"] and out["ch2_s3_kmax_trained"] < out["ch2_s3_kmax_init"]
    beats = out["ch2_s3_kmax_init"] < 0.1 * out["ch2_s3_dense_init"]
    out["ch2_s3_pretrain_words"] = ("Pre-training helps" if helps else "Pre-training does not help at every k") + (
        ", but is not needed to fit." if beats else ", and the untrained subnetwork does not fit.")
    out["ch2_s3_init_words"] = (
        "Greedy selection with repeats on the untrained network already drives the loss far below the "
        f"untrained dense network's ({num(out['ch2_s3_dense_init'], '.2f')} on average): with neurons of "
        "size O(√m) the convex hull of the random features nearly contains the labels." if beats else
        "Greedy selection on the untrained network does not get far below the untrained dense network's "
        f"loss ({num(out['ch2_s3_dense_init'], '.2f')} on average).")
    below = bool((init["dense_loss"] > gk[gk.stage == "init"].groupby("width")["loss"].min()).all())
    out["ch2_s3_init_fit_words"] = (
        "(Because the subnetwork beats the dense network there, “dense + C/k” is not fitted at "
        "initialisation.)" if below else "(“Dense + C/k” is fitted after pre-training only.)")
    ratio_m = out["ch2_s3_k_needed_large"] / out["ch2_s3_m_large"]
    out["ch2_s3_size_words"] = (
        "In NTK scaling the guaranteed subnetwork is therefore not small compared with the dense network"
        if ratio_m >= 0.25 else "The guaranteed subnetwork is then smaller than the dense network")

    # Step 4 and the verdict: the three factors, the thresholds and the collapse, per group of runs
    law_rows, factor_rows, share_rows, lin_rows, set_rows = [], [], [], [], []
    for key, g in every.groupby("group", sort=False):
        nums = group_numbers(g, key)
        out |= nums
        for q in STEP4:
            cmp = laws.compare_laws(g["N"], g[q])
            law_rows.append({"runs": g["runs"].iloc[0], "quantity": q,
                             "a + b log N: b": cmp["log"]["b"], "LOSO error (log)": cmp["log"]["loso"],
                             "a N^b: b": cmp["power"]["b"], "LOSO error (power)": cmp["power"]["loso"],
                             "a + b N: b": cmp["linear"]["b"], "LOSO error (linear)": cmp["linear"]["loso"],
                             "best": cmp["best"]})
        for n, gn in g.groupby("N"):
            factor_rows.append({"runs": g["runs"].iloc[0], "N": n, "eta": gn["eta"].mean(),
                                "lambda_0": gn["lambda_0"].mean(), "log_r0_eps": gn["log_r0_eps"].mean(),
                                "t_bound": gn["t_bound"].mean(), "t_dense": gn["t_dense"].mean(),
                                "t_pruned": gn["t_pruned"].mean(),
                                "pruned_censored": int((gn["pruned_status"] == "censored").sum())})
            if lin:
                lin_rows.append({"runs": g["runs"].iloc[0], "N": n, "t_dense": gn["t_dense"].mean(),
                                 "t_lin_h0": gn["t_lin_h0"].mean(), "t_lin_inf": gn["t_lin_inf"].mean(),
                                 "t_slowest": gn["t_slowest"].mean(),
                                 "above_slowest": int(gn["above_slowest"].sum()), "seeds": len(gn)})
        best = nums.get(group_name(key, "dense_better"), "")
        set_rows.append({
            "runs": g["runs"].iloc[0],
            "N": f"{nums[group_name(key, 'nmin')]} → {nums[group_name(key, 'nmax')]}",
            "lam_exp": nums.get(group_name(key, "lam_exp"), float("nan")),
            "dense_exp": nums.get(group_name(key, "dense_exp"), float("nan")),
            "best_law": (f"{nums.get(group_name(key, 'dense_tied'), '')} tied" if best == "cannot be told apart"
                         else best),
            "log_share": nums.get(group_name(key, "log_share"), float("nan")),
            "collapse_c": nums.get(group_name(key, "collapse_c"), float("nan")),
            "collapse_rmse": nums.get(group_name(key, "collapse_rmse"), float("nan")),
            "const_rmse": nums.get(group_name(key, "const_rmse"), float("nan")),
            "lin_h0_small": nums.get(group_name(key, "lin_h0_small"), float("nan")),
            "lin_h0_large": nums.get(group_name(key, "lin_h0_large"), float("nan")),
            "lin_agrees": nums.get(group_name(key, "lin_agrees"), float("nan"))})
        share_rows.append({"runs": g["runs"].iloc[0], "N": f"{nums[group_name(key, 'nmin')]} → {nums[group_name(key, 'nmax')]}",
                           "total": nums[group_name(key, "share_total")], "1/η": nums[group_name(key, "share_eta")],
                           "1/λ0": nums[group_name(key, "share_lam")], "log": nums[group_name(key, "share_log")],
                           "rest": nums[group_name(key, "share_rest")]})
    pooled = collapse_fit(distinct["log_r0_eps"], distinct["collapse"])
    pooled_const = laws.constant_fit(distinct["collapse"])
    groups = list(every["group"].unique())
    slopes = [out[group_name(key, "collapse_c")] for key in groups]
    rmses = [out[group_name(key, "collapse_rmse")] for key in groups]
    out |= {"ch2_collapse_c": pooled["c"], "ch2_collapse_rmse": pooled["rel_rmse"],
            "ch2_const_rmse": pooled_const["rel_rmse"],
            "ch2_collapse_runs": pooled["runs"], "ch2_collapse_c_min": float(np.nanmin(slopes)),
            "ch2_collapse_c_max": float(np.nanmax(slopes))}
    out |= _collapse_words(every, out, groups, rmses)
    out |= _verdict_words(every, out, groups, p)
    texts = {key: every[every.group == key]["runs"].iloc[0] for key in groups}
    if lin:
        out["ch2_lin_n_agree"] = sum(out.get(group_name(k, "lin_agrees")) is True for k in groups)
        out["ch2_lin_n_sets"] = len(groups)
    out["ch2_s1_summary"] = (
        f"holds in {out['ch2_s1_n_hold']} of {out['ch2_n_runs_all']} distinct runs"
        + ("" if fails.empty else f" and fails in {len(fails)} ({out['ch2_s1_fail_text']})"))
    share = [k for k in groups if np.isfinite(out[group_name(k, "share_log")])]
    dominated = [k for k in share
                 if out[group_name(k, "share_lam")] + out[group_name(k, "share_eta")] > out[group_name(k, "share_log")]]
    out["ch2_share_headline"] = (
        "In every set of runs 1/λ0 and 1/η together carry more of the growth than the logarithm."
        if share and len(dominated) == len(share) else
        "1/λ0 and 1/η together carry more of the growth than the logarithm in "
        + ("; ".join(texts[k] for k in dominated) if dominated else "no set of runs")
        + (", the logarithm more in " + "; ".join(texts[k] for k in share if k not in dominated)
           if len(dominated) < len(share) else "") + "." if share else
        "The growth cannot be split in any set of runs (too few sizes reached ε).")
    weak = [k for k in groups if np.isfinite(out[group_name(k, "const_rmse")]) and np.isfinite(out[group_name(k, "collapse_rmse")])
            and out[group_name(k, "collapse_rmse")] <= COLLAPSE_RMSE
            and out[group_name(k, "const_rmse")] < 1.5 * out[group_name(k, "collapse_rmse")]]
    out["ch2_collapse_weak_words"] = (
        "A constant with no logarithm fits within a factor 1.5 of the line's RMSE in " + _sets(weak, texts)
        + ": there the logarithm varies too little over the sizes run for the collapse to identify it."
        if weak else "Wherever the runs collapse, the line beats a constant by more than a factor 1.5 in RMSE.")
    mn_all = every[every.dataset == "mnist"]
    if len(mn_all):
        top = int(mn_all["N"].max())
        out["ch2_mnist_width_words"] = ("well above every N" if p.mnist_width >= 2 * top else
                                        "not far above the largest N" if p.mnist_width >= top else
                                        f"below the largest N ({top})")
    reached = distinct.dropna(subset=["t_dense"])
    out |= {"ch2_s4_n_reached": int(len(reached)),
            "ch2_s4_n_bound_above": int((reached["t_bound"] >= reached["t_dense"]).sum())}

    # What float32 can resolve on MNIST (the summed residuals of the largest N)
    mn = every[every.dataset == "mnist"]
    if len(mn):
        big = mn[mn.N == mn.N.max()]
        dtype = np.float32 if p.mnist_dtype == "float32" else np.float64
        pruned_big = float(big["pruned_final"].mean())
        ulp = float(np.spacing(dtype(pruned_big)))
        out |= {"ch2_mnist_pruned_final_large": pruned_big, "ch2_mnist_ulp": ulp,
                "ch2_mnist_eps_ulps": float(p.eps / ulp), "ch2_mnist_dtype": p.mnist_dtype,
                "ch2_mnist_dense_floor": float(mn["final_residual"].max()),
                "ch2_mnist_floor_eps": float(mn["final_residual"].max() / p.eps)}
        ulps = p.eps / ulp
        out["ch2_eps_resolution_words"] = (
            f"so ε is only {num(ulps, '.1f')} units in the last place of it: “within ε” of such a residual is "
            f"below the rounding of {p.mnist_dtype} and not measurable" if ulps < 100 else
            f"so ε is {num(ulps, '.3g')} units in the last place of it, well above rounding")
        floor_ok = out["ch2_mnist_floor_eps"] < 1e-2
        out["ch2_dense_resolution_words"] = (
            "The dense residual itself is resolved: the largest final value over the MNIST runs is "
            f"{num(out['ch2_mnist_dense_floor'], '.1e')}, {num(out['ch2_mnist_floor_eps'], '.0e')} times ε, so its "
            "crossing of ε is well inside the precision." if floor_ok else
            "The dense residual is not resolved far below ε: the largest final value over the MNIST runs is "
            f"{num(out['ch2_mnist_dense_floor'], '.1e')}, {num(out['ch2_mnist_floor_eps'], '.2g')} times ε.")
    return Summary(_no_nan(out), {
        "runs": runs, "summary": summary, "every": every, "initial_residuals": res, "greedy_vs_k": gk,
        "greedy_fits": cw, "fits": pd.DataFrame(law_rows), "factors": pd.DataFrame(factor_rows),
        "shares": pd.DataFrame(share_rows), "linear": pd.DataFrame(lin_rows), "sets": pd.DataFrame(set_rows)})


def _collapse_words(every: pd.DataFrame, out: dict, groups: list, rmses: list) -> dict:
    """The collapse test's sentences, chosen from the fits."""
    words = {}
    beats_const = [key for key in groups if out[group_name(key, "log_earns")].startswith("the logarithm improves")]
    texts = {key: every[every.group == key]["runs"].iloc[0] for key in groups}
    good = [k for k, r in zip(groups, rmses) if np.isfinite(r) and r <= COLLAPSE_RMSE]
    bad = [k for k in groups if k not in good]
    within = max((r for k, r in zip(groups, rmses) if k in good), default=float("nan"))
    pooled = out["ch2_collapse_rmse"]
    words["ch2_collapse_headline"] = (
        ("Within a dataset the runs collapse" if not bad else
         "The runs collapse in " + _sets(good, texts) if good else
         "No set of runs collapses")
        + (f" (relative RMSE at most {num(COLLAPSE_RMSE, '.2f')})" if good else "")
        + ("" if not bad or not good else "; they do not in " + _sets(bad, texts))
        + ("; across datasets they do not." if good and pooled > within else "."))
    words["ch2_collapse_const_words"] = (
        "In every set of runs the line fits better than a constant (no logarithm)." if len(beats_const) == len(groups)
        else "The line fits better than a constant (no logarithm) in " + (
            "; ".join(texts[k] for k in beats_const) if beats_const else "no set of runs")
        + ", and no better in " + "; ".join(texts[k] for k in groups if k not in beats_const) + ".")
    pairs = []
    for ds_d, g in every.groupby(["dataset", "d"], sort=False):
        keys = list(g["group"].unique())
        if len(keys) == 2:
            a, b = (out[group_name(k, "collapse_c")] for k in keys)
            if np.isfinite(a) and np.isfinite(b):
                pairs.append(abs(a - b) / (0.5 * (a + b)) <= SLOPE_AGREEMENT)
    words["ch2_rule_words"] = (
        "" if not pairs else
        "Changing the step rule moves the points along the line, not off it." if all(pairs) else
        "Changing the step rule changes the slope of some datasets' line by more than "
        f"{num(100 * SLOPE_AGREEMENT, '.0f')}%.")
    worst = max(groups, key=lambda k: out[group_name(k, "collapse_rmse")] if np.isfinite(out[group_name(k, "collapse_rmse")]) else -1)
    above = every[every.get("above_slowest", pd.Series(False, index=every.index)).astype(bool)]
    if len(above):
        words["ch2_collapse_exception"] = (
            f"The loosest collapse is {texts[worst]}. The circled runs, slower than their own slowest "
            "linearised direction, have left the linear regime.")
    else:
        words["ch2_collapse_exception"] = (
            f"The loosest collapse is {texts[worst]}; no run is slower than its own slowest linearised direction.")
    words["ch2_pooled_words"] = (
        f"so a single line through all {out['ch2_collapse_runs']} runs fits "
        f"{'worse than the per-dataset lines' if pooled > within else 'as well as the per-dataset lines'} "
        f"(slope {num(out['ch2_collapse_c'], '.2f')}, relative RMSE {num(pooled, '.2f')}; a constant: "
        f"{num(out['ch2_const_rmse'], '.2f')})")
    return words


def _verdict_words(every: pd.DataFrame, out: dict, groups: list, p: DerivationParams) -> dict:
    """The verdict's phrases (the law and the logarithm's share per set of runs are the "sets" table's)."""
    words = {}
    texts = {key: every[every.group == key]["runs"].iloc[0] for key in groups}
    by_law = {}
    for key in groups:
        best = out[group_name(key, "dense_better")]
        verdict = (f"{out[group_name(key, 'dense_tied')]} cannot be told apart" if best == "cannot be told apart" else best)
        by_law.setdefault(verdict, []).append(key)
    logs = by_law.get("log", [])
    words["ch2_verdict_log"] = (
        "The measured dense threshold is logarithmic-looking in " + "; ".join(texts[k] for k in logs) + "."
        if logs else "In none of these sets of runs is the log law the best fit of the measured dense threshold.")
    lam_falls = [out[group_name(k, "lam_exp")] < 0 for k in groups if np.isfinite(out[group_name(k, "lam_exp")])]
    words["ch2_verdict_lam"] = ("λ0 falls on every dataset" if lam_falls and all(lam_falls) else
                                "λ0 does not fall on every dataset")
    return words
