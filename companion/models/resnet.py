"""A small residual CNN for 28x28 MNIST, pruned channel by channel inside its residual blocks.

    stem:   relu(conv3x3(1 -> c_0)) at full resolution
    stages: for each stage i, ``blocks_per_stage`` blocks with c_i channels; the first block of every
            stage has stride 2 (28 -> 14 -> 7 ...) and a 1x1 convolution on its shortcut
    block:  y = relu(shortcut(x) + conv2(relu(conv1(x)) * s)),   conv1: c_in -> w, conv2: w -> c_out
    head:   a linear layer on the last stage's features: global average pooling (``head="pool"``, as in
            He et al. 2016) or all of them flattened (``head="flatten"``, c_last x 7 x 7 for MNIST)

The unit layers are the w inner channels of each block (the output channels of ``conv1``, the input
channels of ``conv2``): pruning them keeps the residual path's shape, so the shortcut is untouched.
s is the unit scale of the rescaling convention (``companion.models.base``). No batch normalisation
(it would re-normalise the rescaled channels and differ between training and evaluation). Weights are
seeded and initialised by PyTorch's default (``init="pytorch"``) or He et al.'s (2015) fan-in normal
for the ReLU convolutions, zero biases (``init="he"``): without normalisation, the default's smaller
variance shrinks the signal from block to block, and with average pooling the network sits near chance
for hundreds of steps (chapter 4's probe; with He init and a flattened head it passes 90% held-out
accuracy within 64 steps). Inputs are flat (N, in_channels * image_size^2).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .. import validate
from .base import PrunableNetwork, scale_units, seeded


HEADS = ("pool", "flatten")
INITS = ("pytorch", "he")


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, inner: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, inner, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(inner, c_out, 3, padding=1)
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride=stride)
                         if stride != 1 or c_in != c_out else nn.Identity())

    def inner(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv1(x))

    def forward(self, x: torch.Tensor, scale=None) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.conv2(scale_units(self.inner(x), scale)))


class ResNet(PrunableNetwork):
    def __init__(self, channels: Sequence[int] = (16, 32), blocks_per_stage: int = 2, *,
                 inner_widths: Sequence[int] | None = None, num_outputs: int = 10,
                 in_channels: int = 1, image_size: int = 28, head: str = "pool", init: str = "pytorch",
                 seed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.head_kind = validate.choice("head", head, HEADS)
        self.init = validate.choice("init", init, INITS)
        self.channels = validate.integer_list("channels", list(channels), low=1, unique=False)
        self.blocks_per_stage = validate.integer("blocks_per_stage", blocks_per_stage, low=1)
        self.num_outputs = validate.integer("num_outputs", num_outputs, low=1)
        self.in_channels = validate.integer("in_channels", in_channels, low=1)
        self.image_size = validate.integer("image_size", image_size, low=2 ** len(self.channels))
        self.seed = validate.integer("seed", seed, low=0)
        self.input_size = in_channels * image_size * image_size
        outs = [c for c in self.channels for _ in range(blocks_per_stage)]
        if inner_widths is None:
            inner_widths = outs
        inner_widths = validate.integer_list("inner_widths", list(inner_widths), low=1, unique=False)
        if len(inner_widths) != len(outs):
            raise validate.ParameterError(
                f"parameter 'inner_widths' = {inner_widths} is not allowed: must have one width per "
                f"residual block ({len(outs)} = len(channels) * blocks_per_stage)")
        with seeded(seed):
            self.stem = nn.Conv2d(in_channels, self.channels[0], 3, padding=1)
            blocks, c_in = [], self.channels[0]
            for b, (c_out, w) in enumerate(zip(outs, inner_widths)):
                stride = 2 if b % blocks_per_stage == 0 else 1
                blocks.append(ResidualBlock(c_in, c_out, w, stride))
                c_in = c_out
            self.blocks = nn.ModuleList(blocks)
            side = self.image_size
            for _ in self.channels:
                side = (side + 1) // 2  # a stride-2 3x3 convolution with padding 1
            self.head = nn.Linear(c_in * (side * side if head == "flatten" else 1), num_outputs)
            if init == "he":
                for module in self.modules():
                    if isinstance(module, nn.Conv2d):
                        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                        nn.init.zeros_(module.bias)
        self.to(dtype)

    @property
    def widths(self) -> list[int]:
        return [block.conv1.out_channels for block in self.blocks]

    def unit_layer_names(self) -> list[str]:
        return [f"blocks.{b}.inner" for b in range(len(self.blocks))]

    def unit_modules(self, layer: int) -> tuple[str, str]:
        layer = self.check_layer(layer)
        return f"blocks.{layer}.conv1", f"blocks.{layer}.conv2"

    def _image(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.in_channels, self.image_size, self.image_size)

    def _tail(self, y: torch.Tensor, first_block: int, scales) -> torch.Tensor:
        for b in range(first_block, len(self.blocks)):
            y = self.blocks[b](y, scales[b])
        return self.head(y.flatten(1) if self.head_kind == "flatten" else y.mean((2, 3)))

    def forward(self, x: torch.Tensor, scales=None) -> torch.Tensor:
        x, scales = self.check_input(x), self.check_scales(scales)
        return self._tail(torch.relu(self.stem(self._image(x))), 0, scales)

    def split(self, layer: int, x: torch.Tensor, scales=None):
        layer, scales = self.check_layer(layer), self.check_scales(scales)
        y = torch.relu(self.stem(self._image(self.check_input(x))))
        for b in range(layer):
            y = self.blocks[b](y, scales[b])
        block = self.blocks[layer]
        return block.inner(y), block.shortcut(y)

    def finish(self, layer: int, z: torch.Tensor, context, scales=None) -> torch.Tensor:
        layer, scales = self.check_layer(layer), self.check_scales(scales)
        lead = z.shape[:-3]
        y = torch.relu(z + context).reshape(-1, *z.shape[-3:])
        return self._tail(y, layer + 1, scales).reshape(*lead, self.num_outputs)

    def with_widths(self, widths: Sequence[int], seed: int = 0) -> "ResNet":
        return ResNet(self.channels, self.blocks_per_stage, inner_widths=widths,
                      num_outputs=self.num_outputs, in_channels=self.in_channels,
                      image_size=self.image_size, head=self.head_kind, init=self.init, seed=seed,
                      dtype=self.dtype).to(self.device)
