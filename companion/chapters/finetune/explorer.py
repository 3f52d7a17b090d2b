"""Chapter 4's interactive view: the fine-tuned subnetwork's held-out accuracy A_ft(t) against the
pre-training step t at which it was pruned, one curve per training-set size N, with t_enough marked,
for a chosen arm, method, kept fraction, fine-tuning budget and tolerance delta.

The pattern of :mod:`companion.explorer` (which draws T*(N) and its laws): everything is precomputed
in Python, the page holds the data as JSON and a short script redraws the plot with ``Plotly.react``
when a control changes, offline (the book serves its own plotly.js to pages whose body carries
``data-companion-plotly``). The container also has the class ``threshold-explorer``, so the book's
rendered-page check (scripts/check_rendered.py) loads it, looks for drawn traces and clicks its
controls. A combination that does not exist (a ratio of another arm, the dense network's budget)
snaps to the closest one that does.

Determinism: seed means of accuracy are rounded to 4 significant digits, t_enough to 0.1 step; the
JSON has sorted keys and the element id is a hash of the content (or the given name).
"""
from __future__ import annotations

import html as _html
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from ... import display, explorer, explorer_page, validate
from . import analysis as fa
from .arms import ARMS
from .prose import METHOD_NAMES, arm_names

CSS_CLASS = "finetune-explorer"
CONTROLS = ("arm", "method", "ratio", "budget")


def _acc(value) -> float | None:
    value = float(value)
    return display.significant(value, 4) if math.isfinite(value) else None


def _step(value) -> float | None:
    value = float(value)
    return display.significant(round(value, 1)) if math.isfinite(value) else None


def delta_key(delta: float) -> str:
    return format(display.significant(float(delta), 4), "g")


def _colours(k: int) -> list[str]:
    cmap = colormaps["viridis"]
    return [to_hex(cmap(x)) for x in (np.linspace(0.0, 0.85, k) if k > 1 else [0.0])]


def _concat(frames: Mapping) -> pd.DataFrame:
    if not isinstance(frames, Mapping):
        raise validate.ParameterError("parameter 'frames' must be a dict arm -> frame (finetune.run's result)")
    parts = [fa.check_frame(frames[arm], f"frames[{arm!r}]") for arm in ARMS if arm in frames
             and frames[arm] is not None and len(frames[arm])]
    if not parts:
        raise validate.ParameterError("parameter 'frames' has no rows in any arm")
    return pd.concat(parts, ignore_index=True)


def curves(frame: pd.DataFrame, split: str = "heldout") -> pd.DataFrame:
    """Seed-mean A_ft(t) of every (arm, method, ratio, budget, N): columns arm, method, ratio, budget,
    n, t, accuracy, seeds."""
    sub = frame[frame["split"] == split]
    if sub.empty:
        raise validate.ParameterError(f"parameter 'split' = {split!r}: the frames have no such rows")
    full = fa.t_full_of(frame)
    sub = sub[sub["t"] <= sub["arm"].astype(str).map(full)]
    g = sub.groupby(fa.GROUP + ["n", "t"], sort=True)
    return g.agg(accuracy=("accuracy", "mean"), seeds=("seed", "nunique")).reset_index()


def marks(frame: pd.DataFrame, deltas, split: str = "heldout") -> pd.DataFrame:
    """t_enough of every (delta, arm, method, ratio, budget, N): the mean over the seeds that have one
    (``met`` of ``seeds``) and the seed-mean curve's value there (interpolated in log(1 + t))."""
    mean_curves = {k: g for k, g in curves(frame, split).groupby(fa.GROUP + ["n"], sort=False)}
    rows = []
    for delta in deltas:
        te = fa.t_enough(frame, delta, split=split)
        for key, g in te.groupby(fa.GROUP + ["n"], sort=True):
            ok = g[~g["censored"]]
            t = float(ok["t_enough"].mean()) if len(ok) else math.nan
            c = mean_curves.get(key)
            acc = (float(np.interp(np.log1p(t), np.log1p(c["t"].to_numpy(float)), c["accuracy"].to_numpy(float)))
                   if c is not None and math.isfinite(t) else math.nan)
            rows.append(dict(zip(fa.GROUP + ["n"], key)) | {"delta": float(delta), "t_enough": t, "accuracy": acc,
                                                            "met": len(ok), "seeds": len(g)})
    return pd.DataFrame(rows, columns=["delta"] + fa.GROUP + ["n", "t_enough", "accuracy", "met", "seeds"])


