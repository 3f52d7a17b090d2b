"""Chapter 3's compute (the MNIST validation): when does greedy forward selection find a good subnetwork, and how
does that threshold move with the training-set size N? Three experiments on full MNIST:

- :class:`ThresholdSweep` with ``optimizer="sgd"`` (the main arm) and ``optimizer="gd"`` (the theorem's
  optimiser, full-batch gradient descent): one *unit* is one (N, seed), a single pre-training run of a
  mean-field two-layer ReLU network (f = (1/m) sum_r a_r relu(w_r . x), both layers trained, the step
  multiplied by m; Mei et al. 2018) with the learning rate fixed across N, recorded at every iteration
  of a geometric checkpoint grid (which includes t = 0). At each checkpoint the dense network, its
  greedily selected subnetwork of k neurons (Ye et al. 2020, no repeats) and two baselines of the same
  size (k random neurons, averaged over ``random_draws`` draws; the k neurons of largest
  ||w_r|| ||a_r||) are evaluated on the training subset and on a held-out set. Tidy frame:

      optimizer, n, seed, t, method (dense/greedy/random/magnitude), split (train/test), loss, accuracy

  (loss = mean over samples of 0.5 ||f(x) - y||^2 on one-hot targets; the summed loss is n * loss).
- :class:`NtkStudy`: the theorem's NTK network (f = (1/sqrt(m)) sum_r a_r relu(w_r . x), a_r fixed
  signs, only W trained; Du et al. 2019) at one N, one unit per (learning rate, seed): greedy
  averaging with and without repeats for k from below m to above it, with the output scale as it is
  and refitted (one scalar c on the training set). Tidy frame:

      lr, seed, n, t, method (dense/greedy_repeats/greedy_distinct), k, output_scale (none/refit),
      scale, split, loss, accuracy

Every unit is stored on its own by the engine under ``ch3-<arm>-...-<hash of its configuration>``;
the data are loaded inside the unit's computation, so a chapter whose units are all stored never reads
MNIST. Preprocessing is the same for every N: pixels in [0, 1], centred on the mean image of the whole
training pool, each image scaled to unit norm. One seed fixes a unit's data subset (nested across N),
its initialisation and its SGD order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ... import data
from ...experiments import engine
from ...metrics import accuracy, mean_squared_loss
from ...models import TwoLayerNet
from ...pretrain import TrainConfig, model_at, pretrain
from ...prune.greedy import evaluate_subnetworks, greedy_forward_selection, subnetwork_output
from ...prune.subnetwork import magnitude_selection, random_selection
from ...train import TrainingDiverged, checkpoint_grid

METHODS = ("dense", "greedy", "random", "magnitude")
NTK_METHODS = ("dense", "greedy_repeats", "greedy_distinct")
SPLITS = ("train", "test")
NUM_CLASSES = data.NUM_CLASSES
#: Preprocessing of every unit: centred on the whole training pool's mean image, unit-norm rows.
CENTER = "pool"


def experiments(p) -> dict[str, engine.Experiment]:
    """The chapter's experiments for parameters ``p`` (a :class:`.params.MnistParams`), the main arm
    first."""
    return {"sgd": p.sweep("sgd"), "gd": p.sweep("gd"), "ntk": p.ntk_study(),
            "well": p.well_trained("mean_field"), "well_ntk": p.well_trained("ntk")}


def _split(config: dict, n: int, seed: int, dtype):
    split = data.mnist(n, n_test=config["n_test"], seed=seed, source=config["source"],
                  center=config["center"], unit_norm=config["unit_norm"],
                  n_heldout=config.get("n_heldout", 0), heldout_from=config.get("heldout_from"))
    heldout = split.heldout.to(dtype=dtype) if split.heldout is not None else None
    return type(split)(split.train.to(dtype=dtype), split.test.to(dtype=dtype), heldout)


class _Chapter3Experiment(engine.Experiment):
    """What chapter 3's experiments share: the folder prefix, the tolerance and the checkpoint grid."""

    name = "ch3"
    # float32 pre-training over thousands of steps. Measured (scripts/numerics.py --drift: 8 numeric
    # configurations, the cheapest unit of each arm, against the committed results): SGD losses drift
    # by at most 2.4e-5 relative and accuracies by 1e-4 (one image in 10,000), GD by 1.4e-6 and 1e-3;
    # in the NTK study (4,000 steps at step 64, k up to 1,024 with repeats) a near-tie pick flips and
    # changes that checkpoint's subnetwork (see NtkStudy). At most 2% of a unit's rows may differ beyond
    # rtol 1e-3 / atol 5e-3: a code change moves nearly every row by far more.
    tolerance = {"rtol": 1e-3, "atol": 5e-3, "max_share": 0.02}

    @property
    def checkpoints(self) -> list[int]:
        return checkpoint_grid(self.steps, self.num_checkpoints - 1, self.first_checkpoint)


