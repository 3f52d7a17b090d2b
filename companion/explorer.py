"""An interactive threshold explorer: T*(N) and its fitted laws under every threshold rule, in the
static book.

The chapter fixes one threshold rule (say "training accuracy reaches 0.8"); this explorer lets the
reader move it and watch the conclusion move with it. For one sweep arm (a tidy frame with columns
``n, seed, t, method, split, loss, accuracy``; extra columns are ignored) it precomputes, for every
setting

    rule in {reaches, within_delta} x metric in {accuracy, loss} x value (levels or deltas)
    x method in {dense, greedy, magnitude, random},

T*(N) of every (N, seed) (:func:`companion.stats.thresholds.threshold_time`), the seed mean at each N, and
the four laws a + b log N, a + b N, a N^b and a - b N^(-c) (:func:`companion.stats.laws.fit`, drawn with
:func:`companion.stats.laws.predict`) with their leave-one-size-out RMSE
(:func:`companion.stats.laws.loso_rmse`). Computing and drawing are separate:

- :func:`threshold_grid` (tidy frame: one row per setting, method, N and seed, with T*) and
  :func:`fit_grid` (tidy frame: one row per setting, method and law) compute;
- :func:`figure_spec` turns them into the JSON the page draws (every number rounded, see below);
  :func:`render_html` writes the HTML; :func:`show` does all of it and returns a displayable
  :class:`ThresholdExplorer` (the entry point for a notebook).

How it works offline, in a static page with no server and no network
    The HTML holds the precomputed data (a ``<script type="application/json">``), buttons for rule,
    metric and method, a ``<select>`` for the level or delta, and a short script that redraws the plot
    with ``Plotly.react`` when a control changes. It does not carry Plotly's JavaScript (4.8 MB, which
    inlining would copy into every notebook output) and never loads it from a CDN (the book must work
    offline). The book's Sphinx extension :mod:`companion.book_site` copies ``plotly.min.js`` from
    the pinned ``plotly`` package into ``_build/html/_static/companion/`` and adds it to exactly the
    pages whose body holds an explorer (they carry the attribute ``data-companion-plotly``). In a live
    notebook (Jupyter, Binder), where no book page loads Plotly, call :func:`init_notebook` once
    first; the explorer otherwise says in its own box that plotly.js is missing.

Print and PDF: no static image by default
    Plotly draws SVG, so printing a page (or "save as PDF" from the browser, the book's download
    button) prints the figure as it is on screen; the script re-fits the plot to the printed column
    (``beforeprint``/``afterprint``) and the print style hides Plotly's toolbar. The book has no LaTeX
    build, so :func:`show` adds no image by default: an ``image/png`` output would make the cell a
    figure of the chapter (``tests/test_figures.py`` asks every image output for a caption, alt text
    and a data link). ``show(..., fallback=True)`` adds an ``image/png`` of the initial
    setting drawn with matplotlib for a builder that cannot show HTML (myst-nb's HTML builder still
    prefers ``text/html``; the LaTeX builder takes the image).

Determinism
    The stored notebook output is compared with a fresh run on other CPUs (nbval), so nothing written
    into the HTML depends on the last bits of floating point: T*, the seed means and the law curves
    are rounded to 1 decimal (and at most ``display.SIGNIFICANT_DIGITS`` significant digits), fit
    coefficients and RMSEs to 4 significant digits, levels and deltas to 4. The JSON is written with
    sorted keys, and the element id is a hash of the content, so the same data give the same bytes.
"""
from __future__ import annotations

import base64
import html as _html
import io
import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import display, figures, validate
from .stats import laws, thresholds
from .stats.thresholds import Rule
from .explorer_page import PLOTLY_MARKER, _asset, button_group, payload, script, view_end
# a reader of a live notebook is told to call companion.explorer.init_notebook() (the explorer's own text)
from .explorer_page import init_notebook, plotly_js_path  # noqa: F401

RULES = ("reaches", "within_delta")
METRICS = ("accuracy", "loss")
METHODS = ("dense", "greedy", "magnitude", "random")
MODELS = laws.MODELS  # ("log", "linear", "power", "saturating")
REQUIRED = ("n", "seed", "t", "method", "split", "loss", "accuracy")
#: The CSS class of the explorer's container (the browser check looks for it).
CSS_CLASS = "threshold-explorer"

