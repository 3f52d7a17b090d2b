"""Committed results against the code: recompute a unit and compare it with its committed frame at the
experiment's stated tolerance, at two depths.

- **Tiny units** (``make test``): for every experiment of every chapter, the cheapest unit of the
  chapter's ``quick`` preset: the same compute function, the same code paths (closed-form greedy
  with and without repeats, layer-wise greedy, fine-tuning, the CNN, GD and SGD, float32 and float64)
  at a size that runs in seconds. Their frames are committed in :data:`TINY_DIR`; after a change that
  is meant to alter results, ``python -m companion.regression --write`` recomputes them.
- **Paper units** (``make verify``): the cheapest unit of every experiment of the ``paper`` preset,
  compared with ``book/results/``: the proof that today's code reproduces the committed results.

The comparison never trusts a device string. The last bits of a float depend on the BLAS/LAPACK
library, the kernel it picks at run time (MKL chooses other kernels on AMD than on Intel; OpenBLAS's
core type can be forced from the environment), PyTorch's vectorised kernels, the CPU and the thread
count; no string captures all of them. So a recomputation is always compared at the experiment's
``tolerance`` (bit-for-bit equality is only asserted where both runs happen on the machine at hand:
the determinism tests that run a unit twice).

An experiment's ``tolerance`` holds numpy.isclose terms and two more:

- ``rtol``: relative tolerance;
- ``column_rtol``: {column: rtol} for a column whose relative drift is of another order than the rest
  (the held-out cross-entropy of an overfit network, which amplifies a change of its logits that
  leaves its accuracy within a point);
- ``atol``: absolute floor, in the quantity's own units;
- ``scale``: absolute floor as a fraction of the column's own scale (its largest magnitude in the
  committed frame), for quantities that decay over many orders of magnitude (a residual from 20 to
  1e-25): their drift is set by the rounding of the largest values they came from, not by their own
  size, so a floor in absolute units would be either too loose at one scale or too tight at another;
- ``scale_by``: {column: other column} for a column whose scale is another quantity of the same row
  (a final residual of 1e-25 that started at the initial residual ``r0``): its floor is ``scale``
  times that column's magnitude;
- ``max_share``: the share of a column's rows that may differ beyond that (a float32 run feeding a
  discrete choice: a greedy pick at a near-tie can flip with the last bits and change one checkpoint's
  subnetwork). Default none.

``scripts/numerics.py`` measures the drift behind each experiment's numbers by recomputing under
several numeric configurations of one machine (:func:`drift`).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from . import chapters, data, paths, presets
from .experiments import engine, store
from .experiments.schema import RUN_FIELDS

#: Where the regression tests and scripts/numerics.py find full MNIST when the data root lacks it:
#: the four gzipped IDX files (default ``../shared/data/mnist`` beside the repository).
MNIST_COPY = Path(os.environ.get("COMPANION_TEST_MNIST", paths.REPO_ROOT.parent / "shared" / "data" / "mnist"))


#: Where the tiny regression units are committed (one store folder each, as in book/results/).
TINY_DIR = paths.REGRESSION_UNITS_DIR
#: The preset whose cheapest units are the tiny regression units.
TINY_PRESET = "quick"


@lru_cache(maxsize=None)
def experiments_of(chapter: str, preset: str = "paper") -> dict[str, engine.Experiment]:
    """The experiments of ``chapter``'s ``preset`` (its run options left at their defaults: they are not
    part of any result), by key."""
    values = {} if preset == "paper" else {k: v for k, v in presets.load(chapter, preset).items()
                                           if k not in RUN_FIELDS}
    params, _ = chapters.check(chapter, values)
    return chapters.chapter(chapter).experiments(params)


@lru_cache(maxsize=None)
def cheapest_unit(chapter: str, key: str, preset: str = "paper") -> tuple[engine.Experiment, object]:
    """(experiment, its cheapest unit) of experiment ``key`` of ``chapter``'s ``preset``."""
    exp = experiments_of(chapter, preset)[key]
    units = exp.units()
    return exp, min(units, key=lambda u: (exp.cost(u), units.index(u)))