def _key(arm, method, ratio, budget) -> str:
    return f"{arm}|{method}|{float(ratio):g}|{int(budget)}"


def _summary(arm, method, ratio, budget, m: pd.DataFrame, dkey: str) -> str:
    head = (f"{METHOD_NAMES.get(method, method).capitalize()}, {arm_names().get(arm, arm)}, kept fraction "
            f"{float(ratio):g}, fine-tuned {int(budget):,} steps; t_enough (δ = {float(dkey) * 100:g} pp): ")
    parts = []
    for r in m.sort_values("n").itertuples():
        if r.met == 0:
            parts.append(f"censored at N = {int(r.n):,}")
        else:
            text = f"{r.t_enough:,.0f} steps at N = {int(r.n):,}"
            parts.append(text if r.met == r.seeds else text + f" ({r.met} of {r.seeds} seeds)")
    return head + ("; ".join(parts) if parts else "no size") + "."


def figure_spec(frames: Mapping, *, deltas=fa.DELTAS, split: str = "heldout", initial: Mapping | None = None
                ) -> dict:
    """The JSON-able description of the view (module docstring)."""
    deltas = sorted({validate.positive("deltas", d) for d in deltas})
    if not deltas:
        raise validate.ParameterError("parameter 'deltas' must list at least one tolerance")
    frame = _concat(frames)
    cur = curves(frame, split)
    mk = marks(frame, deltas, split)
    sizes = sorted(int(n) for n in cur["n"].unique())
    colours = dict(zip(sizes, _colours(len(sizes))))
    mk_by = {k: g for k, g in mk.groupby(["delta"] + fa.GROUP, sort=False)}
    settings = {}
    for key, g in cur.groupby(fa.GROUP, sort=True):
        arm, method, ratio, budget = key
        lines = [{"n": int(n), "label": f"N = {int(n):,}", "color": colours[int(n)],
                  "t": [int(t) + 1 for t in c["t"]], "acc": [_acc(a) for a in c["accuracy"]]}
                 for n, c in g.groupby("n", sort=True)]
        by_delta = {}
        for d in deltas:
            m = mk_by.get((d, *key), pd.DataFrame(columns=mk.columns))
            shown = m[np.isfinite(m["t_enough"].astype(float))].sort_values("n")
            by_delta[delta_key(d)] = {"n": [int(n) for n in shown["n"]],
                                      "t": [_step(t + 1) for t in shown["t_enough"]],
                                      "acc": [_acc(a) for a in shown["accuracy"]],
                                      "color": [colours[int(n)] for n in shown["n"]],
                                      "summary": _summary(arm, method, ratio, budget, m, delta_key(d))}
        settings[_key(*key)] = {"lines": lines, "marks": by_delta}
    options = {
        "arm": [[a, ARMS[a].name] for a in ARMS if (cur["arm"] == a).any()],
        "method": [[m, METHOD_NAMES.get(m, m)] for m in (*fa.PIPELINES, *fa.CONTROLS) if (cur["method"] == m).any()],
        "ratio": [[f"{r:g}", f"{r:g}"] for r in sorted(cur["ratio"].unique())],
        "budget": [[str(int(b)), f"F = {int(b):,}"] for b in sorted(cur["budget"].unique())],
        "delta": [[delta_key(d), f"{100 * d:g} pp"] for d in deltas],
    }
    init = _initial(settings, options, initial)
    return {"version": 1, "split": split, "controls": options, "initial": init, "settings": settings,
            "axes": {"x": "pre-training steps at pruning, t + 1 (log scale)",
                     "y": f"held-out accuracy after fine-tuning ({split})"}}


