"""Chapter 3 (the MNIST validation): when does greedy forward selection find a good subnetwork, and how
does that threshold move with the training-set size N?

    params.py          MnistParams (the paper preset's defaults, every check), its threshold Rule, SCHEMA,
                       explorer_settings
    experiments.py     the engine's experiments (SGD / GD threshold sweeps, the NTK study, the
                       well-trained arm), their compute functions and run()
    findings.py        numbers and flags from the frames (thresholds, laws, the growth verdict, the
                       NTK tuning, the summed target) and committed_thresholds() for the regime map
    prose.py           summarize(): every number and sentence the chapter quotes; the SGD arm's words
    prose_controls.py  the controls' words (grid, full-batch GD, epochs, held-out, summed, sensitivity)
    prose_ntk.py       the NTK study's and the well-trained arm's words
    prose_words.py     shared phrases (the rule, a paired change, coverage, a growth verdict)
"""
from __future__ import annotations

from .experiments import (FRAME_COLUMNS, METHODS, NTK_COLUMNS, NTK_METHODS, NUM_CLASSES, SPLITS, WT_COLUMNS,
                          NtkStudy, ThresholdSweep, WellTrainedSweep, compute_ntk_unit, compute_unit,
                          compute_well_trained_unit, experiments, output_scale, run)
from .findings import committed_thresholds, paper_params
from .params import DTYPES, OPTIMIZERS, SCHEMA, SOURCE_LIMITS, SOURCES, MnistParams, explorer_settings
from .prose import summarize
from .prose_controls import heldout_thresholds, loss_gap_sentence
from .prose_words import UNDEFINED

__all__ = ["DTYPES", "FRAME_COLUMNS", "METHODS", "NTK_COLUMNS", "NTK_METHODS", "NUM_CLASSES", "OPTIMIZERS",
           "SCHEMA", "SOURCES", "SOURCE_LIMITS", "SPLITS", "UNDEFINED", "WT_COLUMNS", "MnistParams",
           "NtkStudy", "ThresholdSweep", "WellTrainedSweep", "committed_thresholds", "compute_ntk_unit",
           "compute_unit", "compute_well_trained_unit", "experiments", "explorer_settings",
           "heldout_thresholds", "loss_gap_sentence", "output_scale", "paper_params", "run", "summarize"]
