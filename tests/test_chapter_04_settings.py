"""Chapter 4 as a program over its parameters, as tests/test_chapter_03_settings.py is for chapter 3:
plausible new settings (a deeper MLP, a three-stage CNN, one size, one seed, one budget, a coarse δ) run
to the end, glue no NaN, and every sentence chosen from the data agrees with the numbers beside it.

Every setting goes through ``finetune.run`` + ``finetune.summarize`` on one cache shared with the quick
preset's papermill run (tests/test_chapter_04.py): a subset of sizes, seeds or another δ recomputes
nothing. Two combined settings also run the whole notebook through papermill on that cache.
"""
from __future__ import annotations

import json
import math
import os
import re

import pytest

from companion import chapters, paths, presets
from companion.chapters import finetune
from companion.chapters.finetune import prose
from notebook_outputs import glued as _glued, texts as _texts

CHAPTER = "04_finetune"
NB = paths.BOOK_DIR / f"{CHAPTER}.ipynb"
ARMS = tuple(finetune.ARMS)
NAN = re.compile(r"\bnan\b", re.IGNORECASE)
SIZES_2 = {"two_layer_sizes": [250, 1000], "mlp_sizes": [250, 1000], "cnn_sizes": [250, 1000]}

#: Settings a researcher tries, on the quick preset.
SETTINGS = {
    "quick": {},
    "deeper MLP": {**SIZES_2, "mlp_hidden": [32, 32, 32]},
    "three-stage CNN": {**SIZES_2, "cnn_channels": [4, 8, 8]},
    "one size": {"two_layer_sizes": [1000], "mlp_sizes": [1000], "cnn_sizes": [1000]},
    "one seed": {"two_layer_seeds": [0], "mlp_seeds": [0], "cnn_seeds": [0]},
    "one budget": {**SIZES_2, "two_layer_seeds": [0], "mlp_seeds": [0], "cnn_seeds": [0],
                   "two_layer_budgets": [24], "mlp_budgets": [24], "cnn_budgets": [8]},
    "coarse δ": {"delta": 0.05, "deltas": [0.05, 0.1]},
}
#: Combinations executed end to end through papermill (their units are those of the settings above).
NOTEBOOK_SETTINGS = {
    "deeper MLP, three-stage CNN": {**SIZES_2, "mlp_hidden": [32, 32, 32], "cnn_channels": [4, 8, 8]},
    "one size, one seed, one budget, coarse δ": {
        "two_layer_sizes": [250], "mlp_sizes": [250], "cnn_sizes": [250], "two_layer_seeds": [0],
        "mlp_seeds": [0], "cnn_seeds": [0], "two_layer_budgets": [24], "mlp_budgets": [24],
        "cnn_budgets": [8], "delta": 0.05, "deltas": [0.05, 0.1]},
}


def _values(overrides: dict, cache) -> dict:
    return {**presets.load(CHAPTER, "quick"), **overrides, "cache_dir": str(cache), "progress": False}


@pytest.fixture(scope="module")
def summaries(ch4_cache):
    out = {}
    for name, overrides in SETTINGS.items():
        p, options = chapters.check(CHAPTER, _values(overrides, ch4_cache))
        out[name] = p, finetune.summarize(finetune.run(p, options), p)
    return out


def _check_no_nan(numbers: dict):
    for key, value in numbers.items():
        assert not (isinstance(value, float) and math.isnan(value)), key
        assert not (isinstance(value, str) and NAN.search(value)), (key, value)


