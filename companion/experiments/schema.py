"""Each chapter's parameters, declared once: a frozen dataclass whose fields carry their default (the
paper preset), help text and check in the field's metadata.

The declaration drives validation (:func:`check`: every value checked before any work, unknown names
refused with the closest match), the command line's help (``python -m companion params CHAPTER``) and
the notebooks (tests/test_schema.py checks that each notebook's ``parameters`` cell, its
``paper.yaml`` and its schema agree). Run options (device, jobs, cache folder, progress, scheduler) are
declared once, in :class:`.engine.RunOptions`, for every chapter (:data:`RUN_FIELDS`), and never enter
a cache key.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
from typing import Any, Callable

import yaml

from .. import validate
from .engine import RunOptions, param, run_option_fields  # noqa: F401 (param: the chapters declare with it)


def int_check(low: int | None, high: int | None = None) -> Callable[[str, Any], int]:
    """The check of an integer parameter in [low, high] (None: unbounded)."""
    return lambda n, v: validate.integer(n, v, low=low, high=high)


def ints_check(low: int | None, high: int | None = None, min_len: int = 1,
               max_len: int | None = None) -> Callable[[str, Any], list]:
    """The check of a list parameter of ``min_len`` to ``max_len`` integers in [low, high], increasing
    (an unsorted list is refused, in every chapter: see ``validate.integer_list``)."""
    return lambda n, v: validate.integer_list(n, v, low=low, high=high, min_len=min_len, max_len=max_len)


#: The run options every computing chapter takes, declared in :class:`.engine.RunOptions`.
RUN_FIELDS = tuple(f.name for f in run_option_fields())


def names(schema) -> list[str]:
    """Every parameter of a chapter: its own fields, then the run options."""
    return [f.name for f in dataclasses.fields(schema)] + list(RUN_FIELDS)


def _run_default(schema, f):
    return getattr(schema, "RUN_DEFAULTS", {}).get(f.name, f.default)


def defaults(schema) -> dict:
    """The declared defaults (tuples given back as lists, as YAML and the notebook write them)."""
    out = {f.name: f.default for f in dataclasses.fields(schema)}
    out |= {f.name: _run_default(schema, f) for f in run_option_fields()}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def help_table(schema) -> list[tuple[str, Any, str]]:
    return [(f.name, defaults(schema)[f.name], f.metadata.get("help", ""))
            for f in [*dataclasses.fields(schema), *run_option_fields()]]


def check_names(schema, given, where: str = "the parameters", owner: str = "this chapter") -> None:
    """Refuse a name that the chapter does not declare, with the closest match."""
    refuse_unknown(given, names(schema), where, owner)


def refuse_unknown(given, known, where: str, owner: str) -> None:
    """The one check for unknown parameter names (schema, CLI, preset files): papermill itself only
    logs "Passed unknown parameter" and runs with the default, so a typo must stop here."""
    known = list(known)
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise validate.ParameterError(f"parameter {name!r} is not a parameter of {owner} (from "
                                          f"{where}){hint} Allowed: {', '.join(known) or '(none)'}")


def from_text(name: str, value, default):
    """``value`` as papermill's ``-p`` gives it: papermill reads numbers, True/False/None, and leaves
    anything else as text, so ``-p seeds '[0, 1]'`` arrives as the string '[0, 1]'. For a parameter
    whose default is a list, a string is read as YAML (as the command line reads ``-p``) and taken
    when it is a list; it is then checked like any other value. Anything else is returned as it is."""
    if not (isinstance(default, (list, tuple)) and isinstance(value, str)):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise validate.ParameterError(f"parameter {name!r} = {value!r} is not allowed: "
                                      f"{validate.yaml_problem(value, err)}; write a list such as "
                                      f"{list(default)[:2]!r}") from None
    return parsed if isinstance(parsed, list) else value


def check(schema, values: dict | None = None, *, regenerate: bool = False, **kwargs):
    """Validate every value (defaults for the missing ones) before any work.

    Returns (params, RunOptions): ``params`` an instance of ``schema`` (after its own ``validate()``
    for rules across fields, when it has one). ``regenerate``: only the regenerate commands set it,
    allowing ``cache_dir`` to be the committed results (see ``paths.checked_cache_dir``)."""
    values = {**(values or {}), **kwargs}
    check_names(schema, values)
    checked = {}
    declared = defaults(schema)
    for f in [*dataclasses.fields(schema), *run_option_fields()]:
        value = values.get(f.name, declared[f.name])
        checker = f.metadata.get("check")
        checked[f.name] = checker(f.name, value) if checker else value
    own = {f.name: _frozen(checked[f.name]) for f in dataclasses.fields(schema)}
    params = schema(**own)
    if hasattr(params, "validate"):
        params.validate()
    options = RunOptions(**{name: checked[name] for name in RUN_FIELDS}, regenerate=regenerate)
    return params, options


def _frozen(value):
    """Lists become tuples, so parameters are hashable and cannot change after the check."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def assigned_parameter_names(namespace: dict) -> list[str]:
    """The names that a notebook's ``parameters`` cell and papermill's injected cell assign.

    papermill only logs ``Passed unknown parameter`` for a name the notebook does not define and runs
    on, so the notebook must refuse it itself. The kernel keeps the source of every cell it executed
    (IPython's ``In``); the parameters cell and papermill's injected cell are exactly the cells made
    of nothing but assignments of literals, so their targets are the names that were set as
    parameters. Empty outside IPython (no ``In``)."""
    found: list[str] = []
    for source in namespace.get("In", []) or []:
        try:
            body = ast.parse(source).body
        except SyntaxError:
            continue
        if not body or not all(isinstance(s, ast.Assign) and _literal(s.value) for s in body):
            continue
        for stmt in body:
            for target in stmt.targets:
                if isinstance(target, ast.Name) and target.id not in found:
                    found.append(target.id)
    return found


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def check_page_names(namespace: dict, known, owner: str) -> None:
    """Refuse a parameter set in a notebook (papermill's injected cell) that ``owner`` does not
    declare: the one check for every notebook, chapters and the reproducibility page alike."""
    refuse_unknown(assigned_parameter_names(namespace), known, "papermill's parameters", owner)
