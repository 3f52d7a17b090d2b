"""Glue what the book shows (issue 23): each chapter glues exactly the names that the book's pages
read from it (its own markdown cells, and ``chapter.ipynb::name`` on any other page), every name read
is glued by exactly one notebook, and a name the text reads but the summary lacks is a clear error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion import display, paths

BOOK = paths.BOOK_DIR
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def stored_glue(nb_path: Path) -> dict[str, str]:
    """Name -> text/plain of every glue stored in a notebook's outputs."""
    values = {}
    for cell in json.loads(nb_path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                values[name] = next(v for k, v in out["data"].items() if k.endswith("text/plain"))
    return values


def as_glued(numbers: dict) -> dict[str, str]:
    """Name -> the text/plain that :func:`companion.display.glue` would store for each of a summary's
    ``numbers`` (rounded as glued, formatted by IPython's plain-text formatter as in the kernel)."""
    from IPython.core.formatters import PlainTextFormatter

    fmt = PlainTextFormatter()
    return {name: fmt(display._rounded(value)) for name, value in numbers.items()}


# --------------------------------------------------------------------------------------------------
# The book as stored


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_glues_exactly_the_names_the_book_reads_from_it(nb_path):
    glued, shown = set(stored_glue(nb_path)), set(display.shown_names(nb_path.stem))
    assert shown, f"no page reads a glued name from {nb_path.name}?"
    assert glued == shown, (f"{nb_path.name}: glued but read by no page: {sorted(glued - shown)}; "
                            f"read but not glued: {sorted(shown - glued)} (re-execute the notebook)")


def test_every_name_the_book_reads_is_glued_by_exactly_one_notebook():
    refs = [ref for page in display.book_pages() for ref in display.glue_references(page)]
    assert len(refs) > 100
    notebooks = {p.resolve(): stored_glue(p) for p in BOOK.glob("*.ipynb")}
    problems = []
    for ref in refs:
        where = f"{ref.page.name}: {ref.name}"
        if ref.notebook.resolve() not in notebooks:
            problems.append(f"{where} reads {ref.notebook} (not a notebook of the book: an .md page must "
                            f"name it, {{glue:text}}`01_theorem.ipynb::{ref.name}:s`)")
            continue
        holders = [p.name for p, glued in notebooks.items() if ref.name in glued]
        if holders != [ref.notebook.name]:
            problems.append(f"{where} from {ref.notebook.name} is glued by {holders}")
    assert not problems, problems[:20]


# --------------------------------------------------------------------------------------------------
# The parser and glue_shown on a small book


def _notebook(path: Path, markdown: list[str]) -> None:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [text]} for text in markdown]
    cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                  "source": ["{glue:text}`in_code:s` is code, not prose"]})
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


@pytest.fixture
def book(tmp_path):
    root = tmp_path / "book"
    (root / "sub").mkdir(parents=True)
    (root / "results" / "x").mkdir(parents=True)
    _notebook(root / "01_a.ipynb", [
        "Role {glue:text}`a_text:.2f`, bare {glue}`a_any`, {glue:}`a_colon`, {glue:any}`a_anyrole`,"
        " {glue:md}`a_md:myst` and {glue:text}`a_plain`.",
        "```{glue:figure} a_fig\n:name: fig-a\n:alt: a figure\n\nCaption.\n```\n"
        ":::{glue:math} a_math\n:label: eq-a\n:::\n",
        "From the other chapter: {glue:text}`02_b.ipynb::b_from_a:,d` and again {glue:text}`a_text:.3f`."])
    _notebook(root / "02_b.ipynb", [
        "{glue:text}`b_own:s`; {glue:text}`./01_a.ipynb::a_from_b:.1%` and {glue}`01_a.ipynb::a_any_b`;\n"
        "```{glue} a_directive_b\n:doc: 01_a.ipynb\n```\n"])
    (root / "intro.md").write_text("{glue:text}`01_a.ipynb::a_intro:s`, {glue:text}`/book/02_b.ipynb::b_rooted:s`"
                                   " and {glue:text}`no_notebook:s`.\n")
    (root / "sub" / "page.md").write_text("{glue:text}`../01_a.ipynb::a_sub:s`\n")
    (root / "results" / "x" / "notes.md").write_text("{glue:text}`01_a.ipynb::a_results:s`\n")
    return root


def test_references_are_split_as_myst_nb_splits_them(book):
    refs = {(r.page.name, r.name): r.notebook.name for page in display.book_pages(book)
            for r in display.glue_references(page, book_root=book.parent)}
    assert refs == {
        **{("01_a.ipynb", n): "01_a.ipynb" for n in ("a_text", "a_any", "a_colon", "a_anyrole", "a_md",
                                                       "a_plain", "a_fig", "a_math")},
        ("01_a.ipynb", "b_from_a"): "02_b.ipynb",
        ("02_b.ipynb", "b_own"): "02_b.ipynb",
        **{("02_b.ipynb", n): "01_a.ipynb" for n in ("a_from_b", "a_any_b", "a_directive_b")},
        ("intro.md", "a_intro"): "01_a.ipynb", ("intro.md", "b_rooted"): "02_b.ipynb",
        ("intro.md", "no_notebook"): "intro.md",  # myst-nb reads a bare key from the page's own glue
        ("page.md", "a_sub"): "01_a.ipynb",
    }  # code cells and the results folder hold no page


def test_shown_names_collects_every_page_that_reads_a_chapter(book):
    shown = display.shown_names("01_a", book)
    assert set(shown) == {"a_text", "a_any", "a_colon", "a_anyrole", "a_md", "a_plain", "a_fig", "a_math",
                          "a_from_b", "a_any_b", "a_directive_b", "a_intro", "a_sub"}
    assert shown["a_text"] == ["01_a.ipynb"] and shown["a_intro"] == ["intro.md"]
    assert set(display.shown_names("02_b", book)) == {"b_from_a", "b_own", "b_rooted"}
    with pytest.raises(ValueError, match=r"chapter must be one of the book's notebooks \['01_a', '02_b'\], got '03_c'"):
        display.shown_names("03_c", book)


def test_glue_shown_glues_only_what_is_read_and_names_what_is_missing(book, monkeypatch):
    glued = []
    monkeypatch.setattr(display, "glue", lambda name, value, display=False: glued.append((name, value)))
    numbers = {"b_own": "x", "unread": 1.5, "b_rooted": 2, "b_from_a": 3}
    display.glue_shown(numbers, "02_b", book)
    assert glued == [("b_own", "x"), ("b_rooted", 2), ("b_from_a", 3)]  # the summary's order
    glued.clear()
    with pytest.raises(display.GlueReferenceError) as err:
        display.glue_shown({"b_own": "x", "unread": 1.5}, "02_b", book)
    assert str(err.value) == ("the book's text reads 2 name(s) that the summary of 02_b does not define: "
                              "b_from_a (read by 01_a.ipynb); b_rooted (read by intro.md)")
    assert glued == []  # nothing glued before the check


def test_as_glued_is_what_the_kernel_stored():
    """The helper other tests use to read a summary as glued text matches the stored glue."""
    from companion import chapters, presets
    from companion.chapters import theorem

    params, options = chapters.check("01_theorem", {**presets.load("01_theorem", "paper"), "progress": False})
    numbers = theorem.summarize(theorem.run(params, options), params).numbers
    stored = stored_glue(BOOK / "01_theorem.ipynb")
    assert stored and {name: as_glued(numbers)[name] for name in stored} == stored
