"""What every interactive view of the book shares: its style and scripts (package files in
``companion/assets/``), the data it carries as JSON, its toggle buttons, and plotly.js, which the built
book serves itself (:mod:`companion.book_site`) and a live notebook loads with :func:`init_notebook`.
The threshold explorer (:mod:`companion.explorer`) and chapter 4's fine-tuning view draw with these."""
from __future__ import annotations

import functools
import hashlib
import html as _html
import importlib.util
import json
from importlib import resources
from pathlib import Path
from typing import Mapping

from IPython.display import HTML

from . import validate

#: The attribute that tells the book's Sphinx extension to add plotly.js to the page.
PLOTLY_MARKER = "data-companion-plotly"


#: The explorer's style and script are package files (companion/assets/), read once.
ASSETS = "assets"
_ID_PLACEHOLDER = "__EXPLORER_ID__"


@functools.lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("companion").joinpath(ASSETS, name).read_text(encoding="utf-8")


def script(asset: str, ident: str) -> str:
    """The view's script ``asset`` for the container ``ident`` (its header comment left out)."""
    body = "".join(line for line in _asset(asset).splitlines(keepends=True) if not line.startswith("//"))
    return "\n" + body.replace(_ID_PLACEHOLDER, json.dumps(ident))


def payload(spec: Mapping, name: str | None, css_class: str) -> tuple[str, str]:
    """(the spec as JSON safe inside a script tag, the container's id: ``<css_class>-<name>``, or a hash
    of the data when no name is given)."""
    data = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    data = data.replace("</", "<\\/")
    return data, f"{css_class}-" + (_slug(name) if name else hashlib.sha256(data.encode()).hexdigest()[:12])


def button_group(spec: Mapping, control: str, label: str) -> str:
    """One row of toggle buttons: ``spec["controls"][control]`` as (value, text) pairs, the one in
    ``spec["initial"]`` pressed."""
    esc, init = _html.escape, spec["initial"]
    items = "".join(
        f'<button type="button" class="te-button" data-control="{control}" data-value="{esc(v)}" '
        f'aria-pressed="{"true" if init[control] == v else "false"}">{esc(text)}</button>'
        for v, text in spec["controls"][control])
    return (f'<div class="te-group" role="group" aria-label="{esc(label)}">'
            f'<span class="te-label">{esc(label)}</span>{items}</div>')


def _slug(name: str) -> str:
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(name)).strip("-")
    if not slug:
        raise validate.ParameterError(f"parameter 'name' = {name!r} must contain a letter or digit")
    return slug


def init_notebook():
    """For a live notebook only (never in a chapter: it stores 4.8 MB in the notebook): load the
    pinned plotly.js into the page so the explorers below can draw."""
    return HTML(f"<script>{plotly_js_path().read_text(encoding='utf-8')}</script>")


def plotly_js_path():
    """``plotly.min.js`` of the installed (pinned) ``plotly`` package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the plotly package is not installed (pip install -r requirements.txt)")
    for location in spec.submodule_search_locations:
        path = Path(location) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    raise FileNotFoundError("plotly.min.js is not in the installed plotly package")


def view_end(summary: str, caption: str, data: str, script_text: str) -> str:
    """The end of a view's container: the plot, the line describing the current setting, the caption
    (HTML, or ''), the note shown where plotly.js is missing, the data and the script."""
    return (f'<div class="te-plot"></div>'
            f'<p class="te-summary" aria-live="polite">{_html.escape(summary)}</p>{caption}'
            f'<p class="te-missing" hidden>The interactive plot needs plotly.js: the built book loads its '
            f"own copy; in a live notebook run <code>companion.explorer.init_notebook()</code> first.</p>"
            f'<script type="application/json" class="te-data">{data}</script>'
            f"<script>{script_text}</script></div>")
