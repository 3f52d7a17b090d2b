"""One SGD loop for pre-training and fine-tuning (the practitioner's protocol: pre-train -> prune ->
fine-tune), for every ``companion.models`` network (the MLP, the ResNet and the two-layer network) and
materialised subnetworks alike.

Mini-batch SGD (or full-batch GD with ``batch_size=None``) on the mean loss of the batch, squared
(0.5 ||f(x) - y||^2, one-hot targets) or cross-entropy (``metrics.loss_fn``), with optional momentum
and weight decay (``torch.optim.SGD``), and a learning-rate schedule over the run's last checkpoint
T: ``constant``, or ``cosine``, lr_t = lr * (1 + cos(pi (t - 1 - w) / (T - w))) / 2 for step
t > w after a linear warm-up lr_t = lr * t / w over the first w = ``warmup`` steps. The state is
recorded at every checkpoint (:func:`checkpoint_grid`, every chapter's grid). Mini-batches
come from a stream of seeded epochs as in ``pretrain.pretrain``. Deterministic on the CPU: the same
seed and settings give bit-identical weights.

It is the one loop: ``pretrain.pretrain`` (the chapters' full-batch GD on the summed loss and their
mean-field SGD) runs through it with a constant step, no momentum and ``reduction`` as the chapter
sets it, and gives bit-for-bit the results it gave as a loop of its own.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import validate
from .data import Dataset
from .metrics import evaluate, loss_fn
from .runtime import DEVICES, resolve_device

class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite: the learning rate is too large. ``step``: where it happened."""

    def __init__(self, message: str, step: int | None = None):
        super().__init__(message)
        self.step = step


def checkpoint_grid(last: int, points: int, first: int = 1) -> list[int]:
    """The one checkpoint grid of every chapter: 0, then ``points`` iterations spaced geometrically
    from ``first`` to ``last`` (both included), rounded, duplicates after rounding dropped: a grid fine
    enough to locate a threshold without recording every step."""
    validate.integer("last", last, low=1)
    validate.integer("points", points, low=1)
    validate.integer("first", first, low=1, high=last)
    return sorted({0, *(int(round(v)) for v in np.geomspace(first, last, points))})



__all__ = ["EpochStream", "SGDConfig", "TrainResult", "TrainingDiverged", "checkpoint_grid", "learning_rate",
           "train"]

LOSSES = ("ce", "mse")
SCHEDULES = ("constant", "cosine")
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class SGDConfig:
    """Settings of :func:`train`. ``lr`` is the base step (a mean-field two-layer net multiplies it by
    its ``lr_scale``, as in pre-training)."""

    lr: float
    batch_size: int | None = 128  # None: full batch (GD)
    loss: str = "ce"
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: int = 0
    seed: int = 0
    device: str = "cpu"
    #: "mean": the step on the batch's mean loss (SGD as practitioners run it); "sum": on the summed
    #: loss (the theorem's full-batch GD on L(W) = 0.5 sum_i ||f(x_i) - y_i||^2)
    reduction: str = "mean"

    def __post_init__(self):
        validate.positive("lr", self.lr)
        if self.batch_size is not None:
            validate.integer("batch_size", self.batch_size, low=1)
        validate.choice("loss", self.loss, LOSSES)
        validate.real("momentum", self.momentum, low=0.0, high=0.999)
        validate.boolean("nesterov", self.nesterov)
        if self.nesterov and self.momentum == 0:
            raise validate.ParameterError("parameter 'nesterov' = True is not allowed with momentum = 0")
        validate.real("weight_decay", self.weight_decay, low=0.0)
        validate.choice("schedule", self.schedule, SCHEDULES)
        validate.integer("warmup", self.warmup, low=0)
        validate.integer("seed", self.seed, low=0)
        validate.choice("device", self.device, DEVICES)
        validate.choice("reduction", self.reduction, REDUCTIONS)

    def to_dict(self) -> dict:
        return asdict(self)


def learning_rate(config: SGDConfig, t: int, steps: int) -> float:
    """The step size of step t (1 <= t <= steps) of a run of ``steps`` steps (before ``lr_scale``)."""
    validate.integer("steps", steps, low=1)
    validate.integer("t", t, low=1, high=steps)
    if config.warmup and t <= config.warmup:
        return config.lr * t / config.warmup
    if config.schedule == "constant":
        return config.lr
    span = max(1, steps - config.warmup)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * (t - 1 - config.warmup) / span))


