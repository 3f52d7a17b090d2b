"""What the notebooks show: numbers at a stated precision, so no stored output carries noise digits.

A chapter's stored outputs are compared with a fresh run on the reader's machine (nbval). The last
bits of a least-squares fit or a mean differ between CPUs and BLAS builds, so a number is glued, and a
table is shown, rounded to ``SIGNIFICANT_DIGITS`` significant digits: more than the prose ever shows
(tests/test_stored_outputs.py checks both), far fewer than floating-point noise reaches.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

@dataclass
class Summary:
    """What a chapter shows: ``numbers`` (glued into the prose) and the tables its figures draw."""

    numbers: dict
    tables: dict


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


def reader_table(frame: pd.DataFrame, columns: dict, *, digits: dict | int = 3, empty: str = "—"):
    """A table for readers: only ``columns`` (old name -> heading with its unit), in that order, no
    index, numbers at ``digits`` significant digits (one count for all, or per column; a format string
    such as ``"{:.0%}"`` or ``"{:,.0f}"`` also works), missing values shown as ``empty`` (the prose says
    why a cell is empty), inside a wrapper that scrolls sideways instead of overflowing the column.
    Returns an IPython HTML object (deterministic markup: no random ids)."""
    from IPython.display import HTML

    def fmt_for(col):
        spec = digits.get(col, 3) if isinstance(digits, dict) else digits
        def fmt(v):
            if v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v)):
                return empty
            if isinstance(v, (bool, np.bool_)):
                return "yes" if v else "no"
            if isinstance(spec, str):
                return spec.format(v)
            if isinstance(v, (float, np.floating)):
                # no exponent for a count of steps: 2,048 rather than 2.05e+03
                return f"{significant(v, spec):,.{spec}g}" if abs(v) < 10 ** spec else f"{significant(v, spec):,.0f}"
            if isinstance(v, (int, np.integer)):
                return f"{int(v):,}"
            return str(v)
        return fmt

    shown = pd.DataFrame({label: frame[col].map(fmt_for(col)) for col, label in columns.items()})
    html = shown.to_html(index=False, escape=True, border=0, classes=["reader-table"], na_rep=empty)
    return HTML(f'<div class="reader-table-wrapper" style="overflow-x: auto; max-width: 100%">{html}</div>')
