"""Chapter 1's words: :func:`summarize` (every number the prose quotes, the sentences whose truth
depends on them, and the tables its figures draw)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ...stats import laws
from ...display import Summary, significant
from .findings import measure
from .params import TheoremParams


def summarize(frames: dict[str, pd.DataFrame], p: TheoremParams) -> Summary:
    """Every number chapter 1's prose quotes, and the sentences whose truth depends on them, from the
    experiments' frames; an undefined number (NaN) is glued as the word 'undefined'."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = _summarize(frames, p)
    summary.numbers = {k: ("undefined" if isinstance(v, float) and not np.isfinite(v) else v)
                       for k, v in summary.numbers.items()}
    return summary


def _summarize(frames: dict[str, pd.DataFrame], p: TheoremParams) -> Summary:
    f = measure(frames, p)
    spec, req, fits, large, table, mc = f.spec, f.req, f.fits, f.large, f.table, f.monte_carlo
    out = f.numbers | _words(f.numbers, spec, req, p)
    shown_spec = spec.assign(dataset=spec["dataset"].map(
        lambda name: f"{name}: slope {fits[name]['exponent']:.2f}"))
    bound_means = (req.groupby(["dataset", "N"])[["t_bound_required_eta", "t_bound_stable_eta"]]
                   .mean().reset_index())
    both = pd.concat([spec, large], ignore_index=True)
    out = {k: v for k, v in out.items() if not k.startswith("_")}
    return Summary(out, {"spectrum": shown_spec, "requirements": table, "bound_means": bound_means,
                         "monte_carlo": mc, "targets": f.targets, "mnist_all": both[both.dataset.str.startswith("MNIST")],
                         "large_fit": f.large_fit})


def _num(value, spec: str) -> str:
    """A number inside a glued phrase, rounded to the glued precision first (no noise digits)."""
    return format(significant(float(value)), spec)


