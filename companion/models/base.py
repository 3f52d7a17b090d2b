"""What a network must declare so that it can be pruned unit by unit, and the rescaling convention.

A *unit layer* is a group of prunable units: the neurons of an MLP's hidden layer, or the channels of
a residual block's inner convolution. Unit r of layer l has an activation h_r(x) (after its ReLU) and
reaches the rest of the network only through the *consumer*, the next linear map (an ``nn.Linear``
column or the input-channel slice of an ``nn.Conv2d``), whose output is the next pre-activation

    z(x) = b + sum_{r=1}^{m} u_r(x),      u_r(x) = W[:, r] h_r(x)   (a convolution for a CNN),
         = b + m * (1/m) sum_r u_r(x):    m times the average of the units' contributions.

**Rescaling convention** (Ye et al. 2020, a subnetwork is an average of units at the layer's full
scale): a kept multiset S, unit r kept c_r times (sum_r c_r = |S|), gives

    z_S(x) = b + m * (1/|S|) sum_{r in S} u_r(x) = b + sum_r s_r u_r(x),    s_r = m c_r / |S|,

so unit r's outgoing weights are multiplied by s_r (0 for a unit not kept). Keeping every unit once
gives s = 1: the dense network. :func:`unit_scale` computes s; every network's ``forward(x, scales)``
multiplies layer l's activations by ``scales[l]`` (None: all ones), which is the same thing.

The pieces the layer-wise greedy needs (``companion.prune.layerwise``): ``split(l, x, scales)`` runs the
network up to layer l and returns its activations h (N, m, ...) and whatever the rest needs (the
residual shortcut); ``finish(l, z, context, scales)`` runs the rest from a batch of next
pre-activations z (J, N, ...) of J candidate subnetworks at once and returns outputs (J, N, C).
"""
from __future__ import annotations

import contextlib
import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import validate


