"""Quantities of the bound (reconstructed from the paper's setting; see ../book/01_theorem).

- ``gram_infinity``: H_inf[i, j] = E_{w ~ N(0, I)}[x_i.x_j 1{w.x_i >= 0, w.x_j >= 0}]
  = x_i.x_j (pi - arccos(x_i.x_j)) / (2 pi) for unit-norm x (Du et al. 2019, Sec. 3).
- ``lambda_0``: its smallest eigenvalue, assumed > 0.
- Linear convergence of GD on the summed squared loss (Du et al. 2019, Thm 4.1):
  ||y - u(t)||^2 <= (1 - eta lambda_0 / 2)^t ||y - u(0)||^2.
- ``gd_threshold``: the first t at which that bound is <= eps, and its simpler upper bound
  ``threshold_bound`` t*(N) = (2 / (eta lambda_0)) log(||y - u(0)||^2 / eps) (using -log(1-x) >= x),
  which is logarithmic in N because ||y - u(0)||^2 grows linearly in N (``expected_initial_residual``).
"""
from __future__ import annotations

import math

import torch

from . import validate


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[0] < 1:
        raise validate.ParameterError("parameter 'x' must be a 2-D tensor (N, d) with N >= 1")
    norms = x.norm(dim=1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-6):
        raise validate.ParameterError("parameter 'x' must have unit-norm rows (the theorem's "
                                      f"assumption); norms range over [{norms.min():.4g}, {norms.max():.4g}]")
    return x.to(torch.float64)


def gram_infinity(x: torch.Tensor) -> torch.Tensor:
    """H_inf (N, N) in float64 for unit-norm rows x (closed form of the expectation over w)."""
    x = _unit_rows(x)
    dots = (x @ x.T).clamp(-1.0, 1.0)
    return dots * (math.pi - torch.arccos(dots)) / (2 * math.pi)


def gram_monte_carlo_path(x: torch.Tensor, sample_counts, seed: int = 0, chunk: int = 20_000):
    """Monte-Carlo estimates of E_w[x_i.x_j 1{w.x_i >= 0, w.x_j >= 0}] (the Gram matrix of a width-S
    NTK network at initialisation) for each S in ``sample_counts``, from one nested stream of draws of
    w ~ N(0, I) taken ``chunk`` at a time. Yields (S, estimate)."""
    x = _unit_rows(x)
    counts = validate.integer_list("sample_counts", list(sample_counts), low=1)
    validate.integer("chunk", chunk, low=1)
    g = torch.Generator().manual_seed(seed)
    dots = x @ x.T
    both_active = torch.zeros_like(dots)
    done = 0
    for target in counts:
        while done < target:
            take = min(chunk, target - done)
            w = torch.randn(take, x.shape[1], generator=g, dtype=torch.float64)
            act = (x @ w.T >= 0).to(torch.float64)  # (N, take)
            both_active += act @ act.T
            done += take
        yield target, dots * both_active / done


def gram_monte_carlo(x: torch.Tensor, samples: int, seed: int = 0) -> torch.Tensor:
    """Monte-Carlo estimate of H_inf with ``samples`` draws of w."""
    validate.integer("samples", samples, low=1)
    return next(gram_monte_carlo_path(x, [samples], seed))[1]


def lambda_min(h: torch.Tensor) -> float:
    """Smallest eigenvalue of a symmetric matrix (lambda_0 when h is H_inf)."""
    return float(torch.linalg.eigvalsh(h.to(torch.float64))[0])


def lambda_max(h: torch.Tensor) -> float:
    return float(torch.linalg.eigvalsh(h.to(torch.float64))[-1])


def expected_initial_residual(targets: torch.Tensor) -> float:
    """E ||y - u(0)||^2 for the NTK net at initialisation: ||y||^2 + N C / 2, since each output u_i(0)
    has mean 0 and variance E[relu(w.x)^2] = ||x||^2 / 2 = 1/2 (a_r = +-1, 1/sqrt(m) scaling).
    Linear in N."""
    n, c = targets.shape
    return float((targets.to(torch.float64) ** 2).sum()) + n * c / 2


def gd_threshold(eta: float, lambda0: float, initial_residual: float, eps: float) -> int:
    """Smallest t with (1 - eta lambda_0 / 2)^t ||y - u(0)||^2 <= eps (0 if already there)."""
    eta, lambda0 = validate.positive("eta", eta), validate.positive("lambda0", lambda0)
    initial_residual, eps = validate.positive("initial_residual", initial_residual), validate.positive("eps", eps)
    rate = eta * lambda0 / 2
    if rate >= 1:
        raise validate.ParameterError(f"parameter 'eta' = {eta:g} is not allowed: eta * lambda0 / 2 "
                                      f"must be < 1 (here {rate:.3g})")
    if initial_residual <= eps:
        return 0
    return math.ceil(math.log(eps / initial_residual) / math.log1p(-rate))


def threshold_bound(eta: float, lambda0: float, initial_residual: float, eps: float) -> float:
    """t*(N) = (2 / (eta lambda_0)) log(||y - u(0)||^2 / eps): an upper bound on ``gd_threshold``."""
    eta, lambda0 = validate.positive("eta", eta), validate.positive("lambda0", lambda0)
    initial_residual, eps = validate.positive("initial_residual", initial_residual), validate.positive("eps", eps)
    return max(0.0, 2.0 / (eta * lambda0) * math.log(initial_residual / eps))
