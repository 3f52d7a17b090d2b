"""Every glue name the book's pages read appears literally in the package, so that ``grep NAME``
finds the code that builds it (issue 32): no name is assembled by an f-string."""
from __future__ import annotations

import re

import pytest

from companion import display, paths

PACKAGE = paths.REPO_ROOT / "companion"
CHAPTERS = sorted(p.stem for p in paths.BOOK_DIR.glob("*.ipynb"))


def _package_source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py")))


def not_literal(chapter: str, source: str | None = None) -> list[str]:
    """The names the book reads from ``chapter`` that appear nowhere in the package as a quoted literal."""
    source = _package_source() if source is None else source
    quoted = set(re.findall(r"""["']([A-Za-z0-9_]+)["']""", source))
    return sorted(name for name in display.shown_names(chapter) if name not in quoted)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_glue_name_a_page_reads_is_a_literal_in_the_package(chapter):
    missing = not_literal(chapter)
    assert not missing, f"{len(missing)} glue names of {chapter} built by f-strings: {missing[:20]}"


def test_the_check_finds_an_assembled_name():
    source = 'out[f"ch9_{arm}_verdict"] = 1\nout["ch9_mlp_count"] = 2\n'
    quoted = set(re.findall(r"""["']([A-Za-z0-9_]+)["']""", source))
    assert "ch9_mlp_count" in quoted and "ch9_mlp_verdict" not in quoted
