"""The book's statistics, one definition of each: every chapter, the regime map and both explorers
call these modules.

    thresholds.py  Rule (fixed level, share of the curve's own gain, within delta of the best or of a
                   reference, one- or two-sided): T* per curve and per frame; a censored curve is NaN
    laws.py        the four laws of T*(N), leave-one-size-out, AIC, the bootstrap over seeds, the
                   bootstrap choice of a law; the chapters' quoted fits
    paired.py      paired tests over seeds between two sizes; Holm and Benjamini-Hochberg corrections
    verdicts.py    grows / stops / falls / flat / untestable: the one growth criterion (facts, no words)
"""
from __future__ import annotations

from . import laws, paired, thresholds, verdicts

__all__ = ["laws", "paired", "thresholds", "verdicts"]
