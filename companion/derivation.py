"""The experiments of chapters 1 (the theorem) and 2 (the derivation of the log-N bound).

Chapter 1 (``check_theorem_params``, ``spectrum``, ``monte_carlo``): the smallest eigenvalue lambda_0 of
H_inf on unit-normalised MNIST subsets (and on synthetic sphere data) as N grows, what Du et al.'s
width and step-size requirements would be for those lambda_0, and a Monte-Carlo check that H_inf is
the expectation over w that it claims to be.

Chapter 2 (``check_derivation_params``, ``initial_residuals``, ``greedy_vs_k``, ``gd_runs``,
``run_summary``): each step of the (reconstructed) bound, measured in the theorem's setting: synthetic
unit-norm data, a wide NTK network, full-batch GD on the summed squared loss with one step size for
all N, and greedy forward selection at many checkpoints of ONE run per (d, N, seed).

Every experiment returns a tidy pandas frame through ``companion.cache.cached`` under a configuration
that holds everything the frame depends on. The small ``fit_*`` helpers do the fits the chapters quote.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm  # plain tqdm: tqdm.auto warns on stderr without ipywidgets

from . import analysis, cache, data, theory, validate
from .model import TwoLayerNet
from .pretrain import TrainConfig, geometric_checkpoints, model_at, pretrain
from .prune import greedy_forward_selection
from .runtime import DEVICES, device_description, resolve_device

# Bump when a change here changes what a configuration computes (old results stop matching).
EXPERIMENT_VERSION = 1


@contextmanager
def _threads(n: int = 1):
    """Run with ``n`` intra-op threads (then restore): these are many small matrix products, for which
    one thread is several times faster than two on a busy two-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cached(name: str, config: dict, compute, p, device: str = "cpu") -> pd.DataFrame:
    with _threads(1):
        device = device_description(resolve_device(device))
        return cache.cached(name, config, compute, cache_dir=p.cache_dir, device=device)


# --------------------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------------------

def fit_power_law(x, y) -> dict:
    """Least-squares fit of log y = log c + p log x; returns {'exponent': p, 'coefficient': c, 'r2'}."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise validate.ParameterError("a power-law fit needs at least two distinct x values")
    p, logc = np.polyfit(lx, ly, 1)
    return {"exponent": float(p), "coefficient": float(np.exp(logc)), "r2": _r2(ly, logc + p * lx)}


def fit_log_vs_linear(n, t) -> dict:
    """Fit t = a + b log N and t = a + b N by least squares; RMSE and R^2 of each and the better one."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    keep = np.isfinite(t)
    n, t = n[keep], t[keep]
    if len(np.unique(n)) < 2:
        raise validate.ParameterError("a fit in N needs at least two distinct N with a finite threshold")
    out = {}
    for name in ("log", "linear"):
        a, b = analysis.fit(n, t, name)
        pred = analysis.predict(n, name, a, b)
        out[name] = {"a": a, "b": b, "rmse": float(np.sqrt(np.mean((t - pred) ** 2))),
                     "r2": _r2(t, pred)}
    out["better"] = "log" if out["log"]["rmse"] <= out["linear"]["rmse"] else "linear"
    return out


def _r2(y, pred) -> float:
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    ss = float(((y - y.mean()) ** 2).sum())
    return float("nan") if ss == 0 else 1.0 - float(((y - pred) ** 2).sum()) / ss


def fit_inverse_k(k, gap) -> dict:
    """Fit gap_k = C / k (the O(1/k) term of greedy selection) in log space, i.e. C = geometric mean of
    k * gap_k; also the envelope max_k k * gap_k (the smallest C with gap_k <= C / k at every measured
    k) and a free power law gap_k = c k^p."""
    k, gap = np.asarray(k, float), np.asarray(gap, float)
    keep = gap > 0
    k, gap = k[keep], gap[keep]
    if len(k) < 2:
        raise validate.ParameterError("an O(1/k) fit needs at least two k with a positive gap")
    free = fit_power_law(k, gap)
    return {"C": float(np.exp(np.mean(np.log(k * gap)))), "C_envelope": float(np.max(k * gap)),
            "exponent": free["exponent"], "coefficient": free["coefficient"]}


