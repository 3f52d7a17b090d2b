"""Chapters 1 and 2 run end to end through papermill with their quick presets and a fresh cache, and
reject bad parameters before doing any work."""
import ast
import json
import math
import os
import re

import papermill as pm
import pytest

from companion import paths, presets


def _run(chapter, tmp_path, **overrides):
    quick = presets.load(chapter, "quick")
    out = tmp_path / f"{chapter}.out.ipynb"
    pm.execute_notebook(str(paths.BOOK_DIR / f"{chapter}.ipynb"), str(out),
                        parameters={**quick, "cache_dir": str(tmp_path / "cache"), "progress": False, **overrides},
                        cwd=str(paths.BOOK_DIR), kernel_name="python3", progress_bar=False)
    return json.loads(out.read_text())


def _glued(nb) -> dict:
    """Name -> value of every myst_nb glue in an executed notebook (from papermill's scrap records)."""
    out = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            data, meta = o.get("data", {}), o.get("metadata", {})
            name = meta.get("scrapbook", {}).get("name")
            for key, value in data.items():
                if "text/plain" in key and name:
                    out[name] = value
    return out


def _summary_as_glued(chapter, module, tmp_path, nb) -> dict:
    """Name -> glued text of every number of the chapter's summary (recomputed from the run's cache),
    after checking that the run glued exactly the names the book reads, each the summary's value."""
    from companion import display, chapters
    from test_glue_shown import as_glued

    params, options = chapters.check(chapter, {**presets.load(chapter, "quick"),
                                                  "cache_dir": str(tmp_path / "cache"), "progress": False})
    numbers = module.summarize(module.run(params, options), params).numbers
    if chapter == "02_derivation":  # the regime map at the chapter's end (built from the committed results)
        from companion import regime_map
        numbers = numbers | regime_map.build().numbers
    numbers = as_glued(numbers)
    glued = _glued(nb)
    assert set(glued) == set(display.shown_names(chapter))
    shown = {name: value for name, value in glued.items() if name != "ch2_map_fig"}  # the figure is no number
    assert shown == {name: numbers[name] for name in shown}
    return numbers


def _no_errors_or_stderr(nb):
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            assert o["output_type"] != "error"
            assert not (o["output_type"] == "stream" and o.get("name") == "stderr"), o.get("text")


@pytest.fixture(autouse=True)
def _kernel_sees_companion(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(paths.REPO_ROOT), os.environ.get("PYTHONPATH")])))


def _no_nan(nb):
    """No stored output says NaN: an undefined quantity is said in words."""
    for i, cell in enumerate(nb["cells"]):
        for o in cell.get("outputs", []):
            for mime, value in o.get("data", {}).items():
                if not mime.startswith("image/"):
                    text = "".join(value) if isinstance(value, list) else str(value)
                    assert not re.search(r"\bnan\b", text, re.IGNORECASE), (i, mime, text[:200])


def _text(g, name):
    return ast.literal_eval(g[name])


def test_chapter_01_quick(tmp_path):
    from companion.chapters import theorem

    nb = _run("01_theorem", tmp_path)
    _no_errors_or_stderr(nb)
    _no_nan(nb)
    g = _summary_as_glued("01_theorem", theorem, tmp_path, nb)  # shown or not, as glued text
    assert g["ch1_all_positive"] == "'yes'"
    # the words follow the numbers they stand next to
    drop = float(g["ch1_mnist_drop"])
    assert _text(g, "ch1_mnist_trend") == ("falls" if drop > 1.05 else "rises" if drop < 1 / 1.05 else
                                           "stays nearly constant")
    assert _text(g, "ch1_pd_words").startswith("All ") == (_text(g, "ch1_all_positive") == "yes")
    low, high = float(g["ch1_d10_slope"]), float(g["ch1_d200_slope"])
    assert ("the faster λ0 falls" in _text(g, "ch1_sphere_words")) == (low < high)
    mnist, d10, d200 = (float(g[k]) for k in ("ch1_mnist_lam_large", "ch1_d10_lam_large", "ch1_d200_lam_large"))
    closer_low = abs(math.log(d10 / mnist)) < abs(math.log(d200 / mnist))
    assert ("low-dimensional" in _text(g, "ch1_mnist_like_words")) == closer_low
    share = float(g["ch1_log_share"])
    assert share == pytest.approx(math.log(float(g["ch1_logsum_large"]) / float(g["ch1_logsum_small"]))
                                  / math.log(float(g["ch1_tsum_growth"])), rel=1e-4)
    assert _text(g, "ch1_log_words").endswith("little") == (0 <= share < 0.25)
    assert float(g["ch1_mnist_slope"]) < 0                     # lambda_0 shrinks with N
    assert -0.7 < float(g["ch1_mc_slope"]) < -0.3              # Monte-Carlo rate ~ S^(-1/2)
    assert float(g["ch1_width_req"]) > 1e10
    names = {p.name.split("-n")[0] for p in (tmp_path / "cache").iterdir()}
    assert names == {"ch1-spectrum-mnist", "ch1-spectrum-sphere10", "ch1-spectrum-sphere200", "ch1-monte-carlo"}


