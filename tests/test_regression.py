"""Committed results stay true to the code, at two depths (:mod:`companion.regression`).

- ``make test``: the *tiny* unit of every experiment of every chapter (the cheapest unit of its quick
  preset, committed in ``tests/regression_units/``) is recomputed and compared with its committed frame
  at the experiment's stated ``tolerance``: seconds each, the same code paths as the paper runs.
- ``make verify`` (marker ``verify``): the cheapest committed unit of every experiment of every
  chapter's *paper* preset is recomputed and compared with ``book/results/``: the proof that today's
  code reproduces the committed results (minutes; ``make numerics`` runs it too).

No device string is trusted: the last bits depend on the BLAS library, its run-time kernel choice, the
CPU and the thread count. Bit-for-bit equality is asserted only between two runs on the machine at
hand (the determinism tests).

A code change that alters results fails here; the planted changes below (a different step, a changed
loss, a different pick) show that it does on the tiny units. When the change is meant, recompute the
tiny units (``python -m companion.regression --write``) and the paper results
(``python -m companion run CHAPTER --preset paper -p cache_dir=book/results``).

Some paper presets use full MNIST (chapter 3, chapter 1's larger subsets). ``make verify`` finds it in
the data root, or in the development copy named by COMPANION_TEST_MNIST (default
``../shared/data/mnist`` beside the repository); without either it skips those units and says why. The
tiny units use only the embedded data.
"""
from __future__ import annotations

import importlib

import pandas as pd
import pytest

from companion import train
from companion import regression

#: chapter 2's compute module (its package re-exports the function experiments() under that name)
derivation = importlib.import_module("companion.chapters.derivation.experiments")


def _cases(preset: str) -> list[str]:
    """'chapter-key' of every experiment of every chapter's preset; its unit is chosen when the test
    runs (choosing means costing every unit, which a deselected test need not pay for)."""
    from companion.chapters import CHAPTERS

    return [f"{chapter}-{key}" for chapter in CHAPTERS for key in regression.experiments_of(chapter, preset)]


TINY, PAPER = _cases(regression.TINY_PRESET), _cases("paper")


def _unit(case: str, preset: str):
    chapter, key = case.split("-", 1)
    return regression.cheapest_unit(chapter, key, preset)


@pytest.fixture
def full_mnist(monkeypatch):
    root = regression.full_mnist_root()
    if root is None:
        pytest.skip(f"full MNIST is neither in the data root nor at {regression.MNIST_COPY} "
                    "(COMPANION_TEST_MNIST)")
    monkeypatch.setenv("COMPANION_DATA_ROOT", str(root))


@pytest.mark.parametrize("case", list(TINY))
def test_tiny_unit_is_reproduced_by_the_code(case):
    exp, unit = _unit(case, regression.TINY_PRESET)
    assert not regression.needs_full_mnist(exp, unit), "a tiny unit must run on the embedded data"
    folder, committed = regression.committed_tiny(exp, unit)
    problems = regression.compare(committed, regression.recompute(exp, unit), exp.tolerance, folder.name)
    assert not problems, "\n".join(problems)


def test_every_experiment_has_a_tiny_unit_and_no_folder_is_stale():
    assert set(TINY) == set(PAPER)
    names = {regression.committed_tiny(exp, unit)[0].name for _, _, exp, unit in regression.tiny_units()}
    on_disk = {p.name for p in regression.TINY_DIR.iterdir() if p.is_dir()}
    assert on_disk == names, f"stale tiny units: {sorted(on_disk - names)}"


@pytest.mark.verify
@pytest.mark.parametrize("case", list(PAPER))
def test_committed_paper_unit_is_reproduced_by_the_code(case, request):
    exp, unit = _unit(case, "paper")
    if regression.needs_full_mnist(exp, unit):
        request.getfixturevalue("full_mnist")
    folder, committed = regression.committed(exp, unit)
    fresh = regression.recompute(exp, unit)
    problems = regression.compare(committed, fresh, exp.tolerance, folder.name)
    assert not problems, "\n".join(problems)


# -- the comparison catches real code changes ----------------------------------------------------------

def _recomputed_against_committed(case):
    """A tiny unit recomputed under the planted change, its committed frame and its tolerance."""
    exp, unit = _unit(case, regression.TINY_PRESET)
    _, committed = regression.committed_tiny(exp, unit)
    return committed, regression.recompute(exp, unit), exp.tolerance


def test_a_different_step_fails(monkeypatch):
    original = derivation.one_run

    def step_off_by_a_tenth_of_a_percent(ds, seed, width, eta, *args, **kwargs):
        return original(ds, seed, width, eta * 1.001, *args, **kwargs)

    monkeypatch.setattr(derivation, "one_run", step_off_by_a_tenth_of_a_percent)
    committed, fresh, tol = _recomputed_against_committed("02_derivation-gd_sphere10_fixed")
    problems = regression.compare(committed, fresh, tol)
    assert any("'value'" in p for p in problems), problems


