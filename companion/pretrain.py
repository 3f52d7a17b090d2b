"""Pre-training: full-batch gradient descent (the theorem, Du et al. 2019) or mini-batch SGD, recording
the dense network at a list of iterations (checkpoints) in one run.

Squared loss is 0.5 * ||f(x) - y||^2 per sample; ``reduction='sum'`` sums it over the batch (the
theorem's L(W) = 0.5 * sum_i (f(x_i) - y_i)^2, with GD's step on that sum), ``'mean'`` averages it.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import validate
from .data import Dataset
from .losses import squared_error
from .runtime import DEVICES, resolve_device

OPTIMIZERS = ("gd", "sgd")
LOSSES = ("mse", "ce")
REDUCTIONS = ("sum", "mean")


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite: the learning rate is too large."""


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


def checkpoint_grid(last: int, points: int, first: int = 1) -> list[int]:
    """The one checkpoint grid of every chapter: 0, then ``points`` iterations spaced geometrically
    from ``first`` to ``last`` (both included), rounded, duplicates after rounding dropped: a grid fine
    enough to locate a threshold without recording every step."""
    validate.integer("last", last, low=1)
    validate.integer("points", points, low=1)
    validate.integer("first", first, low=1, high=last)
    return sorted({0, *(int(round(v)) for v in np.geomspace(first, last, points))})


def loss_fn(out: torch.Tensor, data_targets: torch.Tensor, labels: torch.Tensor, loss: str,
            reduction: str) -> torch.Tensor:
    if loss == "mse":
        per_sample = squared_error(out, data_targets)
    else:
        per_sample = torch.nn.functional.cross_entropy(out, labels, reduction="none")
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


def accuracy(out: torch.Tensor, labels: torch.Tensor) -> float:
    """Argmax accuracy for C > 1 outputs; sign accuracy (labels in {0, 1}) for one output."""
    pred = out.argmax(1) if out.shape[1] > 1 else (out[:, 0] > 0).long()
    return (pred == labels).double().mean().item()


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Dataset, loss: str = "mse", chunk: int = 8192) -> dict:
    """Mean per-sample loss and accuracy of the dense model on ``data``."""
    outs = torch.cat([model(data.x[i:i + chunk]) for i in range(0, len(data), chunk)])
    return {"loss": loss_fn(outs, data.targets, data.labels, loss, "mean").item(),
            "accuracy": accuracy(outs, data.labels)}


def pretrain(model: torch.nn.Module, data: Dataset, config: TrainConfig, checkpoints,
             *, progress: bool = True, log_every: int | None = None,
             history: bool = True) -> PretrainResult:
    """Train ``model`` in place for max(checkpoints) steps; record its state at every checkpoint.

    The history has one row per recorded step (checkpoints, and every ``log_every`` steps) with the
    dense network's mean training loss and accuracy on all of ``data``; ``history=False`` skips it (a
    caller that evaluates the checkpoints itself saves one pass over the data per checkpoint).

    SGD draws its mini-batches from a stream of epochs, each a fresh seeded permutation of the data:
    a batch that crosses an epoch's end takes the rest of that epoch and the start of the next, so no
    image is dropped and every batch has ``batch_size`` images (rarely, one image twice).
    """
    checkpoints = validate.integer_list("checkpoints", list(checkpoints), low=0)
    if log_every is not None:
        validate.integer("log_every", log_every, low=1)
    if config.optimizer == "sgd" and config.batch_size > len(data):
        raise validate.ParameterError(f"parameter 'batch_size' = {config.batch_size} is not allowed: "
                                      f"must be <= the dataset size {len(data)}")
    device = resolve_device(config.device)
    dtype = next(model.parameters()).dtype
    model.to(device)
    data = data.to(device, dtype)
    lr = config.lr * getattr(model, "lr_scale", 1.0)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    g = torch.Generator().manual_seed(config.seed)
    order, pos = None, 0
    result = PretrainResult()
    rows = []
    record = set(checkpoints) | (set(range(0, checkpoints[-1] + 1, log_every)) if log_every else set())
    if not history:
        record = set()

    def next_batch() -> torch.Tensor:
        nonlocal order, pos
        parts, need = [], config.batch_size
        while need:
            if order is None or pos == len(data):
                order, pos = torch.randperm(len(data), generator=g).to(device), 0
            take = min(need, len(data) - pos)
            parts.append(order[pos:pos + take])
            pos, need = pos + take, need - take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def snapshot(t: int):
        if t in record:
            rows.append({"t": t, **evaluate(model, data, config.loss)})
            if not math.isfinite(rows[-1]["loss"]):
                _diverged(t, rows[-1]["loss"], config)
        if t in checkpoints:
            result.states[t] = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    snapshot(0)
    steps = checkpoints[-1]
    for t in tqdm(range(1, steps + 1), desc=f"pre-training ({config.optimizer}, lr={config.lr:g})",
                  disable=not progress, mininterval=1.0, leave=False):
        if config.optimizer == "gd":
            x, y, lab = data.x, data.targets, data.labels
        else:
            idx = next_batch()
            x, y, lab = data.x[idx], data.targets[idx], data.labels[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y, lab, config.loss, config.reduction)
        if not torch.isfinite(loss):
            _diverged(t, loss.item(), config)
        loss.backward()
        opt.step()
        snapshot(t)
    result.history = pd.DataFrame(rows)
    return result


def _diverged(t: int, value: float, config: TrainConfig):
    raise TrainingDiverged(
        f"training diverged at step {t} (loss = {value}): the learning rate lr = {config.lr:g} is too "
        f"large for this setting (optimizer={config.optimizer}, reduction={config.reduction}); "
        "use a smaller 'lr'")


def model_at(model: torch.nn.Module, state: dict) -> torch.nn.Module:
    """A copy of ``model`` holding the checkpoint ``state``."""
    clone = copy.deepcopy(model).to("cpu")
    clone.load_state_dict(state)
    return clone
