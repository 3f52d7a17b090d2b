"""Chapter 4's arms: one :class:`ArmSpec` per architecture, registered in :data:`ARMS`.

An arm specification says everything the chapter needs to know about one architecture: how to build
the dense network and the small one (the pruned shape, freshly initialised: the scratch control), its
prunable unit widths, its pruners (:mod:`.selection`), its loss and input scaling, which of the
chapter's flat parameters it reads (``mlp_ratios`` stays ``mlp_ratios``: the presets and papermill use
those names), its cost model and the reader's name. The rest of the chapter asks the registry and never
branches on an arm's name. A new architecture is one :func:`register` call (and its parameters; see
tests/test_finetune_toy_arm.py).

The book's three arms:

- ``two_layer``: chapter 3's mean-field two-layer ReLU network (width m, squared loss, SGD on batches
  of 128 with the step times m), pruned to k = ratio * m neurons by chapter 3's closed-form greedy
  (Ye et al. 2020, no repeats, on the whole training subset); the subnetwork is the width-k mean-field
  network (:meth:`companion.models.TwoLayerNet.subnetwork`), fine-tuned the same way (step times k).
  Its inputs are scaled to unit norm (chapter 3).
- ``mlp``: a deeper MLP (784-256-256-10, cross-entropy, SGD with momentum), every hidden layer pruned
  to the same ratio by the exact layer-wise greedy (:mod:`companion.prune.layerwise`, batched) on a
  scoring subset, by Ye et al.'s sampled variant (random candidates scored on a mini-batch) and by the
  layer-local closed form (these two at the arm's smallest ratio only).
- ``cnn``: a small residual CNN (:class:`companion.models.ResNet`), the inner channels of every block
  pruned to one ratio by the exact layer-wise greedy. The MLP and the CNN take centred pixels, not
  scaled to unit norm (a practitioner's input: measured, with unit-norm inputs the CNN does not move
  from chance in 4,096 steps at step 0.05).

In every arm, ``random`` (one seeded draw per unit, checkpoint and ratio) and ``magnitude`` (largest
||incoming|| x ||outgoing||) keep the same widths.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch

from ... import validate
from ...data import NUM_CLASSES
from ...models import MLP, ResNet, TwoLayerNet
from ...prune.subnetwork import flops_per_image, from_scratch, materialise
from . import selection

#: Pixels per image (MNIST, flattened; the CNN reshapes them itself).
INPUT_SIZE = 784


def _as_widths(value) -> tuple:
    """A unit-widths parameter as a tuple: one width (an int) or a list of them."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _layers(config) -> list[int]:
    """One prunable unit layer per entry of ``widths``."""
    return list(config["widths"])


def _layers_per_stage(config) -> list[int]:
    """The inner channels of every residual block: each stage's channels, once per block."""
    return [c for c in config["widths"] for _ in range(max(1, config["blocks_per_stage"]))]


