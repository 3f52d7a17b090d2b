"""The networks: the two-layer ReLU network of the theorem (``two_layer``: NTK, mean-field and standard
parameterisations), a deep ReLU MLP (``mlp``) and a small residual CNN for MNIST (``resnet``). The
last two are pruned unit by unit: they declare their unit layers and share the rescaling convention
of ``base`` (a kept multiset S of a layer's m units scales unit r's outgoing weights by m c_r / |S|);
``MLP.from_two_layer`` carries the two-layer network over.
"""
from .base import PrunableNetwork, scale_units, unit_counts, unit_scale
from .mlp import MLP
from .resnet import ResidualBlock, ResNet
from .two_layer import PARAMETERIZATIONS, TwoLayerNet

__all__ = ["MLP", "PARAMETERIZATIONS", "PrunableNetwork", "ResNet", "ResidualBlock", "TwoLayerNet",
           "scale_units", "unit_counts", "unit_scale"]
