"""Chapter 2's findings: what its frames measure, as numbers (no words): one row per GD run
(:func:`run_summary`: the bound's factors, the dense and pruned thresholds, the linearised
predictions), the O(1/k) fits of step 3, the collapse fit, and the committed runs and thresholds that
the regime map reads (:func:`committed_runs`, :func:`committed_thresholds`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...stats import laws, thresholds, verdicts
from ...stats.thresholds import ThresholdSeries
from ...experiments import schema, store
from .experiments import GdRuns, gd_experiments
from .params import DerivationParams

def run_summary(frame: pd.DataFrame, eps: float, linear: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per run (dataset, rule, d, N, seed): the three factors of the bound (eta, lambda_0,
    log(r0 / eps)), the bound t*(N), the measured dense threshold ``t_dense`` (first step with
    ||y - u(t)||^2 <= eps), the collapse coordinate eta lambda_0 t_dense, and the pruned threshold.

    The pruned threshold ``t_pruned`` (``thresholds.pruned_threshold``) does not depend on how long the
    run goes on: the first checkpoint at which the subnetwork's summed residual ||y - u_S(t)||^2 has come
    within ``thresholds.PRUNED_TOLERANCE`` of the way from its value at t = 0 down to the floor
    ``floor_ref``, the O(1/k) term measured on the *other* seeds' runs of the same (dataset, rule, N):
    their mean end gap ||y - u_S(T)||^2 - ||y - u(T)||^2 (summed, like eps). NaN with
    ``pruned_status`` 'censored' when the run ends first, 'undefined' with a single seed (no other run).
    ``floor`` is the run's own end gap; ``t_settled`` the former rule (the first checkpoint from which
    the pruned residual stays within eps of its value at the last checkpoint T), which moves with T.

    ``linear`` (the frames of :class:`LinearRuns`): adds the linearised predictions ``t_lin_inf``,
    ``t_lin_h0`` and ``t_slowest`` of each run."""
    out = []
    for (ds, rule, d, n, s), g in frame.groupby(["dataset", "rule", "d", "N", "seed"], sort=True):
        first = g.iloc[0]
        pr = g[g.series == "pruned"].sort_values("t")
        summed = 2.0 * n * pr["value"].to_numpy()              # mean 0.5 ||f - y||^2 -> summed
        last = pr.iloc[-1]
        floor = max(0.0, 2.0 * n * float(last["value"] - last["dense_loss"]))
        outside = np.flatnonzero(np.abs(summed - summed[-1]) > eps)
        settled = outside[-1] + 1 if len(outside) else 0         # stays within eps from here on
        t_dense = first["t_dense"]
        out.append({"dataset": ds, "rule": rule, "d": d, "N": n, "seed": s, "lambda_0": first["lambda_0"],
                    "eta": first["eta"], "r0": first["r0"], "log_r0_eps": float(np.log(first["r0"] / eps)),
                    "steps": first["steps"], "t_bound": first["t_bound"], "t_gd": first["t_gd"],
                    "t_dense": t_dense, "collapse": first["eta"] * first["lambda_0"] * t_dense,
                    "max_ratio": first["max_ratio"], "k": int(last["k"]),
                    "final_residual": float(first.get("final_residual", np.nan)),
                    "pruned_initial": float(summed[0]), "pruned_final": float(summed[-1]), "floor": floor,
                    "floor_rel": floor / first["r0"], "floor_zero": floor / n,
                    "t_settled": int(pr["t"].iloc[settled]),
                    "curve_t": pr["t"].to_numpy(float), "curve_r": summed})
    runs = pd.DataFrame(out)
    runs["floor_ref"] = thresholds.leave_one_out_mean(runs, ["dataset", "rule", "d", "N"], "floor")
    runs["t_pruned"] = [thresholds.pruned_threshold(r.curve_t, r.curve_r, r.floor_ref) for r in runs.itertuples()]
    # its resolution: the same threshold on every other checkpoint (first and last kept), as chapter 3's
    # interpolation check; greedy selection's loss jitters from checkpoint to checkpoint
    runs["t_pruned_half"] = [thresholds.pruned_threshold(*_every_other(r.curve_t, r.curve_r), r.floor_ref)
                             for r in runs.itertuples()]
    runs["pruned_status"] = np.where(runs["floor_ref"].isna(), "undefined",
                                     np.where(runs["t_pruned"].isna(), "censored", "measured"))
    runs = runs.drop(columns=["curve_t", "curve_r"])
    if linear is not None and len(linear):
        cols = ["t_slowest", "t_lin_inf", "t_lin_h0", "lambda_0_h0", "lambda_max_h0"]
        runs = runs.merge(linear[["dataset", "rule", "d", "N", "seed", *cols]],
                          on=["dataset", "rule", "d", "N", "seed"], how="left")
        # integer against integer: the first step at which the slowest direction alone is within eps
        runs["above_slowest"] = runs["t_dense"] > np.ceil(runs["t_slowest"])
        # the measured threshold is a first integer step: set it against the prediction's first integer step
        runs["lin_ratio_h0"] = runs["t_dense"] / np.ceil(runs["t_lin_h0"])
        runs["lin_ratio_inf"] = runs["t_dense"] / np.ceil(runs["t_lin_inf"])
    return runs


