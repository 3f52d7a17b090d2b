"""The two-layer ReLU network of the theorem, in three parameterizations.

For every parameterization the dense output is an average of neuron functions (Ye et al. 2020):

    f(x) = (1/m) * sum_r hidden(x)[r] * out_weights[r]  (+ output bias),

with all scaling folded into ``out_weights`` (m, C). That is the form greedy forward selection needs.

- ``ntk``: f = (1/sqrt(m)) sum_r a_r relu(w_r . x), a_r in {+1,-1}^C fixed, w_r(0) ~ N(0, I); only W is
  trained (Du et al. 2019, the theorem's setting). out_weights = sqrt(m) * a.
- ``mean_field``: f = (1/m) sum_r a_r relu(w_r . x), w_r(0) ~ N(0, I), a_r(0) ~ N(0, I_C), both layers
  trained; the learning rate is multiplied by m (``lr_scale``) so training is not frozen (Mei et al.
  2018). out_weights = a.
- ``standard``: PyTorch's usual MLP, Linear(d, m) -> ReLU -> Linear(m, C) with biases and default
  initialisation. out_weights = m * a (the output bias is kept separately).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import validate

PARAMETERIZATIONS = ("ntk", "mean_field", "standard")


class TwoLayerNet(nn.Module):
    def __init__(self, d: int, m: int, num_outputs: int = 1, parameterization: str = "ntk",
                 seed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        validate.integer("d", d, low=1)
        validate.integer("m", m, low=1)
        validate.integer("num_outputs", num_outputs, low=1)
        validate.integer("seed", seed, low=0)
        self.parameterization = validate.choice("parameterization", parameterization,
                                                PARAMETERIZATIONS)
        self.d, self.m, self.num_outputs = d, m, num_outputs
        g = torch.Generator().manual_seed(seed)
        if parameterization == "standard":
            w_bound, a_bound = 1 / math.sqrt(d), 1 / math.sqrt(m)  # nn.Linear's default init
            self.w = nn.Parameter((torch.rand(m, d, generator=g) * 2 - 1) * w_bound)
            self.b = nn.Parameter((torch.rand(m, generator=g) * 2 - 1) * w_bound)
            self.a = nn.Parameter((torch.rand(m, num_outputs, generator=g) * 2 - 1) * a_bound)
            self.bias = nn.Parameter((torch.rand(num_outputs, generator=g) * 2 - 1) * a_bound)
        else:
            self.w = nn.Parameter(torch.randn(m, d, generator=g))
            self.b = None
            self.bias = None
            if parameterization == "ntk":
                signs = torch.randint(0, 2, (m, num_outputs), generator=g) * 2.0 - 1.0
                self.register_buffer("a", signs)  # fixed: not a parameter
            else:
                self.a = nn.Parameter(torch.randn(m, num_outputs, generator=g))
        self.to(dtype)

    @property
    def lr_scale(self) -> float:
        """Multiplier on the learning rate: m for mean-field (its gradients are O(1/m)), else 1."""
        return float(self.m) if self.parameterization == "mean_field" else 1.0

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations relu(W x (+ b)), shape (N, m)."""
        pre = x @ self.w.T
        if self.b is not None:
            pre = pre + self.b
        return torch.relu(pre)

    def out_weights(self) -> torch.Tensor:
        """Per-neuron output weights (m, C), with the parameterization's scaling folded in."""
        scale = {"ntk": math.sqrt(self.m), "mean_field": 1.0, "standard": float(self.m)}
        return self.a * scale[self.parameterization]

    def output_bias(self) -> torch.Tensor | None:
        return self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.hidden(x) @ self.out_weights() / self.m
        return out + self.bias if self.bias is not None else out

    @torch.no_grad()
    def neurons(self, x: torch.Tensor, chunk: int = 8192):
        """(hidden (N, m), out_weights (m, C), output bias or None) for greedy selection, computed in
        chunks of rows so a large N does not need a second N x m temporary."""
        hidden = torch.cat([self.hidden(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)])
        bias = self.output_bias()
        return hidden, self.out_weights().detach().clone(), None if bias is None else bias.detach().clone()
