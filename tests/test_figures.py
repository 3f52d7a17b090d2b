"""Every figure of the chapters is captioned, numbered, described for screen readers and linked to the
data behind it; companion/figures.py writes that data deterministically and never over the book's
data from a run with other parameters.

The checks read the notebooks (their cell metadata and stored outputs) and book/_static/data/, so
they need no build; the last one also checks the built site's download links when _build/html exists.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from companion import display, chapters, figures, paths

BOOK = paths.BOOK_DIR
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
NAME = re.compile(r"fig-ch(\d)-[a-z0-9]+(?:-[a-z0-9]+)*")
LINK_CALL = re.compile(r'^figs\.link\((?P<expr>.+), "(?P<name>[^"]+)"\)\s*$', re.S)
NUMREF = re.compile(r"\{numref\}`(?:[^`<]*<)?([^`>]+)>?`")
# A decimal number in a CSV cell (not part of a word)
NUMBER = re.compile(r"(?<![\w.])-?(\d+)\.(\d+)(?:[eE][-+]?\d+)?(?![\w.])")


def _cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _figure_cells():
    """(chapter, index, cell) of every cell that draws a figure: one with an image output, or with
    myst-nb figure metadata."""
    for nb_path in CHAPTERS:
        cells = _cells(nb_path)
        for i, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            has_image = any(mime.startswith("image/") for out in cell.get("outputs", [])
                            for mime in out.get("data", {}))
            if has_image or "figure" in cell["metadata"].get("mystnb", {}):
                yield nb_path.stem, i, cell, cells


FIGURES = list(_figure_cells())


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", text))


def test_the_chapters_have_figures():
    assert len(FIGURES) >= 13, [f"{c}:{i}" for c, i, _, _ in FIGURES]


@pytest.mark.parametrize("chapter, index, cell, cells", FIGURES,
                         ids=[f"{c}-cell{i}" for c, i, _, _ in FIGURES])
def test_every_figure_has_a_caption_a_name_and_alt_text(chapter, index, cell, cells):
    meta = cell["metadata"].get("mystnb", {})
    fig, image = meta.get("figure", {}), meta.get("image", {})
    name, caption, alt = fig.get("name", ""), fig.get("caption", ""), image.get("alt", "")
    assert NAME.fullmatch(name), f"figure name {name!r}: fig-ch<chapter>-<words>"
    assert name.startswith(f"fig-ch{int(chapter[:2])}-"), f"{name} is not named after chapter {chapter}"
    assert _words(caption) >= 15, f"{name}: the caption must say what is plotted and what to look at"
    assert "look at" in caption.lower(), f"{name}: the caption should say what to look at"
    assert _words(alt) >= 15, f"{name}: the alt text must describe the figure in a sentence"
    assert not re.search(r"\.(png|svg|jpe?g)\b|_images/|[0-9a-f]{16}", alt), f"{name}: alt text is a path"
    assert "$" not in alt and "\\" not in alt, f"{name}: alt text is read aloud: no TeX"
    assert "hide-input" in cell["metadata"].get("tags", []), f"{name}: figure cells hide their code"


@pytest.mark.parametrize("chapter, index, cell, cells", FIGURES,
                         ids=[f"{c}-cell{i}" for c, i, _, _ in FIGURES])
def test_a_figure_cell_shows_exactly_one_image_and_nothing_else(chapter, index, cell, cells):
    # myst-nb wraps every display output of a cell with figure metadata in the figure (same label,
    # same caption): one figure per cell, and no table, glue or text next to it.
    outputs = cell.get("outputs", [])
    shown = [out for out in outputs if out.get("output_type") in ("display_data", "execute_result")]
    assert len(shown) == 1, f"{chapter} cell {index}: {len(shown)} display outputs"
    assert any(m.startswith("image/") for m in shown[0]["data"]), f"{chapter} cell {index}: not an image"
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert _source(cell).count("plt.show()") == 1


@pytest.mark.parametrize("chapter, index, cell, cells", FIGURES,
                         ids=[f"{c}-cell{i}" for c, i, _, _ in FIGURES])
def test_under_every_figure_a_line_links_its_data_and_names_the_command(chapter, index, cell, cells):
    name = cell["metadata"]["mystnb"]["figure"]["name"]
    nxt = cells[index + 1]
    m = LINK_CALL.match(_source(nxt))
    assert nxt["cell_type"] == "code" and m, f"{name}: the next cell must be figs.link(<frame>, {name!r})"
    assert m.group("name") == name
    assert "remove-input" in nxt["metadata"].get("tags", [])
    # myst (not CommonMark) renders the link, so that Sphinx copies the CSV into the site
    assert nxt["metadata"].get("mystnb", {}).get("markdown_format") == "myst"
    shown = ["".join(out["data"]["text/markdown"]) for out in nxt.get("outputs", [])
             if "text/markdown" in out.get("data", {})]
    command = figures.regenerate_command(chapter)
    assert shown == [f"Data: [{name}.csv](_static/data/{name}.csv) · regenerate: `{command}`"], shown
    assert command.split()[-3:-2] == [chapter] and "--preset paper" in command


def test_figure_names_are_unique_and_every_numref_names_a_figure():
    names = [cell["metadata"]["mystnb"]["figure"]["name"] for _, _, cell, _ in FIGURES]
    assert len(names) == len(set(names)), names
    refs = [ref for nb_path in CHAPTERS for cell in _cells(nb_path) if cell["cell_type"] == "markdown"
            for ref in NUMREF.findall(_source(cell))]
    assert refs, "the prose refers to no figure by number"
    assert set(refs) <= set(names), set(refs) - set(names)


@pytest.mark.parametrize("name", [cell["metadata"]["mystnb"]["figure"]["name"] for _, _, cell, _ in FIGURES])
def test_every_figure_data_file_exists_is_tidy_and_rounded(name):
    path = figures.DATA_DIR / f"{name}.csv"
    assert path.is_file(), f"{path} missing: run `{figures.regenerate_command('<chapter>')}`"
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    frame = pd.read_csv(path)
    assert len(frame) > 0 and len(frame.columns) >= 2
    assert all(not str(c).startswith("Unnamed") for c in frame.columns), "no index column"
    noisy = [m.group(0) for m in NUMBER.finditer(raw.decode())
             if len((m.group(1) + m.group(2)).lstrip("0").rstrip("0")) > display.SIGNIFICANT_DIGITS
             and "e" not in m.group(0).lower()]
    assert not noisy, f"{name}.csv carries more than {display.SIGNIFICANT_DIGITS} significant digits: {noisy[:5]}"


def _linked_tables() -> set[str]:
    """The names of the long tables whose CSV a chapter links (``figs.link(frame, "tab-ch<n>-...")`` in
    a cell of its own, under the collapsed table; issue 35)."""
    return {m.group("name") for nb_path in CHAPTERS for cell in _cells(nb_path) if cell["cell_type"] == "code"
            for m in [LINK_CALL.match(_source(cell))] if m and m.group("name").startswith("tab-ch")}


def test_no_orphan_data_files():
    names = {cell["metadata"]["mystnb"]["figure"]["name"] for _, _, cell, _ in FIGURES} | _linked_tables()
    files = {p.stem for p in figures.DATA_DIR.glob("*.csv")}
    assert files <= names, f"data files no figure or table links to: {sorted(files - names)}"
    assert not list(figures.DATA_DIR.glob("*.tmp"))


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_each_chapter_sets_the_one_book_style(nb_path):
    code = [_source(c) for c in _cells(nb_path) if c["cell_type"] == "code"]
    assert sum(src.count("figures.use_book_style()") for src in code) == 1
    assert not any("sns.set_theme" in src or "sns.set(" in src or "plt.style.use" in src for src in code)
    assert sum(f'figures.FigureData("{nb_path.stem}", params, options)' in src for src in code) == 1


# --------------------------------------------------------------------------------------------------
# companion/figures.py
# --------------------------------------------------------------------------------------------------


def test_csv_is_rounded_and_deterministic():
    frame = pd.DataFrame({"N": [1, 2, 3], "x": [0.1 + 0.2, 1354.8003676676308, np.nan],
                          "name": ["a", "b", "c"]})
    noisy = frame.assign(x=frame["x"] * (1 + 1e-13))
    raw = figures.csv_bytes(frame)
    assert raw == figures.csv_bytes(noisy)
    assert raw == b"N,x,name\n1,0.3,a\n2,1354.8,b\n3,,c\n"


def test_book_configuration_writes_the_book_data_and_a_relative_link(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "DATA_DIR", tmp_path / "data")
    params, options = chapters.check("01_theorem")
    figs = figures.FigureData("01_theorem", params, options)
    assert figs.book_config and figs.folder == tmp_path / "data"
    md = figs.link(pd.DataFrame({"N": [1], "y": [2.0]}), "fig-ch1-test")
    assert (tmp_path / "data" / "fig-ch1-test.csv").read_bytes() == b"N,y\n1,2.0\n"
    assert md.data == ("Data: [fig-ch1-test.csv](_static/data/fig-ch1-test.csv) · regenerate: "
                       "`python -m companion run 01_theorem --preset paper`")
    mtime = (tmp_path / "data" / "fig-ch1-test.csv").stat().st_mtime_ns
    figs.write(pd.DataFrame({"N": [1], "y": [2.0]}), "fig-ch1-test")  # same bytes: not rewritten
    assert (tmp_path / "data" / "fig-ch1-test.csv").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError):
        figs.write(pd.DataFrame({"a": [1]}), "../escape")


def test_other_parameters_never_write_the_book_data(tmp_path, monkeypatch):
    from companion import presets

    monkeypatch.setattr(figures, "DATA_DIR", tmp_path / "book-data")
    monkeypatch.delenv(figures.ENV_DIR, raising=False)
    quick = presets.load("01_theorem", "quick")
    params, options = chapters.check("01_theorem", {**quick, "cache_dir": str(tmp_path / "cache")})
    figs = figures.FigureData("01_theorem", params, options)
    assert not figs.book_config
    md = figs.link(pd.DataFrame({"N": [1], "y": [2.0]}), "fig-ch1-test")
    assert "not written" in md.data and figures.ENV_DIR in md.data
    # nothing written: not the book's data, not the result cache (whose folders hold results only)
    assert not (tmp_path / "book-data").exists() and not (tmp_path / "cache").exists()
    monkeypatch.setenv(figures.ENV_DIR, str(tmp_path / "mine"))
    figs = figures.FigureData("01_theorem", params, options)
    md = figs.link(pd.DataFrame({"N": [1], "y": [2.0]}), "fig-ch1-test")
    assert (tmp_path / "mine" / "01_theorem" / "fig-ch1-test.csv").read_bytes() == b"N,y\n1,2.0\n"
    assert "this run's parameters are not the book's" in md.data
    assert not (tmp_path / "book-data").exists()


def test_book_style_is_column_wide_legible_and_colour_blind_safe():
    import matplotlib as mpl
    import seaborn as sns

    with mpl.rc_context():
        figures.use_book_style()
        assert tuple(mpl.rcParams["figure.figsize"]) == (figures.WIDTH, figures.HEIGHT) and figures.WIDTH == 6.5
        assert mpl.rcParams["font.size"] >= 9 and mpl.rcParams["legend.fontsize"] >= 7
        cycle = [c["color"] for c in mpl.rcParams["axes.prop_cycle"]]
        assert [mpl.colors.to_hex(c) for c in cycle] == sns.color_palette("colorblind").as_hex()


# --------------------------------------------------------------------------------------------------
# The built site (only when it has been built: `make book`)
# --------------------------------------------------------------------------------------------------

SITE = paths.REPO_ROOT / "_build" / "html"


@pytest.mark.after_build
def test_built_site_links_every_figure_to_its_data():
    # `make test` runs the after_build tests once the book is built; there a missing site fails
    if not (SITE / "book").is_dir():
        if os.environ.get("COMPANION_AFTER_BUILD"):
            pytest.fail(f"the book is not built: {SITE} has no book/")
        pytest.skip("the book is not built (make book)")
    names = {cell["metadata"]["mystnb"]["figure"]["name"]: chapter for chapter, _, cell, _ in FIGURES}
    for name, chapter in names.items():
        page = SITE / "book" / f"{chapter}.html"
        html = page.read_text(encoding="utf-8")
        assert f'id="{name}"' in html, f"{page.name}: no figure {name}"
        hrefs = re.findall(r'<a class="[^"]*download[^"]*"[^>]*href="([^"]+/' + re.escape(name) + r'\.csv)"', html)
        assert hrefs, f"{page.name}: no download link to {name}.csv"
        for href in hrefs:
            target = (page.parent / unquote(href)).resolve()
            assert target.is_file(), f"{page.name}: {href} does not resolve"
            assert target.read_bytes() == (figures.DATA_DIR / f"{name}.csv").read_bytes()
