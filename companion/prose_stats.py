"""How readable a page of the book is: its prose words and sentences, its glued texts, its long tables.

Read from the stored pages only (book/intro.md and the executed notebooks with their outputs; nothing
is run). What is counted, exactly:

* **Prose** is the text of the markdown (a .md page, a notebook's markdown cells) after every
  ``{glue:text}``/``{glue}``/``{glue:md}`` role is replaced by its glued value, read from the stored
  outputs of the notebook the role names (the page itself when it names none; a ``:fmt`` after the
  name is applied to numbers, and a glued string is shown without its quotes).
* **Left out**: headings (``#``, an admonition's title), fenced code, every directive except the
  admonitions (``{admonition}``, ``{note}``, ``{important}``, ``{dropdown}``, ... whose bodies are
  prose, less their ``:option:`` lines) — so figures with their captions, ``{math}``, ``{code-cell}``
  and glue figures are out —, display math (``$$ ... $$``), table rows (lines that start with ``|``),
  HTML lines and comments, MyST targets ``(label)=``, and code cells with their outputs.
* **Inline**: an inline formula ``$...$`` counts as one word, a code literal as one word, a
  ``{cite}`` role as none, a ``{doc}``/``{ref}``/``{numref}`` role as its explicit text or else as
  two words ("chapter 2", "Fig. 2.1"); a link counts as its text; emphasis marks are dropped.
* **Words** are the whitespace-separated tokens with a letter or digit.
* **Sentences**: a paragraph or a list item ends a sentence, and so does ``.``, ``!`` or ``?``
  followed by a space and a capital letter, a digit, a quote or a bracket (after the abbreviations
  "e.g.", "i.e.", "et al.", "Fig.", "Eq.", "cf.", "vs." nothing ends). A sentence is a run of at least
  one word.
* **Glued texts**: every glued *string* a page's roles show, with its words (the same rule).
* **Tables**: a markdown pipe table (its body rows), and every table in a code cell's stored HTML or
  markdown output (its ``<tr>`` rows in ``<tbody>``, or its pipe rows less the header); a table is
  *collapsed* when it sits in a ``{dropdown}`` directive or an admonition with ``:class: dropdown``,
  in a code cell tagged ``hide-output``, ``remove-output`` or ``remove-cell``, or inside an HTML
  ``<details>`` element.
"""
from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import display, paths

#: Directives whose body is prose (the rest: figures, math, code... are left out with their body).
PROSE_DIRECTIVES = {"admonition", "note", "important", "tip", "warning", "dropdown", "seealso", "attention",
                    "caution", "danger", "error", "hint", "margin", "sidebar", "topic", "epigraph"}
COLLAPSING_TAGS = {"hide-output", "remove-output", "remove-cell"}
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "Fig.", "Eq.", "cf.", "vs.", "resp.", "approx.")

FENCE = re.compile(r"^(\s*)(`{3,}|:{3,}|~{3,})\s*(\{[\w:-]+\})?(.*)$")
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
SENTENCE_END = re.compile(r"(?<=[.!?])[)\"'”’]*\s+(?=[A-Z0-9\"'“‘(\[$])")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def words(text: str) -> int:
    """The words of a plain text: whitespace-separated tokens with a letter or a digit."""
    return sum(1 for tok in text.split() if re.search(r"[A-Za-z0-9]", tok))


def glue_value(text_plain: str, fmt: str = "") -> str:
    """The text a ``{glue:text}`` role shows for a stored text/plain and a format spec."""
    try:
        value = ast.literal_eval(text_plain)
    except (ValueError, SyntaxError):
        return text_plain
    if isinstance(value, str):
        return value
    if fmt and fmt != "s":
        try:
            return format(value, fmt)
        except (ValueError, TypeError):
            pass
    return str(value)


@dataclass
class Table:
    where: str
    rows: int
    collapsed: bool


@dataclass
class PageStats:
    page: str
    words: int = 0
    sentences: list = field(default_factory=list)  # word counts
    longest_sentence_text: str = ""
    glued: dict = field(default_factory=dict)  # name -> words, glued strings the page shows
    tables: list = field(default_factory=list)
    units: list = field(default_factory=list)  # the prose units (paragraphs, list items), for tests
    sentence_texts: list = field(default_factory=list)

    @property
    def n_sentences(self) -> int:
        return len(self.sentences)

    @property
    def mean_sentence(self) -> float:
        return self.words / self.n_sentences if self.sentences else 0.0

    @property
    def longest_sentence(self) -> int:
        return max(self.sentences, default=0)

    def over(self, limit: int = 50) -> int:
        return sum(1 for n in self.sentences if n > limit)

    @property
    def longest_glued(self) -> tuple[str, int]:
        return max(self.glued.items(), key=lambda kv: kv[1], default=("", 0))

    def long_tables(self, limit: int = 15) -> list[Table]:
        return [t for t in self.tables if t.rows > limit and not t.collapsed]

    def as_dict(self) -> dict:
        name, n = self.longest_glued
        return {"page": self.page, "words": self.words, "sentences": self.n_sentences,
                "mean_sentence": round(self.mean_sentence, 1), "longest_sentence": self.longest_sentence,
                "sentences_over_50": self.over(50), "longest_glued": name, "longest_glued_words": n,
                "long_tables": [f"{t.where} ({t.rows} rows)" for t in self.long_tables()]}


