"""Chapter 4's findings: numbers and flags, no words. :class:`ArmFindings` is what the summary found
for one arm (what other chapters and the regime map may import instead of re-deriving it), and
:func:`chapter3_thresholds` reads chapter 3's T*(N) for the comparison.
"""
from __future__ import annotations

import dataclasses
import math

from ...stats import thresholds
from ...experiments import engine, mnist, schema


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
    """Chapter 3's T*(N) of the greedy subnetwork (SGD arm, its paper preset and its threshold rule)
    from the committed results: (frame n, seed, t_star, reached; a description of the rule), or
    (None, why) when the committed results are not all there (nothing is computed)."""
    p, options = schema.check(mnist.SCHEMA, None)
    exp = mnist.experiments(p)["sgd"]
    if engine.missing(exp, options.cache_dir):
        return None, "chapter 3's committed results are not all present, so its T*(N) is not shown"
    sgd = engine.run(exp, dataclasses.replace(options, progress=False))
    r = p.rules
    ts = thresholds.thresholds(sgd, rule=r["rule"], metric=r["metric"], delta=r["delta"], level=r["level"],
                               method="greedy")
    rule = (f"the first step at which the greedy subnetwork's training {r['metric']} reaches {r['level']:g}"
            if r["rule"] == "reaches" else
            f"the first step at which its training {r['metric']} is within {r['delta']:g} of its best")
    return ts[["n", "seed", "t_star", "reached"]], f"{rule}, k = {p.k} of m = {p.width}"
