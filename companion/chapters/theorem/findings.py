"""Chapter 1's findings: Du et al.'s requirements for the measured lambda_0 (:func:`du_requirements`)
and every number the chapter quotes, measured from the frames (:func:`measure`, no words)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import data, validate
from ...stats import laws
from .params import TheoremParams


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


@dataclass(frozen=True)
class TheoremFindings:
    """What chapter 1 measures: ``numbers`` (glue name -> number; names starting with '_' are arrays
    the words need and the book does not show), the power-law fits of lambda_0 per dataset, Du et
    al.'s requirements per run (``req``) and their MNIST means per N (``table``), the two targets per
    N (``targets``), the larger subsets' spectra and fit (``large``, ``large_fit``)."""

    numbers: dict
    spec: pd.DataFrame
    fits: dict
    req: pd.DataFrame
    table: pd.DataFrame
    targets: pd.DataFrame
    large: pd.DataFrame
    large_fit: dict
    monte_carlo: pd.DataFrame


def measure(frames: dict[str, pd.DataFrame], p: TheoremParams) -> TheoremFindings:
    """Every number chapter 1 quotes, from the experiments' frames."""
    spec, mc = frames["spectrum"], frames["monte_carlo"]
    fits = {name: laws.fit_power_law(g["N"], g["lambda_0"]) for name, g in spec.groupby("dataset")}
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
            "ch1_t_req_slope": laws.fit_power_law(table.index, table["t_bound_required_eta"])["exponent"],
            "ch1_t_stable_slope": laws.fit_power_law(table.index, table["t_bound_stable_eta"])["exponent"]}

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
    lfit = laws.fit_power_law(large["N"], large["lambda_0"])
    lbig = large.groupby("N")["lambda_0"].mean()
    out |= {"ch1_large_source": str(large["dataset"].iloc[0]), "ch1_large_nmin": int(lbig.index[0]),
            "ch1_large_nmax": int(lbig.index[-1]), "ch1_large_lam_small": float(lbig.iloc[0]),
            "ch1_large_lam_large": float(lbig.iloc[-1]), "ch1_large_slope": lfit["exponent"],
            "ch1_large_r2": lfit["r2"], "ch1_extrap_n": int(p.extrapolate_to),
            "ch1_extrap_lam": float(lfit["coefficient"] * p.extrapolate_to ** lfit["exponent"]),
            "ch1_large_n_seeds": int(large["seed"].nunique())}

    last = mc.iloc[-1]
    out |= {"ch1_mc_size": int(p.mc_size),
            "ch1_mc_slope": laws.fit_power_law(mc["samples"], mc["rel_fro_error"])["exponent"],
            "ch1_mc_smax": int(last["samples"]), "ch1_mc_err": float(last["rel_fro_error"]),
            "ch1_mc_maxabs": float(last["max_abs_error"]), "ch1_mc_lam": float(last["lambda_0_mc"]),
            "ch1_mc_lam_exact": float(last["lambda_0_exact"])}
    return TheoremFindings(out, spec, fits, req, table, targets, large, lfit, mc)
