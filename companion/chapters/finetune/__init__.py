"""Chapter 4 (how much pre-training is enough in practice): pre-train -> prune -> fine-tune on MNIST.

    params.py          the parameters (flat names, one per arm and setting), their checks, SCHEMA
    arms.py            the arm registry: one ArmSpec per architecture (networks, prunable widths,
                       pruners, loss, inputs, the parameters it reads, cost model, reader's name)
    selection.py       the pruners (closed-form greedy, layer-wise greedy and its variants, random,
                       largest norm), each choosing from a Target
    experiments.py     the compute: one engine experiment per arm (FinetuneArm), one unit
    reference.py       the reference runs (2 x T_full): convergence, the early-bird signal
    runs.py            the chapter's experiments (arms and reference runs) and run()
    cost.py            network sizes and FLOPs, FLOP-matched steps, a unit's cost and seconds
    analysis.py        statistics on the frames: t_enough, the growth criterion, law fits,
                       paired contrasts, the practitioner's table
    findings.py        numbers and flags per arm (ArmFindings); chapter 3's T*(N) for the comparison
    prose.py           the phrases of each arm and of the parameters, every glued name written out
    prose_verdicts.py  the sentences across arms: against chapter 3, sensitivity, variants, verdicts
    verdict_box.py     the verdict box (one corrected family per question), In short
    tables.py          the reader's tables
    summary.py         summarize(): every number and data-dependent sentence the prose quotes
    explorer.py        the interactive view of A_ft(t) per N (Plotly, offline)
"""
from __future__ import annotations

from .analysis import UNDEFINED
from .arms import ARMS, ArmSpec, arms_of, kept_widths, methods_at, register, unregister
from .findings import committed_thresholds, paper_params
from .experiments import CONTROLS, FRAME_COLUMNS, SPLITS, FinetuneArm, compute_unit
from .runs import experiments, run
from .params import SCHEMA, FinetuneParams
from .prose import METHOD_NAMES, arm_names
from .summary import explorer_settings, summarize

__all__ = ["ARMS", "ArmSpec", "CONTROLS", "FRAME_COLUMNS", "FinetuneArm", "FinetuneParams", "METHOD_NAMES", "SCHEMA",
           "SPLITS", "UNDEFINED", "arm_names", "arms_of", "compute_unit", "experiments", "explorer_settings",
           "committed_thresholds", "kept_widths", "methods_at", "paper_params", "register", "run", "summarize",
           "unregister"]
