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
    def subnetwork(self, picks) -> "TwoLayerNet":
        """The greedy-averaged subnetwork f_S = (1/|S|) sum_{r in S} g_r (``picks``: the multiset S,
        as ``prune.greedy`` selects it) as a network of this parameterisation whose width k is the
        number of distinct neurons kept: their incoming weights are copied and their output weights
        a_r rescaled so that its output equals f_S (unit r kept c_r times: a'_r = a_r c_r k / |S|, and,
        since the width-k network divides by k, sqrt(m/k) for ``ntk`` and m/k for ``standard``). A
        ``mean_field`` subnetwork kept without repeats has a'_r = a_r: it is the width-k mean-field
        network, trained with the step times k (``lr_scale``). Kept neurons stay in index order."""
        picks = [int(p) for p in picks]
        if not picks or min(picks) < 0 or max(picks) >= self.m:
            raise validate.ParameterError(f"parameter 'picks' = {picks!r} is not allowed: must be a "
                                          f"non-empty list of neurons in [0, {self.m - 1}]")
        counts = torch.bincount(torch.as_tensor(picks, dtype=torch.long), minlength=self.m)
        keep = torch.nonzero(counts).flatten()
        k = keep.numel()
        factor = counts[keep].to(torch.float64) * k / len(picks)
        rescale = {"ntk": math.sqrt(self.m / k), "mean_field": 1.0, "standard": self.m / k}
        factor = (factor * rescale[self.parameterization]).to(self.w.dtype).view(-1, 1)
        small = TwoLayerNet(self.d, k, self.num_outputs, self.parameterization, dtype=self.w.dtype)
        small.to(self.w.device)
        small.w.copy_(self.w[keep])
        a = self.a[keep] * factor
        if self.parameterization == "ntk":
            small.a = a.clone()  # a buffer (fixed), now +-sqrt(m/k) times the kept multiplicity
        else:
            small.a.copy_(a)
        if self.b is not None:
            small.b.copy_(self.b[keep])
            small.bias.copy_(self.bias)
        return small

    @torch.no_grad()
    def neurons(self, x: torch.Tensor, chunk: int = 8192):
        """(hidden (N, m), out_weights (m, C), output bias or None) for greedy selection, computed in
        chunks of rows so a large N does not need a second N x m temporary."""
        hidden = torch.cat([self.hidden(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)])
        bias = self.output_bias()
        return hidden, self.out_weights().detach().clone(), None if bias is None else bias.detach().clone()
