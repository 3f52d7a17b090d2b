"""Parameter checks that fail fast with a message naming the parameter, its value and what is allowed.

Every public function and every chapter validates its inputs with these before doing any work.
"""
from __future__ import annotations

import math
import numbers
import os
from typing import Iterable, Sequence


class ParameterError(ValueError):
    """A parameter is outside what is allowed; the message names it, its value and the allowed range."""


def _fail(name: str, value, allowed: str):
    raise ParameterError(f"parameter {name!r} = {value!r} is not allowed: {allowed}")


#: The largest integer any parameter may take (seeds included): every integer ends up in a 64-bit
#: integer (torch.Generator.manual_seed takes at most 2**64 - 1, pandas and the stored tables int64).
INT_MAX = 2**63 - 1


def _yaml_hint(value, integral: bool = False) -> str:
    """For a string that is a number in a form PyYAML (YAML 1.1) reads as text, e.g. '1e-1': how to
    write it so that it is a number (for an integer parameter, its plain digits)."""
    if not isinstance(value, str) or not any(c.isdigit() for c in value):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    plain = int(number) if number.is_integer() and abs(number) < 1e16 else number
    if integral:
        return f" (YAML reads {value} as a string; write {plain})" if isinstance(plain, int) else ""
    mantissa, sep, exponent = value.strip().lower().partition("e")
    fixed = (mantissa if "." in mantissa else mantissa + ".0") + (sep + exponent if sep else "")
    return f" (YAML reads {value} as a string; write {fixed} or {plain})"


def integer(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """An int (bools rejected) in [low, high]; never above :data:`INT_MAX` (nor below -INT_MAX - 1)."""
    rng = _range_text(low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(name, value, f"must be an integer{rng}{_yaml_hint(value, integral=True)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(name, value, f"must be an integer{rng}")
    if not -INT_MAX - 1 <= value <= INT_MAX:
        _fail(name, value, f"must be an integer{_range_text(low, INT_MAX if high is None else high)} "
                           "(2**63 - 1 = 9223372036854775807 at most: seeds and sizes are 64-bit integers)")
    return value


def real(name: str, value, *, low: float | None = None, high: float | None = None,
         low_open: bool = False) -> float:
    """A finite real number in [low, high] (or (low, high] when ``low_open``)."""
    rng = _range_text(low, high, low_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        _fail(name, value, f"must be a finite number{rng}{_yaml_hint(value)}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        _fail(name, value, f"must be a finite number{rng}")
    if high is not None and value > high:
        _fail(name, value, f"must be a finite number{rng}")
    return value


def positive(name: str, value) -> float:
    return real(name, value, low=0.0, low_open=True)


def choice(name: str, value, allowed: Iterable):
    allowed = list(allowed)
    if value not in allowed:
        _fail(name, value, "must be one of " + ", ".join(repr(a) for a in allowed))
    return value


def integer_list(name: str, value, *, low: int | None = None, high: int | None = None,
                 min_len: int = 1, unique: bool = True, max_len: int | None = None) -> list[int]:
    """A list of ``min_len`` to ``max_len`` ints in [low, high]; when ``unique``, strictly increasing.

    An unsorted list is refused, not sorted: the results, tables and sentences follow the sorted
    order, so a silently reordered list would not be the one the user wrote (every chapter alike)."""
    count = (f"{min_len} to {max_len}" if max_len is not None else f"at least {min_len}")
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not (
            min_len <= len(value) <= (len(value) if max_len is None else max_len)):
        _fail(name, value, f"must be a list of {count} integer(s){_range_text(low, high)}")
    out = [integer(f"{name}[{i}]", v, low=low, high=high) for i, v in enumerate(value)]
    if unique:
        if len(set(out)) != len(out):
            _fail(name, value, "must not repeat a value")
        if out != sorted(out):
            _fail(name, value, f"must be increasing (write {sorted(out)!r})")
    return out


def _range_text(low, high, low_open=False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}]"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def yaml_problem(text: str, err: Exception) -> str:
    """One line on why ``text`` is not valid YAML (PyYAML's problem and column, no traceback)."""
    mark = getattr(err, "problem_mark", None)
    where = f" at column {mark.column + 1}" if mark is not None and "\n" not in text else (
        f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "")
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or type(err).__name__
    return f"it is not valid YAML ({problem}{where})"


def boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        _fail(name, value, "must be True or False")
    return value


def optional_path(name: str, value):
    """None or a path (str or os.PathLike)."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        _fail(name, value, "must be None (the user cache, .cache/) or a path")
    return value