@dataclass(frozen=True)
class ThresholdSweep(_Chapter3Experiment):
    """One arm of the threshold sweep (everything its results depend on; run options are not here)."""

    optimizer: str
    sizes: tuple
    seeds: tuple
    n_test: int
    width: int
    k: int
    steps: int
    num_checkpoints: int
    first_checkpoint: int
    batch_size: int | None
    lr: float
    random_draws: int
    source: str
    dtype: str = "float32"

    def units(self):
        return [(n, s) for n in self.sizes for s in self.seeds]

    def unit_label(self, unit):
        return "{}-n{}-s{}".format(self.optimizer, *unit)

    def unit_config(self, unit) -> dict:
        n, seed = unit
        return {"experiment": "ch3_mnist_threshold", "regime": "mean_field",
                "parameterization": "mean_field", "optimizer": self.optimizer, "loss": "mse",
                "reduction": "mean", "lr": self.lr, "lr_scaled_by_m": True,
                "batch_size": self.batch_size, "sgd_batches": "epoch_stream" if self.batch_size else None,
                "n": n, "seed": seed, "n_test": self.n_test, "source": self.source, "center": CENTER,
                "unit_norm": True, "width": self.width, "k": self.k, "allow_repeats": False,
                "random_draws": self.random_draws, "checkpoints": self.checkpoints, "dtype": self.dtype}

    def cost(self, unit):
        # SGD: a fixed number of steps plus one evaluation pass over N per checkpoint; GD: N per step.
        n = unit[0]
        per_step = self.batch_size or n
        return self.steps * per_step * 3 + len(self.checkpoints) * n * 4

    def compute(self, unit, device):
        return compute_unit(self.unit_config(unit), str(device))


@torch.no_grad()
def _evaluate_checkpoint(model, split, k: int, seed: int, index: int, draws: int) -> list[dict]:

    hidden, out_w, bias = model.neurons(split.train.x)
    hidden, out_w = hidden.double(), out_w.double()
    test_hidden = model.neurons(split.test.x)[0].double()
    m = out_w.shape[0]
    picks = {"dense": list(range(m)),
             "greedy": greedy_forward_selection(hidden, out_w, split.train.targets, k,
                                                allow_repeats=False, gram=True).picks,
             "magnitude": magnitude_selection(model.w.detach().double(), out_w, k)}
    # A fresh set of random subnetworks at every checkpoint, averaged: one draw is too noisy a baseline.
    randoms = [random_selection(m, k, seed=data.draw_seed(seed, index, d)) for d in range(draws)]
    # One product evaluates every net (dense, greedy, magnitude and each random draw) on a split.
    nets = [picks["dense"], picks["greedy"], picks["magnitude"], *randoms]
    rows = []
    for name, data_, h in (("train", split.train, hidden), ("test", split.test, test_hidden)):
        res = evaluate_subnetworks(h, out_w, data_.targets, nets, labels=data_.labels, bias=bias)
        by_method = {"dense": res[:1], "greedy": res[1:2], "magnitude": res[2:3], "random": res[3:]}
        for method in METHODS:
            rows.append({"method": method, "split": name,
                         "loss": float(np.mean([r["loss"] for r in by_method[method]])),
                         "accuracy": float(np.mean([r["accuracy"] for r in by_method[method]]))})
    return rows


def _train_config(config: dict, device: str):
    return TrainConfig(lr=config["lr"], optimizer=config["optimizer"], batch_size=config["batch_size"],
                       loss=config["loss"], reduction=config["reduction"], seed=config["seed"],
                       device=device)


