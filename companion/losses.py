"""The squared loss of every chapter, written once: 0.5 ||f(x) - y||^2 per sample (the theorem's
L(W) = 0.5 sum_i (f(x_i) - y_i)^2 summed over samples; Ye et al.'s greedy loss averaged over them).

Two reductions, because a float sum depends on its order: :func:`squared_error` reduces each sample
first (the training loss, ``pretrain.loss_fn``, and the layer-wise greedy's per-candidate losses);
:func:`mean_squared_loss` sums every element at once and divides by N (the evaluation of a subnetwork
and the greedy's brute-force reference). Each call site keeps the arithmetic it has always had.
"""
from __future__ import annotations

import torch


def squared_error(out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0.5 ||out - targets||^2 per sample, summed over the last (output) dimension."""
    return 0.5 * ((out - targets) ** 2).sum(-1)


def mean_squared_loss(out: torch.Tensor, targets: torch.Tensor) -> float:
    """(1/N) sum_i 0.5 ||out_i - targets_i||^2 over the N rows of ``out``, as one sum of all elements."""
    return float(0.5 * ((out - targets) ** 2).sum() / out.shape[0])
