"""The README states no finding that a number could contradict: the numbers live in the book, glued
from the frames, and change with the settings (the README's paragraph once said "under one epoch"
where the book computed 1.14 epochs)."""
import re

from companion import paths


def _paragraph() -> str:
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("**What the book asks, and where the answers are.**")
    return text[start:text.index("\n\n", start)]


def test_the_readme_paragraph_on_findings_quotes_no_number():
    words = re.sub(r"\b[Cc]hapters? \d\b|log-N|log N", "", _paragraph())
    assert not re.search(r"\d", words), words
    # nor a verdict word that only the data can choose
    for claim in ("stops growing", "stays put", "indistinguishable", "out of reach", "under one epoch",
                  "the log law wins"):
        assert claim not in words, claim