def toc_pages(root: Path | None = None) -> list[Path]:
    """book/intro.md and the notebooks of _toc.yml, in its order."""
    root = Path(root or paths.REPO_ROOT)
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    files = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", toc, re.M)
    pages = []
    for f in files:
        for suffix in (".ipynb", ".md"):
            p = root / f"{f}{suffix}"
            if p.is_file():
                if suffix == ".md" and p.name != "intro.md":
                    break  # only the intro among the .md pages (the references are no prose)
                pages.append(p)
                break
    return pages


_GLUE_CACHE: dict[Path, dict] = {}


def _stored_glue(nb_path: Path) -> dict[str, str]:
    nb_path = Path(os.path.normpath(nb_path))
    if nb_path not in _GLUE_CACHE:
        values = {}
        if nb_path.suffix == ".ipynb" and nb_path.is_file():
            for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
                for out in cell.get("outputs", []):
                    name = out.get("metadata", {}).get("scrapbook", {}).get("name")
                    if name:
                        values[name] = "".join(next(v for k, v in out["data"].items() if k.endswith("text/plain")))
        _GLUE_CACHE[nb_path] = values
    return _GLUE_CACHE[nb_path]


def _substitute_glue(text: str, page: Path, root: Path, glued: dict) -> str:
    def repl(m):
        role, content = m.group(1), m.group(2)
        if role not in ("glue", "glue:text", "glue:md", "glue:any"):
            return m.group(0)
        key, fmt = content, ""
        if role == "glue:text" and ":" in content.replace("::", "\0"):
            key, fmt = content.rsplit(":", 1)
        doc, name = key.split("::", 1) if "::" in key else (None, key)
        nb = display._notebook(page, doc, root)
        raw = _stored_glue(nb).get(name)
        if raw is None:
            return name
        value = glue_value(raw, fmt)
        if isinstance(_literal(raw), str):
            glued[name] = words(_inline(value))
        return value
    return ROLE.sub(repl, text)


def _literal(raw):
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None


def _inline(text: str) -> str:
    """Plain words of a line of markdown (see the module's rules)."""
    text = re.sub(r"<!--.*?-->", " ", text)
    text = re.sub(r"\$[^$]+\$", " FORMULA ", text)

    def role(m):
        name, content = m.group(1), m.group(2)
        if name == "cite" or name.startswith("cite:"):
            return " "
        explicit = re.match(r"^(.*?)\s*<[^>]+>$", content, re.S)
        if explicit and explicit.group(1).strip():
            return explicit.group(1)
        return " REF REF "
    text = ROLE.sub(role, text)
    text = re.sub(r"`[^`]+`", " CODE ", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}", "", text)
    return text


def _split_sentences(unit: str) -> list[str]:
    protected = unit
    for i, abbr in enumerate(ABBREVIATIONS):
        protected = protected.replace(abbr, abbr.replace(".", f"\0{i}"))
    parts = SENTENCE_END.split(protected)
    out = []
    for p in parts:
        for i, abbr in enumerate(ABBREVIATIONS):
            p = p.replace(f"\0{i}", ".")
        if words(p):
            out.append(p.strip())
    return out


