"""The engine every chapter's experiments run on.

    engine.py      an experiment = a frozen dataclass + units() + compute(unit); run() computes the
                   missing units (resumable, parallel) and returns one tidy frame
    store.py       where results live: committed (read-only) first, then the user cache; atomic
                   writes, checksums, provenance; committed_frame (committed units only, nothing computed)
    schema.py      each chapter's parameters declared once (defaults, help, checks)
    regression.py  a recomputed unit against its committed frame, at the experiment's stated tolerance
    estimate.py    what computing will cost, from the committed provenance

The chapters themselves are packages in :mod:`companion.chapters`.
"""
from __future__ import annotations

from . import engine, schema, store
from .engine import RunOptions

__all__ = ["RunOptions", "engine", "schema", "store"]
