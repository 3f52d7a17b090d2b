"""Chapter 3 as a program over its parameters: plausible new settings never crash, never glue NaN, and
every sentence chosen from the data agrees with the numbers next to it (issue 21, points 1 and 2).

Most settings go through ``mnist.run`` + ``mnist.summarize`` directly, on one shared cache of the quick
preset (cheap: a new level recomputes nothing, a subset of sizes or seeds reuses stored units). Two
settings run the whole notebook through papermill, on the same cache. The checks recompute what a
sentence claims from the thresholds themselves (scipy's paired t-test, means over seeds), not from the
summary's own verdicts.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from companion import chapters, presets
from companion.stats import paired
from companion.chapters import mnist
from notebook_outputs import glued as _glued, texts as _texts

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
NB = BOOK / "03_mnist_validation.ipynb"
CHAPTER = "03_mnist_validation"
ALPHA = 0.05
NAN = re.compile(r"\bnan\b", re.IGNORECASE)

#: Settings a researcher tries (on the quick preset unless "paper" is named).
SETTINGS = {
    "quick": {},
    "level no arm reaches": {"level": 0.99},
    "level one size reaches": {"level": 0.6},
    "lower level": {"level": 0.45},
    "k well below": {"k": 8},
    "k well above (k = m)": {"k": 64},
    "other seeds": {"seeds": [20, 21, 22], "gd_seeds": [20, 21]},
    "two sizes only": {"sizes": [250, 2000], "gd_sizes": [125, 1000]},
    "one seed only": {"seeds": [0], "gd_seeds": [0], "ntk_seeds": [0]},
    "paper, another level": {"paper": True, "level": 0.75},
}
#: The settings also executed end to end (the notebook's figures and tables on empty or tiny data).
NOTEBOOK_SETTINGS = {
    "level no arm reaches": {"level": 0.99},
    "two sizes, one seed": {"sizes": [250, 2000], "gd_sizes": [125, 1000], "seeds": [0], "gd_seeds": [0]},
}


def _values(overrides: dict, cache: Path) -> dict:
    overrides = dict(overrides)
    base = {} if overrides.pop("paper", False) else presets.load(CHAPTER, "quick")
    return {**base, **overrides, "cache_dir": str(cache), "progress": False}


@pytest.fixture(scope="module")
def cache(ch3_cache):
    """The cache the quick preset's papermill run filled (tests/test_chapter_03.py, conftest.py)."""
    return ch3_cache