def test_chapter_02_quick(tmp_path):
    from companion import chapters
    from companion.chapters import derivation
    from test_derivation_experiments import expected_law, summary_of

    nb = _run("02_derivation", tmp_path)
    _no_errors_or_stderr(nb)
    _no_nan(nb)
    g = _summary_as_glued("02_derivation", derivation, tmp_path, nb)  # shown or not, as glued text
    assert 0.8 < float(g["ch2_s2_d200_exp"]) < 1.2              # initial residual linear in N
    assert int(g["ch2_s1_n_hold"]) >= 1
    assert float(g["ch2_s3_C_exp_m"]) > 0                       # the O(1/k) constant grows with m
    assert 0 < float(g["ch2_collapse_c"]) < 3 and int(g["ch2_mnist_fixed_nmax"]) == 80
    names = {p.name.split("-")[1] for p in (tmp_path / "cache").iterdir()}
    assert names == {"gd", "greedy", "residuals", "linear"}
    # the law each verdict names is the one the stored runs imply (recomputed here from the frames)
    params, options = chapters.check("02_derivation", {**presets.load("02_derivation", "quick"),
                                                          "cache_dir": str(tmp_path / "cache"), "progress": False})
    frames = derivation.run(params, options)
    assert all(not f.attrs.get("computed") for key, f in frames.items() if not key.endswith("_runs"))
    every = derivation.run_summary(frames["gd_runs"], params.eps)
    for key in ("sphere200_fixed", "sphere10_fixed", "mnist_fixed", "mnist_per_n"):
        assert _text(g, f"ch2_{key}_dense_better") == expected_law(summary_of(every, key)), key
    # "logarithmic-looking" only where the log law is the best fit
    any_log = any(_text(g, k) == "log" for k in g if k.endswith("_dense_better"))
    assert ("logarithmic-looking" in _text(g, "ch2_verdict_log")) == any_log
    # step 1's words agree with its counts
    fails = int(g["ch2_s1_n_fail"])
    assert (_text(g, "ch2_s1_fail_where") == "No run leaves the envelope.") == (fails == 0)
    assert ("fails in" in _text(g, "ch2_s1_summary")) == (fails > 0)
    # the runs counted above their slowest linearised direction are the ones listed
    assert (int(g["ch2_lin_n_above"]) == 0) == (_text(g, "ch2_lin_above_where") == "No run lies above it.")


@pytest.mark.parametrize("chapter, bad, name", [
    ("01_theorem", {"sizes": [10, 100000]}, "sizes"),
    ("02_derivation", {"step_factor": 3.0}, "step_factor"),
])
def test_a_bad_parameter_fails_in_the_kernel_before_any_work(tmp_path, chapter, bad, name):
    """The kernel path, once per chapter: the chapter's first cell refuses the value papermill injected."""
    with pytest.raises(pm.PapermillExecutionError) as err:
        _run(chapter, tmp_path, **bad)
    assert "ParameterError" in str(err.value) and name in str(err.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@pytest.mark.parametrize("chapter, bad, name", [
    ("01_theorem", {"sizes": [10, 100000]}, "'sizes\\[1\\]'"),
    ("01_theorem", {"delta": 2.0}, "'delta'"),
    ("02_derivation", {"step_factor": 3.0}, "'step_factor'"),
    ("02_derivation", {"k": 0}, "'k'"),
])
def test_bad_parameters_are_refused_by_the_chapters_first_check(chapter, bad, name):
    """Every other bad value, in-process: the same check the chapter's first cell makes."""
    from companion import chapters
    from companion.validate import ParameterError

    with pytest.raises(ParameterError, match=name):
        chapters.check_notebook(chapter, {**presets.load(chapter, "quick"), **bad})
