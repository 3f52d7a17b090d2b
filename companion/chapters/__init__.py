"""The book's chapters, one package each, every one with the same four parts: ``params`` (the
parameters dataclass, its checks, ``SCHEMA``), ``experiments`` (the compute, on
:mod:`companion.experiments`' engine), ``findings`` (numbers and flags, what other chapters and the
regime map read) and ``prose`` (the phrases the notebook glues).

    theorem      chapter 1: lambda_0 of H_inf, Du et al.'s requirements, a Monte-Carlo check
    derivation   chapter 2: the bound step by step in the theorem's setting
    mnist        chapter 3: the MNIST validation (SGD and GD sweeps, the NTK study, well-trained arm)
    finetune     chapter 4: pre-train -> prune -> fine-tune, one registered arm per architecture

Each exposes ``SCHEMA``, ``run(params, options)`` (its frames) and ``summarize(frames, params)`` (every
number its prose quotes).
"""
from __future__ import annotations

from .. import paths, validate
from ..experiments import schema
from . import derivation, finetune, mnist, theorem

#: Chapter notebook -> its package.
CHAPTERS = {"01_theorem": theorem, "02_derivation": derivation, "03_mnist_validation": mnist,
            "04_finetune": finetune}


def chapter(name: str):
    """The package of chapter notebook ``name`` (e.g. '03_mnist_validation')."""
    return CHAPTERS[validate.choice("chapter", name, CHAPTERS)]


def check(name: str, values: dict | None = None, **kwargs):
    """(params, RunOptions) of chapter ``name`` from ``values`` (every value checked, unknown names
    refused), defaults being the chapter's paper preset."""
    return schema.check(chapter(name).SCHEMA, values, **kwargs)


def check_notebook(name: str, namespace: dict):
    """(params, RunOptions) from a notebook's namespace after its ``parameters`` cell (and any
    papermill overrides): every declared parameter is taken from there. papermill's ``-p`` passes a
    list as text (``-p seeds '[0, 1]'``), read here as YAML (:func:`.schema.from_text`). Only a run
    started by the regenerate command may write into the committed results."""
    declared = schema.defaults(chapter(name).SCHEMA)
    schema.check_page_names(namespace, declared, f"chapter {name}")
    values = {n: schema.from_text(n, namespace[n], declared[n]) for n in declared if n in namespace}
    return check(name, values, regenerate=paths.regenerate_requested())


__all__ = ["CHAPTERS", "chapter", "check", "check_notebook", "derivation", "finetune", "mnist", "theorem"]
