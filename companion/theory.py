"""Quantities of the bound (reconstructed from the paper's setting; see ../book/01_theorem).

- ``gram_infinity``: H_inf[i, j] = E_{w ~ N(0, I)}[x_i.x_j 1{w.x_i >= 0, w.x_j >= 0}]
  = x_i.x_j (pi - arccos(x_i.x_j)) / (2 pi) for unit-norm x (Du et al. 2019, Sec. 3).
- ``lambda_0``: its smallest eigenvalue, assumed > 0.
- Linear convergence of GD on the summed squared loss (Du et al. 2019, Thm 4.1):
  ||y - u(t)||^2 <= (1 - eta lambda_0 / 2)^t ||y - u(0)||^2.
- ``gd_threshold``: the first t at which that bound is <= eps, and its simpler upper bound
  ``threshold_bound`` t*(N) = (2 / (eta lambda_0)) log(||y - u(0)||^2 / eps) (using -log(1-x) >= x),
  which is logarithmic in N because ||y - u(0)||^2 grows linearly in N (``expected_initial_residual``).
- The linearised dynamics of GD on that loss (chapter 2): ``linear_threshold`` from the spectrum of
  H_inf or of the network's own Gram matrix H(0) (``empirical_gram``), and the slowest direction
  alone (``slowest_direction_threshold``, ``slowest_direction_slope``).
"""
from __future__ import annotations

import math

import numpy as np
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


# --------------------------------------------------------------------------------------------------
# The linearised dynamics (chapter 2): what gradient descent would do if the kernel stayed put.
#
# GD with step eta on L(W) = 0.5 sum_i ||f(x_i) - y_i||^2 (the code's loss: 0.5 times the summed
# squared error, ``metrics.loss_fn`` with reduction 'sum'), linearised around W(0), moves the
# predictions by u(t+1) - y = (I - eta H)(u(t) - y) with H = J J^T the Gram matrix of the output
# gradients (H(0) at initialisation, H_inf in the infinite-width limit). Along an eigenvector v_i of H
# the residual shrinks by |1 - eta lambda_i| per step, so the *squared* residual is
#     ||y - u(t)||^2 = sum_i (1 - eta lambda_i)^(2t) <v_i, y - u(0)>^2.
# All of it on the slowest direction (lambda_0) gives the slowest linearised crossing of eps,
#     t_slow = log(r0 / eps) / (-2 log(1 - eta lambda_0)) <= log(r0 / eps) / (2 eta lambda_0),
# i.e. eta lambda_0 t_slow <= (1/2) log(r0 / eps), against 2 log(r0 / eps) for the bound t*(N): the
# bound's rate eta lambda_0 / 2 on the squared residual is 4 times slower than the linearised
# slowest direction's 2 eta lambda_0 (to first order in eta lambda_0).


def bound_slope() -> float:
    """eta lambda_0 t*(N) / log(r0 / eps) for the bound ``threshold_bound``: 2 (read off the function)."""
    return threshold_bound(1.0, 1.0, math.e, 1.0)


def slowest_direction_slope(eta_lambda0: float) -> float:
    """eta lambda_0 t_slow / log(r0 / eps) for the linearised slowest direction, -x / (2 log(1 - x)) at
    x = eta lambda_0 in [0, 1): 1/2 as x -> 0 (its largest value), smaller for larger steps."""
    x = validate.real("eta_lambda0", eta_lambda0, low=0.0, high=1.0)
    if x >= 1.0:
        raise validate.ParameterError(f"parameter 'eta_lambda0' = {x!r} is not allowed: must be < 1")
    return 0.5 if x == 0.0 else -x / (2.0 * math.log1p(-x))


def slowest_direction_threshold(eta: float, lambda0: float, initial_residual: float, eps: float) -> float:
    """The (real) t at which (1 - eta lambda_0)^(2t) ||y - u(0)||^2 = eps: the linearised crossing when
    all of the initial residual lies on the slowest eigendirection, an upper bound on
    :func:`linear_threshold` with H_inf whenever eta lambda_max <= 2 - eta lambda_0 (0 if r0 <= eps)."""
    eta, lambda0 = validate.positive("eta", eta), validate.positive("lambda0", lambda0)
    initial_residual, eps = validate.positive("initial_residual", initial_residual), validate.positive("eps", eps)
    if eta * lambda0 >= 1:
        raise validate.ParameterError(f"parameter 'eta' = {eta:g} is not allowed: eta * lambda0 must be "
                                      f"< 1 (here {eta * lambda0:.3g})")
    if initial_residual <= eps:
        return 0.0
    return math.log(initial_residual / eps) / (-2.0 * math.log1p(-eta * lambda0))


