"""companion.explorer: the grid of thresholds and laws on curves whose crossing times are known, and
an HTML output that is deterministic, rounded, offline and self-describing."""
import base64
import json
import math
import re
import time

import numpy as np
import pandas as pd
import pytest

from companion import display, explorer
from companion.validate import ParameterError

SIZES = [100, 200, 400, 800]
GRID = list(range(0, 1001, 50))  # every T1, T2 below is a grid point


def t1(n):  # exactly a + b log N: 100 at N = 100, +100 per doubling
    return 100 * math.log2(n / 50)


def t2(n):
    return 2 * t1(n)


def _curve(method, n):
    """Accuracy on the grid. greedy: 0.5, then 0.7 from T1(n), 0.9 from T2(n); dense: 0.9 from t = 0;
    random: never above 0.5; magnitude: reaches 0.7 at the smallest size only."""
    if method == "greedy":
        return [0.5 if t < t1(n) else 0.7 if t < t2(n) else 0.9 for t in GRID]
    if method == "dense":
        return [0.9 for _ in GRID]
    if method == "random":
        return [0.5 for _ in GRID]
    return [0.7 if (n == SIZES[0] and t >= 300) else 0.5 for t in GRID]


def _frame(seeds=(0, 1), methods=("dense", "greedy", "random", "magnitude")):
    rows = []
    for n in SIZES:
        for seed in seeds:
            for method in methods:
                for split in ("train", "test"):
                    acc = _curve(method, n) if split == "train" else [0.1] * len(GRID)
                    rows += [{"regime": "mean_field", "n": n, "seed": seed, "t": t, "method": method,
                              "split": split, "loss": round(1 - a, 10), "accuracy": a, "extra": "x"}
                             for t, a in zip(GRID, acc)]
    return pd.DataFrame(rows)


LEVELS = {"accuracy": [0.7, 0.9], "loss": [0.3, 0.1]}
DELTAS = {"accuracy": [0.05, 0.25], "loss": [0.05, 0.25]}


@pytest.fixture(scope="module")
def grid():
    points = explorer.threshold_grid(_frame(), levels=LEVELS, deltas=DELTAS)
    return points, explorer.fit_grid(points)


def _between(t, frac):
    """The crossing ``frac`` of the way from the grid point before ``t`` to ``t``, in log(1 + t)."""
    lo, hi = math.log1p(t - 50), math.log1p(t)
    return math.expm1(lo + frac * (hi - lo))


def _ts(points, rule, metric, value, method="greedy"):
    sel = points[(points["rule"] == rule) & (points["metric"] == metric) & (points["value"] == value)
                 & (points["method"] == method)]
    return sel.groupby("n")["t_star"].apply(list).to_dict()


def test_grid_is_tidy_and_complete(grid):
    points, fits = grid
    assert list(points.columns) == ["rule", "metric", "value", "value_key", "method", "n", "seed",
                                    "t_star", "reached", "best"]
    # 2 rules x 2 metrics x 2 values x 4 methods x 4 sizes x 2 seeds
    assert len(points) == 2 * 2 * 2 * 4 * 4 * 2
    assert set(points["method"]) == {"dense", "greedy", "magnitude", "random"}
    assert list(fits.columns) == ["rule", "metric", "value", "value_key", "method", "model", "formula",
                                  "a", "b", "c", "loso_rmse", "points", "sizes", "fitted"]
    assert len(fits) == 2 * 2 * 2 * 4 * len(explorer.MODELS)


def test_known_crossing_times(grid):
    points, _ = grid
    for n in SIZES:
        assert _ts(points, "reaches", "accuracy", 0.7)[n] == pytest.approx([t1(n)] * 2)
        assert _ts(points, "reaches", "accuracy", 0.9)[n] == pytest.approx([t2(n)] * 2)
        # loss = 1 - accuracy: the same crossings from the other metric
        assert _ts(points, "reaches", "loss", 0.3)[n] == pytest.approx([t1(n)] * 2)
        assert _ts(points, "reaches", "loss", 0.1)[n] == pytest.approx([t2(n)] * 2)
        # within delta of the best (0.9): 0.05 needs 0.85, crossed 3/4 of the way (in log(1 + t))
        # from the grid point before T2 (0.7) to T2 (0.9); 0.25 needs 0.65, 3/4 of the way to T1
        assert _ts(points, "within_delta", "accuracy", 0.05)[n] == pytest.approx([_between(t2(n), 0.75)] * 2)
        assert _ts(points, "within_delta", "accuracy", 0.25)[n] == pytest.approx([_between(t1(n), 0.75)] * 2)
        assert _ts(points, "within_delta", "loss", 0.25)[n] == pytest.approx([_between(t1(n), 0.75)] * 2)
        assert _ts(points, "reaches", "accuracy", 0.7, "dense")[n] == [0.0, 0.0]
    assert all(math.isnan(v) for vs in _ts(points, "reaches", "accuracy", 0.7, "random").values() for v in vs)