# --------------------------------------------------------------------------------------------------
# Chapter 1: the theorem
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TheoremParams:
    sizes: list
    seeds: list
    source: str
    synthetic_dims: list
    mc_size: int
    mc_samples: list
    mc_seed: int
    delta: float
    eps: float
    width_used: int
    device: str
    cache_dir: object
    progress: bool


def check_theorem_params(*, sizes, seeds, source, synthetic_dims, mc_size, mc_samples, mc_seed=0,
                         delta=0.1, eps=1e-3, width_used=1024, device="auto", cache_dir=None, progress=True,
                         **_ignored) -> TheoremParams:
    """Validate chapter 1's parameters before any work (errors name the parameter, value, range)."""
    validate.choice("source", source, data.SOURCES)
    # H_inf is N x N and its spectrum costs O(N^3): 10,000 is already minutes and 800 MB.
    sizes = validate.integer_list("sizes", sizes, low=2, high=data.NUM_CLASSES * data.EMBEDDED_TRAIN_PER_CLASS
                                  if source == "embedded" else 10_000)
    seeds = validate.integer_list("seeds", seeds, low=0)
    synthetic_dims = validate.integer_list("synthetic_dims", synthetic_dims, low=2, min_len=0)
    mc_size = validate.integer("mc_size", mc_size, low=2, high=5_000)
    mc_samples = validate.integer_list("mc_samples", mc_samples, low=1, high=10_000_000)
    validate.integer("mc_seed", mc_seed, low=0)
    delta = validate.real("delta", delta, low=0.0, high=1.0, low_open=True)
    if delta == 1.0:
        raise validate.ParameterError("parameter 'delta' = 1.0 is not allowed: must be in (0, 1)")
    eps = validate.positive("eps", eps)
    validate.integer("width_used", width_used, low=1)
    validate.choice("device", device, DEVICES)
    if not isinstance(progress, bool):
        raise validate.ParameterError(f"parameter 'progress' = {progress!r} is not allowed: must be True or False")
    return TheoremParams(sizes, seeds, source, synthetic_dims, mc_size, mc_samples, mc_seed, delta, eps,
                         width_used, device, cache_dir, progress)


def _mnist_x(n: int, seed: int, source: str) -> torch.Tensor:
    """Centred, unit-norm, class-balanced MNIST training subset (inputs only)."""
    return data.mnist(n, seed=seed, source=source, center=True, unit_norm=True).train.x


def spectrum(p: TheoremParams) -> pd.DataFrame:
    """lambda_0 and lambda_max of H_inf per (dataset, N, seed): MNIST (centred, unit-norm, class-balanced
    subsets of the resolved source) and synthetic sphere data in each of ``synthetic_dims``."""
    source = data.resolve_source(p.source)
    config = {"experiment": "spectrum", "version": EXPERIMENT_VERSION, "sizes": p.sizes, "seeds": p.seeds,
              "source": source, "center": True, "unit_norm": True, "synthetic_dims": p.synthetic_dims}

    def compute():
        rows = []
        jobs = [("MNIST", 784, n, s) for n in p.sizes for s in p.seeds]
        jobs += [(f"sphere, d={d}", d, n, s) for d in p.synthetic_dims for n in p.sizes for s in p.seeds]
        for name, d, n, s in tqdm(jobs, desc="H_inf spectra", disable=not p.progress, leave=False):
            x = _mnist_x(n, s, source) if name == "MNIST" else data.synthetic(n, d, seed=s).x
            ev = torch.linalg.eigvalsh(theory.gram_infinity(x))
            rows.append({"dataset": name, "d": d, "outputs": data.NUM_CLASSES if name == "MNIST" else 1,
                         "N": n, "seed": s, "lambda_0": float(ev[0]),
                         "lambda_max": float(ev[-1])})
        return pd.DataFrame(rows)

    return _cached("ch1_spectrum", config, compute, p)


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
    return out


