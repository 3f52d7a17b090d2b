"""Figures numbered per chapter (issue 25, point 5): "Fig. 3.2" is the second figure of chapter 3.

How the book gets there: the chapters sit in a `numbered: true` part of _toc.yml and _config.yml sets
`numfig_secnum_depth: 1`, so Sphinx prefixes each figure's number with its chapter's. The first two
tests check that set-up without a build (a depth-limited `numbered: 1` would silently give the figures
under an unnumbered heading the book-wide count again); the after_build test reads the built HTML:
every figure caption in chapter c's page reads "Fig. c.j", j = 1, 2, ... in page order, every figure
of the notebook is there, the chapter's title carries "c." once, and every cross-reference to a
figure shows that figure's number."""
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from companion import paths

ROOT = paths.REPO_ROOT
SITE = ROOT / "_build" / "html"
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _files(entries) -> list[str]:
    """The files of a list of toc entries and of their sections, in reading order."""
    out = []
    for entry in entries or []:
        if "file" in entry:
            out.append(entry["file"])
        out += _files(entry.get("sections"))
    return out


def numbered_chapters() -> dict[str, int]:
    """{toc file: chapter number} for every page under a numbered part (or a numbered single list of
    chapters), numbered as Sphinx does: continuously across parts when `use_multitoc_numbering` is
    on, from 1 in each part otherwise; a chapter's sections share its number."""
    if "parts" in TOC:
        groups = [(part.get("numbered", False), part.get("chapters", [])) for part in TOC["parts"]]
    else:
        groups = [((TOC.get("options") or {}).get("numbered", False), TOC.get("chapters", []))]
    continuous = (CONFIG.get("html") or {}).get("use_multitoc_numbering", True)
    numbers, last = {}, 0
    for numbered, chapters in groups:
        if not numbered:
            continue
        if not continuous:
            last = 0
        for chapter in chapters:
            last += 1
            for file in _files([chapter]):
                numbers[file] = last
    return numbers