def _words(out: dict, spec: pd.DataFrame, req: pd.DataFrame, p: TheoremParams) -> dict:
    """The chapter's sentences whose truth depends on the data, chosen from the numbers."""
    words = {}
    n, n_bad = out["ch1_n_spectra"], int((spec["lambda_0"] <= 0).sum())
    words["ch1_pd_words"] = (
        f"All {n} matrices are positive definite (smallest λ0 seen {_num(out['ch1_min_lambda0'], '.4f')}), "
        "as assumption 1 says." if not n_bad else
        f"{n_bad} of the {n} matrices are not positive definite (smallest eigenvalue "
        f"{_num(out['ch1_min_lambda0'], '.2e')}): assumption 1 fails there.")
    words["ch1_pd_summary"] = ("holds on every MNIST and synthetic subset we tried" if not n_bad else
                               f"fails on {n_bad} of the {n} subsets we tried")
    drop = out["ch1_mnist_drop"]
    trend = "falls" if drop > 1.05 else "rises" if drop < 1 / 1.05 else "stays nearly constant"
    words["ch1_mnist_trend"] = trend
    words["ch1_lam_lead"] = "But λ0 is not a constant:" if trend != "stays nearly constant" else "λ0 barely moves:"
    words["ch1_mnist_change"] = (f"{_num(drop, '.1f')} times lower" if drop >= 1 else
                                 f"{_num(1 / drop, '.1f')} times higher")
    dims = sorted(p.synthetic_dims)
    if not dims:
        words["ch1_sphere_words"] = "(No synthetic data were run in this setting.)"
        words["ch1_mnist_like_words"] = ""
    else:
        slopes = [(d, out[f"ch1_d{d}_slope"]) for d in dims]
        listed = " and ".join(f"{_num(sl, '.2f')} in d = {d}" for d, sl in reversed(slopes))
        if len(dims) == 1:
            words["ch1_sphere_words"] = f"On the sphere the slope is {listed}."
        elif slopes[0][1] < slopes[-1][1]:
            words["ch1_sphere_words"] = (f"On the sphere the slope is {listed}: the fewer the dimensions, the "
                                         "closer the nearest pair of points and the faster λ0 falls.")
        else:
            words["ch1_sphere_words"] = (f"On the sphere the slope is {listed}: here λ0 does not fall faster "
                                         "in fewer dimensions.")
        mnist_large = out["ch1_mnist_lam_large"]
        near = min(dims, key=lambda d: abs(np.log(out[f"ch1_d{d}_lam_large"] / mnist_large)))
        others = " and ".join(f"{_num(out[f'ch1_d{d}_lam_large'], '.4f')} for the sphere in d = {d}" for d in dims)
        which = ("the low-dimensional sphere" if near == dims[0] and len(dims) > 1 else
                 "the high-dimensional sphere" if near == dims[-1] and len(dims) > 1 else f"the sphere in d = {near}")
        words["ch1_mnist_like_words"] = (
            f"MNIST (784 dimensions) behaves most like {which}: at the largest N its λ0 is "
            f"{_num(mnist_large, '.4f')}, against {others}.")
    large_ratio = out["ch1_large_lam_small"] / out["ch1_large_lam_large"]
    words["ch1_large_trend"] = "falls" if large_ratio > 1.02 else "rises" if large_ratio < 1 / 1.02 else "stays put"
    words["ch1_extrap_words"] = (
        "at the sizes of chapter 3 the factor 1/λ0 of the threshold is larger again than at the sizes we can "
        "diagonalise." if out["ch1_extrap_lam"] < out["ch1_large_lam_large"] else
        "the extrapolation does not make the factor 1/λ0 larger at the sizes of chapter 3 than at the sizes "
        "we can diagonalise.")
    mn = req[req.dataset == "MNIST"].groupby("N")[["lambda_0", "lambda_max"]].mean()
    lam_falls = mn["lambda_0"].iloc[-1] < mn["lambda_0"].iloc[0]
    max_grows = mn["lambda_max"].iloc[-1] > mn["lambda_max"].iloc[0]
    words["ch1_stable_because"] = (
        "because both 1/λ0 and 1/η = λmax grow with N on MNIST" if lam_falls and max_grows else
        "because 1/λ0 grows with N on MNIST" if lam_falls else
        "because 1/η = λmax grows with N on MNIST" if max_grows else
        "although neither 1/λ0 nor 1/η = λmax grows with N here")
    log_growth = np.log(out["ch1_logsum_large"] / out["ch1_logsum_small"])
    share = log_growth / np.log(out["ch1_tsum_growth"]) if out["ch1_tsum_growth"] != 1 else float("nan")
    words["ch1_log_share"] = float(share) if np.isfinite(share) else "undefined"
    words["ch1_log_words"] = (
        "The logarithm itself contributes little" if np.isfinite(share) and 0 <= share < 0.25 else
        "The logarithm contributes a good part of the growth" if np.isfinite(share) else
        "The threshold does not grow, so there is no growth to split")
    words["ch1_log_split"] = (
        f"the logarithm accounts for {_num(100 * share, '.0f')}% of the growth (in ln of the growth factor) with "
        "the summed target, and 1/(ηλ0) for the rest."
        if np.isfinite(share) else "the split is undefined.")
    words["ch1_far_words"] = (
        "The proof's requirements are therefore far from anything run in practice"
        if out["ch1_width_req"] >= 100 * p.width_used else
        "The proof's width requirement is within reach of the width chapter 2 trains")
    log_slope = laws.fit_power_law(out["_sizes"], out["_logsum"])["exponent"]
    words["ch1_log_slope"] = log_slope
    words["ch1_notlog_words"] = (
        "on real data the threshold of the bound is not logarithmic in N once its step and λ0 are allowed to "
        "depend on N as they must" if out["ch1_t_stable_slope"] > 2 * log_slope else
        "on these data the bound's threshold stays close to logarithmic in N even with its step and λ0 set "
        "per N")
    words["ch1_t_req_words"] = ("polynomial in N" if out["ch1_t_req_slope"] > 2 * log_slope else
                                "close to logarithmic in N")
    mc_ok = abs(out["ch1_mc_slope"] + 0.5) <= 0.1 and out["ch1_mc_err"] < 0.05
    words["ch1_mc_words"] = (
        "The closed form is the expectation it claims to be." if mc_ok else
        "At these numbers of draws the check is not conclusive (an error rate away from −1/2, or a final "
        "error above 5%).")
    words["ch1_spectrum_title"] = (f"λ0 is positive and {trend} with N on MNIST (mean ± sd over seeds)"
                                   if not n_bad else "λ0 against N (mean ± sd over seeds)")
    return words