def monte_carlo(p: TheoremParams, chunk: int = 20_000) -> pd.DataFrame:
    """Error of the Monte-Carlo average (1/S) sum_s x_i.x_j 1{w_s.x_i >= 0, w_s.x_j >= 0} (the NTK Gram
    matrix of a width-S network at initialisation) against the closed form H_inf, on one MNIST subset
    of ``mc_size`` images, for each number of samples S (nested: one stream of draws)."""
    source = data.resolve_source(p.source)
    config = {"experiment": "monte_carlo", "version": EXPERIMENT_VERSION, "mc_size": p.mc_size,
              "mc_samples": p.mc_samples, "mc_seed": p.mc_seed, "source": source, "chunk": chunk}

    def compute():
        x = _mnist_x(p.mc_size, p.mc_seed, source)
        exact = theory.gram_infinity(x)
        lam_exact = theory.lambda_min(exact)
        rows = []
        path = theory.gram_monte_carlo_path(x, p.mc_samples, seed=p.mc_seed, chunk=chunk)
        for target, est in tqdm(path, total=len(p.mc_samples), desc="Monte-Carlo H",
                                disable=not p.progress, leave=False):
            err = est - exact
            rows.append({"samples": target, "max_abs_error": float(err.abs().max()),
                         "rel_fro_error": float(err.norm() / exact.norm()),
                         "lambda_0_mc": theory.lambda_min(est), "lambda_0_exact": lam_exact})
        return pd.DataFrame(rows)

    return _cached("ch1_monte_carlo", config, compute, p)


# --------------------------------------------------------------------------------------------------
# Chapter 2: the derivation, step by step
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DerivationParams:
    d_high: int
    sizes_high: list
    d_low: int
    sizes_low: list
    width: int
    seeds: list
    eps: float
    k: int
    num_checkpoints: int
    step_factor: float
    horizon: float
    max_steps: int
    residual_sizes: list
    residual_seeds: list
    greedy_size: int
    greedy_widths: list
    greedy_k_max: int
    greedy_seeds: list
    device: str
    cache_dir: object
    progress: bool


def check_derivation_params(*, d_high, sizes_high, d_low, sizes_low, width, seeds, eps, k,
                            num_checkpoints, step_factor, horizon, max_steps, residual_sizes,
                            residual_seeds, greedy_size, greedy_widths, greedy_k_max, greedy_seeds,
                            device="auto", cache_dir=None, progress=True, **_ignored) -> DerivationParams:
    """Validate chapter 2's parameters before any work (errors name the parameter, value, range)."""
    d_high = validate.integer("d_high", d_high, low=2)
    d_low = validate.integer("d_low", d_low, low=2)
    sizes_high = validate.integer_list("sizes_high", sizes_high, low=2, high=4096, min_len=2)
    sizes_low = validate.integer_list("sizes_low", sizes_low, low=2, high=4096, min_len=2)
    width = validate.integer("width", width, low=1, high=65_536)
    seeds = validate.integer_list("seeds", seeds, low=0)
    eps = validate.positive("eps", eps)
    k = validate.integer("k", k, low=1, high=1_000_000)
    num_checkpoints = validate.integer("num_checkpoints", num_checkpoints, low=2, high=1000)
    step_factor = validate.real("step_factor", step_factor, low=0.0, high=2.0, low_open=True)
    if step_factor >= 2.0:
        raise validate.ParameterError(f"parameter 'step_factor' = {step_factor!r} is not allowed: must be "
                                      "in (0, 2) (eta = step_factor / lambda_max; GD diverges at 2)")
    horizon = validate.real("horizon", horizon, low=1.0, high=100.0)
    max_steps = validate.integer("max_steps", max_steps, low=1, high=10_000_000)
    residual_sizes = validate.integer_list("residual_sizes", residual_sizes, low=1, high=1_000_000, min_len=2)
    residual_seeds = validate.integer_list("residual_seeds", residual_seeds, low=0)
    greedy_size = validate.integer("greedy_size", greedy_size, low=2, high=4096)
    greedy_widths = validate.integer_list("greedy_widths", greedy_widths, low=1, high=65_536, min_len=2)
    greedy_k_max = validate.integer("greedy_k_max", greedy_k_max, low=2, high=1_000_000)
    greedy_seeds = validate.integer_list("greedy_seeds", greedy_seeds, low=0)
    validate.choice("device", device, DEVICES)
    if not isinstance(progress, bool):
        raise validate.ParameterError(f"parameter 'progress' = {progress!r} is not allowed: must be True or False")
    return DerivationParams(d_high, sizes_high, d_low, sizes_low, width, seeds, eps, k, num_checkpoints,
                            step_factor, horizon, max_steps, residual_sizes, residual_seeds, greedy_size,
                            greedy_widths, greedy_k_max, greedy_seeds, device, cache_dir, progress)


