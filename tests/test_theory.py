import math

import pytest
import torch

from companion import data, theory
from companion.validate import ParameterError


def test_gram_matches_monte_carlo_and_is_psd():
    x = data.synthetic(12, 6, seed=0).x
    h = theory.gram_infinity(x)
    mc = theory.gram_monte_carlo(x, samples=200_000, seed=1)
    assert (h - mc).abs().max() < 0.01
    assert torch.allclose(torch.diagonal(h), torch.full((12,), 0.5, dtype=torch.float64))
    assert theory.lambda_min(h) > 0
    assert torch.allclose(h, h.T)


def test_gram_requires_unit_norm():
    with pytest.raises(ParameterError, match="unit-norm"):
        theory.gram_infinity(torch.ones(3, 4))


def test_thresholds():
    t = theory.gd_threshold(eta=0.1, lambda0=0.2, initial_residual=100.0, eps=0.1)
    assert (1 - 0.01) ** t * 100 <= 0.1 < (1 - 0.01) ** (t - 1) * 100
    bound = theory.threshold_bound(0.1, 0.2, 100.0, 0.1)
    assert bound == pytest.approx(2 / 0.02 * math.log(1000))
    assert t <= bound
    # logarithmic in N: doubling the residual adds a constant
    step = theory.threshold_bound(0.1, 0.2, 200.0, 0.1) - bound
    assert step == pytest.approx(2 / 0.02 * math.log(2))
    with pytest.raises(ParameterError, match="'eps'"):
        theory.threshold_bound(0.1, 0.2, 100.0, 0.0)


def test_expected_initial_residual_matches_simulation():
    from companion.model import TwoLayerNet
    ds = data.synthetic(64, 20, seed=0)
    vals = []
    for seed in range(40):
        net = TwoLayerNet(20, 512, 1, "ntk", seed=seed, dtype=torch.float64)
        with torch.no_grad():
            vals.append(float(((ds.targets - net(ds.x)) ** 2).sum()))
    assert sum(vals) / len(vals) == pytest.approx(theory.expected_initial_residual(ds.targets), rel=0.1)
