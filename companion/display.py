"""What the notebooks show: numbers at a stated precision, so no stored output carries noise digits.

A chapter's stored outputs are compared with a fresh run on the reader's machine (nbval). The last
bits of a least-squares fit or a mean differ between CPUs and BLAS builds, so a number is glued, and a
table is shown, rounded to ``SIGNIFICANT_DIGITS`` significant digits: more than the prose ever shows
(tests/test_stored_outputs.py checks both), far fewer than floating-point noise reaches.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML
from myst_nb import glue as _glue

from . import paths

@dataclass
class Summary:
    """What a chapter shows: ``numbers`` (glued into the prose) and the tables its figures draw."""

    numbers: dict
    tables: dict


#: Significant digits kept in every glued float and every displayed table cell.
SIGNIFICANT_DIGITS = 6


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (NaN and infinities unchanged)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits - 1}e}")


def _rounded(value):
    if isinstance(value, (bool, np.bool_)) or isinstance(value, numbers.Integral):
        return value
    if isinstance(value, numbers.Real):
        return significant(value)
    return value


def glue(name: str, value, display: bool = False):
    """myst-nb's ``glue`` with floats rounded to ``SIGNIFICANT_DIGITS`` significant digits."""
    return _glue(name, _rounded(value), display=display)


def table(frame: pd.DataFrame, digits: int = 3, floor: float | None = None) -> pd.DataFrame:
    """A copy of ``frame`` for display: every float cell written with ``digits`` significant digits
    (general format: 0.0312, 1.35e+03), NaN shown as an empty cell; other cells unchanged.

    ``floor``: a magnitude below which a number is floating-point zero for this table (a loss driven to
    1e-31 is rounding noise, different on every CPU); such cells are shown as "< floor"."""
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            if not math.isfinite(v):
                return ""
            if floor is not None and abs(v) < floor:
                return f"< {floor:.0e}"
            return f"{v:.{digits}g}"
        return v
    return frame.map(fmt)


# --------------------------------------------------------------------------------------------------
# Glue what the book shows: a chapter glues exactly the names that the book's pages read from it.
# myst-nb 1.x looks a key up in the page's own notebook; ``path.ipynb::key`` (relative to the page,
# or to the book's root when it starts with /) reads another notebook's glue.
# --------------------------------------------------------------------------------------------------

#: A glue role: {glue}`key`, {glue:}`key`, {glue:any}`key` and {glue:text}`key:format` may name another
#: notebook (``path.ipynb::key``); {glue:md}`key:format` reads the page's own notebook only.
GLUE_ROLE = re.compile(r"\{(glue(?::[a-z]*)?)\}`([^`]+)`")
#: A glue directive (```{glue:figure} key, :::{glue} key, ...) with its ``:option: value`` lines;
#: the option ``:doc: path.ipynb`` reads another notebook.
GLUE_DIRECTIVE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{glue(?::[a-z]*)?\}[ \t]+(\S+)[^\n]*((?:\n[ \t]*:[\w-]+:[^\n]*)*)",
                            re.M)
#: Folders of the book that hold no page.
NOT_PAGES = ("results", "params")


class GlueReferenceError(ValueError):
    """The book's text reads a glued name that the chapter's summary does not define."""


@dataclass(frozen=True)
class GlueReference:
    """One glue role or directive of the book: the ``page`` it is written on, the ``notebook`` whose
    glue it reads (the page itself when it names none) and the glued ``name``."""

    page: Path
    notebook: Path
    name: str


def book_pages(book_dir: Path | None = None) -> list[Path]:
    """The book's pages: every .md file and notebook under ``book_dir`` (default: the book), outside
    the results, the presets and hidden or ``_`` folders."""
    root = Path(book_dir or paths.BOOK_DIR)
    pages = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith((".", "_"))
                               and not (Path(folder) == root and d in NOT_PAGES))
        pages += [Path(folder) / f for f in sorted(files) if f.endswith((".md", ".ipynb"))]
    return pages


def page_text(page: Path) -> str:
    """The prose of a page: a .md file's text, or a notebook's markdown cells."""
    if page.suffix == ".ipynb":
        cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return page.read_text(encoding="utf-8")


def _notebook(page: Path, doc: str | None, book_root: Path) -> Path:
    if doc is None:
        return page
    doc = doc.strip()
    return Path(os.path.normpath(book_root / doc.lstrip("/") if doc.startswith("/") else page.parent / doc))