def cheapest_units(preset: str = "paper") -> Iterator[tuple[str, str, engine.Experiment, object]]:
    """(chapter, experiment key, experiment, its cheapest unit) for every experiment of every chapter's
    ``preset``."""
    for chapter in chapters.CHAPTERS:
        for key in experiments_of(chapter, preset):
            yield (chapter, key, *cheapest_unit(chapter, key, preset))


def tiny_units() -> Iterator[tuple[str, str, engine.Experiment, object]]:
    """The tiny regression units: :func:`cheapest_units` of :data:`TINY_PRESET`."""
    return cheapest_units(TINY_PRESET)


def needs_full_mnist(exp, unit) -> bool:
    return '"torchvision"' in json.dumps(exp.unit_config(unit))


def full_mnist_root() -> Path | None:
    """A data root holding full MNIST: the configured one, or a temporary copy of :data:`MNIST_COPY`
    (None when neither has it). The caller points COMPANION_DATA_ROOT at it."""
    if data.full_mnist_present():
        return paths.data_root()
    files = sorted(MNIST_COPY.glob("*-ubyte.gz")) if MNIST_COPY.is_dir() else []
    if len(files) != 4:
        return None
    root = Path(tempfile.mkdtemp(prefix="companion-mnist-"))
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in files:
        shutil.copy(f, raw / f.name)
    return root


def recompute(exp, unit, device: str = "cpu") -> pd.DataFrame:
    """The unit computed afresh, through the same CSV round trip as a stored result."""
    _, frame, _, _ = engine.compute_unit(exp, unit, device)
    return pd.read_csv(io.BytesIO(store._frame_bytes(frame)))


def committed(exp, unit) -> tuple[Path, pd.DataFrame]:
    """The committed folder and frame of a paper unit (AssertionError when it is not committed)."""
    folder = store.locate(exp.result_name(unit), exp.unit_config(unit))
    if folder is None or folder.parent != paths.RESULTS_DIR:
        raise AssertionError(f"{exp.result_name(unit)} of the paper preset is not committed (or its key "
                             "changed): regenerate the chapter's results")
    return folder, store.load(exp.result_name(unit), exp.unit_config(unit))


def committed_tiny(exp, unit) -> tuple[Path, pd.DataFrame]:
    """The committed folder and frame of a tiny unit (AssertionError when it is not committed)."""
    folder = TINY_DIR / store.folder_name(exp.result_name(unit), exp.unit_config(unit))
    if not (folder / "provenance.json").exists():
        raise AssertionError(f"the tiny regression unit {folder.name} is not committed (the quick preset or "
                             "the unit's key changed): if the change is meant, recompute the tiny units with "
                             "`python -m companion.regression --write`")
    return folder, store._read(folder)


def write_tiny(only_missing: bool = False) -> list[Path]:
    """Recompute every tiny unit into :data:`TINY_DIR` (atomic writes with provenance), remove the
    folders no tiny unit names any more, and return the folders written."""
    TINY_DIR.mkdir(parents=True, exist_ok=True)
    keep, written = set(), []
    for chapter, key, exp, unit in tiny_units():
        name, config = exp.result_name(unit), exp.unit_config(unit)
        folder = TINY_DIR / store.folder_name(name, config)
        keep.add(folder.name)
        stored = folder / "provenance.json"
        if only_missing and stored.exists():
            continue
        start = time.perf_counter()
        frame = recompute(exp, unit)
        if stored.exists() and json.loads(stored.read_text())["sha256"] == store.checksum(store._frame_bytes(frame)):
            continue  # the same bits: the committed unit and its provenance stay as they are
        if folder.exists():
            shutil.rmtree(folder)
        written.append(store.store(name, config, frame, device="cpu", wall_time_s=time.perf_counter() - start,
                                   cache_dir=TINY_DIR))
        print(f"{chapter} {key}: {folder.name} ({time.perf_counter() - start:.1f} s)", flush=True)
    for stale in TINY_DIR.iterdir():
        if stale.is_dir() and stale.name not in keep:
            shutil.rmtree(stale)
    return written


def _numeric(col: pd.Series) -> bool:
    return col.dtype.kind in "fiu"