def test_changing_a_setting_changes_t_star(grid):
    points, _ = grid
    low = _ts(points, "reaches", "accuracy", 0.7)
    high = _ts(points, "reaches", "accuracy", 0.9)
    assert all(high[n][0] > low[n][0] for n in SIZES)
    spec = explorer.figure_spec(*grid)
    a = spec["settings"]["reaches|accuracy|0.7|greedy"]
    b = spec["settings"]["reaches|accuracy|0.9|greedy"]
    c = spec["settings"]["within_delta|accuracy|0.25|greedy"]
    assert a["seed_t"] != b["seed_t"] and a["mean_t"] != b["mean_t"]
    assert a["seed_t"] != c["seed_t"] and c["seed_t"] != b["seed_t"]  # the rule matters too
    assert a["mean_n"] == SIZES and a["mean_t"] == [round(t1(n), 1) for n in SIZES]


def test_laws_are_fitted_with_the_analysis_functions(grid):
    _, fits = grid
    sel = fits[(fits["rule"] == "reaches") & (fits["metric"] == "accuracy") & (fits["value"] == 0.7)
               & (fits["method"] == "greedy")].set_index("model")
    # T1 = 100 log2(N / 50) = a + b log N exactly: b = 100 / log 2
    assert sel.loc["log", "b"] == pytest.approx(100 / math.log(2))
    assert sel.loc["log", "a"] == pytest.approx(-100 * math.log2(50))
    assert sel.loc["log", "loso_rmse"] == pytest.approx(0, abs=1e-6)
    assert sel.loc["linear", "loso_rmse"] > 10
    assert sel["fitted"].all() and (sel["points"] == 8).all() and (sel["sizes"] == 4).all()


def test_failed_fits_are_reported(grid):
    points, fits = grid
    never = fits[(fits["method"] == "random") & (fits["rule"] == "reaches")]
    assert not never["fitted"].any() and never["a"].isna().all() and (never["points"] == 0).all()
    one_size = fits[(fits["method"] == "magnitude") & (fits["rule"] == "reaches")
                    & (fits["metric"] == "accuracy") & (fits["value"] == 0.7)]
    assert (one_size["sizes"] == 1).all() and not one_size["fitted"].any()
    spec = explorer.figure_spec(points, fits)
    labels = [law["label"] for law in spec["settings"]["reaches|accuracy|0.7|random"]["laws"]]
    assert labels == ["log (a + b log N): fit failed", "linear (a + b N): fit failed",
                      "power (a N^b): fit failed", "saturating (a - b N^(-c)): fit failed"]
    assert all(law["t"] == [] for law in spec["settings"]["reaches|accuracy|0.7|random"]["laws"])
    assert "met by 0 of 8 runs" in spec["settings"]["reaches|accuracy|0.7|random"]["summary"]
    good = [law["label"] for law in spec["settings"]["reaches|accuracy|0.7|greedy"]["laws"]]
    assert good[0].startswith("log: ") and "LOSO RMSE" in good[0]


def test_law_label_says_when_loso_is_not_available():
    assert explorer.law_label("log", 1.0, 2.0, math.nan).endswith("(LOSO RMSE n/a (fewer than 3 sizes))")
    # a power law at a fixed absolute precision (its iterative fit's last digits are not the data's)
    assert explorer.law_label("power", 12.345678, 0.123456, 3.21) == "power: 12.3 N^0.123 (LOSO RMSE 3.2)"
    assert explorer.law_label("power", 123.8, -9.852e-05, 3.704) == "power: 123.8 N^0.000 (LOSO RMSE 3.7)"
    assert explorer.law_label("linear", 5.0, -0.5, 1.0) == "linear: 5 - 0.5 N (LOSO RMSE 1)"
    assert explorer.law_label("log", math.nan, math.nan, math.nan) == "log (a + b log N): fit failed"