DEFAULT_ACCURACY_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_ACCURACY_DELTAS = (0.005, 0.01, 0.02, 0.05)
#: Default loss levels: these fractions of the way, in log scale, from the typical best loss to the
#: typical initial loss of the frame (medians over its curves).
LOSS_LEVEL_FRACTIONS = (0.2, 0.4, 0.6, 0.8)
#: Default loss deltas: these fractions of (typical initial loss - typical best loss).
LOSS_DELTA_FRACTIONS = (0.01, 0.02, 0.05, 0.1)
#: Points on each law's curve (log-spaced in N between the smallest and largest size).
CURVE_POINTS = 40

RULE_LABELS = {"reaches": "reaches a level", "within_delta": "within delta of its best"}
METHOD_LABELS = {"dense": "dense network", "greedy": "greedy subnetwork",
                 "magnitude": "magnitude pruning", "random": "random subnetwork"}
# Okabe-Ito / seaborn "colorblind" colours, the book's palette.
LAW_STYLE = {"log": ("#0173b2", "solid"), "linear": ("#de8f05", "dash"), "power": ("#029e73", "dot"),
             "saturating": ("#cc78bc", "dashdot")}
SEED_COLOUR = "#949494"
MEAN_COLOUR = "#000000"


# --------------------------------------------------------------------------------------------------
# Numbers as the page shows them


def _t(value) -> float | None:
    """An iteration count for the page: 1 decimal, at most SIGNIFICANT_DIGITS significant digits;
    None (JSON null) when not finite."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return display.significant(round(value, 1))


def _sig(value, digits: int = 4) -> float | None:
    value = float(value)
    if not math.isfinite(value):
        return None
    return display.significant(value, digits)


def value_key(value: float) -> str:
    """How a level or delta is named in the page (and in the grid's ``value_key`` column): 4
    significant digits, shortest form ("0.8", "0.005", "1.5e-05")."""
    return format(display.significant(float(value), 4), "g")


def _fmt(value: float, digits: int = 4) -> str:
    return format(display.significant(float(value), digits), "g")


# --------------------------------------------------------------------------------------------------
# Computing


def _check_frame(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise validate.ParameterError(f"parameter 'frame' must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise validate.ParameterError(
            f"parameter 'frame' lacks the column(s) {missing}: a sweep frame has columns {list(REQUIRED)}")
    sub = frame.loc[frame["split"] == split, list(REQUIRED)]
    if sub.empty:
        splits = sorted(map(str, frame["split"].unique()))
        raise validate.ParameterError(f"parameter 'split' = {split!r}: the frame has no such rows "
                                      f"(its splits: {splits})")
    if sub.duplicated(["n", "seed", "t", "method"]).any():
        raise validate.ParameterError(
            "parameter 'frame' has more than one row per (n, seed, t, method, split): pass one sweep arm "
            "(e.g. frame[frame['regime'] == 'mean_field'])")
    return sub


def _curves(sub: pd.DataFrame):
    """(method, n, seed) -> (t, accuracy, loss) arrays sorted by t."""
    out = {}
    sub = sub.sort_values(["method", "n", "seed", "t"], kind="mergesort")
    for (method, n, seed), g in sub.groupby(["method", "n", "seed"], sort=True):
        out[(str(method), int(n), int(seed))] = (g["t"].to_numpy(float), g["accuracy"].to_numpy(float),
                                                g["loss"].to_numpy(float))
    return out


def default_values(frame: pd.DataFrame, *, split: str = "train") -> tuple[dict, dict]:
    """Default (levels, deltas), each a dict metric -> list: accuracy levels 0.5 ... 0.9 and deltas
    0.005 ... 0.05; loss levels and deltas derived from the frame's range of losses (the median over
    its curves of the initial loss and of the best loss), rounded to 2 significant digits."""
    sub = _check_frame(frame, split)
    curves = _curves(sub)
    first = np.array([loss[0] for _, _, loss in curves.values()])
    best = np.array([np.nanmin(loss) for _, _, loss in curves.values()])
    hi, lo = float(np.nanmedian(first)), float(np.nanmedian(best))
    levels = {"accuracy": list(DEFAULT_ACCURACY_LEVELS), "loss": []}
    deltas = {"accuracy": list(DEFAULT_ACCURACY_DELTAS), "loss": []}
    if math.isfinite(hi) and math.isfinite(lo) and hi > lo:
        if lo > 0:
            levels["loss"] = sorted({display.significant(math.exp(math.log(lo) + f * (math.log(hi) - math.log(lo))), 2)
                                     for f in LOSS_LEVEL_FRACTIONS})
        else:
            levels["loss"] = sorted({display.significant(lo + f * (hi - lo), 2) for f in LOSS_LEVEL_FRACTIONS})
        deltas["loss"] = sorted({display.significant(f * (hi - lo), 2) for f in LOSS_DELTA_FRACTIONS})
    return levels, deltas


def _value_lists(name: str, given, default: dict, *, rule: str) -> dict:
    """metric -> sorted unique values (by their 4-digit key) for one rule."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise validate.ParameterError(
            f"parameter {name!r} must be a dict metric -> list of values, e.g. {{'accuracy': [0.7, 0.8]}}, "
            f"not {given!r}")
    unknown = [m for m in given if m not in METRICS]
    if unknown:
        raise validate.ParameterError(f"parameter {name!r} has unknown metric(s) {unknown}: allowed "
                                      f"{list(METRICS)}")
    out = {}
    for metric in METRICS:
        values = given.get(metric, default[metric])
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise validate.ParameterError(f"parameter {name!r}[{metric!r}] must be a list of numbers, "
                                          f"not {values!r}")
        checked = {}
        for v in values:
            if rule == "within_delta":
                v = validate.positive(f"{name}[{metric!r}]", v)
            elif metric == "accuracy":
                v = validate.real(f"{name}[{metric!r}]", v, low=0.0, high=1.0)
            else:
                v = validate.real(f"{name}[{metric!r}]", v)
            checked.setdefault(value_key(v), display.significant(v, 4))
        out[metric] = sorted(checked.values())
    return out