def step_size(d: int, n_max: int, seeds, step_factor: float = 1.0) -> float:
    """The one step used for every N in dimension d: step_factor / lambda_max(H_inf) of the largest
    dataset (the largest over seeds), on the summed loss. GD's linearised dynamics u <- u - eta H (u - y)
    are stable for eta < 2 / lambda_max(H), and lambda_max grows with N, so the largest N sets it."""
    lam = max(theory.lambda_max(theory.gram_infinity(data.synthetic(n_max, d, seed=s).x)) for s in seeds)
    return step_factor / lam


def initial_residuals(p: DerivationParams) -> pd.DataFrame:
    """||y - u(0)||^2 of the width-``width`` NTK net at initialisation, per (d, N, seed), with its
    expectation ||y||^2 + N C / 2 (``theory.expected_initial_residual``)."""
    config = {"experiment": "initial_residuals", "version": EXPERIMENT_VERSION, "dims": [p.d_high, p.d_low],
              "sizes": p.residual_sizes, "seeds": p.residual_seeds, "width": p.width}

    def compute():
        rows = []
        jobs = [(d, n, s) for d in (p.d_high, p.d_low) for n in p.residual_sizes for s in p.residual_seeds]
        for d, n, s in tqdm(jobs, desc="initial residuals", disable=not p.progress, leave=False):
            ds = data.synthetic(n, d, seed=s)
            net = TwoLayerNet(d, p.width, 1, "ntk", seed=s, dtype=torch.float64)
            with torch.no_grad():
                r0 = float(((ds.targets - net(ds.x)) ** 2).sum())
            rows.append({"d": d, "N": n, "seed": s, "residual": r0,
                         "expected": theory.expected_initial_residual(ds.targets)})
        return pd.DataFrame(rows)

    return _cached("ch2_initial_residuals", config, compute, p)


def checkpoint_grid(steps: int, num: int) -> list[int]:
    """0 and about ``num`` geometrically spaced iterations in [1, steps] (always including ``steps``)."""
    steps = validate.integer("steps", steps, low=1)
    return geometric_checkpoints(1, steps, num)


def _record_grid(steps: int) -> set[int]:
    """Iterations at which the dense residual is stored in the frame (every step up to 64, then ~200
    geometric points): enough to draw it; exact first-crossing times are computed on every step."""
    return set(range(min(steps, 64) + 1)) | set(int(t) for t in np.unique(np.round(np.geomspace(64, max(steps, 64), 200))))


def _train_config(p: DerivationParams, eta: float, seed: int) -> TrainConfig:
    return TrainConfig(lr=eta, optimizer="gd", reduction="sum", loss="mse", seed=seed, device=p.device)


