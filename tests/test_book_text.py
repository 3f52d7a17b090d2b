"""The book speaks of the science, not of its own history: no page refers to an earlier version of
itself, an old run or a previous sweep (a reader has never seen them)."""
import json
import re

import pytest

from companion import paths

HISTORY = re.compile(r"\b(earlier|previous|former|old|older) (version|run|runs|sweep|chapter|arm|preset)\b"
                     r"|\bthis chapter used to\b|\bthe book used to\b", re.I)


def _pages():
    for p in sorted(paths.BOOK_DIR.glob("*.ipynb")):
        cells = json.loads(p.read_text(encoding="utf-8"))["cells"]
        yield p.name, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for p in sorted(paths.BOOK_DIR.glob("*.md")):
        yield p.name, p.read_text(encoding="utf-8")


PAGES = list(_pages())


@pytest.mark.parametrize("name, text", PAGES, ids=[name for name, _ in PAGES])
def test_no_page_speaks_of_the_books_history(name, text):
    hits = [m.group(0) for m in HISTORY.finditer(text)]
    assert not hits, f"{name}: {hits}"


def test_the_pattern_catches_what_it_is_for():
    for bad in ("the earlier version of this chapter", "the previous version", "an old run",
                "this chapter used to"):
        assert HISTORY.search(bad), bad
    assert not HISTORY.search("the version of the paper on arXiv; a run of 4,000 steps")