def _every_other(t, v):
    keep = np.zeros(len(t), bool)
    keep[::2] = True
    keep[[0, -1]] = True
    return t[keep], v[keep]


def inverse_k_fits(frame: pd.DataFrame, k_min: int = 1) -> pd.DataFrame:
    """Per (width, seed, stage): the O(1/k) fit of L_k - L_dense (see ``laws.fit_inverse_k``)."""
    rows = []
    for (m, s, stage), g in frame.groupby(["width", "seed", "stage"], sort=True):
        g = g[g.k >= k_min]
        fit = laws.fit_inverse_k(g["k"], g["loss"] - g["dense_loss"])
        rows.append({"width": m, "seed": s, "stage": stage, "dense_loss": float(g["dense_loss"].iloc[0]), **fit})
    return pd.DataFrame(rows)


#: The quantities of step 4 and how the chapter names them.
STEP4 = ("t_bound", "t_dense", "t_pruned")
#: A run "leaves the envelope" when its residual exceeds it by more than rounding: float32 runs (MNIST)
#: carry relative errors of about 1e-6 in a residual summed over N x C entries.
ENVELOPE_TOLERANCE = 1e-5
#: The linearised prediction "predicts" a threshold when the measured one is within this share of it.
LINEAR_AGREEMENT = 0.15
#: A set of runs "collapses" onto the line through the origin when its relative RMSE is at most this.
COLLAPSE_RMSE = 0.25
#: Two collapse slopes (one dataset, two step rules) "agree" within this relative difference.
SLOPE_AGREEMENT = 0.1


def group_label(dataset: str, d: int, rule: str) -> str:
    """'sphere200_fixed', 'mnist_per_n', ...: the key of one (dataset, step rule) group of runs."""
    return f"{dataset}{d if dataset == 'sphere' else ''}_{rule}"


