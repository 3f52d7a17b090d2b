"""Does a threshold grow with N? One criterion for the whole book: facts, no words.

From paired tests over seeds (:mod:`.paired`; a seed is a matched pair across sizes), over the sizes
at which some seed has a finite T* (a censored unit counts where its size is kept, and is left out of
the pairs it cannot join):

- ``n0`` is the size to which the last significant rise between neighbouring sizes leads (the largest
  size if there is none, or if the change from the smallest size to it is not itself a rise);
- the threshold **grows** when the change from the smallest size to ``n0`` is positive and significant;
- it then **stops** when the change from ``n0`` to the largest size is testable and not significant,
  **falls** when that change is significantly negative, and grows on when there is no such tail or it
  rises too;
- without a significant rise: it **falls** (significant negative change over the whole range), is
  **flat** (testable, not significant) or is **untestable** (fewer than three paired seeds).

A chapter turns a :class:`Growth` into its sentence; the regime map and the intro read the same object.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paired

#: Every verdict :func:`growth` gives.
VERDICTS = ("grows", "grows_then_stops", "grows_then_falls", "grows_tail_untested", "falls", "flat",
            "untestable", "undefined")


@dataclass(frozen=True)
class Growth:
    """How T*(N) moves (see the module docstring). ``rise``: the paired change first -> n0 (the one the
    verdict rests on); ``tail``: n0 -> last, or None when n0 is the largest size; ``sizes``: the sizes
    with a finite mean T*."""

    verdict: str
    first: int | None = None
    n0: int | None = None
    last: int | None = None
    rise: dict | None = None
    tail: dict | None = None
    sizes: tuple = ()
    alpha: float = paired.PAIRED_ALPHA

    @property
    def defined(self) -> bool:
        return self.verdict != "undefined"

    @property
    def grows(self) -> bool:
        return self.verdict.startswith("grows")

    @property
    def stops(self) -> bool:
        return self.verdict == "grows_then_stops"

    @property
    def falls(self) -> bool:
        return self.verdict == "falls"

    @property
    def flat(self) -> bool:
        return self.verdict == "flat"

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% interval of the change the verdict rests on (NaN, NaN without one)."""
        if not self.rise:
            return (float("nan"), float("nan"))
        return (self.rise["ci_lo"], self.rise["ci_hi"])


def growth(ts: pd.DataFrame, alpha: float = paired.PAIRED_ALPHA) -> Growth:
    """The one growth criterion applied to thresholds ``ts`` (n, seed, t_star; NaN: censored)."""
    t_star = ts["t_star"].astype(float)
    means = ts[np.isfinite(t_star)].groupby("n")["t_star"].mean()
    sizes = tuple(int(n) for n in means.index)
    if len(means) < 2:
        return Growth("undefined", sizes=sizes, alpha=alpha)
    first, last = sizes[0], sizes[-1]
    sub = ts[ts["n"].isin(means.index)]
    steps = paired.paired_steps(sub)
    rising = [r for r in steps.to_dict("records") if paired.change_rises(r, alpha)]
    n0 = int(rising[-1]["n_to"]) if rising else last
    rise = paired.paired_change(sub, first, n0)
    if not paired.change_rises(rise, alpha) and n0 != last:  # a significant step, no rise overall
        n0, rise = last, paired.paired_change(sub, first, last)
    tail = paired.paired_change(sub, n0, last) if n0 != last else None
    if paired.change_rises(rise, alpha):
        if tail is None or paired.change_rises(tail, alpha):
            verdict = "grows"
        elif paired.change_falls(tail, alpha):
            verdict = "grows_then_falls"
        elif paired.change_tested(tail):
            verdict = "grows_then_stops"
        else:
            verdict = "grows_tail_untested"
    elif paired.change_falls(rise, alpha):
        verdict = "falls"
    elif paired.change_tested(rise):
        verdict = "flat"
    else:
        verdict = "untestable"
    return Growth(verdict, first, n0, last, rise, tail, sizes, alpha)
