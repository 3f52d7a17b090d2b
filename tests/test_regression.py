"""Committed results stay true to the code: recompute the cheapest committed unit of every experiment
of every chapter's paper preset and compare it with the committed table.

On the CPU that produced a result (same vector instruction set, see ``runtime.device_description``)
the recomputation must match bit for bit; on another CPU, to the experiment's stated ``tolerance``.
A code change that alters results fails here until the results are regenerated
(``python -m companion run CHAPTER --preset paper -p cache_dir=book/results``).

Some paper presets use full MNIST (chapter 3, chapter 1's larger subsets). The test finds it in the data root, or in the development
copy named by COMPANION_TEST_MNIST (default ``../shared/data/mnist`` beside the repository, the four
gzipped IDX files); without either it skips those experiments and says why.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from companion import data, experiments, paths
from companion.experiments import engine, store


MNIST_COPY = Path(os.environ.get("COMPANION_TEST_MNIST", paths.REPO_ROOT.parent / "shared" / "data" / "mnist"))


def _cases():
    for chapter, module in experiments.CHAPTERS.items():
        params, _ = experiments.check(chapter, {})
        exps = module.experiments(params)
        for key, exp in exps.items():
            yield pytest.param(chapter, exp, id=f"{chapter}-{key}")


@pytest.fixture
def full_mnist(monkeypatch, tmp_path):
    if data.full_mnist_present():
        return
    files = sorted(MNIST_COPY.glob("*-ubyte.gz")) if MNIST_COPY.is_dir() else []
    if len(files) != 4:
        pytest.skip(f"full MNIST is neither in the data root nor at {MNIST_COPY} (COMPANION_TEST_MNIST)")
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in files:
        shutil.copy(f, raw / f.name)
    monkeypatch.setenv("COMPANION_DATA_ROOT", str(tmp_path / "mnist"))


def _cheapest_unit(exp):
    units = exp.units()
    return min(units, key=lambda u: (exp.cost(u), units.index(u)))


@pytest.mark.parametrize("chapter, exp", list(_cases()))
def test_committed_unit_is_reproduced_by_the_code(chapter, exp, request):
    unit = _cheapest_unit(exp)
    if '"torchvision"' in json.dumps(exp.unit_config(unit)):
        request.getfixturevalue("full_mnist")
    folder = store.locate(exp.result_name(unit), exp.unit_config(unit))
    assert folder is not None and folder.parent == paths.RESULTS_DIR, (
        f"{exp.result_name(unit)} of the paper preset is not committed (or its key changed): "
        "regenerate the chapter's results")
    committed = store.load(exp.result_name(unit), exp.unit_config(unit))
    _, frame, _, device = engine.compute_unit(exp, unit, "cpu")
    # through the same CSV round trip as a stored result
    fresh = pd.read_csv(__import__("io").BytesIO(store._frame_bytes(frame)))
    assert list(fresh.columns) == list(committed.columns) and len(fresh) == len(committed)
    stored_device = json.loads((folder / "provenance.json").read_text())["device"]
    if stored_device == device:
        pd.testing.assert_frame_equal(fresh, committed, check_exact=True)
        return
    tol = {k: v for k, v in exp.tolerance.items() if k in ("rtol", "atol")}
    # Rows allowed to differ beyond the tolerance on another CPU: where a float32 run feeds a discrete
    # choice (a greedy pick at a near-tie), a last-bit difference can flip that choice and change that
    # checkpoint's subnetwork; the experiment states the share it allows (default none).
    allowed = exp.tolerance.get("max_share", 0.0)
    for col in committed.columns:
        a, b = committed[col], fresh[col]
        if a.dtype.kind in "fi" and b.dtype.kind in "fi":
            close = np.isclose(b.to_numpy(float), a.to_numpy(float), equal_nan=True, **tol)
            assert (~close).mean() <= allowed, (
                f"{folder.name}: column {col!r} differs beyond {tol} at {int((~close).sum())} of "
                f"{len(close)} rows (allowed: {allowed:.0%}; largest difference "
                f"{np.nanmax(np.abs(b.to_numpy(float) - a.to_numpy(float))):.3g})")
        elif allowed == 0.0:
            assert a.astype(str).tolist() == b.astype(str).tolist(), f"{folder.name}: column {col!r} differs"
        else:
            same = np.mean(a.astype(str).to_numpy() == b.astype(str).to_numpy())
            assert 1 - same <= allowed, f"{folder.name}: column {col!r} differs at {1 - same:.1%} of rows"