@pytest.fixture(scope="module")
def summaries(cache, tmp_path_factory):
    """Every setting run and summarised once (shared cache; full MNIST hidden, so a paper-preset
    unit that is not committed fails instead of computing)."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPANION_DATA_ROOT", str(tmp_path_factory.mktemp("no_mnist")))
        mp.setenv("COMPANION_CACHE_DIR", str(tmp_path_factory.mktemp("user_cache")))
        mp.setenv("TQDM_DISABLE", "1")
        for name, overrides in SETTINGS.items():
            p, options = chapters.check(CHAPTER, _values(overrides, cache))
            frames = mnist.run(p, options)
            out[name] = (p, frames, mnist.summarize(frames, p))
    return out


# --------------------------------------------------------------------------------------------------
# Independent recomputations of what the sentences claim


def _paired(ts: pd.DataFrame, a: int, b: int) -> dict:
    """T*(b) - T*(a) over the seeds, independently of companion.stats: scipy's paired t-test of the
    differences finite at both sizes (two-sided ``p``; ``up``/``down`` one-sided at ALPHA, the book's
    rises and falls are one-sided questions); when a seed is censored (NaN) at exactly one size, its
    known sign joins an exact sign test instead (scipy's binomtest), as the book keeps censored units."""
    x = ts[ts["n"] == a].set_index("seed")["t_star"]
    y = ts[ts["n"] == b].set_index("seed")["t_star"]
    both = x.index.intersection(y.index)
    x, y = x[both], y[both]
    d = (y - x).dropna()
    rises = int((np.isfinite(x) & ~np.isfinite(y)).sum())
    falls = int((~np.isfinite(x) & np.isfinite(y)).sum())
    if rises or falls:
        up, down = int((d > 0).sum()) + rises, int((d < 0).sum()) + falls
        ok = up + down >= 3
        p_up = stats.binomtest(up, up + down, 0.5, alternative="greater").pvalue if ok else None
        p_down = stats.binomtest(down, up + down, 0.5, alternative="greater").pvalue if ok else None
        p = min(1.0, 2 * min(p_up, p_down)) if ok else None
    elif len(d) >= 3 and d.std(ddof=1) > 0:
        p = float(stats.ttest_rel(y[d.index], x[d.index]).pvalue)
        p_up = float(stats.ttest_rel(y[d.index], x[d.index], alternative="greater").pvalue)
        p_down = float(stats.ttest_rel(y[d.index], x[d.index], alternative="less").pvalue)
    elif len(d) >= 3:  # every seed moves by the same amount: a change (or none)
        p = 0.0 if d.mean() != 0 else 1.0
        p_up, p_down = (0.0 if d.mean() > 0 else 1.0), (0.0 if d.mean() < 0 else 1.0)
    else:
        p = p_up = p_down = None
    return {"seeds": len(d), "mean": float(d.mean()) if len(d) else math.nan, "p": p,
            "up": p_up is not None and p_up < ALPHA, "down": p_down is not None and p_down < ALPHA}


def _ratio_interval(ts: pd.DataFrame, a: int, b: int) -> tuple[float, float]:
    """The growth factor's 95% interval: the paired t-interval of the change over the mean at ``a``."""
    x = ts[ts["n"] == a].set_index("seed")["t_star"]
    d = (ts[ts["n"] == b].set_index("seed")["t_star"] - x).dropna()
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    base = x[d.index].mean()
    return 1 + (d.mean() - half) / base, 1 + (d.mean() + half) / base


def _means(ts: pd.DataFrame) -> pd.Series:
    return ts[np.isfinite(ts["t_star"])].groupby("n")["t_star"].mean()


def _number_after(text: str, prefix: str) -> float:
    m = re.search(re.escape(prefix) + r"\s*([-+]?[\d,]*\.?\d+)", text)
    assert m, (prefix, text)
    return float(m.group(1).replace(",", ""))


def _check_no_nan(numbers: dict):
    bad = [k for k, v in numbers.items() if isinstance(v, float) and not math.isfinite(v)]
    bad += [k for k, v in numbers.items() if isinstance(v, str) and NAN.search(v)]
    assert not bad, {k: numbers[k] for k in bad}


def _check_sentences(p, numbers: dict, tables: dict):
    """Every checked sentence against the thresholds it is about."""
    th, gth = tables["thresholds"]["greedy"], tables["gd_thresholds"]["greedy"]
    means = _means(th)
    head = numbers["ch3_verdict_headline"]
    shape = tables["shape"]["greedy"]
    # "grows": the paired change from the smallest defined size to the size where the rise ends is
    # positive and significant; "then stops": beyond that size no significant change to the largest
    if re.search(r"\bgrows\b", head):
        assert len(means) >= 2 and shape.first == means.index.min() and shape.last == means.index.max()
        assert _paired(th, shape.first, shape.n0)["up"], head
        if "then stops" in head:
            tail = _paired(th, shape.n0, shape.last)
            assert tail["p"] is not None and tail["p"] >= ALPHA, head
        if "up to N" in head:
            assert shape.n0 == shape.last or _paired(th, shape.n0, shape.last)["up"]
    else:
        # no growth claimed: then no rise from the smallest to the largest defined size is significant
        if len(means) >= 2:
            assert not _paired(th, means.index.min(), means.index.max())["up"] or "cannot" in head, head
    if "does not change significantly" in head:
        assert _paired(th, means.index.min(), means.index.max())["p"] >= ALPHA
    if len(means) < 2:
        assert "cannot be traced" in head
    # the numbers in the verdict's account are the means over seeds
    reach = numbers["ch3_verdict_reach"]
    if p.sizes and min(p.sizes) in means.index:
        assert _number_after(reach, "after") == pytest.approx(means[min(p.sizes)], abs=0.5)
    # after the peak: rises/falls only with a significant paired change, from the peak to the largest
    words = numbers["ch3_after_peak_words"]
    if len(means):
        n_peak, last = means.idxmax(), means.index.max()
        if n_peak == last:
            assert words == ("peaks at the largest N" if last == max(p.sizes) else
                             f"is not defined beyond N = {last:,} (no seed reaches the level there)")
        else:
            c = _paired(th, n_peak, last)
            expected = ("is not defined" if not c["seeds"] else "cannot be tested" if c["p"] is None else
                        "does not change significantly" if c["p"] >= ALPHA else "rises" if c["up"] else "falls")
            assert words.startswith(expected), (words, c)
            if c["p"] is not None:
                assert f"p = {c['p']:.2f}" in numbers["ch3_after_peak_sentence"]
    # GD "grows as SGD does" only when both grow significantly and the factors agree within their spread
    gd_words = numbers["ch3_verdict_gd"]
    common = sorted(set(p.sizes) & set(p.gd_sizes))
    if "as SGD does" in gd_words or "grows as" in gd_words:
        a, b = common[0], common[-1]
        assert _paired(th, a, b)["up"] and _paired(gth, a, b)["up"], gd_words
        (s_lo, s_hi), (g_lo, g_hi) = _ratio_interval(th, a, b), _ratio_interval(gth, a, b)
        assert s_lo <= g_hi and g_lo <= s_hi, gd_words
        factors = re.search(r"a factor ([\d.]+) against ([\d.]+)", gd_words)
        ms, mg = _means(th), _means(gth)
        assert float(factors.group(1)) == pytest.approx(mg[b] / mg[a], abs=0.006)
        assert float(factors.group(2)) == pytest.approx(ms[b] / ms[a], abs=0.006)
    if "so a fixed SGD budget is not the cause" in gd_words:
        assert "grows as SGD does" in gd_words
    # epochs: "about one pass" only near one pass; "the budget does not bind" only if every seed gets there
    ep = numbers["ch3_epochs_sentence"]
    at_largest, at_smallest = th[th["n"] == max(p.sizes)], th[th["n"] == min(p.sizes)]
    e_l = float((at_largest["t_star"] * p.batch_size / at_largest["n"]).mean())
    e_s = float((at_smallest["t_star"] * p.batch_size / at_smallest["n"]).mean())
    if "about one pass" in ep:
        assert 0.5 <= e_l <= 2
    if "does not bind" in ep:
        assert at_largest["reached"].all()
    if math.isfinite(e_l) and math.isfinite(e_s):
        assert f"from {e_s:.1f} epochs" in ep and f"{e_l:.2f} at N" in ep
    # the population regime only where train and held-out accuracy agree within the sampling error
    gap = tables["gap"]
    g = gap[(gap["optimizer"] == "sgd") & (gap["method"] == "greedy") & (gap["n"] == max(p.sizes))]
    if "population regime" in numbers["ch3_population_sentence"]:
        acc = g["test"].mean()
        assert abs(g["gap"].mean()) <= 2 * math.sqrt(acc * (1 - acc) / p.n_test)
    # "the subnetwork becomes good" only if every unit meets the rule
    if numbers["ch3_greedy_good_words"] == "becomes good":
        assert th["reached"].all()
    # the increments are the relative changes of the mean threshold from one size to the next
    steps = paired.paired_steps(th)
    shown = numbers["ch3_greedy_increments"].split(" (")[0]
    if len(steps) and not shown.startswith("not defined"):
        parts = [s.strip() for s in shown.split(",")]
        for v, part in zip(steps["rel_mean"], parts):
            assert part == (f"{v:+.0%}" if math.isfinite(v) else "not defined")


@pytest.mark.parametrize("name", list(SETTINGS))
def test_setting_finishes_without_nan_and_its_sentences_agree_with_its_numbers(summaries, name):
    p, frames, summary = summaries[name]
    numbers = summary.numbers
    _check_no_nan(numbers)
    _check_sentences(p, numbers, summary.tables)
    # the key names the notebook, intro.md and tests read are there in every setting
    for key in ("ch3_verdict_headline", "ch3_after_peak_words", "ch3_greedy_laws", "ch3_ntk_verdict",
                "ch3_summed_verdict", "ch3_common_sentence", "ch3_sizes_caveat", "ch3_gd_last_step"):
        assert isinstance(numbers[key], str) and numbers[key]


def test_the_settings_exercise_the_cases_they_are_meant_to(summaries):
    """The settings are not vacuous: each reaches the case it is there for."""
    n = {name: s[2].numbers for name, s in summaries.items()}
    assert "cannot be traced: the level is reached at no size" in n["level no arm reaches"]["ch3_verdict_headline"]
    assert n["level no arm reaches"]["ch3_greedy_tstar_smallest"] == mnist.UNDEFINED
    assert "reached at one size only" in n["level one size reaches"]["ch3_verdict_headline"]
    assert n["k well below"]["ch3_greedy_reached"] == 0.0
    assert "the subnetwork is the dense network itself" in n["k well above (k = m)"]["ch3_difference_sentence"]
    assert n["two sizes only"]["ch3_oos_relerr"] == mnist.UNDEFINED
    assert "cannot be tested out of sample" in n["two sizes only"]["ch3_oos_sentence"]
    assert n["one seed only"]["ch3_greedy_log_b_lo"] == mnist.UNDEFINED
    assert "no interval" in n["one seed only"]["ch3_greedy_log_b_words"]
    # the cases: "GD grows as SGD does (a factor 0.98 ...)" and "good after about one pass"
    # next to 5.8 passes, at level 0.45
    low = n["lower level"]
    assert "grows as SGD does" not in low["ch3_verdict_gd"] and "about one pass" not in low["ch3_epochs_sentence"]
    # the paper preset at level 0.75: no "nan to nan" interval, and the committed level's verdict stands
    assert "nan" not in n["paper, another level"]["ch3_verdict_reach"].lower()
    assert n["quick"]["ch3_greedy_increments"] != "" and "nan" not in n["quick"]["ch3_gd_greedy_increments"]


# --------------------------------------------------------------------------------------------------
# End to end through papermill, on the shared cache


@pytest.mark.parametrize("name", list(NOTEBOOK_SETTINGS))
def test_notebook_runs_the_setting_without_nan_or_warnings(summaries, cache, tmp_path, monkeypatch, name):
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    params = _values(NOTEBOOK_SETTINGS[name], cache)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NB), str(out), parameters=params, cwd=str(BOOK), kernel_name="python3",
                               progress_bar=False)
    nb = json.loads(out.read_text())
    stderr = [text for _, kind, text in _texts(nb) if kind == "stderr" and text.strip()]
    assert not stderr, stderr[:3]
    with_nan = [(i, mime, NAN.search(text).group(0)) for i, mime, text in _texts(nb) if NAN.search(text)]
    assert not with_nan, with_nan[:5]
    # the glued sentences are the summary's, and agree with the thresholds of this setting
    p, options = chapters.check(CHAPTER, params)
    summary = mnist.summarize(mnist.run(p, options), p)
    glued = _glued(nb)
    for key in ("ch3_verdict_headline", "ch3_verdict_reach", "ch3_verdict_gd", "ch3_epochs_sentence"):
        assert ast.literal_eval(glued[key]) == summary.numbers[key]  # text/plain holds the str's repr
    _check_sentences(p, summary.numbers, summary.tables)