@pytest.mark.parametrize("case", ["03_mnist_validation-sgd", "04_finetune-mlp", "04_finetune-cnn"])
def test_a_different_sgd_step_fails(monkeypatch, case):
    """The one SGD loop (chapters 3 and 4: pre-training, fine-tuning, the scratch controls) at a step
    1% off. (At 0.1% off only the CNN's tiny unit notices: its tolerance is set by its measured
    thread-count drift, and a tiny run is too short to amplify so small a change; the paper units of
    `make verify` run longer.)"""
    original = train.learning_rate
    monkeypatch.setattr(train, "learning_rate", lambda *args, **kwargs: original(*args, **kwargs) * 1.01)
    committed, fresh, tol = _recomputed_against_committed(case)
    assert regression.compare(committed, fresh, tol)


def test_a_changed_loss_fails(monkeypatch):
    original = train.loss_fn  # the loss the one training loop calls

    def loss_a_hundredth_of_a_percent_larger(*args, **kwargs):
        return original(*args, **kwargs) * 1.0001

    monkeypatch.setattr(train, "loss_fn", loss_a_hundredth_of_a_percent_larger)
    committed, fresh, tol = _recomputed_against_committed("02_derivation-gd_sphere200_fixed")
    assert regression.compare(committed, fresh, tol)


def test_a_different_pick_fails(monkeypatch):
    original = derivation.greedy_forward_selection

    def without_repeats(*args, **kwargs):  # a plausible bug: the theorem's greedy allows repeats
        return original(*args, **{**kwargs, "allow_repeats": False})

    monkeypatch.setattr(derivation, "greedy_forward_selection", without_repeats)
    committed, fresh, tol = _recomputed_against_committed("02_derivation-gd_sphere200_fixed")
    problems = regression.compare(committed, fresh, tol)
    assert any("'distinct'" in p for p in problems), problems


# -- the comparison itself ---------------------------------------------------------------------------

def test_scale_floor_follows_the_column_not_the_unit():
    ref = pd.DataFrame({"value": [20.0, 1.0, 1e-6, 1e-20], "other": [1e-9, 2e-9, 3e-9, 4e-9]})
    tol = {"rtol": 1e-6, "atol": 0.0, "scale": 1e-7}
    # 1e-6 absolute on a residual that started at 20 is within 1e-7 of its scale (2e-6)
    near = ref.assign(value=[20.0, 1.0, 2e-6, 1e-6])
    assert regression.compare(ref, near, tol) == []
    # the same 1e-6 on a column whose scale is 4e-9 is a change
    assert regression.compare(ref, ref.assign(other=ref.other + 1e-6), tol)
    # a relative change of the largest values is a change
    assert regression.compare(ref, ref.assign(value=[20.01, 1.0, 1e-6, 1e-20]), tol)


def test_share_of_rows_allowed_to_differ():
    ref = pd.DataFrame({"pick": list(range(100)), "loss": [1.0] * 100})
    flipped = ref.copy()
    flipped.loc[0, ["pick", "loss"]] = [7, 1.5]
    assert regression.compare(ref, flipped, {"rtol": 1e-6})
    assert regression.compare(ref, flipped, {"rtol": 1e-6, "max_share": 0.02}) == []
    flipped.loc[1:2, ["pick", "loss"]] = [7, 1.5]
    assert regression.compare(ref, flipped, {"rtol": 1e-6, "max_share": 0.02})


def test_shape_and_text_columns_are_compared():
    ref = pd.DataFrame({"series": ["dense", "pruned"], "v": [1.0, 2.0]})
    assert regression.compare(ref, ref.iloc[:1], {})
    assert regression.compare(ref, ref.assign(series=["dense", "dense"]), {})
    assert regression.compare(ref, ref.copy(), {}) == []


def test_column_rtol_loosens_one_column_only():
    ref = pd.DataFrame({"loss": [1.0, 2.0, 0.5], "accuracy": [0.90, 0.80, 0.95]})
    tol = {"rtol": 1e-2, "atol": 1e-3, "column_rtol": {"loss": 0.2}}
    assert regression.compare(ref, ref.assign(loss=[1.15, 1.7, 0.55]), tol) == []
    problems = regression.compare(ref, ref.assign(loss=[1.3, 2.0, 0.5]), tol)
    assert len(problems) == 1 and "'loss'" in problems[0] and "rtol 0.2" in problems[0]
    # the accuracy keeps the experiment's rtol
    assert regression.compare(ref, ref.assign(accuracy=[0.95, 0.80, 0.95]), tol)