@contextlib.contextmanager
def seeded(seed: int):
    """Run PyTorch's default initialisation under ``seed`` without touching the global RNG."""
    validate.integer("seed", seed, low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def unit_counts(picks: Sequence[int], m: int) -> torch.Tensor:
    """How many times each of the m units occurs in the multiset ``picks`` (int64, shape (m,))."""
    validate.integer("m", m, low=1)
    picks = list(picks)
    if not picks:
        raise validate.ParameterError("parameter 'picks' = [] is not allowed: keep at least one unit")
    for i, p in enumerate(picks):
        validate.integer(f"picks[{i}]", p, low=0, high=m - 1)
    return torch.bincount(torch.as_tensor(picks, dtype=torch.long), minlength=m)


def unit_scale(picks: Sequence[int], m: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """s_r = m c_r / |S|: the factor on unit r's outgoing weights for the kept multiset ``picks``
    (see the module docstring); all ones when every unit is kept once."""
    counts = unit_counts(picks, m)
    return (counts.to(torch.float64) * (m / len(picks))).to(dtype)


def scale_units(h: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    """h (N, m, ...) with unit r multiplied by scale[r]."""
    if scale is None:
        return h
    return h * scale.to(h.device, h.dtype).view(1, -1, *([1] * (h.ndim - 2)))


def _conv_kwargs(conv: nn.Conv2d) -> dict:
    if conv.groups != 1 or conv.padding_mode != "zeros":
        raise NotImplementedError("only ungrouped, zero-padded convolutions are supported as consumers")
    return dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation)


def consumer_weight_columns(consumer: nn.Module) -> torch.Tensor:
    """The consumer's weights per input unit, one row per unit (m, fan-out): its outgoing weights."""
    w = consumer.weight
    return w.T if isinstance(consumer, nn.Linear) else w.transpose(0, 1).reshape(w.shape[1], -1)


def summed_contributions(consumer: nn.Module, h: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_r weights[r] u_r(x) for rows of h: the consumer without its bias applied to h * weights."""
    hw = scale_units(h, weights)
    if isinstance(consumer, nn.Linear):
        return F.linear(hw, consumer.weight)
    return F.conv2d(hw, consumer.weight, None, **_conv_kwargs(consumer))


def candidate_preactivations(consumer: nn.Module, h: torch.Tensor, base: torch.Tensor,
                             units: torch.Tensor, coeff: float) -> torch.Tensor:
    """base + coeff * u_j for every unit j in ``units`` at once: shape (J, R, *next shape).

    A candidate changes the next pre-activation by one term, so all J candidates are one batched
    update: a broadcast outer product (one ``addcmul``) for a linear consumer, one grouped
    convolution (one group per candidate, J groups) for a convolutional one."""
    j = units.numel()
    if isinstance(consumer, nn.Linear):
        hj = h[:, units].T.contiguous().unsqueeze(2)                           # (J, R, 1)
        wj = (consumer.weight[:, units].T * coeff).contiguous().unsqueeze(1)   # (J, 1, out)
        return torch.addcmul(base.unsqueeze(0), hj, wj)
    w = consumer.weight[:, units].transpose(0, 1)              # (J, C_out, kh, kw)
    out = F.conv2d(h[:, units], w.reshape(j * w.shape[1], 1, *w.shape[2:]), None, groups=j,
                   **_conv_kwargs(consumer))                   # (R, J * C_out, H, W)
    out = out.view(out.shape[0], j, w.shape[1], *out.shape[2:]).transpose(0, 1)
    return base.unsqueeze(0) + coeff * out


class PrunableNetwork(nn.Module):
    """A network with declared unit layers (see the module docstring). Inputs are flat (N, input_size)."""

    input_size: int
    num_outputs: int

    # --- what a subclass declares -------------------------------------------------------------
    def unit_layer_names(self) -> list[str]:
        raise NotImplementedError

    @property
    def widths(self) -> list[int]:
        """Number of units of each unit layer."""
        raise NotImplementedError

    def unit_modules(self, layer: int) -> tuple[str, str]:
        """Names (as in ``named_modules``) of the module producing layer ``layer``'s units (one output
        row or channel per unit) and of its consumer (one input column or channel per unit)."""
        raise NotImplementedError

    def split(self, layer: int, x: torch.Tensor, scales=None):
        """(h, context): unit activations (N, m, ...) of ``layer`` and what ``finish`` needs."""
        raise NotImplementedError

    def finish(self, layer: int, z: torch.Tensor, context, scales=None) -> torch.Tensor:
        """Outputs (J, R, C) from next pre-activations z (J, R, ...) of J candidates for R samples."""
        raise NotImplementedError

    def with_widths(self, widths: Sequence[int], seed: int = 0) -> "PrunableNetwork":
        """A freshly initialised network of the same architecture with these unit-layer widths."""
        raise NotImplementedError

    def output_is_consumer(self, layer: int) -> bool:
        """True when the consumer of ``layer`` is the output layer itself (its output is f(x))."""
        return False

    # --- shared -------------------------------------------------------------------------------
    def consumer(self, layer: int) -> nn.Module:
        return self.get_submodule(self.unit_modules(layer)[1])

    def producer(self, layer: int) -> nn.Module:
        return self.get_submodule(self.unit_modules(layer)[0])

    def check_layer(self, layer: int) -> int:
        return validate.integer("layer", layer, low=0, high=len(self.widths) - 1)

    def check_scales(self, scales) -> list:
        """``scales`` as a list with one entry (None or an (m_l,) tensor) per unit layer."""
        n = len(self.widths)
        if scales is None:
            return [None] * n
        scales = list(scales)
        if len(scales) != n:
            raise validate.ParameterError(f"parameter 'scales' has {len(scales)} entries: must have one "
                                          f"per unit layer ({n}), each None or a tensor of that width")
        for i, (s, m) in enumerate(zip(scales, self.widths)):
            if s is not None and (not isinstance(s, torch.Tensor) or tuple(s.shape) != (m,)):
                raise validate.ParameterError(f"parameter 'scales[{i}]' must be None or a tensor of "
                                              f"shape ({m},)")
        return scales

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.input_size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise validate.ParameterError(f"parameter 'x' {shape} must be a tensor of shape "
                                          f"(N, {self.input_size})")
        return x

    def next_shape(self, layer: int) -> tuple[int, ...]:
        """Shape of one sample's next pre-activation (the consumer's output)."""
        dummy = torch.zeros(1, self.input_size, dtype=self.dtype, device=self.device)
        h, _ = self.split(layer, dummy)
        return tuple(self.consumer(layer)(h).shape[1:])

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


def elements(shape: Sequence[int]) -> int:
    return math.prod(shape)
