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
    from companion.models import TwoLayerNet
    ds = data.synthetic(64, 20, seed=0)
    vals = []
    for seed in range(40):
        net = TwoLayerNet(20, 512, 1, "ntk", seed=seed, dtype=torch.float64)
        with torch.no_grad():
            vals.append(float(((ds.targets - net(ds.x)) ** 2).sum()))
    assert sum(vals) / len(vals) == pytest.approx(theory.expected_initial_residual(ds.targets), rel=0.1)


# -- the linearised dynamics (chapter 2) -----------------------------------------------------------

def _simulated_threshold(h, r0, eta, eps, t_max=100_000):
    """First integer t with ||(I - eta H)^t r0||^2 <= eps, by iterating the linear recursion itself."""
    import numpy as np
    r = np.array(r0, dtype=float)
    step = np.eye(len(r)) - eta * np.asarray(h, dtype=float)
    for t in range(t_max):
        if float(r @ r) <= eps:
            return t
        r = step @ r
    raise AssertionError("no crossing")


def test_linear_threshold_has_the_closed_form_of_one_direction():
    import numpy as np
    # all of the residual on one eigendirection: (1 - eta lam)^(2t) c = eps
    lam, c, eta, eps = 0.2, 50.0, 0.5, 1e-3
    t = theory.linear_threshold([lam, 3.0], [c, 0.0], eta, eps)
    assert t == pytest.approx(math.log(eps / c) / (2 * math.log(1 - eta * lam)), rel=1e-12)
    assert theory.linear_residual([lam], [c], eta, t) == pytest.approx(eps, rel=1e-9)
    # and the slowest-direction threshold is the same formula
    assert theory.slowest_direction_threshold(eta, lam, c, eps) == pytest.approx(t, rel=1e-12)
    assert theory.linear_threshold([lam], [c], eta, 2 * c) == 0.0
    # a direction that never decays and holds more than eps: never
    assert theory.linear_threshold([0.0, lam], [1.0, c], eta, 0.5) == math.inf
    assert np.isfinite(theory.linear_threshold([0.0, lam], [0.1, c], eta, 0.5))


def test_linear_threshold_matches_the_iterated_recursion():
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 12))
    h = a @ a.T / 12 + 0.05 * np.eye(12)
    r0 = rng.normal(size=12) * 3
    eta = 1.0 / np.linalg.eigvalsh(h)[-1]
    lam, vec = np.linalg.eigh(h)
    t = theory.linear_threshold(lam, (vec.T @ r0) ** 2, eta, 1e-4)
    assert math.ceil(t) == _simulated_threshold(h, r0, eta, 1e-4)
    # the slowest direction alone is an upper bound (eta lambda_max <= 2 - eta lambda_0 here)
    assert t <= theory.slowest_direction_threshold(eta, lam[0], float(r0 @ r0), 1e-4)


def test_collapse_slopes_are_read_off_the_formulas():
    assert theory.bound_slope() == pytest.approx(2.0)
    assert theory.slowest_direction_slope(0.0) == 0.5
    # eta lambda_0 t_slow / log(r0 / eps), from the threshold itself
    x = 0.3
    t = theory.slowest_direction_threshold(x, 1.0, math.e ** 5, 1.0)
    assert theory.slowest_direction_slope(x) == pytest.approx(x * t / 5, rel=1e-12)
    assert theory.slowest_direction_slope(x) < 0.5
    # the bound's rate is 4 times slower than the slowest linearised direction, to first order
    assert theory.bound_slope() / theory.slowest_direction_slope(1e-9) == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ParameterError, match="eta_lambda0"):
        theory.slowest_direction_slope(1.0)


def test_empirical_gram_is_the_jacobian_gram_and_tends_to_h_inf():
    from companion.models import TwoLayerNet
    x = data.synthetic(6, 5, seed=0).x.double()
    net = TwoLayerNet(5, 8, 2, "ntk", seed=0, dtype=torch.float64)
    h = theory.empirical_gram(x, net.w, net.a)
    # J J^T from autograd, rows ordered (output c, sample i)
    jac = torch.autograd.functional.jacobian(lambda w: (torch.relu(x @ w.T) @ net.a / math.sqrt(8)).T.reshape(-1),
                                             net.w.detach())
    jac = jac.reshape(12, -1)
    assert torch.allclose(h, jac @ jac.T, atol=1e-12)
    # wide: each diagonal block tends to H_inf, the off-diagonal blocks to 0
    wide = TwoLayerNet(5, 200_000, 2, "ntk", seed=1, dtype=torch.float64)
    hw = theory.empirical_gram(x, wide.w, wide.a)
    assert (hw[:6, :6] - theory.gram_infinity(x)).abs().max() < 0.01
    assert hw[:6, 6:].abs().max() < 0.01