class EpochStream:
    """Mini-batches of ``batch_size`` indices from a stream of seeded epochs (each a fresh
    permutation): a batch that crosses an epoch's end takes the rest of that epoch and the start of
    the next, so no sample is dropped and every batch is full (rarely, one sample twice)."""

    def __init__(self, n: int, batch_size: int, seed: int, device=None):
        self.n, self.batch_size, self.device = n, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.pos = None, 0

    def next(self) -> torch.Tensor:
        parts, need = [], self.batch_size
        while need:
            if self.order is None or self.pos == self.n:
                self.order, self.pos = torch.randperm(self.n, generator=self.generator).to(self.device), 0
            take = min(need, self.n - self.pos)
            parts.append(self.order[self.pos:self.pos + take])
            self.pos, need = self.pos + take, need - take
        return parts[0] if len(parts) == 1 else torch.cat(parts)


@dataclass
class TrainResult:
    """CPU copies of the state at each checkpoint, and one history row per checkpoint: t, the step
    size of step t, the mean loss and accuracy on the training data (and on ``eval_data``)."""

    states: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    history: pd.DataFrame | None = None


def train(model: torch.nn.Module, data: Dataset, config: SGDConfig, checkpoints, *,
          eval_data: Dataset | None = None, progress: bool = False, history: bool = True,
          log_every: int | None = None, desc: str = "training") -> TrainResult:
    """Train ``model`` in place for max(checkpoints) steps, recording its state at every checkpoint.

    The history has one row per checkpoint (and every ``log_every`` steps) with the mean loss and
    accuracy on ``data`` (and on ``eval_data``); ``history=False`` skips it (a caller that evaluates
    the checkpoints itself saves one pass over the data per checkpoint)."""
    if not isinstance(config, SGDConfig):
        raise validate.ParameterError(f"parameter 'config' ({type(config).__name__}) must be an SGDConfig")
    checkpoints = validate.integer_list("checkpoints", list(checkpoints), low=0)
    if config.batch_size is not None and config.batch_size > len(data):
        raise validate.ParameterError(f"parameter 'batch_size' = {config.batch_size} is not allowed: "
                                      f"must be <= the dataset size {len(data)}")
    validate.boolean("progress", progress)
    validate.boolean("history", history)
    if log_every is not None:
        validate.integer("log_every", log_every, low=1)
    device = resolve_device(config.device)
    dtype = next(model.parameters()).dtype
    model.to(device)
    data = data.to(device, dtype)
    if eval_data is not None:
        eval_data = eval_data.to(device, dtype)
    lr_scale = getattr(model, "lr_scale", 1.0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=config.lr * lr_scale, momentum=config.momentum,
                          nesterov=config.nesterov, weight_decay=config.weight_decay)
    steps = checkpoints[-1]
    stream = None if config.batch_size is None else EpochStream(len(data), config.batch_size,
                                                                config.seed, device)
    result, rows = TrainResult(), []
    marks = set(checkpoints)
    logged = (marks | (set(range(0, steps + 1, log_every)) if log_every else set())) if history else set()

    def record(t: int, lr: float):
        if t in logged:
            row = {"t": t, "lr": lr, **evaluate(model, data, config.loss)}
            if not math.isfinite(row["loss"]):
                _diverged(t, row["loss"], config)
            if eval_data is not None:
                row.update({f"test_{k}": v for k, v in evaluate(model, eval_data, config.loss).items()})
            rows.append(row)
        if t in marks:
            result.states[t] = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    record(0, learning_rate(config, 1, steps) if steps else config.lr)
    optimizer = "gd" if stream is None else "sgd"
    for t in tqdm(range(1, steps + 1), desc=f"{desc} ({optimizer}, lr={config.lr:g})", disable=not progress,
                  mininterval=1.0, leave=False):
        lr = learning_rate(config, t, steps)
        for group in opt.param_groups:
            group["lr"] = lr * lr_scale
        if stream is None:
            x, y, lab = data.x, data.targets, data.labels
        else:
            idx = stream.next()
            x, y, lab = data.x[idx], data.targets[idx], data.labels[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y, lab, config.loss, config.reduction)
        if not torch.isfinite(loss):
            _diverged(t, loss.item(), config)
        loss.backward()
        opt.step()
        record(t, lr)
    result.history = pd.DataFrame(rows)
    return result


def _diverged(t: int, value: float, config: SGDConfig):
    raise TrainingDiverged(f"training diverged at step {t} (loss = {value}): the learning rate lr = "
                           f"{config.lr:g} is too large for this setting "
                           f"(optimizer={'gd' if config.batch_size is None else 'sgd'}, "
                           f"reduction={config.reduction}, momentum={config.momentum:g}, loss={config.loss}); "
                           "use a smaller 'lr'", step=t)
