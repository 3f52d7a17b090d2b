"""Chapter 4 end to end through papermill, as the other chapters' quick tests: the quick preset from an
empty cache runs to the end, stores no NaN and no error, glues exactly the names the book reads (each
the summary's value), its data-chosen sentences agree with the numbers beside them, and nothing is
written into the repository. Then the kernel path of a bad parameter, once."""
import json
import os
import re
import subprocess

import pytest

from companion import display, chapters, paths, presets
from companion.chapters import finetune
from companion.stats import paired
from companion.experiments import engine
from notebook_outputs import glued as _glued

papermill = pytest.importorskip("papermill")

CHAPTER = "04_finetune"
NB = paths.BOOK_DIR / f"{CHAPTER}.ipynb"
ARMS = ("two_layer", "mlp", "cnn")


@pytest.fixture(autouse=True)
def _kernel_env(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(paths.REPO_ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("TQDM_DISABLE", "1")


def _run(tmp_path, **overrides) -> dict:
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NB), str(out), parameters={**presets.load(CHAPTER, "quick"), **overrides},
                               cwd=str(paths.BOOK_DIR), kernel_name="python3", progress_bar=False)
    return json.loads(out.read_text())


def _repository_state():
    """The committed results' files and `git status` of the repository's tracked and untracked files
    (None outside git): a run with new settings changes neither."""
    listing = sorted(str(p.relative_to(paths.BOOK_DIR)) for p in paths.RESULTS_DIR.rglob("*"))
    if not (paths.REPO_ROOT / ".git").exists():
        return listing, None
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "book", "companion"],
                            cwd=paths.REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return listing, status


@pytest.fixture(scope="module")
def quick(tmp_path_factory, ch4_cache):
    """The quick preset run once through papermill into the user cache (cache_dir left unset), the
    cache the settings of tests/test_chapter_04_settings.py then reuse."""
    tmp = tmp_path_factory.mktemp("ch4")
    cache = ch4_cache if not any(ch4_cache.iterdir()) else tmp / "cache"  # empty before the run
    before = _repository_state()
    mp = pytest.MonkeyPatch()
    mp.setenv("COMPANION_CACHE_DIR", str(cache))
    mp.setenv("PYTHONPATH", str(paths.REPO_ROOT))
    mp.setenv("TQDM_DISABLE", "1")
    try:
        nb = _run(tmp)
        params, options = chapters.check(CHAPTER, {**presets.load(CHAPTER, "quick"), "progress": False})
        summary = finetune.summarize(finetune.run(params, options), params)
    finally:
        mp.undo()
    return {"nb": nb, "params": params, "numbers": summary.numbers, "cache": cache,
            "before": before, "after": _repository_state()}


def test_quick_preset_runs_to_the_end_and_writes_nothing_into_the_repository(quick):
    assert quick["after"] == quick["before"]
    p = quick["params"]
    exps = finetune.experiments(p)
    assert all(engine.missing(e, quick["cache"]) == [] for e in exps.values())
    assert len(list(quick["cache"].glob("ch4-*"))) == sum(len(e.units()) for e in exps.values())
    for i, cell in enumerate(quick["nb"]["cells"]):
        for o in cell.get("outputs", []):
            assert o["output_type"] != "error", (i, o.get("evalue"))
            if o["output_type"] == "stream" and o.get("name") == "stderr":  # progress bars only
                text = "".join(o["text"])
                assert "units" in text or not text.strip(), (i, text)
            for mime, value in o.get("data", {}).items():
                if not mime.startswith("image/"):
                    text = "".join(value) if isinstance(value, list) else str(value)
                    assert not re.search(r"\bnan\b", text, re.IGNORECASE), (i, mime, text[:200])


def test_glue_is_the_summary_and_its_sentences_agree_with_its_numbers(quick):
    from test_glue_shown import as_glued

    numbers, p = quick["numbers"], quick["params"]
    glued = _glued(quick["nb"])
    as_text = as_glued(numbers)
    assert set(glued) == set(display.shown_names(CHAPTER))
    assert glued == {k: as_text[k] for k in glued}
    for arm in ARMS:
        g = lambda key: numbers[f"ch4_{arm}_{key}"]  # noqa: E731
        assert g("t_full") == getattr(p, f"{arm}_steps")
        assert g("largest") == max(getattr(p, f"{arm}_sizes")) and g("smallest") == min(getattr(p, f"{arm}_sizes"))
        assert ("learned in every run" in g("failed")) == (g("failed_runs") == 0)
        assert ("not converged" in g("convergence")) == (not g("dense_converged"))
        assert ("not converged" in g("long_convergence")) == (not g("long_converged"))
        assert ("cannot be traced" in g("verdict")) == (not g("defined"))
        # each paired comparison counts the pre-training lengths it tested, at most one per checkpoint
        for control in ("random", "scratch", "dense_cost"):
            m = re.search(r"significantly above at (\d+) and below at (\d+) of the (\d+) pre-training", g(control))
            if m is None:  # fewer seeds than a paired test needs: said so, nothing counted
                assert "no pre-training length can be tested" in g(control), g(control)
                assert len(getattr(p, f"{arm}_seeds")) < paired.MIN_PAIRS
                continue
            above, below, tested = map(int, m.groups())
            assert above + below <= tested <= getattr(p, f"{arm}_num_checkpoints") + 1, g(control)
    # the In short clause and the intro's verdict say what each arm's growth verdict says
    from companion.chapters.finetune import verdict_box
    assert numbers["ch4_verdict_growth"] == "t_enough " + numbers["ch4_short_growth"]
    for arm in ARMS:
        if numbers[f"ch4_{arm}_has_data"]:
            name = finetune.arm_names()[arm]
            clause = next(part for part in numbers["ch4_short_growth"].split("; ") if name in part)
            assert clause.split(" for ")[0] in set(verdict_box.GROWTH_SHORT.values()) | {
                "no rise after Holm's correction"}, clause


def test_a_bad_parameter_fails_in_the_kernel_and_writes_nothing(tmp_path):
    """The kernel path, once: the chapter's first cell refuses the value papermill injected."""
    with pytest.raises(papermill.PapermillExecutionError) as err:
        _run(tmp_path, mlp_ratios=[1.5], cache_dir=str(tmp_path / "cache"))
    assert "ParameterError" in str(err.value) and "mlp_ratios" in str(err.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