def settings(frame: pd.DataFrame, *, levels=None, deltas=None, split: str = "train") -> list[tuple]:
    """Every (rule, metric, value) of the grid, in display order."""
    d_levels, d_deltas = default_values(frame, split=split)
    lv = _value_lists("levels", levels, d_levels, rule="reaches")
    dl = _value_lists("deltas", deltas, d_deltas, rule="within_delta")
    out = [("reaches", m, v) for m in METRICS for v in lv[m]]
    out += [("within_delta", m, v) for m in METRICS for v in dl[m]]
    return out


def threshold_grid(frame: pd.DataFrame, *, levels=None, deltas=None, methods=None,
                   split: str = "train") -> pd.DataFrame:
    """T* of every (N, seed) under every setting of the grid.

    ``levels`` and ``deltas``: dicts metric -> list (``{'accuracy': [0.7, 0.8], 'loss': [0.05]}``), a
    metric left out gets its default (:func:`default_values`). ``methods``: the methods to include
    (default: those of dense, greedy, magnitude, random present in the frame). ``split``: the curve the
    thresholds are read from (default the training curve, the theorem's quantity).

    Returns a tidy frame, one row per (rule, metric, value, method, n, seed), with columns rule,
    metric, value, value_key (the value as the page names it), method, n, seed, t_star (NaN when the
    rule is never met on the grid), reached (bool), best (the best value of the metric over the
    grid), sorted in that order."""
    sub = _check_frame(frame, split)
    present = [m for m in METHODS if m in set(sub["method"])]
    if methods is None:
        methods = present
    else:
        methods = [validate.choice("methods", m, present) for m in methods]
    if not methods:
        raise validate.ParameterError(f"the frame has none of the methods {list(METHODS)}")
    grid = settings(frame, levels=levels, deltas=deltas, split=split)
    sub = sub.sort_values(["method", "n", "seed", "t"], kind="mergesort")
    parts = []
    for rule, metric, value in grid:
        one = Rule.from_params(rule, metric, delta=value, level=value)
        for method in methods:
            # the chapter's own thresholds (one implementation: companion.stats)
            ts = thresholds.thresholds(sub.drop(columns=thresholds._groups(sub)), rule=one, method=method,
                                       split=split)
            parts.append(ts.assign(rule=rule, metric=metric, value=value, value_key=value_key(value),
                                   method=method))
    cols = ["rule", "metric", "value", "value_key", "method", "n", "seed", "t_star", "reached", "best"]
    return pd.concat(parts, ignore_index=True)[cols]


