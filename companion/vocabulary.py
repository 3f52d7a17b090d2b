"""The words every chapter uses: how the prose names regimes and laws, numbers and lists of sizes, and
the verdicts of :mod:`.stats.laws` in a phrase. Chapters' own phrases live in their ``prose`` modules;
sentences live in the notebooks' markdown.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .stats.laws import LAWS, MODEL_FORMULAS, MODELS

#: How the prose names each regime (code names are not words).
REGIME_NAMES = {"mean_field": "mean-field", "ntk": "NTK"}


def n_words(n) -> str:
    """A size as the reader reads it: 16,000."""
    return f"{int(n):,}"


def sizes_list(sizes) -> str:
    """'N = 500', 'N = 500 and 1,000', 'N = 500, 1,000 and 2,000'."""
    names = [n_words(n) for n in sizes]
    return "N = " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def pp(x: float, signed: bool = True) -> str:
    """An accuracy difference in percentage points: '+1.2 pp'."""
    return f"{100 * x:+.1f} pp" if signed else f"{100 * x:.1f} pp"


def is_are(k: int) -> str:
    return "are" if k > 1 else "is"


def finite(*values) -> bool:
    """Every value a finite real number (None and NaN are not)."""
    return all(v is not None and isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v))
               for v in values)


def law_words(comparison: dict, digits: int = 3) -> str:
    """A verdict of :func:`.stats.laws.compare_laws` for the reader: 'power (leave-one-size-out error
    0.83; log 1.9, linear 2.5)', 'log and power cannot be told apart (leave-one-size-out error ...)',
    'the laws cannot be told apart with two sizes', ..."""
    best = comparison["best"]
    if best == "not enough sizes":
        return "no law can be fitted (fewer than two sizes)"
    if comparison["sizes"] < 3:
        # no size can be left out: a two-parameter law passes through the two size means
        return "the laws cannot be told apart with two sizes"
    errs = {law: comparison[law]["loso"] for law in LAWS if math.isfinite(comparison[law]["loso"])}
    shown = ", ".join(f"{law} {_short(v, digits)}" for law, v in errs.items())
    if best in LAWS:
        others = ", ".join(f"{law} {_short(v, digits)}" for law, v in errs.items() if law != best)
        return f"{best} (leave-one-size-out error {_short(errs[best], digits)}; {others})"
    tied = comparison["tied"]
    names = " and ".join([", ".join(tied[:-1]), tied[-1]]) if len(tied) > 2 else " and ".join(tied)
    return f"{names} cannot be told apart (leave-one-size-out error {shown})"


def _short(value: float, digits: int) -> str:
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"


def law_shares_words(shares: dict, undefined: str) -> str:
    """Which of the laws the data prefer: the bootstrap share of LOSO wins of each (a law that wins in
    95% of the resamples is singled out; one that wins most often, but less, is preferred; a tie
    prefers none). ``undefined``: why, when no law has a share (chapters 3 and 4 say it their way)."""
    shares = pd.Series(shares, dtype=float)
    if shares.isna().all():
        return f"the laws cannot be compared ({undefined})"
    best = shares.idxmax()
    others = ", ".join(f"{MODEL_FORMULAS[m]} {shares[m]:.0%}" for m in MODELS if m != best)
    if shares[best] >= 0.95:
        return (f"{MODEL_FORMULAS[best]} has the lowest leave-one-size-out error in "
                f"{shares[best]:.0%} of bootstrap resamples of the seeds ({others})")
    if (shares == shares[best]).sum() == 1 and shares[best] > 0.5:
        return (f"{MODEL_FORMULAS[best]} is preferred but not singled out: it has the lowest "
                f"leave-one-size-out error in {shares[best]:.0%} of bootstrap resamples of the seeds ({others})")
    parts = ", ".join(f"{MODEL_FORMULAS[m]} {shares[m]:.0%}" for m in MODELS)
    return (f"the data cannot tell the laws apart (share of bootstrap resamples of the seeds in which "
            f"each law has the lowest leave-one-size-out error: {parts})")




#: :func:`.stats.verdicts.growth`'s verdicts in a short phrase (a table cell, a clause).
GROWTH_WORDS = {"grows": "grows", "grows_then_stops": "grows, then stops",
                "grows_then_falls": "grows, then falls",
                "grows_tail_untested": "grows; whether it then stops cannot be tested",
                "falls": "falls", "flat": "no significant change", "untestable": "cannot be tested",
                "undefined": "defined at fewer than two sizes"}
