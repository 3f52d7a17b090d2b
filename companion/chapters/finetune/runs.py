"""Chapter 4's experiments and run: each arm's engine experiment (:class:`.experiments.FinetuneArm`) and
its reference runs (:class:`.reference.ReferenceRun`), and the frames of one run of the chapter.
"""
from __future__ import annotations

import pandas as pd

from ...experiments import engine
from . import arms as _arms
from .experiments import FinetuneArm
from .reference import REFERENCE_COLUMNS, ReferenceRun

#: The key suffix of an arm's reference runs among :func:`experiments`.
REFERENCE_SUFFIX = "_reference"


def experiments(p, arms=None) -> dict[str, engine.Experiment]:
    """The chapter's experiments for parameters ``p``: one per arm (every registered arm whose
    parameters ``p`` has, :func:`.arms.arms_of`; or the arms named in ``arms``), and each arm's
    reference runs (key ``<arm>_reference``)."""
    keys = _arms.arms_of(p) if arms is None else [_arms.spec(k).key for k in arms]
    out: dict = {key: FinetuneArm.of(p, key) for key in keys}
    if hasattr(p, "reference_seeds"):
        out |= {f"{key}{REFERENCE_SUFFIX}": ReferenceRun.of(p, key) for key in keys}
    return out


def run(p, options: engine.RunOptions, arms=None) -> dict[str, pd.DataFrame]:
    """The chapter's frames: one per arm (:func:`experiments`; the book's: ``two_layer``, ``mlp``,
    ``cnn``), ``reference`` (every arm's reference runs, :mod:`.reference`) and ``units`` (the
    provenance of every unit)."""
    exps = experiments(p, arms)
    computed = {key: engine.run(exp, options) for key, exp in exps.items()}
    out = {}
    for key in exps:
        if key.endswith(REFERENCE_SUFFIX):
            continue
        out[key] = computed[key]
        if len(out[key]):
            out[key] = out[key].sort_values(["n", "seed", "t", "method", "ratio", "budget", "split"],
                                            kind="stable", ignore_index=True)
    refs = [computed[k] for k in exps if k.endswith(REFERENCE_SUFFIX) and len(computed[k])]
    out["reference"] = (pd.concat(refs, ignore_index=True).sort_values(["arm", "n", "seed", "t", "quantity"],
                                                                      kind="stable", ignore_index=True)
                        if refs else pd.DataFrame(columns=REFERENCE_COLUMNS))
    out["units"] = pd.concat([engine.provenance(exp, options.cache_dir).assign(experiment=key)
                              for key, exp in exps.items()], ignore_index=True)
    return out