SETTING = ["rule", "metric", "value", "value_key", "method"]


def seed_means(points: pd.DataFrame) -> pd.DataFrame:
    """The seed mean of T* at each N of each setting (over the seeds that met the rule); columns
    rule, metric, value, value_key, method, n, t_mean, reached (seeds that met it), seeds."""
    g = points.groupby(SETTING + ["n"], sort=False)
    out = g["t_star"].mean().rename("t_mean").to_frame()
    out["reached"] = g["reached"].sum().astype(int)
    out["seeds"] = g["seed"].nunique().astype(int)
    return out.reset_index()


def fit_grid(points: pd.DataFrame) -> pd.DataFrame:
    """The laws of T*(N) (:data:`companion.laws.MODELS`) for every setting of
    :func:`threshold_grid`, fitted to the per-seed T* that met the rule (as
    :func:`companion.stats.laws.fit_table` does).

    Returns one row per (rule, metric, value, method, model): columns rule, metric, value, value_key,
    method, model, formula, a, b, c (the saturating law's exponent, else NaN), loso_rmse (NaN with
    too few sizes), points (finite T*), sizes (distinct N among them), fitted (False when the fit
    failed)."""
    cols = SETTING + ["model", "formula", "a", "b", "c", "loso_rmse", "points", "sizes", "fitted"]
    parts = []
    cache: dict = {}
    for setting, g in points.groupby(SETTING, sort=False):
        ok = g[np.isfinite(g["t_star"])]
        sig = (tuple(ok["n"]), tuple(ok["t_star"]))  # identical points (often: none reached) are fitted once
        if sig not in cache:
            # the chapter's own fits (one implementation: companion.stats), without the bootstrap
            table = laws.fit_table(ok.assign(group="all")[["group", "n", "seed", "t_star"]], n_boot=0,
                                       by="group")
            if table.empty:  # no point: every law failed
                table = pd.DataFrame({"model": list(MODELS), "formula": [laws.MODEL_FORMULAS[m] for m in MODELS],
                                      "a": np.nan, "b": np.nan, "c": np.nan, "loso_rmse": np.nan, "points": 0,
                                      "sizes": 0, "fit_ok": False})
            cache[sig] = table.rename(columns={"fit_ok": "fitted"})
        parts.append(cache[sig].assign(**dict(zip(SETTING, setting))))
    out = pd.concat(parts, ignore_index=True)[cols]
    return out.astype({"points": int, "sizes": int, "fitted": bool})


# --------------------------------------------------------------------------------------------------
# What the page draws


def _setting_id(rule, metric, key, method) -> str:
    return f"{rule}|{metric}|{key}|{method}"


def _value_label(rule: str, metric: str, key: str) -> str:
    if rule == "reaches":
        return f"{metric} {'≥' if metric == 'accuracy' else '≤'} {key}"
    return f"within {key} of its best {metric}"


def _rule_text(rule: str, metric: str, key: str) -> str:
    if rule == "reaches":
        op = "at least" if metric == "accuracy" else "at most"
        return f"the first iteration at which the {metric} is {op} {key}"
    return f"the first iteration at which the {metric} is within {key} of its best over the grid"


def _coefficients(model: str, a: float, b: float, c: float = math.nan) -> tuple:
    """(a, b, c) as the page shows them (c None but for the saturating law). The log and linear laws
    are closed-form least squares (stable to the last digits): 4 significant digits. The power and
    saturating laws come from iterative fits whose parameters trade off when T* is nearly flat: their
    digits beyond a fixed absolute precision are the optimiser's, not the data's, so a (an iteration
    count) is shown to 0.1 and an exponent to 0.001; the saturating law's three parameters, which
    trade off most (a ceiling far above the data when c is small), to 3 significant digits."""
    if not (math.isfinite(a) and math.isfinite(b)) or (model == "saturating" and not math.isfinite(c)):
        return None, None, None
    if model == "power":
        return display.significant(round(a, 1)), round(b, 3) + 0.0, None  # (+ 0.0: no "-0")
    if model == "saturating":
        return display.significant(a, 3), display.significant(b, 3), display.significant(c, 3)
    return _sig(a), _sig(b), None