@dataclass(frozen=True)
class ArmSpec:
    """One architecture of chapter 4.

    ``key`` names the arm in the frames, the cache keys (``unit_config``'s ``arm``, the unit label
    ``ft-<key without _>-n<N>-s<seed>``) and the results; ``name`` is the reader's name.

    ``reads`` maps each per-arm field of the engine's experiment (:class:`.experiments.FinetuneArm`)
    to the flat parameter it is read from; ``fixed`` gives the fields this arm does not read their
    value (they are part of the cache key, so they stay what they were). ``widths`` may be read from
    one integer (one unit layer) or a list.

    ``dense(config, seed)`` builds the dense network, ``small(config, dense, widths, seed)`` the
    pruned shape freshly initialised, ``unit_widths(config)`` the widths of the prunable unit layers
    (what a ratio keeps a share of), ``materialise(net, picks)`` the chosen subnetwork as a small dense
    network, ``flops(model)`` forward FLOPs per image. ``pruners``: method -> function of a
    :class:`.selection.Target` (in the order they run); ``variants``: pruners run at the smallest ratio
    only. ``loss`` ("mse" or "ce"), ``unit_norm`` (inputs scaled to unit norm), ``parameterization``
    and ``lr_scaled_by_width`` are what the unit's configuration records.

    The cost model (fitted on the reference machine, see :mod:`.cost`): ``seconds_per`` = (per SGD
    step, per evaluation, per unit of training FLOPs, per FLOP of the layer-wise greedy),
    ``paper_depth`` the unit layers those were fitted on, ``greedy_on_training_set`` (the greedy scores
    on the whole training subset, not the scoring subset) and ``greedy_cost_factor``.
    ``compared_with_chapter3``: the arm is chapter 3's network, whose t_enough(N) the chapter sets
    beside chapter 3's T*(N). ``tolerance``: the regression tolerance of a recomputed unit (:class:`.experiments.FinetuneArm`).
    """

    key: str
    name: str
    reads: Mapping[str, str]
    dense: Callable
    small: Callable
    unit_widths: Callable
    pruners: Mapping[str, Callable]
    loss: str
    unit_norm: bool
    seconds_per: tuple
    fixed: Mapping[str, object] = field(default_factory=dict)
    variants: tuple = ()
    materialise: Callable = materialise
    flops: Callable = flops_per_image
    parameterization: str = "standard"
    lr_scaled_by_width: bool = False
    paper_depth: int = 2
    greedy_on_training_set: bool = False
    greedy_cost_factor: float = 1.0
    compared_with_chapter3: bool = False
    tolerance: Mapping[str, object] = field(
        default_factory=lambda: {"rtol": 1e-2, "atol": 1e-2, "max_share": 0.05})

    @property
    def methods(self) -> tuple:
        """The arm's pruning methods, in the order they run."""
        return tuple(self.pruners)

    def parameters(self) -> tuple:
        """The flat parameter names this arm reads."""
        return tuple(self.reads.values())

    def settings(self, params) -> dict:
        """The per-arm fields of the arm's experiment, read from ``params``."""
        out = dict(self.fixed)
        for name, param in self.reads.items():
            value = getattr(params, param)
            out[name] = _as_widths(value) if name == "widths" else value
        return out


#: The registered arms, in the order the chapter runs and reports them.
ARMS: dict[str, ArmSpec] = {}


def register(spec: ArmSpec) -> ArmSpec:
    """Add an arm to the chapter (a key registered twice is refused)."""
    if spec.key in ARMS:
        raise ValueError(f"arm {spec.key!r} is already registered")
    ARMS[spec.key] = spec
    return spec


def unregister(key: str) -> None:
    """Remove a registered arm (tests that register one undo it)."""
    ARMS.pop(key)


def spec(key: str) -> ArmSpec:
    """The registered specification of arm ``key`` (a clear error for an unknown one)."""
    return ARMS[validate.choice("arm", key, tuple(ARMS))]


def arms_of(params) -> list[str]:
    """The registered arms whose parameters ``params`` has (the book's parameters: its three arms)."""
    return [k for k, s in ARMS.items() if all(hasattr(params, p) for p in s.parameters())]


def kept_widths(config: dict, ratio: float) -> list[int]:
    """Units kept in each pruned layer at ``ratio`` (rounded, at least one)."""
    return [max(1, int(round(ratio * w))) for w in ARMS[config["arm"]].unit_widths(config)]


def _per_arm(prefix: str, *names: str) -> dict:
    return {name: f"{prefix}_{name}" for name in names}


_COMMON = ("sizes", "seeds", "ratios", "lr", "finetune_lr", "steps", "num_checkpoints", "first_checkpoint",
           "budgets")
_NOT_SAMPLED = {"sampled_candidates": 0, "sampled_batch": 0}
_NO_CNN = {"blocks_per_stage": 0, "head": "", "init": ""}


def _dtype(config):
    return getattr(torch, config["dtype"])


