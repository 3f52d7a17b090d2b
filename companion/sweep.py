"""The MNIST sweep of Chapter 3: regime x dataset size N x seed, every pre-training checkpoint.

One *unit* is one (regime, N, seed): a single pre-training run that records the dense network at every
iteration of a geometric checkpoint grid (which includes t = 0); at each checkpoint the dense network,
its greedily selected subnetwork of k neurons (Ye et al. 2020, no repeats) and two baselines of the same
size (k random neurons; the k neurons of largest ||w_r|| ||a_r||) are evaluated on the training subset
and on a held-out set. Each unit returns a tidy frame

    regime, n, seed, t, method (dense/greedy/random/magnitude), split (train/test), loss, accuracy

(loss = mean over samples of 0.5 ||f(x) - y||^2 on one-hot targets) and is cached on its own with
:func:`companion.cache.cached` under ``ch3-<regime>-n<N>-s<seed>-<hash of its full configuration>``.
The data are loaded *inside* the unit's computation, so a sweep whose units are all cached never reads
MNIST. A sweep that is interrupted (even by SIGKILL) resumes: finished units are read back, only the
missing ones are computed. Units can run in ``n_jobs`` worker processes (joblib).

Regimes (both squared loss on one-hot targets, mini-batch SGD with a learning rate fixed across N):

- ``ntk``: the theorem's network, f = (1/sqrt(m)) sum_r a_r relu(w_r . x), a_r fixed signs, only W
  trained (Du et al. 2019).
- ``mean_field``: f = (1/m) sum_r a_r relu(w_r . x), both layers trained, the step multiplied by m
  (Mei et al. 2018): the regime in which small subnetworks are useful.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd
import torch
from tqdm import tqdm

from . import analysis, cache, validate
from .pretrain import geometric_checkpoints
from .runtime import DEVICES, device_description, resolve_device

#: Per-regime settings that are not chapter parameters.
REGIMES = {
    "mean_field": {"parameterization": "mean_field", "optimizer": "sgd", "loss": "mse",
                   "reduction": "mean"},
    "ntk": {"parameterization": "ntk", "optimizer": "sgd", "loss": "mse", "reduction": "mean"},
}
METHODS = ("dense", "greedy", "random", "magnitude")
SPLITS = ("train", "test")
SOURCES = ("embedded", "torchvision")
#: Largest class-balanced training / held-out samples of each source: 10 x the rarest class (MNIST's
#: digit 5 has 5,421 training and 892 test images; the embedded pool has 400 + 100 of each digit).
SOURCE_LIMITS = {"embedded": (4_000, 1_000), "torchvision": (54_210, 8_920)}
DTYPES = ("float32", "float64")
INPUT_DIM = 784
NUM_CLASSES = 10


def checkpoint_grid(steps: int, num_checkpoints: int, first: int = 10) -> list[int]:
    """0 and ``num_checkpoints - 1`` iterations spaced geometrically from ``first`` to ``steps``
    (rounded; duplicates after rounding are dropped)."""
    validate.integer("steps", steps, low=1)
    validate.integer("num_checkpoints", num_checkpoints, low=2)
    validate.integer("first_checkpoint", first, low=1, high=steps)
    return geometric_checkpoints(first, steps, num_checkpoints - 1)


@dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep's results depend on (the device is recorded in provenance, not here)."""

    regimes: tuple[str, ...]
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    n_test: int
    width: int
    k: int
    steps: int
    num_checkpoints: int
    first_checkpoint: int
    batch_size: int
    lr: tuple[tuple[str, float], ...]  # (regime, base learning rate) pairs
    source: str
    dtype: str = "float32"

    @property
    def checkpoints(self) -> list[int]:
        return checkpoint_grid(self.steps, self.num_checkpoints, self.first_checkpoint)

    def learning_rate(self, regime: str) -> float:
        return dict(self.lr)[regime]

    def unit_config(self, regime: str, n: int, seed: int) -> dict:
        """The full configuration of one unit: what its cache entry is keyed on."""
        return {"experiment": "ch3_mnist_threshold", "regime": regime, **REGIMES[regime],
                "lr": self.learning_rate(regime), "lr_scaled_by_m": regime == "mean_field",
                "batch_size": self.batch_size, "n": n, "seed": seed, "n_test": self.n_test,
                "source": self.source, "center": True, "unit_norm": True, "width": self.width,
                "k": self.k, "allow_repeats": False, "checkpoints": self.checkpoints,
                "dtype": self.dtype}

    def units(self) -> list[tuple[str, int, int]]:
        return [(r, n, s) for r in self.regimes for n in self.sizes for s in self.seeds]


def unit_name(regime: str, n: int, seed: int) -> str:
    return f"ch3-{regime}-n{n}-s{seed}"