def law_label(model: str, a: float, b: float, rmse: float, c: float = math.nan) -> str:
    """A law's legend entry: its fitted formula and its LOSO RMSE (to 0.1 iteration), or "fit failed"."""
    a, b, c = _coefficients(model, a, b, c)
    if a is None:
        return f"{model} ({laws.MODEL_FORMULAS[model]}): fit failed"
    if model == "log":
        formula = f"{_fmt(a)} {'+' if b >= 0 else '-'} {_fmt(abs(b))} log N"
    elif model == "linear":
        formula = f"{_fmt(a)} {'+' if b >= 0 else '-'} {_fmt(abs(b))} N"
    elif model == "saturating":
        formula = f"{a:g} {'-' if b >= 0 else '+'} {abs(b):g} N^-{c:g} (ceiling {a:g})"
    else:
        formula = f"{a:g} N^{b:.3f}"
    needed = laws.N_PARAMS[model] + 1
    err = (f"LOSO RMSE {_t(rmse):g}" if math.isfinite(rmse) else f"LOSO RMSE n/a (fewer than {needed} sizes)")
    return f"{model}: {formula} ({err})"


def figure_spec(points: pd.DataFrame, fits: pd.DataFrame, *, initial: Mapping | None = None,
                split: str = "train", curve_points: int = CURVE_POINTS) -> dict:
    """The JSON-able description of the explorer: controls, the initial setting and, for every
    setting, the per-seed points, the seed means and the law curves, every number rounded
    (module docstring)."""
    means = seed_means(points)
    sizes = np.unique(points["n"].to_numpy(float))
    if len(sizes) == 0:
        raise validate.ParameterError("the grid has no points")
    curve_n = sorted({int(round(x)) for x in np.geomspace(sizes.min(), sizes.max(), curve_points)})
    methods = [m for m in METHODS if m in set(points["method"])]
    values: dict[str, list] = {}
    for (rule, metric), g in points.groupby(["rule", "metric"], sort=False):
        keys = g.drop_duplicates("value_key").sort_values("value")["value_key"].tolist()
        values[f"{rule}|{metric}"] = [[k, _value_label(rule, metric, k)] for k in keys]
    fit_by = {k: g for k, g in fits.groupby(["rule", "metric", "value_key", "method"], sort=False)}
    mean_by = {k: g for k, g in means.groupby(["rule", "metric", "value_key", "method"], sort=False)}
    out_settings = {}
    for (rule, metric, key, method), g in points.groupby(["rule", "metric", "value_key", "method"], sort=False):
        g = g.sort_values(["n", "seed"])
        ok = g[g["reached"]]
        m = mean_by[(rule, metric, key, method)].sort_values("n")
        m = m[np.isfinite(m["t_mean"])]
        drawn = []
        f = fit_by.get((rule, metric, key, method))
        best = None
        for model in MODELS:
            row = f[f["model"] == model].iloc[0] if f is not None else None
            a, b, c, rmse = ((float(row["a"]), float(row["b"]), float(row["c"]), float(row["loso_rmse"]))
                             if row is not None else (math.nan,) * 4)
            a4, b4, c4 = _coefficients(model, a, b, c)
            curve = []
            if a4 is not None:
                params = (a, b, c)[:laws.N_PARAMS[model]]
                with np.errstate(all="ignore"):
                    curve = [_t(y) for y in laws.predict(curve_n, model, *params)]
            if math.isfinite(rmse) and (best is None or rmse < best[1]):
                best = (model, rmse)
            drawn.append({"model": model, "label": law_label(model, a, b, rmse, c), "a": a4, "b": b4,
                         "c": c4, "loso_rmse": _t(rmse), "t": curve})
        total, met = len(g), int(g["reached"].sum())
        summary = (f"{METHOD_LABELS.get(method, method).capitalize()}, {split} split: T* is "
                   f"{_rule_text(rule, metric, key)}; met by {met} of {total} runs (N, seed)")
        summary += (f"; best law by leave-one-size-out error: {best[0]}." if best else
                    "; too few sizes met the rule to compare the laws.")
        out_settings[_setting_id(rule, metric, key, method)] = {
            "seed_n": [int(x) for x in ok["n"]], "seed_t": [_t(x) for x in ok["t_star"]],
            "seed_id": [int(x) for x in ok["seed"]],
            "mean_n": [int(x) for x in m["n"]], "mean_t": [_t(x) for x in m["t_mean"]],
            "laws": drawn, "summary": summary}
    init = _initial(values, methods, initial)
    return {
        "version": 1,
        "split": split,
        "curve_n": curve_n,
        "sizes": [int(x) for x in sizes],
        "size_labels": [f"{int(x):,}" for x in sizes],
        "controls": {
            "rule": [[r, RULE_LABELS[r]] for r in RULES if any(k.startswith(r + "|") for k in values)],
            "metric": [[m, m] for m in METRICS],
            "method": [[m, METHOD_LABELS[m]] for m in methods],
        },
        "values": values,
        "initial": init,
        "settings": out_settings,
        "style": {"law": {k: {"color": c, "dash": d} for k, (c, d) in LAW_STYLE.items()},
                  "seed": SEED_COLOUR, "mean": MEAN_COLOUR},
        "axes": {"x": "N (training-set size, log scale)", "y": "T* (pre-training iterations)"},
    }


