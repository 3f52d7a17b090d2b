"""A deep ReLU MLP in PyTorch's standard parameterisation, pruned neuron by neuron.

    f(x) = head(h_L),   h_l = relu(hidden[l](h_{l-1})) * s_l,   h_0 = x,

with ``nn.Linear`` layers and their default initialisation (uniform, bound 1/sqrt(fan-in), seeded).
The unit layers are the hidden layers; s_l is the unit scale of the rescaling convention
(``companion.models.base``; None = all ones = the dense network).

:func:`MLP.from_two_layer` carries the two-layer network of the theorem (``companion.models.two_layer``, any of
its parameterisations) over unchanged: the output is the same function, so its greedy selection is
the last-layer special case of the layer-wise greedy.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .. import validate
from .base import PrunableNetwork, scale_units, seeded


class MLP(PrunableNetwork):
    def __init__(self, input_size: int, hidden: Sequence[int], num_outputs: int = 10, *,
                 bias: bool = True, seed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.input_size = validate.integer("input_size", input_size, low=1)
        self.num_outputs = validate.integer("num_outputs", num_outputs, low=1)
        hidden = validate.integer_list("hidden", list(hidden), low=1, unique=False)
        self.bias = validate.boolean("bias", bias)
        self.seed = validate.integer("seed", seed, low=0)
        sizes = [input_size, *hidden]
        with seeded(seed):
            self.hidden = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(sizes, sizes[1:]))
            self.head = nn.Linear(sizes[-1], num_outputs, bias=bias)
        self.to(dtype)

    @property
    def widths(self) -> list[int]:
        return [layer.out_features for layer in self.hidden]

    def unit_layer_names(self) -> list[str]:
        return [f"hidden.{i}" for i in range(len(self.hidden))]

    def unit_modules(self, layer: int) -> tuple[str, str]:
        layer = self.check_layer(layer)
        return f"hidden.{layer}", ("head" if layer == len(self.hidden) - 1 else f"hidden.{layer + 1}")

    def output_is_consumer(self, layer: int) -> bool:
        return self.check_layer(layer) == len(self.hidden) - 1

    def forward(self, x: torch.Tensor, scales=None) -> torch.Tensor:
        x, scales = self.check_input(x), self.check_scales(scales)
        h = x
        for layer, s in zip(self.hidden, scales):
            h = scale_units(torch.relu(layer(h)), s)
        return self.head(h)

    def split(self, layer: int, x: torch.Tensor, scales=None):
        layer, scales = self.check_layer(layer), self.check_scales(scales)
        h = self.check_input(x)
        for i in range(layer):
            h = scale_units(torch.relu(self.hidden[i](h)), scales[i])
        return torch.relu(self.hidden[layer](h)), None

    def finish(self, layer: int, z: torch.Tensor, context, scales=None) -> torch.Tensor:
        layer, scales = self.check_layer(layer), self.check_scales(scales)
        lead = z.shape[:-1]
        if layer == len(self.hidden) - 1:
            return z
        h = scale_units(torch.relu(z.reshape(-1, z.shape[-1])), scales[layer + 1])
        for i in range(layer + 2, len(self.hidden)):
            h = scale_units(torch.relu(self.hidden[i](h)), scales[i])
        return self.head(h).reshape(*lead, self.num_outputs)

    def with_widths(self, widths: Sequence[int], seed: int = 0) -> "MLP":
        widths = validate.integer_list("widths", list(widths), low=1, unique=False)
        if len(widths) != len(self.hidden):
            raise validate.ParameterError(f"parameter 'widths' = {widths} is not allowed: must have one "
                                          f"width per hidden layer ({len(self.hidden)})")
        return MLP(self.input_size, widths, self.num_outputs, bias=self.bias, seed=seed,
                   dtype=self.dtype).to(self.device)

    @classmethod
    @torch.no_grad()
    def from_two_layer(cls, net) -> "MLP":
        """The same function as ``companion.models.TwoLayerNet`` ``net`` as a one-hidden-layer MLP:
        hidden weights (and bias) copied, head weights out_weights^T / m, head bias copied (zero when
        the net has none). Biases that ``net`` lacks are zero here (and trainable)."""
        mlp = cls(net.d, [net.m], net.num_outputs, bias=True, dtype=net.w.dtype)
        mlp.hidden[0].weight.copy_(net.w)
        mlp.hidden[0].bias.copy_(net.b if net.b is not None else torch.zeros(net.m))
        mlp.head.weight.copy_(net.out_weights().T / net.m)
        mlp.head.bias.copy_(net.bias if net.bias is not None else torch.zeros(net.num_outputs))
        return mlp