def collapse_fit(x, y) -> dict:
    """The line through the origin y = c x fitted by least squares, and the residual RMSE relative to
    the mean of y: the collapse test of eta lambda_0 t* against log(r0 / eps)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if not len(x):
        return {"c": float("nan"), "rel_rmse": float("nan"), "runs": 0}
    c = float((x * y).sum() / (x * x).sum())
    return {"c": c, "rel_rmse": float(np.sqrt(np.mean((y - c * x) ** 2)) / np.mean(y)), "runs": int(len(x))}




def growth_split(runs: pd.DataFrame) -> dict:
    """Where the dense threshold's growth comes from: ln(T*(N_max) / T*(N_min)) split into 1/eta,
    1/lambda_0, log(r0 / eps) and the rest (:func:`companion.stats.laws.log_growth_split`), for the runs
    of one group (one row per run, :func:`run_summary`)."""
    return laws.log_growth_split(runs["N"], runs["t_dense"], {
        "inv_eta": 1.0 / runs["eta"], "inv_lam": 1.0 / runs["lambda_0"], "log": runs["log_r0_eps"]})


def per_seed(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """A quantity measured per run as the statistics core reads a threshold: n, seed, t_star (the
    quantity; NaN where it is undefined, e.g. a censored run's threshold)."""
    return pd.DataFrame({"n": runs["N"].to_numpy(int), "seed": runs["seed"].to_numpy(int),
                         "t_star": runs[column].to_numpy(float)})


def growth(runs: pd.DataFrame, column: str) -> verdicts.Growth:
    """The book's one criterion for "grows" (:func:`companion.stats.verdicts.growth`, paired over
    seeds) applied to ``column`` of the runs of one group against N (the dense threshold, lambda_0, ...)."""
    return verdicts.growth(per_seed(runs, column))


def exact_change(runs: pd.DataFrame, column: str, rel: float = 1e-9) -> int:
    """For a quantity that is set, not measured per seed (the step eta: one value per N, from every
    seed's data, so no test over seeds applies): +1 if its value at the largest N is
    above its value at the smallest, -1 if below, 0 if the two are equal up to rounding."""
    means = runs.groupby("N")[column].mean().dropna()
    if len(means) < 2:
        return 0
    lo, hi = float(means.iloc[0]), float(means.iloc[-1])
    return 0 if abs(hi - lo) <= rel * max(abs(lo), abs(hi)) else (1 if hi > lo else -1)


# --------------------------------------------------------------------------------------------------
# The committed runs, for the regime map (nothing computed)


def not_committed(done: int, total: int) -> str:
    """Why a setting is absent: its units are not all committed."""
    return (f"not computed yet ({done} of {total} units committed)" if done else
            f"not computed yet (none of its {total} units is committed)")


@dataclass(frozen=True)
class CommittedRuns:
    """One GD setting of the chapter (dataset and step rule) from the committed results only: its
    experiment, and ``every`` (one row per run, :func:`run_summary`) or ``None`` with ``missing``
    saying why (units not committed)."""

    setting: str
    experiment: GdRuns
    every: pd.DataFrame | None
    missing: str | None = None


def paper_params() -> DerivationParams:
    """The paper preset's parameters (the committed results' settings)."""
    return schema.check(DerivationParams, {"progress": False})[0]


def committed_runs(p: DerivationParams | None = None) -> dict[str, CommittedRuns]:
    """Every GD setting ('sphere200_fixed', ..., 'mnist_per_n', in the chapter's order) from the
    committed results of parameters ``p`` (default: the paper preset); a setting whose units are not
    all committed has ``every`` None."""
    p = paper_params() if p is None else p
    out = {}
    for key, exp in gd_experiments(p).items():
        setting = key.removeprefix("gd_")
        frame, done, total = store.committed_frame(exp)
        if done < total:
            out[setting] = CommittedRuns(setting, exp, None, not_committed(done, total))
        else:
            out[setting] = CommittedRuns(setting, exp, run_summary(frame.assign(rule=exp.rule), p.eps))
    return out


def committed_thresholds(p: DerivationParams | None = None) -> dict[str, ThresholdSeries]:
    """The dense threshold of every GD setting from the committed results (what the regime map reads):
    setting -> ThresholdSeries with ``ts`` (n, seed, t_star: the first step with ||y - u(t)||^2 <= eps,
    NaN where a run did not reach it) and ``split`` (:func:`growth_split`), or ``missing`` (why not).
    The runs themselves (one row per run, e.g. for r0 / N) are :func:`committed_runs`."""
    out = {}
    for setting, runs in committed_runs(p).items():
        if runs.every is None:
            out[setting] = ThresholdSeries(setting, missing=runs.missing)
        else:
            out[setting] = ThresholdSeries(setting, per_seed(runs.every, "t_dense"),
                                           split=growth_split(runs.every))
    return out