def _initial(settings: dict, options: dict, initial: Mapping | None) -> dict:
    given = dict(initial or {})
    unknown = [k for k in given if k not in (*CONTROLS, "delta")]
    if unknown:
        raise validate.ParameterError(f"parameter 'initial' has unknown key(s) {unknown}: allowed "
                                      f"{[*CONTROLS, 'delta']}")
    want = {"arm": given.get("arm", options["arm"][0][0]), "method": given.get("method", "greedy")}
    if "ratio" in given:
        want["ratio"] = f"{float(given['ratio']):g}"
    if "budget" in given:
        want["budget"] = str(int(given["budget"]))
    keys = [k.split("|") for k in settings]

    def score(parts):  # match the given controls in order; then the smallest ratio and the longest budget
        match = tuple(int(want.get(c) == p) for c, p in zip(CONTROLS, parts))
        return (*match, -float(parts[2]), int(parts[3]))

    best = max(keys, key=score)
    init = dict(zip(CONTROLS, best))
    d = delta_key(given.get("delta", fa.DELTA))
    valid = [k for k, _ in options["delta"]]
    init["delta"] = validate.choice("initial['delta']", d, valid) if "delta" in given else (d if d in valid else valid[0])
    return init


def _script(ident: str) -> str:
    return explorer_page.script("explorer_finetune.js", ident)


def render_html(spec: Mapping, *, caption: str | None = None, name: str | None = None) -> str:
    """The view's HTML (controls, plot, a line on the current setting, the data, the script)."""
    data, ident = explorer_page.payload(spec, name, CSS_CLASS)
    esc = _html.escape
    init = spec["initial"]

    def buttons(control: str, label: str) -> str:
        return explorer_page.button_group(spec, control, label)

    options = "".join(f'<option value="{esc(k)}"{" selected" if k == init["delta"] else ""}>{esc(text)}</option>'
                      for k, text in spec["controls"]["delta"])
    first = spec["settings"]["|".join(init[c] for c in CONTROLS)]["marks"][init["delta"]]
    cap = f'<p class="te-caption">{esc(caption)}</p>' if caption else ""
    return (
        f'<div class="{explorer.CSS_CLASS} {CSS_CLASS}" id="{ident}" {explorer_page.PLOTLY_MARKER}="1" role="figure" '
        f'aria-label="Interactive plot of the fine-tuned held-out accuracy against the pre-training step at '
        f'pruning, one curve per training-set size, with t_enough marked">'
        f"<style>{explorer_page._asset('explorer.css').strip()}</style>"
        f'<div class="te-controls">{buttons("arm", "Arm")}{buttons("method", "Method")}'
        f'{buttons("ratio", "Kept fraction")}{buttons("budget", "Fine-tuning steps")}'
        f'<div class="te-group"><label class="te-label" for="{ident}-delta">δ</label>'
        f'<select class="te-select" id="{ident}-delta" data-control="delta">{options}</select></div></div>'
        + explorer_page.view_end(first["summary"], cap, data, _script(ident)))


@dataclass(frozen=True)
class FinetuneExplorer:
    """What :func:`show` returns; displays itself (``text/html`` and ``text/plain``)."""

    spec: dict
    html: str

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self), "text/html": self.html}

    def __repr__(self) -> str:
        init = self.spec["initial"]
        return (f"FinetuneExplorer({len(self.spec['settings'])} settings; initial: {init['arm']}, {init['method']}, "
                f"ratio {init['ratio']}, F = {init['budget']}, delta {init['delta']})")


def show(frames: Mapping, *, deltas=fa.DELTAS, split: str = "heldout", initial: Mapping | None = None,
         caption: str | None = None, name: str | None = None) -> FinetuneExplorer:
    """The view of chapter 4's frames (a dict arm -> frame, as ``finetune.run`` returns; other keys are
    ignored), ready to display. ``deltas``: the tolerances offered; ``initial``: the setting shown
    first ({'arm', 'method', 'ratio', 'budget', 'delta'}, any of them; the rest: the smallest kept
    fraction, the longest budget, the chapter's delta)."""
    spec = figure_spec(frames, deltas=deltas, split=split, initial=initial)
    return FinetuneExplorer(spec, render_html(spec, caption=caption, name=name))
