"""Chapter 3 end to end through papermill: the quick preset from an empty cache, and bad parameters."""
import math
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

papermill = pytest.importorskip("papermill")

from companion import chapters, presets  # noqa: E402
from companion.chapters import mnist  # noqa: E402
from companion.experiments import engine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
NB = BOOK / "03_mnist_validation.ipynb"
CHAPTER = "03_mnist_validation"


@pytest.fixture(autouse=True)
def _kernel_env(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("TQDM_DISABLE", "1")


def _run(tmp_path, default_cache=None, **overrides):
    """Execute the quick preset; results go to tmp_path/cache through cache_dir, or (``default_cache``,
    a folder) through the user-cache variable with cache_dir left at its default."""
    out = tmp_path / "out.ipynb"
    params = {**presets.load(CHAPTER, "quick"), **overrides}
    if default_cache:
        os.environ["COMPANION_CACHE_DIR"] = str(default_cache)  # restored by conftest's monkeypatch
    else:
        params["cache_dir"] = str(tmp_path / "cache")
    papermill.execute_notebook(str(NB), str(out), parameters=params, cwd=str(BOOK),
                               kernel_name="python3", progress_bar=False)
    return nbformat.read(out, as_version=4)


def _glued(nb) -> dict:
    values = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                data = output["data"]
                text = next(v for k, v in data.items() if k.endswith("text/plain"))
                values[name] = text
    return values


def _git_status():
    """`git status` of book/results ('' in a clean checkout; None outside git)."""
    if not (REPO / ".git").exists():
        return None
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "book/results"],
                          cwd=REPO, capture_output=True, text=True, check=True).stdout


def _results_listing():
    return sorted(str(p.relative_to(BOOK)) for p in (BOOK / "results").rglob("*"))


def test_quick_preset_from_empty_cache_leaves_committed_results_alone(tmp_path, ch3_cache):
    """From an empty user cache (the one tests/test_chapter_03_settings.py then reuses, when this test
    runs first as it does in file order)."""
    cache = ch3_cache if not any(ch3_cache.iterdir()) else tmp_path / "cache"
    before = _results_listing(), _git_status()
    nb = _run(tmp_path, default_cache=cache)
    # a run with new settings and no cache_dir writes to the user cache, never into book/results
    assert (_results_listing(), _git_status()) == before
    quick = presets.load(CHAPTER, "quick")
    exps = mnist.experiments(chapters.check(CHAPTER, quick)[0])
    # one stored unit per (arm, N, seed) and per (step, seed) of the NTK study, all written
    assert all(engine.missing(e, cache) == [] for e in exps.values())
    n_units = sum(len(e.units()) for e in exps.values())
    assert len(list(cache.glob("ch3-*"))) == n_units
    # the run glues exactly the names the book reads, each the summary's value; the checks below read
    # the whole summary as glued text (a number no page shows is in the summary, not in the glue)
    from companion import display
    from test_glue_shown import as_glued

    p, options = chapters.check(CHAPTER, quick)
    numbers = as_glued(mnist.summarize(mnist.run(p, options), p).numbers)
    glued = _glued(nb)
    assert set(glued) == set(display.shown_names(CHAPTER)) and glued == {k: numbers[k] for k in glued}
    g = numbers
    assert int(g["ch3_n_units"]) == n_units
    assert int(g["ch3_width"]) == quick["width"] and int(g["ch3_k"]) == quick["k"]
    for key in ("ch3_greedy_best_best", "ch3_ntk_dense_acc", "ch3_final_greedy_train"):
        assert 0.0 <= float(g[key]) <= 1.0
    # even the quick net: greedy beats random at the largest N (training accuracy)
    assert float(g["ch3_final_greedy_train"]) > float(g["ch3_final_random_train"])
    assert math.isfinite(float(g["ch3_oos_pred"])) and int(g["ch3_largest"]) == max(quick["sizes"])
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
              or (o.get("output_type") == "stream" and o.get("name") == "stderr"
                  and "units" not in o["text"] and o["text"].strip())]  # progress bars are fine
    assert not errors


def test_a_bad_parameter_fails_in_the_kernel_and_writes_nothing(tmp_path):
    """The kernel path, once: the chapter's first cell refuses the value papermill injected."""
    with pytest.raises(papermill.PapermillExecutionError) as err:
        _run(tmp_path, sizes=[])
    assert "ParameterError" in str(err.value) and "sizes" in str(err.value)
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.iterdir())


@pytest.mark.parametrize("override, name", [
    ({"sizes": []}, "'sizes'"),
    ({"k": 100}, "'k'"),
    ({"source": "foo"}, "'source'"),
    ({"lr_mean_field": -0.1}, "'lr_mean_field'"),
    ({"gd_sizes": [5]}, "'gd_sizes"),
    ({"ntk_lrs": [1.0, 1.0]}, "'ntk_lrs'"),
])
def test_bad_parameters_are_refused_by_the_chapters_first_check(override, name):
    """Every other bad value, in-process: the same check the chapter's first cell makes."""
    from companion.validate import ParameterError

    with pytest.raises(ParameterError, match=name):
        chapters.check_notebook(CHAPTER, {**presets.load(CHAPTER, "quick"), **override})


def test_divergence_stops_with_a_message_naming_the_learning_rate(tmp_path):
    from companion.train import TrainingDiverged

    params, options = chapters.check(CHAPTER, {**presets.load(CHAPTER, "quick"), "sizes": [250],
                                                  "lr_mean_field": 1e6, "n_jobs": 1, "progress": False,
                                                  "cache_dir": str(tmp_path / "cache")})
    with pytest.raises(TrainingDiverged, match=r"lr = 1e\+06"):
        mnist.run(params, options)
    cache = tmp_path / "cache"
    assert not cache.exists() or not list(cache.glob("ch3-*"))  # no result stored for the failed unit