def test_defaults_derived_from_the_data():
    frame = _frame()
    levels, deltas = explorer.default_values(frame)
    assert levels["accuracy"] == [0.5, 0.6, 0.7, 0.8, 0.9]
    first = 0.5  # median initial loss of the training curves
    best = np.median([0.1] * 8 + [0.1] * 8 + [0.5] * 8 + [0.3] * 2 + [0.5] * 6)
    assert all(best <= v <= first for v in levels["loss"]) and len(levels["loss"]) >= 2
    assert all(0 < d < first - best for d in deltas["loss"])
    assert all(display.significant(v, 2) == v for v in levels["loss"] + deltas["loss"])
    # a metric the caller leaves out keeps its defaults
    points = explorer.threshold_grid(frame, levels={"accuracy": [0.7]})
    got = set(points.loc[(points["rule"] == "reaches") & (points["metric"] == "loss"), "value"])
    assert got == set(levels["loss"])


def test_bad_input_is_refused_with_a_message():
    frame = _frame()
    with pytest.raises(ParameterError, match="lacks the column"):
        explorer.threshold_grid(frame.drop(columns="loss"))
    two_arms = pd.concat([frame, frame.assign(regime="ntk")])
    with pytest.raises(ParameterError, match="pass one sweep arm"):
        explorer.threshold_grid(two_arms)
    with pytest.raises(ParameterError, match="unknown metric"):
        explorer.threshold_grid(frame, levels={"acc": [0.5]})
    with pytest.raises(ParameterError, match="levels"):
        explorer.threshold_grid(frame, levels={"accuracy": [1.5]})
    with pytest.raises(ParameterError, match="deltas"):
        explorer.threshold_grid(frame, deltas={"loss": [-0.1]})
    with pytest.raises(ParameterError, match="split"):
        explorer.threshold_grid(frame, split="validation")
    with pytest.raises(ParameterError, match="initial"):
        explorer.show(frame, levels=LEVELS, initial={"value": 0.55})


def _smooth_frame(noise=0.0, seeds=range(3)):
    """Smooth curves (exponential approach), optionally with relative noise on every float."""
    rng = np.random.default_rng(1)
    t = np.r_[0, np.geomspace(1, 1e4, 30)]
    rows = []
    for n in [500, 1000, 2000, 4000, 8000]:
        for seed in seeds:
            tau = 40 * math.log(n) * (1 + 0.05 * seed)
            for k, method in enumerate(["dense", "greedy", "random", "magnitude"]):
                acc = 0.1 + (0.85 - 0.13 * k) * (1 - np.exp(-t / tau))  # no plateau at a level
                loss = 0.45 * np.exp(-t / tau) + 0.02
                if noise:
                    acc = acc * (1 + noise * rng.uniform(-1, 1, len(t)))
                    loss = loss * (1 + noise * rng.uniform(-1, 1, len(t)))
                rows += [{"n": n, "seed": seed, "t": tt, "method": method, "split": "train",
                          "loss": lo, "accuracy": a} for tt, lo, a in zip(t, loss, acc)]
    return pd.DataFrame(rows)


def test_html_is_deterministic_and_insensitive_to_last_bits():
    a = explorer.show(_smooth_frame(), fallback=False).html
    b = explorer.show(_smooth_frame(), fallback=False).html
    noisy = explorer.show(_smooth_frame(noise=1e-12), fallback=False).html
    assert a == b == noisy
    ident = re.search(r'<div class="threshold-explorer" id="(threshold-explorer-[0-9a-f]{12})"', a).group(1)
    assert a.count(ident) >= 3  # the container, the select's label and the script refer to one id
    named = explorer.show(_smooth_frame(), name="ch3 mean field", fallback=False).html
    assert 'id="threshold-explorer-ch3-mean-field"' in named


NUMBER = re.compile(r"(?<![\w.])-?(\d+)\.(\d+)(?:[eE][-+]?\d+)?(?![\w.])")