def compute_unit(config: dict, device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """Run one unit of a threshold sweep from its configuration (loads the data, pre-trains once,
    evaluates every checkpoint)."""

    dtype = getattr(torch, config["dtype"])
    split = _split(config, config["n"], config["seed"], dtype)
    model = TwoLayerNet(split.train.x.shape[1], config["width"], NUM_CLASSES,
                        config["parameterization"], seed=config["seed"], dtype=dtype)
    result = pretrain(model, split.train, _train_config(config, device), config["checkpoints"],
                      progress=progress, history=False)
    rows = []
    for i, t in enumerate(config["checkpoints"]):
        net = model_at(model, result.states[t])
        for row in _evaluate_checkpoint(net, split, config["k"], config["seed"], i,
                                        config["random_draws"]):
            rows.append({"optimizer": config["optimizer"], "n": config["n"], "seed": config["seed"],
                         "t": t, **row})
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


FRAME_COLUMNS = ["optimizer", "n", "seed", "t", "method", "split", "loss", "accuracy"]
NTK_COLUMNS = ["lr", "seed", "n", "t", "method", "k", "output_scale", "scale", "split", "loss",
               "accuracy"]


@dataclass(frozen=True)
class NtkStudy(_Chapter3Experiment):
    """Greedy averaging in the theorem's NTK parameterisation: repeats, k/m and the output scale."""

    n: int
    seeds: tuple
    lrs: tuple
    ks: tuple
    width: int
    steps: int
    num_checkpoints: int
    first_checkpoint: int
    batch_size: int
    n_test: int
    source: str
    dtype: str = "float32"
    # 4,000 float32 steps at step 64, greedy up to k = 1,024 with repeats: near-tie picks flip with the
    # last bits and change that checkpoint's subnetwork. Measured (scripts/numerics.py --drift): 9% of
    # rows differ at all, by up to 0.012 in accuracy and 2.4% in loss, and up to 1.9% of rows beyond
    # rtol 1e-3 / atol 5e-3 (PyTorch's baseline kernels): 5% may.
    tolerance = {"rtol": 1e-3, "atol": 5e-3, "max_share": 0.05}

    def units(self):
        return [(lr, s) for lr in self.lrs for s in self.seeds]

    def unit_label(self, unit):
        return "ntk-lr{:g}-s{}".format(*unit)

    def unit_config(self, unit) -> dict:
        lr, seed = unit
        return {"experiment": "ch3_ntk_study", "regime": "ntk", "parameterization": "ntk",
                "optimizer": "sgd", "loss": "mse", "reduction": "mean", "lr": lr,
                "batch_size": self.batch_size, "sgd_batches": "epoch_stream", "n": self.n, "seed": seed,
                "n_test": self.n_test, "source": self.source, "center": CENTER, "unit_norm": True,
                "width": self.width, "ks": list(self.ks), "checkpoints": self.checkpoints,
                "dtype": self.dtype}

    def cost(self, unit):
        return self.steps * self.batch_size * 3 + len(self.checkpoints) * self.n * (4 + max(self.ks) / 8)

    def compute(self, unit, device):
        return compute_ntk_unit(self.unit_config(unit), str(device))


def output_scale(out: torch.Tensor, targets: torch.Tensor) -> float:
    """The scalar c minimising ||c out - targets||^2 over the training set: <out, y> / ||out||^2."""
    denom = float((out * out).sum())
    return float((out * targets.to(out.dtype)).sum()) / denom if denom > 0 else 1.0


def compute_ntk_unit(config: dict, device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """One unit of the NTK study: pre-train the NTK network once; at every checkpoint, greedy
    selection with repeats up to the largest k (its first k picks are the greedy choice of size k) and
    without repeats up to min(k, m), each evaluated as it is and with its output scale refitted."""

    dtype = getattr(torch, config["dtype"])
    split = _split(config, config["n"], config["seed"], dtype)
    model = TwoLayerNet(split.train.x.shape[1], config["width"], NUM_CLASSES, "ntk", seed=config["seed"],
                        dtype=dtype)
    try:
        result = pretrain(model, split.train, _train_config(config, device), config["checkpoints"],
                          progress=progress, history=False)
    except TrainingDiverged as err:
        # A step past the stable range is a result (the grid's upper edge), not a crash: one row says so.
        return pd.DataFrame([{"lr": config["lr"], "seed": config["seed"], "n": config["n"], "t": err.step,
                              "method": "diverged", "k": 0, "output_scale": "none", "scale": math.nan,
                              "split": "train", "loss": math.inf, "accuracy": math.nan}], columns=NTK_COLUMNS)
    rows = []
    for t in config["checkpoints"]:
        for row in _ntk_checkpoint(model_at(model, result.states[t]), split, sorted(config["ks"])):
            rows.append({"lr": config["lr"], "seed": config["seed"], "n": config["n"], "t": t, **row})
    return pd.DataFrame(rows, columns=NTK_COLUMNS)


@torch.no_grad()
def _ntk_checkpoint(net, split, ks) -> list[dict]:

    hidden, out_w, _ = net.neurons(split.train.x)
    hidden, out_w = hidden.double(), out_w.double()
    test_hidden = net.neurons(split.test.x)[0].double()
    y, m = split.train.targets.double(), out_w.shape[0]
    rep = greedy_forward_selection(hidden, out_w, y, max(ks), allow_repeats=True, gram=True).picks
    dis = greedy_forward_selection(hidden, out_w, y, min(max(ks), m), allow_repeats=False,
                                   gram=True).picks
    chosen = {"dense": {m: list(range(m))}, "greedy_repeats": {k: rep[:k] for k in ks},
              "greedy_distinct": {k: dis[:k] for k in ks if k <= m}}
    rows = []
    for method, by_k in chosen.items():
        for k, picks in by_k.items():
            outs = {"train": subnetwork_output(hidden, out_w, picks),
                    "test": subnetwork_output(test_hidden, out_w, picks)}
            c = output_scale(outs["train"], y)
            for scale_name, scale in (("none", 1.0), ("refit", c)):
                for split_name, d in (("train", split.train), ("test", split.test)):
                    out = scale * outs[split_name]
                    loss = mean_squared_loss(out, d.targets.double())
                    rows.append({"method": method, "k": k, "output_scale": scale_name, "scale": scale,
                                 "split": split_name, "loss": loss, "accuracy": accuracy(out, d.labels)})
    return rows


WT_COLUMNS = ["parameterization", "lr", "n", "seed", "t", "method", "k", "output_scale", "split", "loss",
              "accuracy"]


@dataclass(frozen=True)
class WellTrainedSweep(_Chapter3Experiment):
    """The reviewer's well-trained regime: the SGD arm's subsets and schedule at tuned steps, greedy
    subnetworks of several k (one selection up to the largest k: greedy's first k picks are its choice
    of size k), evaluated on the training set, the test images and images held out from the unused part
    of the training pool. ``parameterization='ntk'`` is the theorem's network (outputs also with the
    refitted output scale, as in the NTK study)."""

    parameterization: str
    lrs: tuple
    sizes: tuple
    seeds: tuple
    ks: tuple
    width: int
    steps: int
    num_checkpoints: int
    first_checkpoint: int
    batch_size: int
    n_test: int
    n_heldout: int
    heldout_from: int
    source: str
    dtype: str = "float32"
    #: The lead step (``None``: none): its units add a geometric grid (first, last, points) to the wt grid,
    #: dense where the thresholds lie; the other steps keep the wt grid (and their stored units).
    lead_lr: float | None = None
    lead_grid: tuple = (25, 260, 34)

    def unit_checkpoints(self, lr) -> list[int]:
        """The checkpoints of step ``lr``: the wt grid, plus the dense grid for the lead step."""
        if self.lead_lr is None or lr != self.lead_lr:
            return self.checkpoints
        first, last, points = self.lead_grid
        return [t for t in lead_checkpoints(self.checkpoints, first, last, points) if t <= self.steps]

    @property
    def tolerance(self) -> dict:
        # The NTK network trains at its tuned step 80, next to the edge of the stable range (96 diverges):
        # there a last-bit change moves the trajectory and flips greedy picks. Measured (the cheapest unit,
        # ATEN_CPU_CAPABILITY=default + MKL AVX2 + 1 thread against the committed frame): 50 of 288 rows
        # (17%) differ beyond rtol 1e-3 / atol 5e-3, by up to 0.063 in accuracy and 0.37 in loss. So the NTK
        # arm allows 25% of rows; the mean-field arm keeps chapter 3's 2% (it passed under the same numerics).
        base = _Chapter3Experiment.tolerance
        return {**base, "max_share": 0.25} if self.parameterization == "ntk" else base

    def units(self):
        return [(lr, n, s) for lr in self.lrs for n in self.sizes for s in self.seeds]

    def unit_label(self, unit):
        short = "wt" if self.parameterization == "mean_field" else "wtntk"
        return "{}-lr{:g}-n{}-s{}".format(short, *unit)

    def unit_config(self, unit) -> dict:
        lr, n, seed = unit
        return {"experiment": "ch3_well_trained", "parameterization": self.parameterization,
                "optimizer": "sgd", "loss": "mse", "reduction": "mean", "lr": lr,
                "lr_scaled_by_m": self.parameterization == "mean_field", "batch_size": self.batch_size,
                "sgd_batches": "epoch_stream", "n": n, "seed": seed, "n_test": self.n_test,
                "n_heldout": self.n_heldout, "heldout_from": self.heldout_from, "source": self.source,
                "center": CENTER, "unit_norm": True, "width": self.width, "ks": sorted(self.ks),
                "allow_repeats": False, "checkpoints": self.unit_checkpoints(lr), "dtype": self.dtype}

    def cost(self, unit):
        lr, n = unit[0], unit[1]
        return self.steps * self.batch_size * 3 + len(self.unit_checkpoints(lr)) * (n + self.n_heldout) * 6

    def compute(self, unit, device):
        return compute_well_trained_unit(self.unit_config(unit), str(device))


def lead_checkpoints(grid, first: int, last: int, points: int) -> list[int]:
    """``grid`` with ``points`` iterations spaced geometrically from ``first`` to ``last`` (rounded) added:
    the lead step's grid, dense where its thresholds lie, the geometric tail kept."""
    return sorted({*grid, *(int(round(v)) for v in np.geomspace(first, last, points))})


def compute_well_trained_unit(config: dict, device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """One unit of the well-trained arm: pre-train once; at every checkpoint, the dense network and the
    greedy subnetworks of every k in ``ks`` (without repeats) on the training, test and held-out images."""

    dtype = getattr(torch, config["dtype"])
    split = _split(config, config["n"], config["seed"], dtype)
    model = TwoLayerNet(split.train.x.shape[1], config["width"], NUM_CLASSES, config["parameterization"],
                        seed=config["seed"], dtype=dtype)
    base = {"parameterization": config["parameterization"], "lr": config["lr"], "n": config["n"],
            "seed": config["seed"]}
    try:
        result = pretrain(model, split.train, _train_config(config, device), config["checkpoints"],
                          progress=progress, history=False)
    except TrainingDiverged as err:
        return pd.DataFrame([{**base, "t": err.step, "method": "diverged", "k": 0, "output_scale": "none",
                              "split": "train", "loss": math.inf, "accuracy": math.nan}], columns=WT_COLUMNS)
    ks = sorted(config["ks"])
    scales = ("none", "refit") if config["parameterization"] == "ntk" else ("none",)
    data = {"train": split.train, "test": split.test, "heldout": split.heldout}
    rows = []
    with torch.no_grad():
        for t in config["checkpoints"]:
            net = model_at(model, result.states[t])
            hidden, out_w, bias = net.neurons(split.train.x)
            hidden, out_w = hidden.double(), out_w.double()
            feats = {"train": hidden, **{name: net.neurons(d.x)[0].double() for name, d in data.items()
                                         if name != "train"}}
            m, y = out_w.shape[0], split.train.targets.double()
            picks = greedy_forward_selection(hidden, out_w, y, max(ks), allow_repeats=False, gram=True).picks
            for method, k, chosen in [("dense", m, list(range(m)))] + [("greedy", k, picks[:k]) for k in ks]:
                outs = {name: subnetwork_output(h, out_w, chosen, bias=bias) for name, h in feats.items()}
                c = output_scale(outs["train"], y)
                for scale_name in scales:
                    scale = 1.0 if scale_name == "none" else c
                    for name, d in data.items():
                        out = scale * outs[name]
                        rows.append({**base, "t": t, "method": method, "k": k, "output_scale": scale_name,
                                     "split": name, "loss": mean_squared_loss(out, d.targets.double()),
                                     "accuracy": accuracy(out, d.labels)})
    return pd.DataFrame(rows, columns=WT_COLUMNS)


def run(p, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
    """The chapter's frames: ``sgd``, ``gd`` (threshold sweeps), ``ntk`` (the NTK study), ``well`` and
    ``well_ntk`` (the well-trained arm, mean-field and NTK) and ``units`` (the provenance of every unit)."""
    exps = experiments(p)
    out = {key: engine.run(exp, options) for key, exp in exps.items()}
    for key in ("sgd", "gd"):
        out[key] = out[key].sort_values(["n", "seed", "t", "method", "split"], kind="stable",
                                        ignore_index=True)
    for key in ("well", "well_ntk"):
        out[key] = out[key].sort_values(["lr", "n", "seed", "t", "method", "k", "output_scale", "split"],
                                        kind="stable", ignore_index=True)
    out["units"] = pd.concat([engine.provenance(exp, options.cache_dir).assign(experiment=key)
                              for key, exp in exps.items()], ignore_index=True)
    return out

