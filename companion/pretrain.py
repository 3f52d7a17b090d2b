"""Pre-training: full-batch gradient descent (the theorem, Du et al. 2019) or mini-batch SGD, recording
the dense network at a list of iterations (checkpoints) in one run.

Squared loss is 0.5 * ||f(x) - y||^2 per sample; ``reduction='sum'`` sums it over the batch (the
theorem's L(W) = 0.5 * sum_i (f(x_i) - y_i)^2, with GD's step on that sum), ``'mean'`` averages it.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch

from . import validate
from .data import Dataset
from .metrics import LOSSES, REDUCTIONS
from .runtime import DEVICES
from .train import SGDConfig, train

OPTIMIZERS = ("gd", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of pre-training. ``lr`` is the base step; mean-field multiplies it by m."""

    lr: float
    optimizer: str = "gd"
    batch_size: int | None = None  # None: full batch (GD)
    loss: str = "mse"
    reduction: str = "sum"
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        validate.positive("lr", self.lr)
        validate.choice("optimizer", self.optimizer, OPTIMIZERS)
        validate.choice("loss", self.loss, LOSSES)
        validate.choice("reduction", self.reduction, REDUCTIONS)
        validate.integer("seed", self.seed, low=0)
        validate.choice("device", self.device, DEVICES)
        if self.optimizer == "sgd":
            validate.integer("batch_size", self.batch_size, low=1)
        elif self.batch_size is not None:
            raise validate.ParameterError(f"parameter 'batch_size' = {self.batch_size!r} is not "
                                          "allowed: must be None for optimizer='gd' (full batch)")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PretrainResult:
    """States of the dense network at each checkpoint (CPU tensors) and a tidy history."""

    states: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    history: pd.DataFrame | None = None


def pretrain(model: torch.nn.Module, data: Dataset, config: TrainConfig, checkpoints,
             *, progress: bool = True, log_every: int | None = None,
             history: bool = True) -> PretrainResult:
    """Train ``model`` in place for max(checkpoints) steps; record its state at every checkpoint.

    The chapters' pre-training, run by the one loop (:func:`companion.train.train`) with a constant
    step and no momentum: full-batch GD for ``optimizer='gd'``, SGD on batches of ``batch_size``
    otherwise, the step on the batch's summed or mean loss (``reduction``).

    The history has one row per recorded step (checkpoints, and every ``log_every`` steps) with the
    dense network's mean training loss and accuracy on all of ``data``; ``history=False`` skips it (a
    caller that evaluates the checkpoints itself saves one pass over the data per checkpoint).

    SGD draws its mini-batches from a stream of epochs, each a fresh seeded permutation of the data:
    a batch that crosses an epoch's end takes the rest of that epoch and the start of the next, so no
    image is dropped and every batch has ``batch_size`` images (rarely, one image twice).
    """
    if config.optimizer == "sgd" and config.batch_size > len(data):
        raise validate.ParameterError(f"parameter 'batch_size' = {config.batch_size} is not allowed: "
                                      f"must be <= the dataset size {len(data)}")
    sgd = SGDConfig(lr=config.lr, batch_size=config.batch_size if config.optimizer == "sgd" else None,
                    loss=config.loss, reduction=config.reduction, seed=config.seed, device=config.device)
    out = train(model, data, sgd, checkpoints, progress=progress, history=history, log_every=log_every,
                desc="pre-training")
    hist = out.history.drop(columns=["lr"]) if len(out.history) else pd.DataFrame()
    return PretrainResult(states=out.states, history=hist)


def model_at(model: torch.nn.Module, state: dict) -> torch.nn.Module:
    """A copy of ``model`` holding the checkpoint ``state``."""
    clone = copy.deepcopy(model).to("cpu")
    clone.load_state_dict(state)
    return clone
