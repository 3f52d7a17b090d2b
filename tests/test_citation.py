"""Reuse and citation (issue 25, point 6): the code's licence (MIT), the text's (CC BY 4.0), and a
CITATION.cff whose preferred citation is the paper by Wolfe, Liao, Wang, Kim & Kyrillidis. The full
schema check needs a CFF validator (`cffconvert --validate`, README "How to cite"); these tests check
the keys without one."""
import re

import pytest
import yaml

from companion import paths

ROOT = paths.REPO_ROOT
PAPER_TITLE = "How much pre-training is enough to discover a good subnetwork?"
PAPER_FAMILY_NAMES = ["Wolfe", "Liao", "Wang", "Kim", "Kyrillidis"]   # book/references.bib
ARXIV_ID = "2108.00259"


@pytest.fixture(scope="module")
def cff() -> dict:
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert isinstance(data, dict), "CITATION.cff is not a YAML mapping"
    return data


def _bib_entry(key: str) -> str:
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    match = re.search(r"@\w+\{" + re.escape(key) + r",.*?\n\}", bib, re.S)
    assert match, f"book/references.bib has no entry {key}"
    return match.group(0)


def test_citation_cff_has_the_required_keys(cff):
    for key in ("cff-version", "message", "title", "authors", "preferred-citation"):
        assert cff.get(key), f"CITATION.cff: missing or empty {key!r}"
    assert re.fullmatch(r"1\.2\.\d+", str(cff["cff-version"])), cff["cff-version"]
    assert isinstance(cff["authors"], list) and all(
        isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in cff["authors"])
    licences = cff["license"] if isinstance(cff["license"], list) else [cff["license"]]
    assert {"MIT", "CC-BY-4.0"} <= set(licences), licences      # SPDX identifiers, as in LICENSE*


def test_preferred_citation_is_the_paper_as_in_references_bib(cff):
    ref = cff["preferred-citation"]
    assert ref["type"] == "article" and ref["title"] == PAPER_TITLE
    assert [a["family-names"] for a in ref["authors"]] == PAPER_FAMILY_NAMES
    assert ref["year"] == 2024 and ref["journal"] == "Transactions on Machine Learning Research"
    assert ARXIV_ID in ref["url"]
    entry = _bib_entry("wolfe2024pretraining")       # the book's own record of the paper agrees
    assert PAPER_TITLE in entry and ARXIV_ID in entry
    for name in PAPER_FAMILY_NAMES:
        assert name in entry, name


def test_licences_exist_and_name_mit_and_cc_by():
    code = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert code.startswith("MIT License") and "Permission is hereby granted, free of charge" in code
    text = (ROOT / "LICENSE-text.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in text and "creativecommons.org/licenses/by/4.0" in text


def test_readme_and_intro_say_how_to_cite_with_the_papers_bibtex():
    entry = _bib_entry("wolfe2024pretraining")
    for page in (ROOT / "README.md", ROOT / "book" / "intro.md"):
        text = page.read_text(encoding="utf-8")
        assert "## How to cite" in text, f"{page.name}: no 'How to cite' section"
        section = text[text.index("## How to cite"):]
        assert entry in section, f"{page.name}: the paper's BibTeX differs from book/references.bib"
        assert "@software{" in section, f"{page.name}: no citation for the companion itself"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Licence" in readme and "MIT" in readme and "CC BY 4.0" in readme
