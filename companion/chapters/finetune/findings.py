"""Chapter 4's findings: numbers and flags, no words. :class:`ArmFindings` is what the summary found
for one arm (what other chapters and the regime map may import instead of re-deriving it), and
:func:`chapter3_thresholds` reads chapter 3's T*(N) for the comparison.
"""
from __future__ import annotations

import dataclasses
import math

from ...experiments import schema, store
from ...stats.thresholds import ThresholdSeries
from .. import mnist
from . import analysis
from .experiments import FinetuneArm
from .params import SCHEMA, FinetuneParams


@dataclasses.dataclass(frozen=True)
class ArmFindings:
    """One arm's main setting (greedy, smallest kept fraction, longest budget): whether it has data,
    whether t_enough(N) is defined at two sizes, grows and then stops (:func:`.analysis.growth`), the
    setting, the sizes, the share of T_full that t_enough is at the largest N and the training FLOPs
    pruning there saves (NaN when undefined), the runs whose dense network did not learn, whether the
    dense network and the longest fine-tuning converged (None: cannot be checked), and whether the
    pipeline beats scratch training at equal FLOPs at some t."""

    arm: str
    has_data: bool
    defined: bool = False
    grows: bool = False
    stops: bool = False
    ratio: float = math.nan
    long: int | None = None
    t_full: int | None = None
    smallest: int | None = None
    largest: int | None = None
    n_seeds: int = 0
    pct_largest: float = math.nan
    saved_largest: float = math.nan
    failed_runs: int = 0
    dense_converged: bool | None = None
    long_converged: bool | None = None
    worth_any: bool = False

    @classmethod
    def of(cls, arm: str, values: dict) -> "ArmFindings":
        """From one arm's summary (:func:`.summary.arm_summary`): its numbers and flags, an undefined
        number as NaN."""
        out = {}
        for f in dataclasses.fields(cls)[1:]:
            v = values.get(f.name, f.default)
            out[f.name] = math.nan if isinstance(v, str) else v
        return cls(arm=arm, **out)


def chapter3_thresholds():
    """Chapter 3's T*(N) of the greedy subnetwork (SGD arm, its paper preset and its threshold rule),
    as chapter 3's findings give it from the committed results: (frame n, seed, t_star, reached; the
    rule in words), or (None, why) when the committed results are not all there (nothing is computed)."""
    p = mnist.paper_params()
    series = mnist.committed_thresholds(p)["mf_sgd"]
    if series.ts is None:
        return None, "chapter 3's committed results are not all present, so its T*(N) is not shown"
    rule = series.rule.describe("the greedy subnetwork's training")
    return series.ts[["n", "seed", "t_star", "reached"]], f"{rule}, k = {p.k} of m = {p.width}"


def paper_params() -> FinetuneParams:
    """The paper preset's parameters (the committed results' settings)."""
    return schema.check(SCHEMA, {"progress": False})[0]


def committed_thresholds(p: FinetuneParams | None = None) -> dict[str, ThresholdSeries]:
    """What the regime map reads from chapter 4, from the committed results only (nothing computed):
    ``finetune``, t_enough of the deep MLP arm's greedy subnetwork at the smallest kept fraction and the
    longest fine-tuning budget (n, seed, t_star; NaN: censored), or ``missing`` (why not). The deep MLP
    arm is the one whose dense network converges by T_full (the chapter says so in numbers), so that
    t_enough is defined at every size; the two-layer arm's is censored at most sizes."""
    p = paper_params() if p is None else p
    frame, done, total = store.committed_frame(FinetuneArm.of(p, "mlp"))
    if done < total:
        return {"finetune": ThresholdSeries("finetune", missing=store.not_committed(done, total))}
    ratio, budget = min(p.mlp_ratios), max(p.mlp_budgets)
    # the chapter's rule: the arm's delta from its measured noise (as the summary computes it)
    delta = analysis.arm_delta(p.delta, analysis.noise_floor(frame, ratio, budget)["sd"])
    te = analysis.t_enough(frame, delta, methods=("greedy",))
    te = te[(te["ratio"] == ratio) & (te["budget"] == budget)]
    return {"finetune": ThresholdSeries("finetune", analysis.as_thresholds(te))}
