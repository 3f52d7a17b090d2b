"""Chapter 2 (the derivation of the log-N bound, reconstructed from Wolfe et al. and Du et al. 2019):
each step measured in the theorem's setting.

    params.py         DerivationParams (defaults: the paper preset), its checks, SCHEMA
    experiments.py    the GD runs, their linearised predictions, the initial residuals, greedy vs k
                      (engine experiments), the step size and its canonical committed value
    findings.py       numbers from the frames: one row per run (run_summary), the O(1/k) fits, the
                      collapse fit, the growth split, the committed runs and thresholds (regime map)
    prose.py          one group of runs' numbers and phrases, the glue names the book reads written out
    prose_chapter.py  summarize(): every number the chapter quotes, the steps' and verdict's sentences
"""
from __future__ import annotations

from .experiments import (ETA_DIGITS, ETA_SNAP, GdRuns, GreedyVsK, InitialResiduals, LinearRuns,
                          canonical_step, committed_steps, dataset, experiments, gd_experiments,
                          linear_experiments, one_run, run, step_size, step_sizes)
from .findings import (CommittedRuns, collapse_fit, committed_runs, committed_thresholds, group_label,
                       growth, growth_split, inverse_k_fits, run_summary)
from .params import MAX_SIZE, SCHEMA, DerivationParams
from .prose import group_text
from .prose_chapter import summarize

__all__ = ["CommittedRuns", "DerivationParams", "ETA_DIGITS", "ETA_SNAP", "GdRuns", "GreedyVsK",
           "InitialResiduals", "LinearRuns", "MAX_SIZE", "SCHEMA", "canonical_step", "collapse_fit",
           "committed_runs", "committed_steps", "committed_thresholds", "dataset", "experiments", "gd_experiments", "group_label",
           "group_text", "growth", "growth_split", "inverse_k_fits", "linear_experiments", "one_run", "run",
           "run_summary", "step_size", "step_sizes", "summarize"]
