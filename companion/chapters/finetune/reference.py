"""Chapter 4's reference runs: has the reference converged, and when does the greedy mask settle?

One engine experiment per arm (:class:`ReferenceRun`), on the arm's sizes and its first
``reference_seeds`` seeds (the same seeds, so the same dense runs up to T_full, as the main units). A
unit pre-trains the dense network for ``reference_factor`` x T_full steps on a fine geometric grid,
and records at every grid step t:

- ``dense``: the dense network's held-out accuracy (has pre-training converged by T_full?);
- ``greedy_pruned``: the held-out accuracy of the greedy subnetwork at the arm's smallest kept fraction,
  before any fine-tuning;
- ``mask_distance``: the early-bird distance (:mod:`companion.prune.early_bird`) of that greedy
  selection from the previous grid step's (NaN at the first);

and at T_full and at the end of the run, the greedy subnetwork fine-tuned for the arm's longest budget
(``greedy_finetuned``, held-out accuracy; the same fine-tuning as the main units): is the reference
of t_enough, the fine-tuned accuracy after full pre-training, still moving when pre-training doubles?

Tidy frame: arm, n, seed, t, quantity, ratio, budget, value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data import draw_seed
from ...experiments import engine
from ...prune.early_bird import mask_distance
from ...runtime import resolve_device
from ...train import checkpoint_grid, train
from .arms import ARMS
from .experiments import CENTER, _at, _data, _evaluate, _sgd, materialise_choice, select

REFERENCE_COLUMNS = ["arm", "n", "seed", "t", "quantity", "ratio", "budget", "value"]
QUANTITIES = ("dense", "greedy_pruned", "mask_distance", "greedy_finetuned")


@dataclass(frozen=True)
class ReferenceRun(engine.Experiment):
    """One arm's reference runs (everything their results depend on)."""

    arm: str
    sizes: tuple
    seeds: tuple
    widths: tuple
    blocks_per_stage: int
    ratio: float             # the arm's smallest kept fraction (its main setting)
    lr: float
    finetune_lr: float
    momentum: float
    batch_size: int
    steps: int               # T_full
    factor: int              # the run lasts factor x T_full steps
    num_checkpoints: int     # grid points from first_checkpoint to factor x T_full
    first_checkpoint: int
    main_index: int          # the index of T_full in the main units' grid (their fine-tuning batches)
    budget: int              # the longest fine-tuning budget
    score_n: int
    n_test: int
    n_heldout: int
    heldout_from: int
    source: str
    head: str = ""
    init: str = ""
    dtype: str = "float32"

    name = "ch4-ref"

    @property
    def tolerance(self) -> dict:
        """The arm's tolerance, with a larger share of rows allowed to differ: a frame of ~20 rows per
        unit in which one flipped float32 greedy pick at a near-tie moves three rows (that checkpoint's
        pruned accuracy and two mask distances). Measured: the CNN's quick unit recomputed with baseline
        ATen kernels, MKL AVX2 and one thread differs at 2 of 17 rows (one pick, distance 0.125); the
        arm's 5% would fail on one flip; the paper unit of the two-layer arm (N = 500) differs at 8 of 62."""
        return dict(ARMS[self.arm].tolerance) | {"max_share": 0.2}

    @property
    def checkpoints(self) -> list[int]:
        """0, a geometric grid to factor x T_full, and T_full itself."""
        end = self.factor * self.steps
        return sorted(set(checkpoint_grid(end, self.num_checkpoints - 1, self.first_checkpoint)) | {self.steps})

    @classmethod
    def of(cls, p, key: str) -> "ReferenceRun":
        s = ARMS[key].settings(p)
        seeds = tuple(s["seeds"])[:p.reference_seeds]
        return cls(arm=ARMS[key].key, sizes=tuple(s["sizes"]), seeds=seeds, widths=tuple(s["widths"]),
                   blocks_per_stage=s["blocks_per_stage"], ratio=float(min(s["ratios"])), lr=s["lr"],
                   finetune_lr=s["finetune_lr"], momentum=s["momentum"], batch_size=p.batch_size,
                   steps=s["steps"], factor=p.reference_factor, num_checkpoints=p.reference_checkpoints,
                   first_checkpoint=s["first_checkpoint"],
                   main_index=len(checkpoint_grid(s["steps"], s["num_checkpoints"] - 1, s["first_checkpoint"])) - 1,
                   budget=max(s["budgets"]), score_n=p.score_n,
                   n_test=p.n_test, n_heldout=p.n_heldout, heldout_from=p.heldout_from, source=p.source,
                   head=s["head"], init=s["init"])

    def units(self):
        return [(n, s) for n in self.sizes for s in self.seeds]

    def unit_label(self, unit):
        return "{}-n{}-s{}".format(self.arm.replace("_", ""), *unit)

    def unit_config(self, unit) -> dict:
        n, seed = unit
        spec = ARMS[self.arm]
        return {"experiment": "ch4_reference", "arm": self.arm, "n": n, "seed": seed,
                "widths": list(self.widths), "blocks_per_stage": self.blocks_per_stage,
                "parameterization": spec.parameterization, "loss": spec.loss, "reduction": "mean",
                "optimizer": "sgd", "lr": self.lr, "finetune_lr": self.finetune_lr,
                "lr_scaled_by_width": spec.lr_scaled_by_width, "momentum": self.momentum,
                "schedule": "constant", "batch_size": self.batch_size, "sgd_batches": "epoch_stream",
                "ratios": [self.ratio], "methods": ["greedy"], "t_full": self.steps,
                "checkpoints": self.checkpoints, "main_index": self.main_index, "budgets": [self.budget], "score_n": self.score_n,
                "sampled_candidates": 0, "sampled_batch": 0, "variants_ratio": None,
                "n_test": self.n_test, "n_heldout": self.n_heldout, "heldout_from": self.heldout_from,
                "source": self.source, "center": CENTER, "unit_norm": spec.unit_norm,
                "head": self.head, "init": self.init, "dtype": self.dtype}

    def cost(self, unit):
        return float(len(self.checkpoints) * unit[0] + self.factor * self.steps * self.batch_size)

    def compute(self, unit, device):
        return compute_reference_unit(self.unit_config(unit), str(device))


