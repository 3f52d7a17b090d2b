"""The experiments of every chapter, on one engine.

    engine.py      an experiment = a frozen dataclass + units() + compute(unit); run() computes the
                   missing units (resumable, parallel) and returns one tidy frame
    store.py       where results live: committed (read-only) first, then the user cache; atomic
                   writes, checksums, provenance
    schema.py      each chapter's parameters declared once (defaults, help, checks)
    mnist.py       chapter 3: the SGD and full-batch GD threshold sweeps (N x seed) and the NTK study
    regression.py  a recomputed unit against its committed frame, at the experiment's stated tolerance
    estimate.py    what computing will cost, from the committed provenance

Chapters 1, 2 and 4 are packages in companion/chapters/ (theorem, derivation, finetune). Each chapter
has ``SCHEMA`` (its parameters), ``run(params, options)`` (its frames) and ``summarize(frames, params)``
(every number its prose quotes).
"""
from __future__ import annotations

from ..chapters import derivation, finetune, theorem
from . import engine, mnist, schema, store
from .engine import RunOptions

#: Chapter notebook -> its experiments module.
CHAPTERS = {"01_theorem": theorem, "02_derivation": derivation, "03_mnist_validation": mnist,
            "04_finetune": finetune}


def chapter(name: str):
    from .. import validate

    return CHAPTERS[validate.choice("chapter", name, CHAPTERS)]


def check(name: str, values: dict | None = None, **kwargs):
    """(params, RunOptions) of chapter ``name`` from ``values`` (every value checked, unknown names
    refused), defaults being the chapter's paper preset."""
    return schema.check(chapter(name).SCHEMA, values, **kwargs)


__all__ = ["CHAPTERS", "RunOptions", "chapter", "check", "engine", "finetune", "mnist", "schema", "store"]


def check_notebook(name: str, namespace: dict):
    """(params, RunOptions) from a notebook's namespace after its ``parameters`` cell (and any
    papermill overrides): every declared parameter is taken from there. papermill's ``-p`` passes a
    list as text (``-p seeds '[0, 1]'``), read here as YAML (:func:`.schema.from_text`). Only a run
    started by the regenerate command may write into the committed results."""
    from .. import paths

    declared = schema.defaults(chapter(name).SCHEMA)
    schema.check_page_names(namespace, declared, f"chapter {name}")
    values = {n: schema.from_text(n, namespace[n], declared[n]) for n in declared if n in namespace}
    return check(name, values, regenerate=paths.regenerate_requested())
