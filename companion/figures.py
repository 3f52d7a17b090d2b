"""One figure style for the book, and the tidy data behind every figure, one CSV per figure.

Every figure of a chapter is drawn in its own hide-input cell whose metadata gives it a caption, a
name (its label, for ``{numref}``) and alt text (myst-nb's ``mystnb.figure`` and ``mystnb.image``
keys). The cell after it (tagged ``remove-input``) shows one line under the figure, made by
:meth:`FigureData.link`: a link to the CSV of the tidy frame the figure was drawn from, and the
command that regenerates it.

Where the CSVs live: ``book/_static/data/<figure name>.csv``, committed with the book. They are
written whenever a chapter runs with the book's own configuration (its ``paper`` preset, the
notebook defaults: the book build, nbval, the regenerate command), always with the same bytes for
the same results: floats are rounded to ``display.SIGNIFICANT_DIGITS`` significant digits, so the
last bits of floating point never show. The link is an ordinary relative Markdown link, which
Sphinx turns into a download: the build copies the file into ``_build/html/_downloads/``. Because
the files are committed, a build that takes a notebook from the execution cache (and so does not
run it) still finds them. A run with other parameters (a quick preset, a test) never writes over
the book's data: it writes its CSVs only when the environment variable ``COMPANION_FIGURE_DATA_DIR``
names a folder (``<that folder>/<chapter>/<figure name>.csv``), and otherwise says so under the figure.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown
from matplotlib.ticker import NullLocator

from . import chapters, display, paths
from .regime_map import FAMILIES, SPLIT_PARTS

#: The folder of the book's figure data, relative to the chapters (book/).
DATA_SUBDIR = Path("_static") / "data"
DATA_DIR = paths.BOOK_DIR / DATA_SUBDIR

#: Where a run with parameters other than the book's writes its figure data (unset: nowhere).
ENV_DIR = "COMPANION_FIGURE_DATA_DIR"

#: Width of the book's text column (inches): every figure is drawn this wide, so that it is shown at
#: its natural size and its fonts at their stated sizes.
WIDTH = 6.5
HEIGHT = 4.0
#: The colour-blind-safe qualitative palette (seaborn's "colorblind", after Okabe & Ito); sequential
#: data use viridis (perceptually uniform, readable in grey scale and with colour-vision deficiency).
PALETTE = "colorblind"
SEQUENTIAL = "viridis"

_RC = {
    "figure.figsize": (WIDTH, HEIGHT),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
    "lines.linewidth": 1.6,
    "lines.markersize": 5,
}


def use_book_style() -> None:
    """Set the book's one figure style: seaborn's white grid, the colour-blind-safe palette, figures
    the width of the text column with legible font sizes. Called once in each chapter's setup cell."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, rc=_RC)
    mpl.rcParams.update(_RC)


def rounded(frame: pd.DataFrame, digits: int = display.SIGNIFICANT_DIGITS) -> pd.DataFrame:
    """A copy of ``frame`` with every float rounded to ``digits`` significant digits (integers, text
    and NaN unchanged), a plain RangeIndex and plain column names."""
    out = frame.reset_index(drop=not _has_named_index(frame)).copy()
    out.columns = [str(c) for c in out.columns]
    for col in out.columns:
        if out[col].dtype.kind == "f":
            out[col] = [display.significant(v, digits) if math.isfinite(v) else v
                        for v in out[col].to_numpy(dtype=float)]
    return out


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV of ``frame`` as written for a figure: rounded, ``\\n`` line endings, UTF-8."""
    return rounded(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


def regenerate_command(chapter: str) -> str:
    """The command that re-runs ``chapter`` with the book's configuration, rewriting its figure data."""
    return f"python -m companion run {chapter} --preset paper"


