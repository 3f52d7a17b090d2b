import math

import pytest
import torch

from companion.models import TwoLayerNet
from companion.validate import ParameterError


@pytest.mark.parametrize("parameterization", ["ntk", "mean_field", "standard"])
def test_dense_output_is_mean_of_neuron_outputs(parameterization):
    net = TwoLayerNet(12, 37, 3, parameterization, seed=1, dtype=torch.float64)
    x = torch.randn(9, 12, dtype=torch.float64)
    hidden, out_w, bias = net.neurons(x, chunk=4)
    neuron_outputs = hidden[:, :, None] * out_w[None]  # (N, m, C)
    expected = neuron_outputs.mean(1) + (0 if bias is None else bias)
    assert torch.allclose(net(x), expected, atol=1e-12)


def test_ntk_setting():
    net = TwoLayerNet(5, 16, 2, "ntk", seed=0)
    assert [n for n, p in net.named_parameters()] == ["w"]  # only W trained
    assert set(net.a.unique().tolist()) <= {-1.0, 1.0}
    assert torch.allclose(net.out_weights(), net.a * math.sqrt(16))
    assert TwoLayerNet(5, 16, 2, "mean_field").lr_scale == 16


def test_same_seed_same_weights():
    a, b = TwoLayerNet(5, 8, 1, "mean_field", seed=4), TwoLayerNet(5, 8, 1, "mean_field", seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("kwargs, name", [(dict(m=0), "'m'"), (dict(parameterization="wide"), "'parameterization'"),
                                          (dict(d=-1), "'d'")])
def test_bad_model_parameters(kwargs, name):
    args = dict(d=4, m=4, num_outputs=1, parameterization="ntk") | kwargs
    with pytest.raises(ParameterError, match=name):
        TwoLayerNet(**args)