def _check_sentences(p, numbers: dict, tables: dict):
    """What each data-chosen phrase claims, against the numbers and flags beside it."""
    for arm in ARMS:
        a = lambda key: numbers[f"ch4_{arm}_{key}"]  # noqa: E731
        if not a("has_data"):
            continue
        sizes = getattr(p, f"{arm}_sizes")
        assert a("t_full") == getattr(p, f"{arm}_steps")
        assert (a("smallest"), a("largest")) == (min(sizes), max(sizes))
        assert a("n_seeds") == len(getattr(p, f"{arm}_seeds"))
        # a dense network that has not learned is said so, with the cause its own curve shows
        assert ("learned in every run" in a("failed")) == (a("failed_runs") == 0)
        if a("failed_runs"):
            assert a("failed_cause") in a("failed")
        for flag, words in (("dense_converged", "convergence"), ("long_converged", "long_convergence")):
            if a(flag) is not None:
                assert ("not converged" in a(words)) == (not a(flag)), a(words)
        assert ("cannot be traced" in a("verdict")) == (not a("defined"))
        assert finetune.arm_names()[arm] in numbers["ch4_short_growth"]  # every arm with data has its verdict
        # each comparison counts the pre-training lengths it tested: one per checkpoint at most
        for control in ("random", "scratch", "dense_cost"):
            m = re.search(r"above at (\d+) and below at (\d+) of the (\d+) pre-training", a(control))
            if m:
                above, below, tested = map(int, m.groups())
                assert above + below <= tested <= getattr(p, f"{arm}_num_checkpoints") + 1, a(control)
        # the protocol names a short and a long budget only where there are two
        one_budget = len(getattr(p, f"{arm}_budgets")) == 1
        clause = next(c for c in numbers["ch4_budgets_protocol"].split("; ")
                      if f"({finetune.arm_names()[arm]})" in c)
        assert ("short and the long" in clause) == (not one_budget), clause
        # the δ sentence never reads an untestable change as tested
        sens = tables["sensitivity"]
        rows = sens[(sens["arm"] == arm) & (sens["method"] == "greedy") & (sens["ratio"] == a("ratio"))
                    & (sens["budget"] == a("long"))]
        tested = [prose.change_tested_words(str(w)) for w in rows["change"]]
        name = finetune.arm_names()[arm].lower()
        sentence = numbers["ch4_sens_sentence"].lower()
        if len(rows) and not any(tested):
            assert f"for the {name} whether t_enough grows cannot be tested at any δ" in sentence
        if f"for the {name} it grows significantly at none" in sentence:
            assert any(tested)
        # a law that is not ranked (no leave-one-size-out error, a failed or degenerate fit) is given
        # no share of the bootstrap choice
        laws = a("laws")
        if "not ranked: " in laws:
            ranked, unranked = laws.split("not ranked: ", 1)
            for item in re.split(r"\), ", unranked):
                formula = item.split(" (", 1)[0]
                assert not re.search(re.escape(formula) + r" \d+%", ranked), laws


@pytest.mark.parametrize("name", list(SETTINGS))
def test_setting_finishes_without_nan_and_its_sentences_agree_with_its_numbers(summaries, name):
    p, summary = summaries[name]
    _check_no_nan(summary.numbers)
    _check_sentences(p, summary.numbers, summary.tables)


def test_the_settings_exercise_the_cases_they_are_meant_to(summaries):
    n = {name: s[1].numbers for name, s in summaries.items()}
    assert "defined at one size only" in n["one size"]["ch4_mlp_verdict"] or \
        "at no size" in n["one size"]["ch4_mlp_verdict"]
    assert n["one seed"]["ch4_mlp_n_seeds"] == 1
    assert "after its one budget" in n["one budget"]["ch4_budgets_protocol"]
    assert n["coarse δ"]["ch4_delta_pp"] == 5.0
    assert n["deeper MLP"]["ch4_p_mlp_hidden"] != n["quick"]["ch4_p_mlp_hidden"]
    assert n["three-stage CNN"]["ch4_p_cnn_channels"] != n["quick"]["ch4_p_cnn_channels"]


@pytest.mark.parametrize("name", list(NOTEBOOK_SETTINGS))
def test_notebook_runs_the_setting_without_nan_or_errors(summaries, ch4_cache, tmp_path, monkeypatch, name):
    papermill = pytest.importorskip("papermill")
    from test_glue_shown import as_glued

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(paths.REPO_ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    params = _values(NOTEBOOK_SETTINGS[name], ch4_cache)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NB), str(out), parameters=params, cwd=str(paths.BOOK_DIR),
                               kernel_name="python3", progress_bar=False)
    nb = json.loads(out.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    stderr = [text for _, kind, text in _texts(nb) if kind == "stderr" and text.strip() and "units" not in text]
    assert not stderr, stderr[:3]
    with_nan = [(i, mime, text[:120]) for i, mime, text in _texts(nb) if NAN.search(text)]
    assert not with_nan, with_nan[:5]
    # the glue is the summary of this setting, whose sentences agree with its numbers
    p, options = chapters.check(CHAPTER, params)
    summary = finetune.summarize(finetune.run(p, options), p)
    glued = _glued(nb)
    as_text = as_glued(summary.numbers)
    assert glued and glued == {k: as_text[k] for k in glued}
    _check_no_nan(summary.numbers)
    _check_sentences(p, summary.numbers, summary.tables)
