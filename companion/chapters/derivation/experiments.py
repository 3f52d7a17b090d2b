"""Chapter 2's experiments (run by :mod:`companion.experiments.engine`), in the theorem's setting —
synthetic unit-norm data, a wide NTK network, full-batch GD on the summed squared loss with one step
size for all N, and greedy forward selection (Ye et al. 2020, repeats allowed) at many checkpoints of
ONE run per (d, N, seed):

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

import json
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
import torch

from ... import data, paths, theory
from ...display import significant
from ...experiments import engine
from ...models import TwoLayerNet
from ...pretrain import TrainConfig, model_at, pretrain
from ...prune.greedy import greedy_forward_selection
from ...train import checkpoint_grid
from .params import DerivationParams

ETA_DIGITS = 10
#: Relative distance below which two computed steps are the same step (cross-CPU noise: ~1e-9; a
#: different dataset, size or step factor moves the step by far more than 1e-6).
ETA_SNAP = 1e-7


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