def compute_reference_unit(config: dict, device: str = "cpu", progress: bool = False) -> pd.DataFrame:
    """One reference unit (see the module docstring)."""
    dev = resolve_device(device)
    devname = "cuda" if dev.type == "cuda" else "cpu"
    arm, n, seed = config["arm"], config["n"], config["seed"]
    ratio, budget, t_full = config["ratios"][0], config["budgets"][0], config["t_full"]
    train_set, heldout, _, score = _data(config, dev)
    sets = {"heldout": heldout}
    grid = list(config["checkpoints"])
    dense = ARMS[arm].dense(config, seed)
    run = train(dense, train_set, _sgd(config, seed, devname), grid, history=False, progress=progress,
                desc=f"ch4 reference {arm}")
    rows, previous = [], None

    def add(t, quantity, value, b=0):
        rows.append({"arm": arm, "n": n, "seed": seed, "t": int(t), "quantity": quantity, "ratio": float(ratio),
                     "budget": int(b), "value": float(value)})

    for ci, t in enumerate(grid):
        net = _at(dense, run.states[t]).to(dev)
        add(t, "dense", _evaluate(net, sets, config["loss"], dev)[0]["accuracy"])
        choice = select(config, net, score, train_set, ratio, "greedy", ci, {})
        small = materialise_choice(config, net, choice.picks)
        add(t, "greedy_pruned", _evaluate(small, sets, config["loss"], dev)[0]["accuracy"])
        add(t, "mask_distance", np.nan if previous is None else mask_distance(previous, choice.picks))
        previous = choice.picks
        if t in (t_full, grid[-1]):
            # the main units' fine-tuning: its step and, at T_full, its batches (T_full's index in their
            # grid), so that the value at T_full is the main units' (a check of both)
            index = config["main_index"] + (t != t_full)
            tuned = train(small, train_set, _sgd(config, draw_seed(seed, 1_000_003, index), devname,
                                                 config["finetune_lr"]), [budget], history=False,
                          progress=progress, desc=f"ch4 reference {arm} fine-tune t={t}")
            add(t, "greedy_finetuned", _evaluate(_at(small, tuned.states[budget]), sets, config["loss"],
                                                 dev)[0]["accuracy"], budget)
    frame = pd.DataFrame(rows, columns=REFERENCE_COLUMNS)
    return frame.sort_values(["t", "quantity"], kind="stable", ignore_index=True)