register(ArmSpec(
    key="two_layer", name="two-layer network",
    reads={**_per_arm("two_layer", *_COMMON), "widths": "two_layer_width"},
    fixed={"momentum": 0.0, **_NOT_SAMPLED, **_NO_CNN},
    dense=lambda config, seed: TwoLayerNet(INPUT_SIZE, config["widths"][0], NUM_CLASSES, "mean_field",
                                           seed=seed, dtype=_dtype(config)),
    small=lambda config, dense, widths, seed: TwoLayerNet(INPUT_SIZE, widths[0], NUM_CLASSES, "mean_field",
                                                          seed=seed, dtype=dense.w.dtype),
    unit_widths=_layers,
    pruners={"greedy": selection.closed_form_greedy, "random": selection.random_neurons,
             "magnitude": selection.largest_norm_neurons},
    materialise=lambda net, picks: net.subnetwork(picks),
    # the two matrix products counted as the deep networks' linear maps: 2 x multiply-accumulates
    flops=lambda model: 2 * (model.d * model.m + model.m * model.num_outputs),
    loss="mse", unit_norm=True, parameterization="mean_field", lr_scaled_by_width=True,
    seconds_per=(7e-4, 2e-3, 8e-12, 0.0), paper_depth=1, greedy_on_training_set=True,
    compared_with_chapter3=True))

register(ArmSpec(
    key="mlp", name="deep MLP",
    reads={**_per_arm("mlp", *_COMMON, "momentum", "sampled_candidates", "sampled_batch"),
           "widths": "mlp_hidden"},
    fixed=dict(_NO_CNN),
    dense=lambda config, seed: MLP(INPUT_SIZE, config["widths"], NUM_CLASSES, seed=seed, dtype=_dtype(config)),
    small=lambda config, dense, widths, seed: from_scratch(dense, widths, seed=seed),
    unit_widths=_layers,
    pruners={"greedy": selection.layerwise_exact, "greedy_sampled": selection.layerwise_sampled,
             "greedy_local": selection.layerwise_local, "random": selection.random_units_of,
             "magnitude": selection.largest_norm_units_of},
    variants=("greedy_sampled", "greedy_local"),
    loss="ce", unit_norm=False, seconds_per=(1e-3, 2e-3, 2.5e-12, 3e-13), greedy_cost_factor=8))

register(ArmSpec(
    key="cnn", name="residual CNN",
    reads={**_per_arm("cnn", *_COMMON, "momentum", "blocks_per_stage", "head", "init"),
           "widths": "cnn_channels"},
    fixed=dict(_NOT_SAMPLED),
    dense=lambda config, seed: ResNet(config["widths"], config["blocks_per_stage"], num_outputs=NUM_CLASSES,
                                      head=config["head"], init=config["init"], seed=seed, dtype=_dtype(config)),
    small=lambda config, dense, widths, seed: from_scratch(dense, widths, seed=seed),
    unit_widths=_layers_per_stage,
    pruners={"greedy": selection.layerwise_exact, "random": selection.random_units_of,
             "magnitude": selection.largest_norm_units_of},
    loss="ce", unit_norm=False, seconds_per=(3e-3, 3e-2, 6e-11, 4e-13),
    # see FinetuneArm's note on the CNN's thread-dependent convolutions: rtol 0.2 for the loss only
    tolerance={"rtol": 1e-2, "atol": 1e-2, "column_rtol": {"loss": 0.2}, "max_share": 0.05}))


def methods_at(config: dict, ratio: float) -> list[str]:
    """The pruning methods run at ``ratio``: every method, except that an arm's ``variants`` (the MLP's
    sampled and layer-local greedy) run at its smallest ratio only (the chapter compares them there; it
    saves a third of the MLP arm's fine-tuning)."""
    keep = config.get("variants_ratio")
    variants = ARMS[config["arm"]].variants
    return [m for m in config["methods"]
            if keep is None or m not in variants or float(ratio) == float(keep)]
