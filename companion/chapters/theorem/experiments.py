"""Chapter 1's experiments (run by :mod:`companion.experiments.engine`): :class:`Spectrum`, one unit
per (dataset, N) holding every seed (lambda_0 and lambda_max of H_inf on MNIST subsets and on sphere
data); :class:`MonteCarlo`, one unit (the Monte-Carlo check that H_inf is the expectation over w it
claims to be)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ... import data, theory
from ...experiments import engine
from .params import TheoremParams


def _mnist_x(n: int, seed: int, source: str) -> torch.Tensor:
    """Centred, unit-norm, class-balanced MNIST training subset (inputs only)."""
    return data.mnist(n, seed=seed, source=source, center=True, unit_norm=True).train.x


@dataclass(frozen=True)
class Spectrum(engine.Experiment):
    """lambda_0 and lambda_max of H_inf per (dataset, N, seed): MNIST (centred, unit-norm, class-balanced
    subsets of ``source``) and synthetic sphere data in each of ``synthetic_dims``."""

    sizes: tuple
    seeds: tuple
    source: str            # resolved: 'embedded' or 'torchvision'
    synthetic_dims: tuple
    mnist_name: str = "MNIST"  # the dataset column of the MNIST rows
    name = "ch1-spectrum"
    threads = 1

    def units(self):
        return ([(self.mnist_name, 784, n) for n in self.sizes]
                + [(f"sphere, d={d}", d, n) for d in self.synthetic_dims for n in self.sizes])

    def unit_label(self, unit):
        name, d, n = unit
        if name.startswith("MNIST"):
            return f"mnist{'' if self.source == 'embedded' else '-full'}-n{n}"
        return f"sphere{d}-n{n}"

    def unit_config(self, unit):
        name, d, n = unit
        config = {"experiment": "ch1_spectrum", "dataset": name, "d": d, "n": n,
                  "seeds": list(self.seeds)}
        if name.startswith("MNIST"):
            config |= {"source": self.source, "center": True, "unit_norm": True}
        return config

    def cost(self, unit):
        return unit[2] ** 3

    def compute(self, unit, device):
        name, d, n = unit
        rows = []
        for s in self.seeds:
            mnist = name.startswith("MNIST")
            x = _mnist_x(n, s, self.source) if mnist else data.synthetic(n, d, seed=s).x
            ev = torch.linalg.eigvalsh(theory.gram_infinity(x))
            rows.append({"dataset": name, "d": d, "outputs": data.NUM_CLASSES if mnist else 1,
                         "N": n, "seed": s, "lambda_0": float(ev[0]), "lambda_max": float(ev[-1])})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class MonteCarlo(engine.Experiment):
    """Error of the Monte-Carlo average (1/S) sum_s x_i.x_j 1{w_s.x_i >= 0, w_s.x_j >= 0} (the NTK Gram
    matrix of a width-S network at initialisation) against the closed form H_inf, on one MNIST subset
    of ``mc_size`` images, for each number of samples S (nested: one stream of draws)."""

    mc_size: int
    mc_samples: tuple
    mc_seed: int
    source: str
    chunk: int = 20_000
    name = "ch1-monte-carlo"
    threads = 1

    def units(self):
        return ["all"]

    def unit_label(self, unit):
        return f"n{self.mc_size}-s{self.mc_seed}"

    def unit_config(self, unit):
        return {"experiment": "ch1_monte_carlo", "mc_size": self.mc_size,
                "mc_samples": list(self.mc_samples), "mc_seed": self.mc_seed, "source": self.source,
                "chunk": self.chunk}

    def compute(self, unit, device):
        x = _mnist_x(self.mc_size, self.mc_seed, self.source)
        exact = theory.gram_infinity(x)
        lam_exact = theory.lambda_min(exact)
        rows = []
        for target, est in theory.gram_monte_carlo_path(x, self.mc_samples, seed=self.mc_seed,
                                                         chunk=self.chunk):
            err = est - exact
            rows.append({"samples": target, "max_abs_error": float(err.abs().max()),
                         "rel_fro_error": float(err.norm() / exact.norm()),
                         "lambda_0_mc": theory.lambda_min(est), "lambda_0_exact": lam_exact})
        return pd.DataFrame(rows)


def experiments(p: TheoremParams) -> dict[str, engine.Experiment]:
    """The chapter's experiments for parameters ``p``. Only 'auto' is resolved (against the data
    present); an explicit source is kept as it is, so stored results are read without the data."""
    source = data.resolve_source(p.source) if p.source == "auto" else p.source
    full = data.resolve_source(p.full_source) if p.full_source == "auto" else p.full_source
    return {"spectrum": Spectrum(p.sizes, p.seeds, source, p.synthetic_dims),
            "spectrum_large": Spectrum(p.full_sizes, p.full_seeds, full, (), f"MNIST ({full})"),
            "monte_carlo": MonteCarlo(p.mc_size, p.mc_samples, p.mc_seed, source)}


def run(p: TheoremParams, options: engine.RunOptions) -> dict[str, pd.DataFrame]:
    return {key: engine.run(exp, options) for key, exp in experiments(p).items()}