def check_params(*, regimes, sizes, seeds, n_test, width, k, steps, num_checkpoints,
                 first_checkpoint, batch_size, lr_mean_field, lr_ntk, source, device="auto",
                 n_jobs=1, threshold_rule="within_delta", threshold_metric="loss", delta=0.02,
                 deltas=(0.02,), level=0.85, levels=(0.85,), n_boot=1000, useful_accuracy=0.5,
                 cache_dir=None, progress=True, dtype="float32", **_ignored) -> dict:
    """Validate every Chapter 3 parameter before any work; returns ``{'spec': SweepSpec, 'run':
    {...}, 'analysis': {...}}``. Raises :class:`companion.validate.ParameterError` naming the parameter.
    Never reads data: the limits of each source are known constants."""
    if isinstance(regimes, str) or not isinstance(regimes, (list, tuple)) or not regimes:
        raise validate.ParameterError(f"parameter 'regimes' = {regimes!r} is not allowed: must be a "
                                      f"non-empty list of {', '.join(map(repr, REGIMES))}")
    for i, r in enumerate(regimes):
        validate.choice(f"regimes[{i}]", r, REGIMES)
    if len(set(regimes)) != len(regimes):
        raise validate.ParameterError(f"parameter 'regimes' = {regimes!r} is not allowed: must not "
                                      "repeat a regime")
    source = validate.choice("source", source, SOURCES)
    max_train, max_test = SOURCE_LIMITS[source]
    sizes = validate.integer_list("sizes", sizes, low=NUM_CLASSES, high=max_train)
    seeds = validate.integer_list("seeds", seeds, low=0)
    n_test = validate.integer("n_test", n_test, low=NUM_CLASSES, high=max_test)
    width = validate.integer("width", width, low=1)
    k = validate.integer("k", k, low=1, high=width)
    steps = validate.integer("steps", steps, low=1)
    num_checkpoints = validate.integer("num_checkpoints", num_checkpoints, low=2)
    first_checkpoint = validate.integer("first_checkpoint", first_checkpoint, low=1, high=steps)
    batch_size = validate.integer("batch_size", batch_size, low=1, high=sizes[0])
    lr_mean_field = validate.positive("lr_mean_field", lr_mean_field)
    lr_ntk = validate.positive("lr_ntk", lr_ntk)
    validate.choice("device", device, DEVICES)
    n_jobs = validate.integer("n_jobs", n_jobs, low=1)
    validate.choice("dtype", dtype, DTYPES)
    if not isinstance(progress, bool):
        raise validate.ParameterError(f"parameter 'progress' = {progress!r} is not allowed: must be "
                                      "True or False")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise validate.ParameterError(f"parameter 'cache_dir' = {cache_dir!r} is not allowed: must be "
                                      "None (the user cache, .cache/) or a path")
    spec = SweepSpec(regimes=tuple(regimes), sizes=tuple(sizes), seeds=tuple(seeds), n_test=n_test,
                     width=width, k=k, steps=steps, num_checkpoints=num_checkpoints,
                     first_checkpoint=first_checkpoint, batch_size=batch_size,
                     lr=tuple((r, {"mean_field": lr_mean_field, "ntk": lr_ntk}[r]) for r in regimes),
                     source=source, dtype=dtype)
    rules = analysis.check_params(threshold_rule=threshold_rule, threshold_metric=threshold_metric,
                                  delta=delta, deltas=deltas, level=level, levels=levels,
                                  n_boot=n_boot, useful_accuracy=useful_accuracy)
    return {"spec": spec, "run": {"device": device, "n_jobs": n_jobs, "cache_dir": cache_dir,
                                  "progress": progress}, "analysis": rules}


@torch.no_grad()
def _evaluate_checkpoint(model, split, k: int, seed: int) -> list[dict]:
    from .prune import evaluate_subnetwork, greedy_forward_selection, magnitude_selection, random_selection

    hidden, out_w, bias = model.neurons(split.train.x)
    hidden, out_w = hidden.double(), out_w.double()
    m = out_w.shape[0]
    picks = {"dense": list(range(m)),
             "greedy": greedy_forward_selection(hidden, out_w, split.train.targets, k,
                                                allow_repeats=False).picks,
             "random": random_selection(m, k, seed=seed),
             "magnitude": magnitude_selection(model.w.detach().double(), out_w, k)}
    rows = []
    for name, data in (("train", split.train), ("test", split.test)):
        h = hidden if name == "train" else model.neurons(data.x)[0].double()
        for method in METHODS:
            res = evaluate_subnetwork(h, out_w, data.targets, picks[method], labels=data.labels,
                                      bias=bias)
            rows.append({"method": method, "split": name, **res})
    return rows