def linear_residual(eigvals, coeffs, eta: float, t: float) -> float:
    """sum_i (1 - eta lambda_i)^(2t) c_i: the linearised squared residual after t steps, for the
    eigenvalues lambda_i of the kernel and c_i = <v_i, y - u(0)>^2."""
    lam, c = _spectrum(eigvals, coeffs)
    return float(np.sum(c * (1.0 - validate.positive("eta", eta) * lam) ** (2.0 * t)))


def linear_threshold(eigvals, coeffs, eta: float, eps: float) -> float:
    """min {t >= 0 : sum_i (1 - eta lambda_i)^(2t) c_i <= eps}, as a real t (the linearised residual is
    continuous and decreasing in t): the threshold gradient descent would have if the kernel whose
    spectrum is (eigvals, c_i = <v_i, y - u(0)>^2) stayed put. 0 if the initial residual is already
    <= eps; inf if it never gets there (a direction with |1 - eta lambda_i| >= 1 holds more than eps)."""
    lam, c = _spectrum(eigvals, coeffs)
    eta, eps = validate.positive("eta", eta), validate.positive("eps", eps)
    if c.sum() <= eps:
        return 0.0
    q = (1.0 - eta * lam) ** 2
    moving = (q < 1.0) & (c > 0)
    stuck = float(c[~moving].sum())
    if np.any((q > 1.0) & (c > 0)) or stuck >= eps:
        return math.inf
    target = math.log(eps - stuck)
    logc, logq = np.log(c[moving]), np.log(q[moving])

    def log_residual(t):
        return float(np.logaddexp.reduce(logc + t * logq))

    hi = 1.0
    while log_residual(hi) > target:
        hi *= 2.0
        if hi > 1e15:
            return math.inf
    lo = 0.0
    for _ in range(200):  # bisection to the last bits of a double
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if log_residual(mid) > target:
            lo = mid
        else:
            hi = mid
    return hi


def _spectrum(eigvals, coeffs):
    lam = np.asarray(eigvals, dtype=float).ravel()
    c = np.asarray(coeffs, dtype=float).ravel()
    if lam.shape != c.shape or not len(lam):
        raise validate.ParameterError("parameters 'eigvals' and 'coeffs' must be non-empty and of one length "
                                      f"(got {lam.shape} and {c.shape})")
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(c))) or np.any(c < 0):
        raise validate.ParameterError("parameters 'eigvals' and 'coeffs' must be finite, 'coeffs' >= 0")
    # an eigenvalue that is zero up to rounding is zero (a tiny negative one would look unstable)
    lam = np.where(np.abs(lam) <= 1e-12 * max(1.0, float(np.abs(lam).max())), 0.0, lam)
    return lam, c


def empirical_gram(x: torch.Tensor, w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """H(0) = J J^T of the NTK network f_c(x) = (1/sqrt(m)) sum_r a_rc relu(w_r . x) (only W trained),
    in float64, of size (C N, C N) with row (c, i) at c * N + i:
    H[(c, i), (c', j)] = x_i . x_j (1/m) sum_r a_rc a_rc' 1{w_r . x_i > 0} 1{w_r . x_j > 0}.
    Its expectation over w ~ N(0, I) is H_inf on each diagonal block and 0 off them."""
    x, w, a = x.to(torch.float64), w.to(torch.float64), a.to(torch.float64)
    if x.ndim != 2 or w.ndim != 2 or a.ndim != 2 or w.shape[1] != x.shape[1] or a.shape[0] != w.shape[0]:
        raise validate.ParameterError("parameters 'x' (N, d), 'w' (m, d) and 'a' (m, C) must have matching "
                                      f"shapes (got {tuple(x.shape)}, {tuple(w.shape)}, {tuple(a.shape)})")
    m, c = a.shape
    active = (x @ w.T > 0).to(torch.float64)                   # (N, m)
    rows = torch.cat([active * a[:, k] for k in range(c)])     # (C N, m)
    return (rows @ rows.T) / m * (x @ x.T).repeat(c, c)


def linear_spectrum(h: torch.Tensor, residual: torch.Tensor):
    """(eigenvalues, <v_i, r>^2) of the symmetric kernel ``h`` for the residual ``r`` (a vector of h's
    size, or an (N, C) matrix when h is N x N and acts on each of the C outputs alike: then each
    eigenvalue's coefficients are summed over the outputs). numpy arrays, ascending eigenvalues."""
    lam, vec = torch.linalg.eigh(h.to(torch.float64))
    r = residual.to(torch.float64)
    proj = vec.T @ (r if r.ndim == 2 else r.reshape(-1, 1))
    return lam.numpy(), (proj ** 2).sum(1).numpy()
