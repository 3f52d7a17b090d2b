"""The engine every chapter's experiments run on.

    engine.py      an experiment = a frozen dataclass + units() + compute(unit); run() computes the
                   missing units (resumable, parallel) and returns one tidy frame
    store.py       where results live: committed (read-only) first, then the user cache; atomic
                   writes, checksums, provenance; committed_frame (committed units only, nothing computed)
    schema.py      each chapter's parameters declared once (defaults, help, checks)
    estimate.py    what computing will cost, from the committed provenance

The chapters themselves are packages in :mod:`companion.chapters`; :mod:`companion.regression` recomputes
their committed units.
"""
from __future__ import annotations

from . import engine, schema, store
from .engine import RunOptions

__all__ = ["RunOptions", "engine", "schema", "store"]