def compute_unit(config: dict, device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """Run one unit from its configuration (loads the data, pre-trains once, evaluates every checkpoint)."""
    from .data import mnist
    from .model import TwoLayerNet
    from .pretrain import TrainConfig, model_at, pretrain

    dtype = getattr(torch, config["dtype"])
    split = mnist(config["n"], n_test=config["n_test"], seed=config["seed"], source=config["source"],
                  center=config["center"], unit_norm=config["unit_norm"])
    split = type(split)(split.train.to(dtype=dtype), split.test.to(dtype=dtype))
    model = TwoLayerNet(split.train.x.shape[1], config["width"], NUM_CLASSES,
                        config["parameterization"], seed=config["seed"], dtype=dtype)
    train_cfg = TrainConfig(lr=config["lr"], optimizer=config["optimizer"],
                            batch_size=config["batch_size"], loss=config["loss"],
                            reduction=config["reduction"], seed=config["seed"], device=device)
    result = pretrain(model, split.train, train_cfg, config["checkpoints"], progress=progress)
    rows = []
    for t in config["checkpoints"]:
        net = model_at(model, result.states[t])
        for row in _evaluate_checkpoint(net, split, config["k"], config["seed"]):
            rows.append({"regime": config["regime"], "n": config["n"], "seed": config["seed"],
                         "t": t, **row})
    return pd.DataFrame(rows, columns=["regime", "n", "seed", "t", "method", "split", "loss",
                                       "accuracy"])


def _run_unit(spec: SweepSpec, unit, device: str, cache_dir, single_thread: bool):
    """Load or compute one unit; returns (frame, computed?)."""
    if single_thread:
        torch.set_num_threads(1)
    regime, n, seed = unit
    config = spec.unit_config(regime, n, seed)
    name = unit_name(regime, n, seed)
    frame = cache.load(name, config, cache_dir)
    if frame is not None:
        return frame, False
    dev = resolve_device(device)
    frame = cache.cached(name, config, lambda: compute_unit(config, device),
                         cache_dir=cache_dir, device=device_description(dev))
    return frame, True


def _run_unit_tagged(spec, unit, device, cache_dir):
    return unit, _run_unit(spec, unit, device, cache_dir, True)


def missing_units(spec: SweepSpec, cache_dir=None) -> list[tuple[str, int, int]]:
    """Units without a cache entry (checks existence only: reads no frame)."""
    return [u for u in spec.units() if not cache.exists(unit_name(*u), spec.unit_config(*u), cache_dir)]


def run_sweep(spec: SweepSpec, *, cache_dir=None, n_jobs: int = 1, device: str = "auto",
              progress: bool = True) -> pd.DataFrame:
    """All units of ``spec`` as one tidy frame (cached units read back, missing ones computed).

    ``frame.attrs['computed']`` lists the units computed by this call (empty when all were cached).
    """
    validate.integer("n_jobs", n_jobs, low=1)
    resolve_device(device)
    units = spec.units()
    todo = set(missing_units(spec, cache_dir))
    results = {}
    computed = []
    # Cached units first, in the calling process (cheap), then the missing ones, possibly in parallel.
    for u in units:
        if u not in todo:
            frame, did = _run_unit(spec, u, device, cache_dir, False)
            results[u] = frame
            if did:
                computed.append(u)
    pending = [u for u in units if u in todo]
    pending.sort(key=lambda u: -u[1])  # largest N first: better load balance across workers
    bar = tqdm(total=len(pending), desc="sweep units", disable=not progress or not pending,
               leave=False)
    if pending and n_jobs > 1:
        from joblib import Parallel, delayed

        jobs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_run_unit_tagged)(spec, u, device, cache_dir) for u in pending)
        for u, (frame, did) in jobs:
            results[u] = frame
            if did:
                computed.append(u)
            bar.update()
    else:
        for u in pending:
            frame, did = _run_unit(spec, u, device, cache_dir, False)
            results[u] = frame
            if did:
                computed.append(u)
            bar.update()
    bar.close()
    frame = pd.concat([results[u] for u in units], ignore_index=True)
    frame = frame.sort_values(["regime", "n", "seed", "t", "method", "split"], kind="stable",
                              ignore_index=True)
    frame.attrs["computed"] = sorted(computed)
    return frame


def provenance(spec: SweepSpec, cache_dir=None) -> pd.DataFrame:
    """One row per unit: device and wall time from its provenance (missing units are absent)."""
    rows = []
    for u in spec.units():
        prov = cache.provenance(unit_name(*u), spec.unit_config(*u), cache_dir)
        if prov is not None:
            rows.append({"regime": u[0], "n": u[1], "seed": u[2], "device": prov.get("device"),
                         "wall_time_s": prov.get("wall_time_s"),
                         "torch": prov.get("packages", {}).get("torch")})
    return pd.DataFrame(rows, columns=["regime", "n", "seed", "device", "wall_time_s", "torch"])