def _initial(values: dict, methods: list, initial: Mapping | None) -> dict:
    init = {"rule": "reaches", "metric": "accuracy", "value": None,
            "method": "greedy" if "greedy" in methods else methods[0]}
    given = dict(initial or {})
    unknown = [k for k in given if k not in init]
    if unknown:
        raise validate.ParameterError(f"parameter 'initial' has unknown key(s) {unknown}: allowed "
                                      f"{list(init)}")
    init.update({k: v for k, v in given.items() if k != "value"})
    validate.choice("initial['rule']", init["rule"], RULES)
    validate.choice("initial['metric']", init["metric"], METRICS)
    validate.choice("initial['method']", init["method"], methods)
    keys = [k for k, _ in values.get(f"{init['rule']}|{init['metric']}", [])]
    if not keys:
        raise validate.ParameterError(f"the grid has no value for rule {init['rule']!r} and metric "
                                      f"{init['metric']!r}: give it levels or deltas")
    if given.get("value") is not None:
        init["value"] = validate.choice("initial['value']", value_key(given["value"]), keys)
    else:  # the middle of the list (0.7 of 0.5 ... 0.9)
        init["value"] = keys[(len(keys) - 1) // 2] if init["rule"] == "reaches" else keys[0]
        if init["rule"] == "reaches" and init["metric"] == "accuracy" and "0.8" in keys:
            init["value"] = "0.8"
    return init


def _script(ident: str) -> str:
    return script("explorer.js", ident)


def render_html(spec: Mapping, *, caption: str | None = None, name: str | None = None) -> str:
    """The explorer's HTML: a container of class ``threshold-explorer`` holding the controls, the
    plot, a line describing the current setting, the data and the script. Its id is
    ``threshold-explorer-<name>`` when ``name`` is given, else a hash of the data."""
    data, ident = payload(spec, name, CSS_CLASS)
    esc = _html.escape
    init = spec["initial"]

    def buttons(control: str, label: str) -> str:
        return button_group(spec, control, label)

    options = "".join(
        f'<option value="{esc(k)}"{" selected" if k == init["value"] else ""}>{esc(text)}</option>'
        for k, text in spec["values"][f"{init['rule']}|{init['metric']}"])
    first = spec["settings"][_setting_id(init["rule"], init["metric"], init["value"], init["method"])]
    cap = f'<p class="te-caption">{esc(caption)}</p>' if caption else ""
    return (
        f'<div class="{CSS_CLASS}" id="{ident}" {PLOTLY_MARKER}="1" role="figure" '
        f'aria-label="Interactive plot of the threshold T* against N, with fitted laws">'
        f"<style>{_asset('explorer.css').strip()}</style>"
        f'<div class="te-controls">{buttons("rule", "Rule")}{buttons("metric", "Metric")}'
        f'<div class="te-group"><label class="te-label" for="{ident}-value">Value</label>'
        f'<select class="te-select" id="{ident}-value" data-control="value">{options}</select></div>'
        f'{buttons("method", "Method")}</div>'
        + view_end(first["summary"], cap, data, _script(ident)))


def static_png(spec: Mapping, *, dpi: int = 100) -> bytes:
    """The initial setting drawn with matplotlib (the fallback for builders that cannot show HTML)."""
    init = spec["initial"]
    s = spec["settings"][_setting_id(init["rule"], init["metric"], init["value"], init["method"])]
    fig = Figure(figsize=(figures.WIDTH, figures.HEIGHT), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(s["seed_n"], [np.nan if v is None else v for v in s["seed_t"]], color=SEED_COLOUR,
               s=18, label="T* of each seed", zorder=3)
    ax.plot(s["mean_n"], [np.nan if v is None else v for v in s["mean_t"]], color=MEAN_COLOUR,
            marker="D", ms=4, lw=1.6, label="seed mean", zorder=4)
    dashes = {"solid": "-", "dash": "--", "dot": ":", "dashdot": "-."}
    for law in s["laws"]:
        colour, dash = LAW_STYLE[law["model"]]
        ys = [np.nan if v is None else v for v in law["t"]]
        ax.plot(spec["curve_n"] if ys else [], ys, color=colour, ls=dashes[dash], lw=1.4,
                label=law["label"])
    ax.set_xscale("log")
    ax.set_xticks(spec["sizes"], spec["size_labels"])
    ax.minorticks_off()
    ax.set_xlabel(spec["axes"]["x"], fontsize=9)
    ax.set_ylabel(spec["axes"]["y"], fontsize=9)
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(s["summary"].split(";")[0], fontsize=8)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


@dataclass(frozen=True)
class ThresholdExplorer:
    """What :func:`show` returns: the grid frames, the spec and the HTML; displays itself in Jupyter
    and in a Jupyter Book page (``text/html`` and ``text/plain``; ``image/png`` too with
    ``fallback``)."""

    points: pd.DataFrame
    fits: pd.DataFrame
    spec: dict
    html: str
    fallback: bool = False

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.html}
        if self.fallback:
            bundle["image/png"] = base64.b64encode(static_png(self.spec)).decode("ascii")
        return bundle

    def __repr__(self) -> str:
        init = self.spec["initial"]
        return (f"ThresholdExplorer({len(self.spec['settings'])} settings; methods "
                f"{', '.join(m for m, _ in self.spec['controls']['method'])}; initial: {init['rule']} "
                f"{init['metric']} {init['value']}, {init['method']})")


def show(frame: pd.DataFrame, *, levels=None, deltas=None, methods=None, split: str = "train",
         initial: Mapping | None = None, caption: str | None = None, name: str | None = None,
         fallback: bool = False) -> ThresholdExplorer:
    """The threshold explorer of one sweep arm, ready to display (the last expression of a cell).

    ``frame``: tidy sweep frame of one arm (columns n, seed, t, method, split, loss, accuracy; other
    columns ignored). ``levels`` / ``deltas``: dicts metric -> list of values for the ``reaches`` /
    ``within_delta`` rules (a metric left out gets its default, :func:`default_values`).
    ``methods``: which methods (default all present). ``split``: the curve T* is read from.
    ``initial``: the setting shown first, e.g. ``{'rule': 'reaches', 'metric': 'accuracy', 'value':
    0.8, 'method': 'greedy'}``; a key left out takes that default (the value: 0.8 when it is one of the
    accuracy levels, else the middle of the list of the chosen rule and metric; the smallest delta
    for ``within_delta``), and a value must be one of the grid's. ``caption``: a line
    under the plot. ``name``: a fixed element id suffix (default: a hash of the data). ``fallback``:
    also give an ``image/png`` of the initial setting, for a LaTeX build (module docstring)."""
    points = threshold_grid(frame, levels=levels, deltas=deltas, methods=methods, split=split)
    fits = fit_grid(points)
    spec = figure_spec(points, fits, initial=initial, split=split)
    return ThresholdExplorer(points, fits, spec, render_html(spec, caption=caption, name=name), fallback)
