"""Chapter 1 (the theorem): the smallest eigenvalue lambda_0 of H_inf (Du et al. 2019, Sec. 3) on
unit-normalised MNIST subsets and on synthetic sphere data as N grows, what Du et al.'s width and
step-size requirements would be for those lambda_0, and a Monte-Carlo check that H_inf is the
expectation over w that it claims to be.

    params.py       TheoremParams (defaults: the paper preset), its checks, SCHEMA
    experiments.py  Spectrum (lambda_0, lambda_max per dataset, N, seed) and MonteCarlo (engine
                    experiments), experiments(), run()
    findings.py     Du et al.'s requirements (du_requirements) and every number the chapter quotes
                    (measure: TheoremFindings, no words)
    prose.py        summarize(): the numbers, the sentences chosen from them, the figures' tables
"""
from __future__ import annotations

from .experiments import MonteCarlo, Spectrum, experiments, run
from .findings import TheoremFindings, du_requirements, measure
from .params import MAX_SPECTRUM_SIZE, SCHEMA, TheoremParams
from .prose import summarize

__all__ = ["MAX_SPECTRUM_SIZE", "MonteCarlo", "SCHEMA", "Spectrum", "TheoremFindings", "TheoremParams",
           "du_requirements", "experiments", "measure", "run", "summarize"]
