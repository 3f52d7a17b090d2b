"""What the notebooks show: numbers at a stated precision, so no stored output carries noise digits.

A chapter's stored outputs are compared with a fresh run on the reader's machine (nbval). The last
bits of a least-squares fit or a mean differ between CPUs and BLAS builds, so a number is glued, and a
table is shown, rounded to ``SIGNIFICANT_DIGITS`` significant digits: more than the prose ever shows
(tests/test_stored_outputs.py checks both), far fewer than floating-point noise reaches.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

#: Significant digits kept in every glued float and every displayed table cell.
SIGNIFICANT_DIGITS = 6


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (NaN and infinities unchanged)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits - 1}e}")


def _rounded(value):
    if isinstance(value, (bool, np.bool_)) or isinstance(value, numbers.Integral):
        return value
    if isinstance(value, numbers.Real):
        return significant(value)
    return value


def glue(name: str, value, display: bool = False):
    """myst-nb's ``glue`` with floats rounded to ``SIGNIFICANT_DIGITS`` significant digits."""
    from myst_nb import glue as _glue

    return _glue(name, _rounded(value), display=display)


def table(frame: pd.DataFrame, digits: int = 3, floor: float | None = None) -> pd.DataFrame:
    """A copy of ``frame`` for display: every float cell written with ``digits`` significant digits
    (general format: 0.0312, 1.35e+03), NaN shown as an empty cell; other cells unchanged.

    ``floor``: a magnitude below which a number is floating-point zero for this table (a loss driven to
    1e-31 is rounding noise, different on every CPU); such cells are shown as "< floor"."""
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            if not math.isfinite(v):
                return ""
            if floor is not None and abs(v) < floor:
                return f"< {floor:.0e}"
            return f"{v:.{digits}g}"
        return v
    return frame.map(fmt)


def glue_all(numbers: dict) -> None:
    """Glue every entry of a chapter summary's ``numbers`` (floats rounded, see :func:`glue`)."""
    for name, value in numbers.items():
        glue(name, value)