def glue_references(page: Path, text: str | None = None, book_root: Path | None = None) -> list[GlueReference]:
    """Every glue role and directive on ``page`` (``text``: its prose, read from the page if None), split
    as myst-nb splits them: a text or markdown role's format after its last colon, a notebook path
    before ``::``. ``book_root``: what a path starting with / is relative to (default: the folder of
    ``_config.yml``, the repository root)."""
    page = Path(page)
    root = Path(book_root or paths.REPO_ROOT)
    text = page_text(page) if text is None else text
    refs = []
    for role, content in GLUE_ROLE.findall(text):
        key = content.rsplit(":", 1)[0] if role in ("glue:text", "glue:md") else content
        doc, name = key.split("::", 1) if "::" in key and role != "glue:md" else (None, key)
        refs.append(GlueReference(page, _notebook(page, doc, root), name))
    for name, options in GLUE_DIRECTIVE.findall(text):
        doc = re.search(r"^[ \t]*:doc:[ \t]*(\S+)", options, re.M)
        refs.append(GlueReference(page, _notebook(page, doc and doc.group(1), root), name))
    return refs


def shown_names(chapter: str, book_dir: Path | None = None) -> dict[str, list[str]]:
    """The names the book's pages read from the glue of notebook ``chapter`` (its file name without
    .ipynb), each with the pages that read it, in the order of the book's pages."""
    root = Path(book_dir or paths.BOOK_DIR)
    notebooks = sorted(p.stem for p in root.glob("*.ipynb"))
    if chapter not in notebooks:
        raise ValueError(f"chapter must be one of the book's notebooks {notebooks}, got {chapter!r}")
    target = Path(os.path.normpath(root / f"{chapter}.ipynb"))
    names: dict[str, list[str]] = {}
    for page in book_pages(root):
        for ref in glue_references(page, book_root=root.parent):
            if ref.notebook == target:
                where = names.setdefault(ref.name, [])
                if page.name not in where:
                    where.append(page.name)
    return names


def glue_shown(numbers: dict, chapter: str, book_dir: Path | None = None) -> None:
    """Glue the entries of a chapter summary's ``numbers`` that the book's pages read from notebook
    ``chapter`` (:func:`shown_names`), and no other (floats rounded, see :func:`glue`). A name the
    text reads that ``numbers`` does not define is an error that names it and its pages."""
    shown = shown_names(chapter, book_dir)
    missing = {name: pages for name, pages in shown.items() if name not in numbers}
    if missing:
        listed = "; ".join(f"{name} (read by {', '.join(pages)})" for name, pages in sorted(missing.items()))
        raise GlueReferenceError(f"the book's text reads {len(missing)} name(s) that the summary of "
                                 f"{chapter} does not define: {listed}")
    for name, value in numbers.items():
        if name in shown:
            glue(name, value)


def reader_table(frame: pd.DataFrame, columns: dict, *, digits: dict | int = 3, empty: str = "—"):
    """A table for readers: only ``columns`` (old name -> heading with its unit), in that order, no
    index, numbers at ``digits`` significant digits (one count for all, or per column; a format string
    such as ``"{:.0%}"`` or ``"{:,.0f}"`` also works), missing values shown as ``empty`` (the prose says
    why a cell is empty), inside a wrapper that scrolls sideways instead of overflowing the column.
    Returns an IPython HTML object (deterministic markup: no random ids)."""
    def fmt_for(col):
        spec = digits.get(col, 3) if isinstance(digits, dict) else digits
        def fmt(v):
            if v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v)):
                return empty
            if isinstance(v, (bool, np.bool_)):
                return "yes" if v else "no"
            if isinstance(spec, str):
                return spec.format(v)
            if isinstance(v, (float, np.floating)):
                # no exponent for a count of steps: 2,048 rather than 2.05e+03
                return f"{significant(v, spec):,.{spec}g}" if abs(v) < 10 ** spec else f"{significant(v, spec):,.0f}"
            if isinstance(v, (int, np.integer)):
                return f"{int(v):,}"
            return str(v)
        return fmt

    shown = pd.DataFrame({label: frame[col].map(fmt_for(col)) for col, label in columns.items()})
    html = shown.to_html(index=False, escape=True, border=0, classes=["reader-table"], na_rep=empty)
    return HTML(f'<div class="reader-table-wrapper" style="overflow-x: auto; max-width: 100%">{html}</div>')