def _markdown_units(text: str, where: str, tables: list) -> list[str]:
    """The prose units (paragraphs, list items) of a markdown text, glue already substituted; pipe
    tables found on the way are appended to ``tables``."""
    units, current = [], []
    stack = []  # (fence char, length, prose?, collapsed?)
    in_math = False
    in_options = False
    table_rows, table_collapsed = 0, False

    def flush():
        if current:
            units.append(" ".join(current))
            current.clear()

    def end_table():
        nonlocal table_rows
        if table_rows:
            tables.append(Table(where, max(table_rows - 2, 0), table_collapsed))
            table_rows = 0

    for line in text.splitlines():
        stripped = line.strip()
        if in_math:
            if "$$" in stripped:
                in_math = False
            continue
        m = FENCE.match(line)
        if m:
            fence, name, rest = m.group(2), (m.group(3) or "").strip("{}"), m.group(4).strip()
            if stack and not name and not rest and fence[0] == stack[-1][0] and len(fence) >= stack[-1][1]:
                flush(); end_table()
                stack.pop()
                continue
            if not (stack and not stack[-1][2]):  # a fence inside an excluded block is its content
                flush(); end_table()
                prose = name in PROSE_DIRECTIVES
                collapsed = name == "dropdown" or (stack and stack[-1][3])
                stack.append([fence[0], len(fence), prose and (not stack or stack[-1][2]), collapsed])
                in_options = True
                continue
        if stack and not stack[-1][2]:
            continue
        if in_options:
            opt = re.match(r"^\s*:([\w-]+):\s*(.*)$", line)
            if opt:
                if opt.group(1) == "class" and "dropdown" in opt.group(2).split():
                    stack[-1][3] = True
                continue
            in_options = False
        collapsed_here = bool(stack and stack[-1][3])
        if stripped.startswith("|"):
            flush()
            if not table_rows:
                table_collapsed = collapsed_here
            table_rows += 1
            continue
        end_table()
        if stripped.startswith("$$"):
            flush()
            if stripped.count("$$") == 1:
                in_math = True
            continue
        if not stripped:
            flush()
            continue
        if stripped.startswith("#") or re.match(r"^\(.*\)=$", stripped) or stripped.startswith("<"):
            flush()
            continue
        if LIST_ITEM.match(line):
            flush()
            line = LIST_ITEM.sub("", line, count=1)
        current.append(_inline(line.strip().lstrip(">").strip()))
    flush(); end_table()
    return units


def _output_tables(cell: dict, where: str) -> list[Table]:
    tags = set(cell.get("metadata", {}).get("tags", []))
    hidden = bool(tags & COLLAPSING_TAGS)
    found = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "text/html" in data:
            html = "".join(data["text/html"])
            for m in re.finditer(r"<table.*?</table>", html, re.S):
                body = re.search(r"<tbody.*?</tbody>", m.group(0), re.S)
                rows = len(re.findall(r"<tr[\s>]", body.group(0) if body else m.group(0)))
                if not body:
                    rows = max(rows - 1, 0)
                before = html[:m.start()]
                in_details = before.count("<details") > before.count("</details>") and \
                    not re.search(r"<details[^>]*\bopen\b", before)
                found.append(Table(where, rows, hidden or in_details))
        elif "text/markdown" in data:
            md = "".join(data["text/markdown"])
            tables: list = []
            _markdown_units(md, where, tables)
            found += [Table(t.where, t.rows, t.collapsed or hidden) for t in tables]
    return found


def _cells(page: Path) -> list[dict]:
    if page.suffix == ".ipynb":
        return json.loads(page.read_text(encoding="utf-8"))["cells"]
    return [{"cell_type": "markdown", "source": page.read_text(encoding="utf-8")}]


def section(page: Path, title: str) -> str:
    """The markdown of the section of ``page`` whose heading starts with ``title`` (any level, case
    ignored), up to the next heading of the same or a higher level; "" when there is none."""
    text = "\n\n".join("".join(c["source"]) for c in _cells(Path(page)) if c["cell_type"] == "markdown")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(#+)\s+(.*)$", line)
        if m and m.group(2).strip().lower().startswith(title.lower()):
            level, body = len(m.group(1)), []
            for nxt in lines[i + 1:]:
                h = re.match(r"^(#+)\s", nxt)
                if h and len(h.group(1)) <= level:
                    break
                body.append(nxt)
            return "\n".join(body)
    return ""


def text_stats(text: str, page: Path, root: Path | None = None) -> PageStats:
    """The counts of a piece of ``page``'s markdown (glue read as from ``page``)."""
    page = Path(page)
    return page_stats(page, root, cells=[{"cell_type": "markdown", "source": text}])


def page_stats(page: Path, root: Path | None = None, cells: list | None = None) -> PageStats:
    """The counts of one page (see the module's docstring); ``cells``: count these instead of the page's."""
    page = Path(page)
    root = Path(root or paths.REPO_ROOT)
    stats = PageStats(page.stem)
    cells = _cells(page) if cells is None else cells
    for i, cell in enumerate(cells):
        where = f"{page.name} cell {i}"
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            text = _substitute_glue(source, page, root, stats.glued)
            stats.units += _markdown_units(text, where, stats.tables)
        elif cell["cell_type"] == "code":
            stats.tables += _output_tables(cell, where)
    longest = ""
    for unit in stats.units:
        for sentence in _split_sentences(unit):
            n = words(sentence)
            stats.words += n
            stats.sentences.append(n)
            if n > words(longest):
                longest = sentence
    stats.longest_sentence_text = longest
    stats.sentence_texts = [t for unit in stats.units for t in _split_sentences(unit)]
    return stats


def book_stats(root: Path | None = None) -> list[PageStats]:
    return [page_stats(p, root) for p in toc_pages(root)]


__all__ = ["PageStats", "Table", "book_stats", "glue_value", "page_stats", "section", "text_stats", "toc_pages",
           "words"]