def _one_run(d: int, n: int, seed: int, width: int, eta: float, p: DerivationParams, ks,
             num_checkpoints: int | None):
    """One full-batch GD run of the NTK net on synthetic(n, d, seed) with greedy selection of max(ks)
    neurons at every checkpoint. Returns (dense history every step, per-run constants, pruned rows)."""
    ds = data.synthetic(n, d, seed=seed)
    lam0 = theory.lambda_min(theory.gram_infinity(ds.x))
    net = TwoLayerNet(d, width, 1, "ntk", seed=seed, dtype=torch.float64)
    with torch.no_grad():
        r0 = float(((ds.targets - net(ds.x)) ** 2).sum())
    bound = theory.threshold_bound(eta, lam0, r0, p.eps)
    steps = min(p.max_steps, max(1, math.ceil(p.horizon * bound)))
    # num_checkpoints None: only the initialisation and the end of training
    checkpoints = checkpoint_grid(steps, num_checkpoints) if num_checkpoints else [0, steps]
    result = pretrain(net, ds, _train_config(p, eta, seed), checkpoints, progress=False, log_every=1)
    hist = result.history
    residual = 2.0 * n * hist["loss"].to_numpy()          # mean 0.5 (f - y)^2  ->  ||y - u(t)||^2
    t = hist["t"].to_numpy()
    pruned = []
    for c in checkpoints:
        hidden, out_w, _ = model_at(net, result.states[c]).neurons(ds.x)
        sel = greedy_forward_selection(hidden, out_w, ds.targets, max(ks))
        for kk in ks:
            pruned.append({"t": c, "k": kk, "loss": sel.losses[kk - 1], "distinct": len(set(sel.picks[:kk])),
                           "dense_loss": float(hist["loss"].iloc[c])})
    consts = {"lambda_0": lam0, "r0": r0, "eta": eta, "steps": steps, "t_bound": bound,
              "t_gd": theory.gd_threshold(eta, lam0, r0, p.eps)}
    return t, residual, consts, pruned


def gd_runs(p: DerivationParams) -> pd.DataFrame:
    """Steps 1 and 4: one GD run per (d, N, seed), for d in (d_high, d_low) with their own N ranges, each
    trained for ``horizon`` times the bound's t*(N) (at most ``max_steps``) with ``num_checkpoints``
    checkpoints. Rows: series 'dense' (||y - u(t)||^2 on a recording grid, column ``value``) and
    'pruned' (greedy loss of k neurons at each checkpoint), plus per-run constants and exact
    first-crossing times (``t_dense``: first step with ||y - u(t)||^2 <= eps; ``max_ratio``: largest
    ||y - u(t)||^2 / ((1 - eta lambda_0 / 2)^t ||y - u(0)||^2) over every step)."""
    config = {"experiment": "gd_runs", "version": EXPERIMENT_VERSION, "d_high": p.d_high,
              "sizes_high": p.sizes_high, "d_low": p.d_low, "sizes_low": p.sizes_low, "width": p.width,
              "seeds": p.seeds, "eps": p.eps, "k": p.k, "num_checkpoints": p.num_checkpoints,
              "step_factor": p.step_factor, "horizon": p.horizon, "max_steps": p.max_steps,
              "dtype": "float64", "device": str(resolve_device(p.device))}

    def compute():
        rows = []
        etas = {d: step_size(d, max(sizes), p.seeds, p.step_factor)
                for d, sizes in ((p.d_high, p.sizes_high), (p.d_low, p.sizes_low))}
        jobs = [(d, n, s) for d, sizes in ((p.d_high, p.sizes_high), (p.d_low, p.sizes_low))
                for n in sizes for s in p.seeds]
        for d, n, s in tqdm(jobs, desc="GD runs (d, N, seed)", disable=not p.progress):
            t, residual, c, pruned = _one_run(d, n, s, p.width, etas[d], p, [p.k], p.num_checkpoints)
            rate = 1.0 - c["eta"] * c["lambda_0"] / 2.0
            envelope = c["r0"] * rate ** t
            hit = np.flatnonzero(residual <= p.eps)
            base = {"d": d, "N": n, "seed": s, **c, "t_dense": int(t[hit[0]]) if len(hit) else np.nan,
                    "max_ratio": float(np.max(residual / envelope)), "final_residual": float(residual[-1])}
            keep = _record_grid(c["steps"]) | {r["t"] for r in pruned}
            for ti, val, env in zip(t, residual, envelope):
                if int(ti) in keep:
                    rows.append({**base, "series": "dense", "t": int(ti), "k": 0, "value": float(val),
                                 "envelope": float(env), "distinct": 0})
            for r in pruned:
                rows.append({**base, "series": "pruned", "t": r["t"], "k": r["k"], "value": r["loss"],
                             "envelope": np.nan, "distinct": r["distinct"], "dense_loss": r["dense_loss"]})
        return pd.DataFrame(rows)

    return _cached("ch2_gd_runs", config, compute, p, p.device)


