"""Losses and metrics of every chapter, written once: the loss a network trains on, its accuracy, and
the evaluation of a network (dense or a subnetwork) on a data set. ``train``, ``pretrain`` and
``prune`` import them from here.

The squared loss is 0.5 ||f(x) - y||^2 per sample (the theorem's L(W) = 0.5 sum_i (f(x_i) - y_i)^2
summed over samples; Ye et al.'s greedy loss averaged over them). Two reductions, because a float sum
depends on its order: :func:`squared_error` reduces each sample first (the training loss,
:func:`loss_fn`, and the layer-wise greedy's per-candidate losses); :func:`mean_squared_loss` sums
every element at once and divides by N (the evaluation of a subnetwork and the greedy's brute-force
reference). Each call site keeps the arithmetic it has always had.
"""
from __future__ import annotations

import torch

from .data import Dataset

LOSSES = ("mse", "ce")
REDUCTIONS = ("sum", "mean")


def squared_error(out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0.5 ||out - targets||^2 per sample, summed over the last (output) dimension."""
    return 0.5 * ((out - targets) ** 2).sum(-1)


def mean_squared_loss(out: torch.Tensor, targets: torch.Tensor) -> float:
    """(1/N) sum_i 0.5 ||out_i - targets_i||^2 over the N rows of ``out``, as one sum of all elements."""
    return float(0.5 * ((out - targets) ** 2).sum() / out.shape[0])


def loss_fn(out: torch.Tensor, data_targets: torch.Tensor, labels: torch.Tensor, loss: str,
            reduction: str) -> torch.Tensor:
    """The training loss of a batch: squared error on the targets (``mse``) or cross-entropy on the
    labels (``ce``), summed or averaged over the batch (``reduction``)."""
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
    """Mean per-sample loss and accuracy of ``model`` on ``data``."""
    outs = torch.cat([model(data.x[i:i + chunk]) for i in range(0, len(data), chunk)])
    return {"loss": loss_fn(outs, data.targets, data.labels, loss, "mean").item(),
            "accuracy": accuracy(outs, data.labels)}