class FigureData:
    """Writes the tidy data of a chapter's figures and makes the line shown under each figure.

    ``params``/``options``: what ``chapters.check_notebook`` returned. With the book's own
    parameters (the chapter's paper preset) the CSVs go to ``book/_static/data/``; otherwise to
    ``$COMPANION_FIGURE_DATA_DIR/<chapter>/`` when that variable is set, else nowhere, so that a quick
    or custom run never changes the book's data (nor the result caches, whose folders hold results only).
    """

    def __init__(self, chapter: str, params, options=None):
        self.chapter = chapter
        self.book_config = params == chapters.check(chapter)[0]
        if self.book_config:
            self.folder = DATA_DIR
        elif os.environ.get(ENV_DIR):
            self.folder = Path(os.environ[ENV_DIR]).expanduser().resolve() / chapter
        else:
            self.folder = None

    def path(self, name: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{name}.csv"

    def write(self, frame: pd.DataFrame, name: str) -> Path | None:
        """Write ``frame`` (rounded) as ``<name>.csv``; rewritten only when its bytes change. Returns
        the file, or None when this run writes no figure data (see the class)."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"bad figure name {name!r}")
        path = self.path(name)
        if path is None:
            return None
        raw = csv_bytes(frame)
        if not (path.is_file() and path.read_bytes() == raw):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".csv.tmp")
            tmp.write_bytes(raw)
            tmp.replace(path)
        return path

    def line(self, name: str) -> str:
        """The Markdown line under figure ``name``."""
        command = regenerate_command(self.chapter)
        if self.book_config:
            href = (DATA_SUBDIR / f"{name}.csv").as_posix()
            return f"Data: [{name}.csv]({href}) · regenerate: `{command}`"
        if self.folder is None:
            return (f"Data: not written (this run's parameters are not the book's; set {ENV_DIR} to "
                    f"keep them; the book's data: `{command}`)")
        return f"Data: `{self.path(name)}` (this run's parameters are not the book's)"

    def link(self, frame: pd.DataFrame, name: str):
        """Write the figure's data and return the line to show under it (an IPython Markdown object)."""
        self.write(frame, name)
        return Markdown(self.line(name))


def log_ticks(ax, values, axis: str = "x", fmt: str = "{:,g}", rotation: float = 0) -> None:
    """A log axis labelled at ``values`` themselves (e.g. the measured sizes N), written plainly
    ("1,000", not "10^3") and without minor labels that would run into each other."""
    values = sorted(set(float(v) for v in values))
    (ax.set_xticks if axis == "x" else ax.set_yticks)(values, [fmt.format(v) for v in values],
                                                      rotation=rotation)
    (ax.xaxis if axis == "x" else ax.yaxis).set_minor_locator(NullLocator())


def tidy_columns(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """``frame[columns]`` keeping only the columns it has (in that order)."""
    return frame[[c for c in columns if c in frame.columns]]


__all__ = ["DATA_DIR", "DATA_SUBDIR", "ENV_DIR", "FigureData", "PALETTE", "SEQUENTIAL", "WIDTH", "csv_bytes",
           "log_ticks",
           "regenerate_command", "rounded", "tidy_columns", "use_book_style"]


def regime_map(ratios: pd.DataFrame, table: pd.DataFrame, band: pd.DataFrame, band_label: str):
    """The regime map (:mod:`companion.regime_map`), one panel per family of settings, legends inside:
    (a) the theorem's setting and (b) MNIST as trained, T*(N)/T*(N_min) against N/N_min on log-log axes
    with the theorem's pure logarithm as a grey band; (c) fine-tuning, absolute t_enough against N (not
    normalised: its value at the smallest N is at noise level); (d) the growth ln(T*(N_max)/T*(N_min))
    of the theorem's setting, stacked into its shares of 1/eta, 1/lambda_0, the logarithm and the rest
    (negative shares to the left of 0), a black tick at each total. Line style: the row's one class."""
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 7.6))
    (ax_a, ax_b), (ax_c, ax_d) = axes
    styles = {"faster": "-", "within_log": "-", "levels": "--", "no_growth": ":", "untested": ":"}
    klass = dict(zip(table["setting"], table["klass"])) if "klass" in table else {}
    prefixes = ("MNIST (theorem's setting), ", "MNIST ", "fine-tuning protocol ")
    for ax, chapter, letter in ((ax_a, 2, "a"), (ax_b, 3, "b")):
        rows = table[table["chapter"] == chapter]
        colors = dict(zip(rows["setting"], sns.color_palette(PALETTE, max(len(rows), 1))))
        ax.fill_between(band["n_over_nmin"], band["lower"], band["upper"], color="0.75", lw=0,
                        label="pure logarithm")
        top = 1.0
        for key in rows["setting"]:
            g = ratios[(ratios["setting"] == key)].dropna(subset=["ratio"])
            if g.empty:
                continue
            label = g["label"].iloc[0]
            for pre in prefixes:
                label = label.replace(pre, "MNIST, " if pre == "MNIST (theorem's setting), " else "")
            ax.plot(g["n_over_nmin"], g["ratio"], styles.get(klass.get(key), "-"), marker="o", ms=2.5, lw=1.1,
                    color=colors[key], label=label)
            top = max(top, float(g["n_over_nmin"].max()))
        ax.set(xscale="log", yscale="log", xlabel="N / N_min", ylabel="T*(N) / T*(N_min)",
               xlim=(0.9, top * 1.1))
        ax.set_title(f"({letter}) {FAMILIES[chapter]}", fontsize=9)
        ax.legend(fontsize=5.5, loc="upper left", frameon=False, handlelength=2.2)
    # (c) fine-tuning: absolute t_enough, no ratio
    rows = table[table["chapter"] == 4]
    for key in rows["setting"]:
        g = ratios[ratios["setting"] == key].dropna(subset=["t_star_mean"])
        ax_c.plot(g["n"], g["t_star_mean"], styles.get(klass.get(key), ":"), marker="o", ms=3, color="0.2",
                  label="deep MLP, t_enough (seed mean)")
    ax_c.set(xscale="log", xlabel="N (images)", ylabel="t_enough (SGD steps)")
    ax_c.set_title(f"(c) {FAMILIES[4]} (absolute, not normalised)", fontsize=9)
    if len(rows):
        ax_c.legend(fontsize=6, loc="best", frameon=False)
    # (d) where the growth of the theorem's setting comes from
    parts = list(SPLIT_PARTS)
    part_colors = dict(zip(parts, sns.color_palette("pastel", len(parts))))
    hatches = dict(zip(parts, ("", "//", "..", "xx")))
    split = table[table["chapter"] == 2]
    y = np.arange(len(split))[::-1]
    shown = set()
    for yi, r in zip(y, split.itertuples()):
        values = [getattr(r, p) for p in parts]
        if all(math.isfinite(v) for v in values):
            pos = neg = 0.0
            for p, v in zip(parts, values):
                start = pos if v >= 0 else neg + v
                ax_d.barh(yi, abs(v), left=start, color=part_colors[p], hatch=hatches[p], edgecolor="0.3",
                          lw=0.4, height=0.7, label=SPLIT_PARTS[p] if p not in shown else None)
                shown.add(p)
                pos, neg = (pos + v, neg) if v >= 0 else (pos, neg + v)
        if math.isfinite(r.growth_total):
            ax_d.plot([r.growth_total] * 2, [yi - 0.4, yi + 0.4], color="k", lw=1.2)
    ax_d.axvline(0, color="k", lw=0.6)
    names = [str(l).replace("MNIST (theorem's setting), ", "MNIST, ") for l in split["label"]]
    ax_d.set_yticks(y, names, fontsize=6)
    ax_d.set_xlabel("ln T*(N_max) / T*(N_min)")
    ax_d.set_title("(d) theorem's setting: where the growth comes from", fontsize=9)
    ax_d.legend(fontsize=6, loc="upper right", frameon=False)
    fig.tight_layout()
    return fig
