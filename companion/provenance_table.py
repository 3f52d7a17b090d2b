"""Tables of the committed results' provenance and of the running environment's versions.

Every committed result lives in ``book/results/<name>-<hash>/`` with a ``provenance.json`` beside
its data. :func:`provenance_table` reads them all into one tidy frame, so that the book's
reproducibility page can show where each number came from; :func:`environment_versions` lists
the versions of the packages the book is running with now, to compare against them.

It reads exactly the fields that :func:`companion.experiments.store.store` writes (``name``,
``hash``, ``device``, ``wall_time_s``, ``packages``, ``config``, ``rows``, ``created``, ``sha256``); a
field that a hand-made or damaged file lacks becomes an empty cell, never an error, and the page shows
it as a dash.
"""
from __future__ import annotations

import json
import re
import os
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from . import paths
from .runtime import PACKAGES, package_versions

#: Columns of :func:`provenance_table`, in order.
COLUMNS = ("name", "hash", "device", "wall_time_s", "torch", "seeds", "rows", "created", "sha256",
           "path")

#: What the reproducibility page shows for a field a provenance file does not record.
MISSING = "\u2014"


def _is_seed_key(key) -> bool:
    """``seed``, ``seeds`` and the prefixed forms the configurations use (``mc_seed``, ``gd_seeds``)."""
    key = str(key)
    return key in ("seed", "seeds") or key.endswith(("_seed", "_seeds"))


def _find_seeds(obj: Any) -> list:
    """Every value stored under a seed key (:func:`_is_seed_key`), at any depth of ``obj``."""
    found: list = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if _is_seed_key(key):
                if isinstance(value, (list, tuple)):
                    found.extend(value)
                elif value is not None:
                    found.append(value)
            else:
                found.extend(_find_seeds(value))
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            found.extend(_find_seeds(value))
    return found


def _format_seeds(seeds: list) -> str:
    unique: list = []
    for seed in seeds:
        if seed not in unique:
            unique.append(seed)
    try:
        unique.sort()
    except TypeError:
        pass
    return ", ".join(str(s) for s in unique)


def _torch_version(prov: dict) -> str | None:
    packages = prov.get("packages")
    value = packages.get("torch") if isinstance(packages, dict) else None
    return None if value is None else str(value)


def _sha256(prov: dict) -> str | None:
    value = prov.get("sha256")
    return None if value is None else str(value)[:12]


def _split_folder_name(folder: str) -> tuple[str, str]:
    """``<name>-<hash>`` -> (name, hash); a name without a dash has an empty hash."""
    if "-" in folder:
        name, digest = folder.rsplit("-", 1)
        return name, digest
    return folder, ""


def _row(path: Path, results_dir: Path) -> dict:
    prov = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(prov, dict):
        raise ValueError(f"{path}: provenance.json must hold a JSON object, not {type(prov).__name__}")
    folder_name, folder_hash = _split_folder_name(path.parent.name)
    wall = prov.get("wall_time_s")
    try:
        wall = None if wall is None else float(wall)
    except (TypeError, ValueError):
        wall = None
    device = prov.get("device")
    config = prov.get("config", {})
    return {
        "name": str(prov.get("name") or folder_name),
        "hash": str(prov.get("hash") or folder_hash),
        "device": None if device is None else str(device),
        "wall_time_s": wall,
        "torch": _torch_version(prov),
        "seeds": _format_seeds(_find_seeds(config)) or None,
        "rows": prov.get("rows"),
        "created": prov.get("created"),
        "sha256": _sha256(prov),
        "path": path.parent.relative_to(results_dir).as_posix()
        if path.parent.is_relative_to(results_dir) else str(path.parent),
    }


def provenance_table(results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per ``<results_dir>/*/provenance.json`` (default: ``book/results/`` of this repository).

    Columns: ``name``, ``hash`` (from the folder name ``<name>-<hash>`` unless the file says
    otherwise), ``device``, ``wall_time_s``, ``torch`` (the torch version that produced the result),
    ``seeds`` (every ``seed``/``seeds`` value found in the file's ``config``), ``rows`` (of the
    stored frame), ``created``,
    ``sha256`` (shortened) and ``path`` (relative to ``results_dir``). Rows are sorted by name (numbers as numbers: n500 before n1000) and
    hash. A missing or empty ``results_dir`` gives an empty frame with these columns.
    """
    root = Path(results_dir if results_dir is not None else paths.RESULTS_DIR).expanduser().resolve()
    if not root.is_dir():
        return pd.DataFrame(columns=list(COLUMNS))
    rows = [_row(path, root) for path in sorted(root.glob("*/provenance.json"))
            if not path.parent.name.startswith(".")]  # ".<name>.*": a write in progress
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["wall_time_s"] = pd.to_numeric(frame["wall_time_s"], errors="coerce")
    # Sorted by the configuration the name spells, numbers as numbers (n500 before n1000)
    order = sorted(range(len(frame)), key=lambda i: (_natural(frame["name"].iloc[i]), str(frame["hash"].iloc[i])))
    return frame.iloc[order].reset_index(drop=True)


def _natural(text) -> tuple:
    """'ch3-mean_field-n500-s0' -> ('ch', 3, '-mean_field-n', 500, '-s', 0): numbers compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(text)) if part)


def environment_versions(packages: Iterable[str] = PACKAGES) -> pd.DataFrame:
    """Versions of ``python`` and of ``packages`` in the running environment (``package``, ``version``)."""
    versions = package_versions(tuple(packages))
    return pd.DataFrame(list(versions.items()), columns=["package", "version"])


def provenance_summary(results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """:func:`provenance_table` trimmed for display: one row per result, indexed by ``result``
    (the folder name), with device, wall time, torch version, seeds, creation date and checksum."""
    table = provenance_table(results_dir)
    shown = pd.DataFrame({
        "result": table["path"],
        "device": table["device"],
        "wall time (s)": pd.to_numeric(table["wall_time_s"], errors="coerce").round(1),
        "torch": table["torch"],
        "seeds": table["seeds"],
        "created": table["created"].map(lambda v: None if v is None or pd.isna(v) else str(v)[:10]),
        "sha256": table["sha256"],
    })
    # a field the file does not record is a dash on the page, never "None" or "NaN"
    return shown.astype(object).where(shown.notna(), MISSING).set_index("result")
