"""Networks that can be pruned unit by unit: a deep ReLU MLP (``mlp``) and a small residual CNN for
MNIST (``resnet``), both declaring their unit layers and sharing the rescaling convention of
``base`` (a kept multiset S of a layer's m units scales unit r's outgoing weights by m c_r / |S|).
The two-layer network of the theorem stays in ``companion.model``; ``MLP.from_two_layer`` carries it
over.
"""
from .base import PrunableNetwork, scale_units, unit_counts, unit_scale
from .mlp import MLP
from .resnet import ResidualBlock, ResNet

__all__ = ["MLP", "PrunableNetwork", "ResNet", "ResidualBlock", "scale_units", "unit_counts", "unit_scale"]