def column_atol(frame: pd.DataFrame, column: str, tolerance: dict):
    """The absolute floor of one column (a number, or one per row with ``scale_by``): ``atol``, or
    ``scale`` times the column's largest magnitude (or its row's ``scale_by`` column)."""
    other = tolerance.get("scale_by", {}).get(column)
    if other is not None:
        return np.maximum(tolerance.get("atol", 0.0),
                          tolerance.get("scale", 0.0) * np.abs(frame[other].to_numpy(float)))
    values = np.abs(frame[column].to_numpy(float))
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    return max(tolerance.get("atol", 0.0), tolerance.get("scale", 0.0) * top)


def compare(reference: pd.DataFrame, fresh: pd.DataFrame, tolerance: dict, name: str = "") -> list[str]:
    """Every disagreement of ``fresh`` with ``reference`` beyond ``tolerance`` (empty: they agree)."""
    problems = []
    if list(fresh.columns) != list(reference.columns) or len(fresh) != len(reference):
        return [f"{name}: columns or row count differ ({list(fresh.columns)} x {len(fresh)} against "
                f"{list(reference.columns)} x {len(reference)})"]
    allowed = tolerance.get("max_share", 0.0)
    for c in reference.columns:
        a, b = reference[c], fresh[c]
        if _numeric(a) and _numeric(b):
            av, bv = a.to_numpy(float), b.to_numpy(float)
            atol = column_atol(reference, c, tolerance)
            rtol = tolerance.get("column_rtol", {}).get(c, tolerance.get("rtol", 0.0))
            close = np.isclose(bv, av, rtol=rtol, atol=atol, equal_nan=True)
            if (~close).mean() > allowed:
                worst = np.nanmax(np.abs(bv - av)[~close])
                floor = f"{atol:.3g}" if np.ndim(atol) == 0 else f"{tolerance['scale']:g} x {tolerance['scale_by'][c]}"
                problems.append(f"{name}: column {c!r} differs beyond rtol {rtol:g}, "
                                f"atol {floor} at {int((~close).sum())} of {len(close)} rows (allowed: "
                                f"{allowed:.0%}; largest difference there {worst:.3g})")
        else:
            differ = a.astype(str).to_numpy() != b.astype(str).to_numpy()
            if differ.mean() > allowed:
                problems.append(f"{name}: column {c!r} differs at {int(differ.sum())} of {len(differ)} rows "
                                f"(allowed: {allowed:.0%})")
    return problems


def drift(reference: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """Per numeric column: the largest relative difference, the largest difference as a fraction of the
    column's scale, and the share of rows that differ at all (what a tolerance must cover)."""
    rows = []
    for c in reference.columns:
        a, b = reference[c], fresh[c]
        if not (_numeric(a) and _numeric(b)):
            rows.append({"column": c, "max_rel": np.nan, "max_scaled": np.nan,
                         "share_differ": float(np.mean(a.astype(str).to_numpy() != b.astype(str).to_numpy()))})
            continue
        av, bv = a.to_numpy(float), b.to_numpy(float)
        diff = np.abs(bv - av)
        both_nan = np.isnan(av) & np.isnan(bv)
        diff[both_nan] = 0.0
        scale = np.nanmax(np.abs(av)) if np.isfinite(av).any() else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff > 0, diff / np.maximum(np.abs(av), np.finfo(float).tiny), 0.0)
        rows.append({"column": c, "max_rel": float(np.nanmax(rel)) if len(rel) else 0.0,
                     "max_scaled": float(np.nanmax(diff) / scale) if scale > 0 and len(diff) else 0.0,
                     "share_differ": float(np.mean(diff > 0))})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Recompute the tiny regression units into "
                                     f"{TINY_DIR.relative_to(paths.REPO_ROOT)} (after a change meant to alter results).")
    parser.add_argument("--write", action="store_true", help="recompute every tiny unit and store it")
    parser.add_argument("--missing", action="store_true", help="only the tiny units not stored yet")
    args = parser.parse_args()
    if not (args.write or args.missing):
        parser.error("say --write (every tiny unit) or --missing (the ones not stored yet)")
    write_tiny(only_missing=args.missing and not args.write)