def run_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (d, N, seed): the bound t*(N), the measured dense threshold, and the pruned threshold
    ``t_pruned`` = first checkpoint at which the greedy loss L_k(t) is within ``floor`` of its best over
    the run, where ``floor`` = L_k(T) - L_dense(T), the O(1/k) excess of the subnetwork over the dense
    network at the end of training T (both as mean 0.5 (f - y)^2 per sample)."""
    out = []
    for (d, n, s), g in frame.groupby(["d", "N", "seed"], sort=True):
        first = g.iloc[0]
        pr = g[g.series == "pruned"].sort_values("t")
        last = pr.iloc[-1]
        floor = max(0.0, float(last["value"] - last["dense_loss"]))
        best = float(pr["value"].min())
        within = pr[pr["value"] <= best + floor]
        out.append({"d": d, "N": n, "seed": s, "lambda_0": first["lambda_0"], "eta": first["eta"],
                    "r0": first["r0"], "steps": first["steps"], "t_bound": first["t_bound"],
                    "t_gd": first["t_gd"], "t_dense": first["t_dense"], "max_ratio": first["max_ratio"],
                    "k": int(last["k"]), "pruned_initial": float(pr.iloc[0]["value"]), "pruned_best": best,
                    "pruned_final": float(last["value"]), "floor": floor,
                    "t_pruned": int(within.iloc[0]["t"])})
    return pd.DataFrame(out)


def _k_grid(k_max: int, num: int = 40) -> list[int]:
    return sorted(set(int(v) for v in np.unique(np.round(np.geomspace(1, k_max, num)).astype(int))))


def greedy_vs_k(p: DerivationParams) -> pd.DataFrame:
    """Step 3: greedy loss against k (1..greedy_k_max, repeats allowed) for each width in
    ``greedy_widths``, at initialisation ('init') and after GD to the bound's t*(N) ('trained'), on
    synthetic(greedy_size, d_high); with the dense network's loss (mean 0.5 (f - y)^2)."""
    config = {"experiment": "greedy_vs_k", "version": EXPERIMENT_VERSION, "d": p.d_high, "N": p.greedy_size,
              "widths": p.greedy_widths, "k_max": p.greedy_k_max, "seeds": p.greedy_seeds, "eps": p.eps,
              "eta_from": {"sizes": p.sizes_high, "seeds": p.seeds, "step_factor": p.step_factor},
              "horizon": p.horizon, "max_steps": p.max_steps, "dtype": "float64",
              "device": str(resolve_device(p.device))}

    def compute():
        eta = step_size(p.d_high, max(p.sizes_high), p.seeds, p.step_factor)
        ks = _k_grid(p.greedy_k_max)
        rows = []
        jobs = [(m, s) for m in p.greedy_widths for s in p.greedy_seeds]
        for m, s in tqdm(jobs, desc="greedy vs k (width, seed)", disable=not p.progress, leave=False):
            _, _, c, pruned = _one_run(p.d_high, p.greedy_size, s, m, eta, p, ks, None)
            for r in pruned:
                rows.append({"width": m, "seed": s, "stage": "init" if r["t"] == 0 else "trained",
                             "t": r["t"], "k": r["k"], "loss": r["loss"], "distinct": r["distinct"],
                             "dense_loss": r["dense_loss"], "eta": eta})
        return pd.DataFrame(rows)

    return _cached("ch2_greedy_vs_k", config, compute, p, p.device)


def inverse_k_fits(frame: pd.DataFrame, k_min: int = 1) -> pd.DataFrame:
    """Per (width, seed, stage): the O(1/k) fit of L_k - L_dense (see ``fit_inverse_k``) over k >= k_min."""
    rows = []
    for (m, s, stage), g in frame.groupby(["width", "seed", "stage"], sort=True):
        g = g[g.k >= k_min]
        fit = fit_inverse_k(g["k"], g["loss"] - g["dense_loss"])
        rows.append({"width": m, "seed": s, "stage": stage, "dense_loss": float(g["dense_loss"].iloc[0]), **fit})
    return pd.DataFrame(rows)