def _figure_cells(notebook: Path) -> list[str]:
    """The names of the notebook's figures (code cells whose output MyST-NB wraps in a figure)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [c["metadata"]["mystnb"]["figure"].get("name", "")
            for c in cells if "figure" in c.get("metadata", {}).get("mystnb", {})]


def test_every_chapter_with_figures_is_numbered_at_every_heading_level():
    numbers = numbered_chapters()
    chapters = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.glob("book/[0-9][0-9]_*.ipynb"))
    assert chapters, "no chapter notebooks book/NN_*.ipynb"
    missing = [c for c in chapters if c not in numbers]
    assert not missing, f"_toc.yml: chapters outside a numbered part (their figures get no chapter number): {missing}"
    # the chapter number Sphinx gives is the one in the file name (book/03_... is chapter 3)
    for chapter in chapters:
        assert numbers[chapter] == int(Path(chapter).name[:2]), (chapter, numbers[chapter])
    parts = TOC.get("parts") or [TOC.get("options") or {}]
    for part in parts:
        # `numbered: 1` (or 2) leaves deeper headings unnumbered, and Sphinx then numbers the figures
        # under them book-wide ("Fig. 13"); only `true` numbers every level
        assert part.get("numbered", False) in (True, False), f"_toc.yml: numbered: {part['numbered']!r}; use true"


def test_sphinx_numbers_figures_by_chapter():
    sphinx = (CONFIG.get("sphinx") or {}).get("config") or {}
    assert sphinx.get("numfig", True) is True, "numfig must stay on"
    assert sphinx.get("numfig_secnum_depth", 1) == 1, "numfig_secnum_depth 1 gives 'Fig. <chapter>.<j>'"


FIGURE = re.compile(r'<figure\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</figure>', re.S)
CAPTION_NUMBER = re.compile(r'<span class="caption-number">Fig\. ([0-9.]+) </span>')
NUMREF = re.compile(r'<a class="reference internal" href="([^"]*)#([^"]+)"><span class="std std-numref">'
                    r'Fig\. ([0-9.]+)</span>')


def _page(file: str) -> Path:
    page = SITE / f"{file}.html"
    assert page.is_file(), f"not built: {page}"
    return page


def _built_site():
    # `make test` runs the after_build tests once the book is built; there a missing site fails
    if not (SITE / "book").is_dir():
        if os.environ.get("COMPANION_AFTER_BUILD"):
            pytest.fail(f"the book is not built: {SITE} has no book/")
        pytest.skip("the book is not built (make book)")


def numbering_problems(pages: dict[str, str], numbers: dict[str, int], references: dict[str, str] = None) -> list[str]:
    """What is wrong with the figure numbers of the built chapter pages ({toc file: html}, numbers as
    from numbered_chapters()), and with the figure references on the pages of `references`
    ({page name: html}, default: the chapter pages): one line per problem, [] when none."""
    problems, figure_numbers = [], {}   # figure id -> its number as its caption shows it
    by_chapter: dict[int, list[tuple[str, str]]] = {}
    for file, chapter in numbers.items():
        html = pages[file]
        title = re.search(r'<h1><span class="section-number">([^<]*)</span>([^<]*)', html)
        if not title or title.group(1) != f"{chapter}. ":
            problems.append(f"{file}: the title does not read '{chapter}. ...'")
        elif re.match(r"\s*\d+\.", title.group(2)):
            problems.append(f"{file}: the title repeats a number: {title.group(0)}")
        for fig_id, body in FIGURE.findall(html):
            if "<figcaption" not in body:
                continue
            shown = CAPTION_NUMBER.findall(body)
            if len(shown) != 1:
                problems.append(f"{file}: figure {fig_id} has no caption number")
                continue
            figure_numbers[fig_id] = shown[0]
            by_chapter.setdefault(chapter, []).append((fig_id, shown[0]))
    for chapter, shown in by_chapter.items():
        expected = [f"{chapter}.{j}" for j in range(1, len(shown) + 1)]
        if [n for _, n in shown] != expected:
            problems.append(f"chapter {chapter}: figures numbered {[n for _, n in shown]}, not {expected}")
    for name, html in (references if references is not None else pages).items():
        for _, fig_id, text in NUMREF.findall(html):
            if fig_id in figure_numbers and text != figure_numbers[fig_id]:
                problems.append(f"{name}: the reference to {fig_id} says Fig. {text}, its caption "
                                f"Fig. {figure_numbers[fig_id]}")
    return problems


def _chapter_page(chapter: int, numbers: list[str], reference: str = "") -> str:
    figures = "".join(f'<figure class="align-default" id="fig-{chapter}-{j}"><img src="x.png">'
                      f'<figcaption><p><span class="caption-number">Fig. {n} </span>'
                      f'<span class="caption-text">Caption.</span></p></figcaption></figure>'
                      for j, n in enumerate(numbers))
    return (f'<h1><span class="section-number">{chapter}. </span>A chapter<a class="headerlink" href="#a">#</a>'
            f'</h1>{figures}{reference}')


def test_numbering_check_tells_per_chapter_from_book_wide_numbers():
    numbers = {"book/01_a": 1, "book/02_b": 2}
    good = {"book/01_a": _chapter_page(1, ["1.1", "1.2"]),
            "book/02_b": _chapter_page(2, ["2.1"], '<a class="reference internal" href="#fig-2-0">'
                                                   '<span class="std std-numref">Fig. 2.1</span></a>')}
    assert numbering_problems(good, numbers) == []
    book_wide = dict(good, **{"book/02_b": _chapter_page(2, ["3"])})          # "Fig. 3", not "Fig. 2.1"
    assert numbering_problems(book_wide, numbers) == ["chapter 2: figures numbered ['3'], not ['2.1']"]
    unnumbered = dict(good, **{"book/02_b": good["book/02_b"].replace('<span class="caption-number">Fig. 2.1 </span>', "")})
    assert numbering_problems(unnumbered, numbers) == ["book/02_b: figure fig-2-0 has no caption number"]
    out_of_order = dict(good, **{"book/01_a": _chapter_page(1, ["1.2", "1.1"])})
    assert numbering_problems(out_of_order, numbers) == [
        "chapter 1: figures numbered ['1.2', '1.1'], not ['1.1', '1.2']"]
    other_chapter = dict(good, **{"book/02_b": _chapter_page(2, ["1.3"])})
    assert "chapter 2: figures numbered ['1.3'], not ['2.1']" in numbering_problems(other_chapter, numbers)
    no_number = dict(good, **{"book/01_a": good["book/01_a"].replace('<span class="section-number">1. </span>', "")})
    assert numbering_problems(no_number, numbers) == ["book/01_a: the title does not read '1. ...'"]
    twice = dict(good, **{"book/01_a": good["book/01_a"].replace("A chapter", "1. A chapter")})
    assert numbering_problems(twice, numbers)[0].startswith("book/01_a: the title repeats a number")
    stale = dict(good, **{"book/02_b": good["book/02_b"].replace("numref\">Fig. 2.1", "numref\">Fig. 5")})
    assert numbering_problems(stale, numbers) == [
        "book/02_b: the reference to fig-2-0 says Fig. 5, its caption Fig. 2.1"]


@pytest.mark.after_build
def test_built_figures_are_numbered_per_chapter_in_order():
    _built_site()
    numbers = numbered_chapters()
    pages = {file: _page(file).read_text(encoding="utf-8") for file in numbers}
    every_page = {p.relative_to(SITE).as_posix(): p.read_text(encoding="utf-8") for p in sorted(SITE.rglob("*.html"))}
    assert numbering_problems(pages, numbers, every_page) == []
    shown = {fig_id for html in pages.values() for fig_id, body in FIGURE.findall(html) if "<figcaption" in body}
    for file in numbers:    # every figure of a chapter's notebook is on its page, with a caption
        notebook = ROOT / f"{file}.ipynb"
        names = _figure_cells(notebook) if notebook.is_file() else []
        missing = [name for name in names if name and name not in shown]
        assert not missing, f"{file}: figures not on the page: {missing}"
    assert shown, "no numbered figure in any chapter"
