"""What computing will cost, from the committed provenance (or, for an experiment that can, from each
unit's own configuration: ``Experiment.seconds``): the one estimate behind
``python -m companion results --dry-run``, the line a long run prints before it starts
(:func:`cost_note`, printed by the engine) and the README's timings. Reads provenance files only
(no torch), so the command line and the engine can both import it cheaply.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from .. import paths, validate

#: Chapter notebook -> the prefix of its result folders.
RESULT_PREFIXES = {"01_theorem": "ch1-", "02_derivation": "ch2-", "03_mnist_validation": "ch3-",
                   "04_finetune": "ch4-"}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _paper_n_jobs(chapter: str) -> int:
    """n_jobs of the chapter's paper preset, read from the YAML file alone (no import of torch)."""
    path = paths.PARAMS_DIR / chapter / "paper.yaml"
    try:
        return int((yaml.safe_load(path.read_text()) or {}).get("n_jobs") or 1)
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return 1


def committed_wall_times(results_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Result name (an experiment's name and a unit's label, e.g. 'ch3-sgd-n500-s0') -> the wall times
    recorded in the provenance of the committed results (a damaged provenance is skipped: the run
    itself reports it). The one reader behind every time estimate."""
    out: dict[str, list[float]] = {}
    for prov_path in sorted(Path(results_dir or paths.RESULTS_DIR).glob("*/provenance.json")):
        try:
            prov = json.loads(prov_path.read_text())
            name, wall = str(prov["name"]), float(prov["wall_time_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out.setdefault(name, []).append(wall)
    return out


def estimate(results_dir: str | Path | None = None, n_jobs: dict | None = None) -> dict[str, dict]:
    """Per computing chapter, from the committed provenance: ``units`` (result folders), ``compute_s``
    (the sum of their recorded wall times) and ``wall_s`` = compute_s / n_jobs (n_jobs of the paper
    preset unless given), the time its paper preset takes from scratch on the machine that computed
    the committed results (a 2-core CPU)."""
    out = {ch: {"units": 0, "compute_s": 0.0, "n_jobs": (n_jobs or {}).get(ch) or _paper_n_jobs(ch)}
           for ch in RESULT_PREFIXES}
    for name, walls in committed_wall_times(results_dir).items():
        for ch, prefix in RESULT_PREFIXES.items():
            if name.startswith(prefix):
                out[ch]["units"] += len(walls)
                out[ch]["compute_s"] += sum(walls)
    for row in out.values():
        row["wall_s"] = row["compute_s"] / row["n_jobs"]
    return out


def unit_seconds(experiment_name: str, result_names, walls: dict[str, list[float]] | None = None,
                 own: dict[str, float] | None = None):
    """(seconds of computing, names without an estimate) for the units ``result_names`` of the
    experiment ``experiment_name``: a unit in ``own`` (result name -> seconds estimated from the
    unit's own configuration, see ``Experiment.seconds``) takes that; any other unit takes what the
    committed unit of the same name took, else the mean over the committed units of its experiment
    (a rough guide: same machine, other settings); a unit of an experiment with no committed unit has
    no estimate."""
    own = own or {}
    if all(name in own for name in result_names):
        return float(sum(own[name] for name in result_names)), []
    walls = committed_wall_times() if walls is None else walls
    same = [w for name, ws in walls.items() if name.startswith(experiment_name + "-") for w in ws]
    mean = sum(same) / len(same) if same else None
    by_seed: dict[str, list[float]] = {}  # the same unit but for its seed: e.g. ch3-sgd-n500-s*
    for name, ws in walls.items():
        by_seed.setdefault(_any_seed(name), []).extend(ws)
    total, unknown = 0.0, []
    for name in result_names:
        match = walls.get(name) or by_seed.get(_any_seed(name))
        if name in own:
            total += own[name]
        elif match:
            total += sum(match) / len(match)
        elif mean is not None:
            total += mean
        else:
            unknown.append(name)
    return total, unknown


def _any_seed(result_name: str) -> str:
    return re.sub(r"-s\d+(?=-|$)", "-s*", result_name)


#: A run whose units still to compute are estimated to take longer than this (seconds of wall time;
#: the environment variable COMPANION_ANNOUNCE_AFTER_S sets it), or that has this many units without
#: an estimate, says so before it starts. (An experiment that estimates a unit from its own
#: configuration, chapter 4's, is estimated so; any other unit takes the time of the committed one
#: of the same name, computed with the paper preset: a lighter setting takes less.)
ANNOUNCE_AFTER_S = 900.0
ANNOUNCE_ENV = "COMPANION_ANNOUNCE_AFTER_S"
ANNOUNCE_UNKNOWN_UNITS = 100
#: How every announcement starts ("<what>: <count> units to compute ("): CostNotes finds them by it.
NOTE_START = re.compile(r"^\S+: [\d,]+ units? to compute \(")


def _announce_after_s() -> float:
    text = os.environ.get(ANNOUNCE_ENV)
    try:
        return validate.real(ANNOUNCE_ENV, float(text), low=0.0) if text else ANNOUNCE_AFTER_S
    except ValueError:
        raise validate.ParameterError(f"environment variable {ANNOUNCE_ENV} = {text!r} is not allowed: "
                                      "must be a number of seconds >= 0") from None


def cost_note(what: str, todo: dict[str, list[str]], stored: int, n_jobs: int = 1,
              scheduler: str | None = None, walls=None, force: bool = False,
              own: dict[str, float] | None = None) -> str | None:
    """What computing ``todo`` (experiment name -> result names of its units still to compute) will
    cost, in one line, when it is more than :data:`ANNOUNCE_AFTER_S` (or ``force``); else None.
    ``stored``: units already stored (reused); ``own``: result name -> seconds estimated from the
    unit's own configuration (used instead of the committed times, see :func:`unit_seconds`)."""
    own = own or {}
    names_todo = [n for names in todo.values() for n in names]
    from_config = bool(names_todo) and all(n in own for n in names_todo)
    walls = {} if from_config else committed_wall_times() if walls is None else walls
    compute_s, unknown = 0.0, []
    for name, names in todo.items():
        seconds, missing = unit_seconds(name, names, walls, own)
        compute_s, unknown = compute_s + seconds, unknown + missing
    count = sum(len(names) for names in todo.values())
    wall_s = compute_s / (1 if scheduler else n_jobs)
    if not force and wall_s <= _announce_after_s() and len(unknown) < ANNOUNCE_UNKNOWN_UNITS:
        return None
    where = f"on the workers of {scheduler}: divide by their number" if scheduler else f"n_jobs={n_jobs}"
    text = (f"{what}: {count:,} unit{'s' if count != 1 else ''} to compute ({stored:,} already stored), estimated "
            f"{_duration(compute_s)} of computing ({where}")
    text += ")" if scheduler else f": about {_duration(wall_s)})"
    if unknown:
        text += f", plus {len(unknown):,} units with no estimate (no committed unit of their experiment)"
    source = ("from each unit's own configuration (its steps, widths and evaluations times the "
              "seconds measured for them on a 2-core CPU, one thread per unit)" if from_config else
              "from the wall times of the committed units of the same names (paper settings, a 2-core CPU)")
    return (text + f"; {source}. Ctrl-C stops it; a rerun computes only what is missing.")