def test_every_number_in_the_html_is_rounded():
    html = explorer.show(_smooth_frame(), fallback=False).html
    spec = json.loads(re.search(r'<script type="application/json" class="te-data">(.*?)</script>',
                                html, re.S).group(1).replace("<\\/", "</"))
    for m in NUMBER.finditer(html):
        digits = (m.group(1) + m.group(2)).lstrip("0").rstrip("0")
        assert len(digits) <= display.SIGNIFICANT_DIGITS, m.group(0)
    for s in spec["settings"].values():
        for v in s["seed_t"] + s["mean_t"] + [y for law in s["laws"] for y in law["t"]]:
            assert v is None or round(v, 1) == v
        for law in s["laws"]:
            for v in (law["a"], law["b"], law["c"], law["loso_rmse"]):
                assert v is None or display.significant(v, 4) == v


def test_html_is_offline_and_has_the_controls():
    ex = explorer.show(_smooth_frame(), levels={"accuracy": [0.6, 0.8]}, caption="A caption.",
                       fallback=False)
    html = ex.html
    assert not re.search(r"https?://|//cdn|cdn\.", html, re.I)
    assert "<script src" not in html and "plotly.min.js" not in html  # the book serves plotly.js
    assert html.startswith('<div class="threshold-explorer"') and explorer.PLOTLY_MARKER in html
    for control, value in [("rule", "reaches"), ("rule", "within_delta"), ("metric", "accuracy"),
                           ("metric", "loss"), ("method", "greedy"), ("method", "dense"),
                           ("method", "random"), ("method", "magnitude")]:
        assert f'data-control="{control}" data-value="{value}"' in html
    assert '<select class="te-select"' in html and '<option value="0.8" selected>accuracy ≥ 0.8</option>' in html
    assert "A caption." in html and "Plotly.react" in html
    assert ex.spec["initial"] == {"rule": "reaches", "metric": "accuracy", "value": "0.8", "method": "greedy"}
    assert "$" not in html.split('<script type="application/json"')[0]  # no stray $ for MathJax


def test_display_object_carries_html_and_text_and_a_png_only_when_asked():
    ex = explorer.show(_frame(), levels=LEVELS, deltas=DELTAS,
                       initial={"rule": "within_delta", "metric": "loss", "value": 0.25, "method": "greedy"})
    bundle = ex._repr_mimebundle_()
    # no image by default: an image output would make the cell a chapter figure (tests/test_figures.py)
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == ("ThresholdExplorer(32 settings; methods dense, greedy, magnitude, random; "
                                    "initial: within_delta loss 0.25, greedy)")
    with_png = explorer.ThresholdExplorer(ex.points, ex.fits, ex.spec, ex.html, fallback=True)._repr_mimebundle_()
    assert set(with_png) == {"text/plain", "text/html", "image/png"}
    assert base64.b64decode(with_png["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_grid_of_a_full_sweep_is_fast():
    """10 seeds x 8 sizes x 40 checkpoints x 4 methods x 2 splits: the chapter must build quickly
    (about 1.5 s on an idle 2-core CPU; the bound leaves room for a busy machine)."""
    rng = np.random.default_rng(0)
    t = np.r_[0, np.geomspace(1, 1e4, 39)]
    parts = []
    for n in [500, 1000, 2000, 4000, 8000, 16000, 32000, 50000]:
        for seed in range(10):
            for method in ["dense", "greedy", "random", "magnitude"]:
                for split in ["train", "test"]:
                    tau = 100 * math.log(n) * (1 + 0.1 * rng.standard_normal())
                    parts.append(pd.DataFrame({"n": n, "seed": seed, "t": t, "method": method, "split": split,
                                               "loss": 0.5 * np.exp(-t / tau) + 0.01,
                                               "accuracy": 0.1 + 0.85 * (1 - np.exp(-t / tau))}))
    frame = pd.concat(parts, ignore_index=True)
    start = time.perf_counter()
    ex = explorer.show(frame, fallback=False)
    elapsed = time.perf_counter() - start
    assert len(ex.points) == len(ex.spec["settings"]) * 80
    assert elapsed < 15, f"the explorer took {elapsed:.1f} s"
