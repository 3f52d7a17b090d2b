"""scripts/check_rendered.py must pass a good page and fail bad ones (skipped without Chromium)."""
import importlib.util
import math
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HAVE_BROWSER = all(os.access(p, os.X_OK) for p in ("/usr/bin/chromium", "/usr/bin/chromedriver"))
pytestmark = pytest.mark.skipif(not HAVE_BROWSER, reason="needs Debian's chromium and chromium-driver "
                                                          "(`make browser-check` installs them)")


def _load():
    spec = importlib.util.spec_from_file_location("check_rendered", ROOT / "scripts" / "check_rendered.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOOD = """<!DOCTYPE html><html><head><title>good</title></head><body>
<h1>Fine</h1><p>No math, one working image:</p>
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
 alt="A single grey pixel standing in for a chart.">
<pre>code may show $$ and \\frac{1}{2} freely</pre></body></html>"""

BAD = """<!DOCTYPE html><html><head><title>bad</title></head><body>
<h1>Bad</h1><p>Raw display math: $$x^2$$</p><img src="missing.png">
<div class="cell_output docutils container"><div class="output traceback highlight-ipythontb">
<pre>ZeroDivisionError: division by zero</pre></div></div></body></html>"""

CDN = """<!DOCTYPE html><html><head><title>cdn</title>
<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script></head>
<body><h1>CDN</h1><p><span class="math notranslate nohighlight">\\(x^2\\)</span></p></body></html>"""


def test_good_page_passes(tmp_path, capsys):
    (tmp_path / "good.html").write_text(GOOD)
    assert _load().main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 pages checked, 0 failed" in out
    assert (tmp_path / "_screenshots" / "good.png").stat().st_size > 0


def test_bad_pages_fail_with_reasons(tmp_path, capsys):
    (tmp_path / "good.html").write_text(GOOD)
    (tmp_path / "bad.html").write_text(BAD)
    (tmp_path / "cdn.html").write_text(CDN)
    (tmp_path / "genindex.html").write_text(BAD)  # skipped, like Sphinx's index page
    assert _load().main([str(tmp_path), "--mathjax-wait", "3"]) == 1
    out = capsys.readouterr().out
    assert "3 pages checked, 2 failed" in out
    assert "unrendered TeX '$$'" in out
    assert "broken image: missing.png" in out
    assert "traceback output: ZeroDivisionError" in out
    assert "network request (the book must work offline): https://cdn.jsdelivr.net" in out
    assert "the page has math but MathJax is not on it" in out


# --- Unrendered roles, stray $ and raw TeX in prose -------------------------------------------
# Pages shaped like the book's: Sphinx writes inline math as <span class="math">\(...\)</span> and
# display math as <div class="math">\[...\]</div>, and MathJax (the offline copy that
# sphinx-mathjax-offline ships) typesets only those elements.


def _mathjax_dir() -> Path | None:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "static" / "mathjax"
        if (folder / "tex-chtml.js").is_file():
            return folder
    return None


MATHJAX = _mathjax_dir()
needs_mathjax = pytest.mark.skipif(MATHJAX is None, reason="needs sphinx-mathjax-offline's MathJax")


def _page(body: str, mathjax: bool = True) -> str:
    head = ('<script>window.MathJax = {"options": {"processHtmlClass": '
            '"tex2jax_process|mathjax_process|math|output_area"}}</script>\n'
            '<script defer="defer" src="_static/mathjax/tex-chtml.js"></script>') if mathjax else ""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>page</title>{head}</head><body>'
            f'<section class="tex2jax_ignore mathjax_ignore">{body}</section></body></html>')


def _m(tex: str) -> str:
    return f'<span class="math notranslate nohighlight">\\({tex}\\)</span>'


def _check(tmp_path, capsys, name: str, html: str) -> tuple[int, str]:
    """Run the check on one page; returns its exit status and what it printed about the page."""
    (tmp_path / name).write_text(html, encoding="utf-8")
    if MATHJAX is not None and not (tmp_path / "_static" / "mathjax").exists():
        (tmp_path / "_static").mkdir(exist_ok=True)
        (tmp_path / "_static" / "mathjax").symlink_to(MATHJAX, target_is_directory=True)
    rc = _load().main([str(tmp_path), "--mathjax-wait", "10"])
    out = capsys.readouterr().out
    assert "1 pages checked" in out
    return rc, out


CLEAN = _page(
    "<h1>Clean</h1>"
    "<p>Inline math " + _m("x") + " and " + _m(r"\lambda_0 \propto N^{p}") + ", a glued value "
    '<span class="pasted-text">0.25</span>, the glue function and 5 dollars.</p>'
    r'<div class="math notranslate nohighlight">\[\frac{a}{b} = \|w\|_{2}^{2}'
    r' \quad \text{if the step is small enough}\]</div>'
    "<ul><li>" + _m(r"\mathrm{d} = 200") + " dimensions</li></ul>"
    '<div class="cell docutils container"><div class="cell_input docutils container">'
    '<div class="highlight-ipython3 notranslate"><div class="highlight"><pre>'
    'glue("x", 1)\nprint("$HOME", r"\\frac{a}{b}")</pre></div></div></div></div>'
    '<p>Run <code class="docutils literal notranslate"><span class="pre">echo $HOME</span></code>'
    ' or <code>glue("x", 1)</code>.</p>'
    '<div class="highlight"><pre>{glue:text}`x:.2f` is how the role is written</pre></div>')


@needs_mathjax
def test_clean_page_with_math_and_code_passes(tmp_path, capsys):
    rc, out = _check(tmp_path, capsys, "clean.html", CLEAN)
    assert rc == 0, out
    assert "1 pages checked, 0 failed" in out
    assert re.search(r"typeset: [1-9]", out), out  # MathJax really ran


def test_visible_glue_text_fails(tmp_path, capsys):
    page = _page("<p>On the sphere the slope is glue:text ch1_x in d = 200.</p>", mathjax=False)
    rc, out = _check(tmp_path, capsys, "glue.html", page)
    assert rc == 1
    assert "unrendered glue role ('glue:') in visible text: On the sphere the slope is glue:text ch1_x" in out


def test_visible_glue_role_fails(tmp_path, capsys):
    page = _page("<p>The slope is {glue:text}`ch1_x:.2f` here.</p>", mathjax=False)
    rc, out = _check(tmp_path, capsys, "role.html", page)
    assert rc == 1
    assert "unrendered glue role ('{glue') in visible text: The slope is {glue:text}`ch1_x:.2f` here." in out


def test_prose_swallowed_by_a_code_block_fails(tmp_path, capsys):
    # A fence whose info string held a backtick ({doc}`...` in an admonition's title) turned the rest
    # of the page into one code block, glue roles and all.
    page = _page('<div class="highlight"><pre>**On MNIST** N = {glue:text}`ch3_sizes:s`, '
                 '{glue:text}`ch3_n_seeds:s` seeds</pre></div>', mathjax=False)
    rc, out = _check(tmp_path, capsys, "swallowed.html", page)
    assert rc == 1 and "unrendered glue role ('{glue:text}`')" in out


@needs_mathjax
def test_glue_role_typeset_as_math_fails(tmp_path, capsys):
    # What `$p = ${glue:text}`x`$)` becomes: the last $ opens math that runs to the next $.
    page = _page(f"<p>A fit gives {_m('R^2 = ')}"
                 '<span class="pasted-text">0.90</span>'
                 f"{_m(').  On the sphere the slope is {glue:text}`ch1_x:.2f` in ')}d = 200.</p>")
    rc, out = _check(tmp_path, capsys, "mathglue.html", page)
    assert rc == 1
    assert "glue role typeset as math (a $ left open around a glued value?): " in out
    assert "On the sphere the slope is {glue:text}`ch1_x:.2f` in" in out


@needs_mathjax
def test_unbalanced_dollar_swallowing_text_fails(tmp_path, capsys):
    # `$x$ grows, and $y falls as the fewer the dimensions, the faster $z$ falls$ at large N.`:
    # MyST pairs the dollars wrongly, prose goes into math and a lone $ stays in the text.
    page = _page(f"<p>{_m('x')} grows, and {_m('y')} falls as"
                 f"{_m(' the fewer the dimensions, the faster ')}z$ falls at large N.</p>")
    rc, out = _check(tmp_path, capsys, "dollar.html", page)
    assert rc == 1
    assert "stray '$' in visible text (unbalanced math?): " in out
    assert "z$ falls at large N." in out
    assert "prose typeset as math (an unbalanced $?): the fewer the dimensions, the faster" in out


@pytest.mark.parametrize("raw, shown", [
    (r"\frac{a}{b}", r"'\\frac'"),
    (r"\lambda_0", r"'\\lambda'"),
    (r"\|w\|", r"'\\|'"),
    (r"\mathrm{d}x", r"'\\mathrm'"),
    (r"\left( x \right)", r"'\\left'"),
    ("N^{p}", "'^{'"),
    ("w_{ij}", "'_{'"),
])
def test_raw_tex_in_prose_fails(tmp_path, capsys, raw, shown):
    page = _page(f"<p>The ratio {raw} is shown as plain text.</p>", mathjax=False)
    rc, out = _check(tmp_path, capsys, "tex.html", page)
    assert rc == 1
    assert f"unrendered TeX {shown} in visible text: The ratio {raw} is shown as plain text." in out


# --- Figures: alt text, captions and the data behind them ---------------------------------------
# Shaped like myst-nb's output for a cell with `mystnb.figure` and `mystnb.image.alt` metadata.

PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhg"
         "GAWjR9awAAAABJRU5ErkJggg==")
ALT = "Line chart of the error against the number of draws, falling along a dashed reference line."


def _output(inner: str) -> str:
    return ('<div class="cell docutils container"><div class="cell_output docutils container">'
            f"{inner}</div></div>")


def _figure(alt: str | None = ALT, caption: str | None = "Fig. 1 The error falls like S^-1/2.",
            src: str = PIXEL) -> str:
    alt_attr = "" if alt is None else f' alt="{alt}"'
    cap = "" if caption is None else (f'<figcaption><p><span class="caption-number">Fig. 1 </span>'
                                      f'<span class="caption-text">{caption}</span></p></figcaption>')
    return _output(f'<figure class="align-default" id="fig-x"><img src="{src}"{alt_attr}>{cap}</figure>')


def test_captioned_figure_with_alt_text_and_data_link_passes(tmp_path, capsys):
    (tmp_path / "_downloads" / "abc").mkdir(parents=True)
    (tmp_path / "_downloads" / "abc" / "fig-x.csv").write_text("N,error\n1,0.5\n")
    page = _page(_figure() + _output('<p>Data: <a class="reference download internal" download=""'
                                     ' href="_downloads/abc/fig-x.csv"><span>fig-x.csv</span></a></p>'),
                 mathjax=False)
    rc, out = _check(tmp_path, capsys, "fig.html", page)
    assert rc == 0, out


@pytest.mark.parametrize("alt, why", [
    (None, "no alt attribute"),
    ("", "empty alt text"),
    ("   ", "empty alt text"),
    ("../_images/0a1b2c3d4e5f.png", "alt text is a file name or path"),
    ("figure.png", "alt text is a file name or path"),
    ("_images/plot", "alt text is a file name or path"),
    ("3f786850e387550fdab836ed7e6dc881de23001b", "alt text looks like a hash"),
    ("image", "alt text is a generic word"),
    ("Plot", "alt text is a generic word"),
])
def test_figure_without_meaningful_alt_text_fails(tmp_path, capsys, alt, why):
    rc, out = _check(tmp_path, capsys, "alt.html", _page(_figure(alt=alt), mathjax=False))
    assert rc == 1
    assert f"image without meaningful alt text ({why}" in out


def test_image_outside_notebook_outputs_needs_alt_text_too(tmp_path, capsys):
    rc, out = _check(tmp_path, capsys, "plain.html", _page(f'<p><img src="{PIXEL}"></p>', mathjax=False))
    assert rc == 1
    assert "image without meaningful alt text (no alt attribute)" in out
    assert "notebook figure without a caption" not in out  # not a notebook output: no caption needed


def test_decorative_image_is_exempt(tmp_path, capsys):
    page = _page(f'<p><img src="{PIXEL}" alt="" role="presentation"></p>', mathjax=False)
    rc, out = _check(tmp_path, capsys, "deco.html", page)
    assert rc == 0, out


def test_notebook_image_without_figure_fails(tmp_path, capsys):
    # What myst-nb writes for a cell without `mystnb.figure` metadata: a bare <img>, alt = its path.
    page = _page(_output('<img alt="../_images/3f78.png" src="%s">' % PIXEL), mathjax=False)
    rc, out = _check(tmp_path, capsys, "bare.html", page)
    assert rc == 1
    assert "notebook figure without a caption (not inside a <figure>)" in out
    assert "image without meaningful alt text (alt text is a file name or path" in out


@pytest.mark.parametrize("caption", [None, "   "])
def test_notebook_figure_without_caption_fails(tmp_path, capsys, caption):
    page = _page(_figure(caption=caption).replace('<span class="caption-number">Fig. 1 </span>', ""),
                 mathjax=False)
    rc, out = _check(tmp_path, capsys, "nocap.html", page)
    assert rc == 1
    assert "notebook figure without a caption" in out


def test_broken_data_link_fails(tmp_path, capsys):
    page = _page(_figure() + _output('<p>Data: <a class="reference download internal" download=""'
                                     ' href="_downloads/abc/missing.csv"><span>missing.csv</span></a></p>'),
                 mathjax=False)
    rc, out = _check(tmp_path, capsys, "link.html", page)
    assert rc == 1
    assert "broken download link 'missing.csv'" in out


# --- Tables: no overflow without a scrolling wrapper, no NaN shown ------------------------------

WIDE = ("<table><thead><tr>" + "".join(f"<th>column number {i}</th>" for i in range(12)) + "</tr></thead>"
        "<tbody><tr>" + "".join(f"<td>{i * 1.5}</td>" for i in range(12)) + "</tr></tbody></table>")


def _column(inner: str) -> str:
    return _page(f'<article style="width: 480px">{inner}</article>', mathjax=False)


@pytest.mark.parametrize("inner", [
    "<table><tr><th>N</th><th>T*</th></tr><tr><td>500</td><td>12.5</td></tr></table>",
    f'<div style="overflow-x: auto">{WIDE}</div>',                     # wide, but it scrolls
    f'<div class="pst-scrollable-table-container" style="overflow-x: scroll">{WIDE}</div>',
])
def test_table_that_fits_or_scrolls_passes(tmp_path, capsys, inner):
    rc, out = _check(tmp_path, capsys, "table.html", _column(inner))
    assert rc == 0, out


def test_table_wider_than_its_column_fails(tmp_path, capsys):
    rc, out = _check(tmp_path, capsys, "wide.html", _column(WIDE))
    assert rc == 1
    assert re.search(r'table with headers "column number 0 \| column number 1 \| [^"]*" overflows its column '
                     r"\(\d+ px in a 480 px article, no scrolling wrapper\)", out), out


def test_scrolling_wrapper_wider_than_the_column_fails(tmp_path, capsys):
    page = _column(f'<div class="wrap" style="overflow-x: auto; width: 2000px">{WIDE}</div>')
    rc, out = _check(tmp_path, capsys, "wrap.html", page)
    assert rc == 1
    assert "its scrolling wrapper div.wrap sticks out too" in out


@pytest.mark.parametrize("cell, shown", [("NaN", "NaN"), ("nan", "nan"), ("-nan", "-nan"),
                                         ("0.5 (NaN)", "NaN"), ("NaT", "NaT"), ("&lt;NA&gt;", "<NA>"),
                                         ("None", "None"), ("null", "null"), ("undefined", "undefined")])
def test_table_cell_showing_nan_fails(tmp_path, capsys, cell, shown):
    page = _column(f"<table><tr><th>rule</th><th>T*</th></tr><tr><th>reaches 0.9</th><td>{cell}</td></tr></table>")
    rc, out = _check(tmp_path, capsys, "nan.html", page)
    assert rc == 1
    assert f"table cell shows {shown!r} in table with headers \"rule | T* | reaches 0.9\", row 'reaches 0.9'" in out


def test_words_containing_nan_and_empty_cells_pass(tmp_path, capsys):
    page = _column("<table><tr><th>what</th><th>value</th></tr><tr><td>banana, nanometre, Nantes</td>"
                   "<td></td></tr><tr><td>None of the three laws</td><td>nullable</td></tr></table>")
    rc, out = _check(tmp_path, capsys, "words.html", page)
    assert rc == 0, out


# --- Glued sentences are not bold ------------------------------------------------------------------

def test_bold_glued_sentence_fails_but_bold_number_passes(tmp_path, capsys):
    sentence = "In the mean-field regime the log-N law fits best by leave-one-size-out error."
    bold = _page(f'<p>Result: <span class="pasted-text" style="font-weight: bold">{sentence}</span></p>',
                 mathjax=False)
    rc, out = _check(tmp_path, capsys, "bold.html", bold)
    assert rc == 1
    assert f"glued sentence rendered in bold (font-weight 700; bold only numbers): {sentence}" in out
    (tmp_path / "bold.html").unlink()
    fine = _page(f'<p><span class="pasted-text" style="font-weight: normal">{sentence}</span> and '
                 '<strong><span class="pasted-text" style="font-weight: bold">0.83</span></strong>.</p>',
                 mathjax=False)
    rc, out = _check(tmp_path, capsys, "fine.html", fine)
    assert rc == 0, out


# --- The interactive threshold explorer -------------------------------------------------------------
# Pages as the book has them: the explorer's HTML (companion.explorer) in a notebook output, and
# plotly.js served by the book itself (companion.book_site copies it into _static/companion/).

def _plotly_js() -> Path | None:
    try:
        from companion.explorer_page import plotly_js_path
        return plotly_js_path()
    except (ImportError, FileNotFoundError):
        return None


PLOTLY = _plotly_js()
needs_plotly = pytest.mark.skipif(PLOTLY is None, reason="needs the plotly package (requirements.txt)")


def _explorer_html() -> str:
    import pandas as pd
    from companion import explorer

    rows = []
    for n in (100, 200, 400, 800):
        for seed in (0, 1):
            for k, method in enumerate(("dense", "greedy")):
                for t in (0, 10, 100, 1000, 10000):
                    acc = 0.1 + (0.85 - 0.1 * k) * (1 - math.exp(-t / (30 * (k + 1) * math.log(n) * (1 + seed / 10))))
                    rows.append({"n": n, "seed": seed, "t": t, "method": method, "split": "train",
                                 "loss": 1 - acc, "accuracy": acc})
    return explorer.show(pd.DataFrame(rows), levels={"accuracy": [0.6, 0.8]}, fallback=False).html


def _explorer_page(tmp_path, body: str, plotly: bool = True) -> str:
    head = ""
    if plotly:
        (tmp_path / "_static" / "companion").mkdir(parents=True, exist_ok=True)
        (tmp_path / "_static" / "companion" / "plotly.min.js").symlink_to(PLOTLY)
        head = '<script defer="defer" src="_static/companion/plotly.min.js"></script>'
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>explorer</title>{head}</head><body>'
            f'<article><div class="cell_output docutils container"><div class="output text_html">{body}'
            "</div></div></article></body></html>")


def _run(tmp_path, capsys, name: str, html: str) -> tuple[int, str]:
    (tmp_path / name).write_text(html, encoding="utf-8")
    rc = _load().main([str(tmp_path), "--mathjax-wait", "3", "--explorer-wait", "5"])
    return rc, capsys.readouterr().out


@needs_plotly
def test_explorer_with_offline_plotly_draws_and_reacts_to_a_click(tmp_path, capsys):
    rc, out = _run(tmp_path, capsys, "explorer.html", _explorer_page(tmp_path, _explorer_html()))
    assert rc == 0, out
    assert "1 pages checked, 0 failed" in out


def test_explorer_without_plotly_fails(tmp_path, capsys):
    rc, out = _run(tmp_path, capsys, "noplotly.html", _explorer_page(tmp_path, _explorer_html(), plotly=False))
    assert rc == 1
    assert re.search(r"threshold explorer #1 \(threshold-explorer-[0-9a-f]{12}\): Plotly did not load "
                     r"\(window.Plotly is undefined; plotly scripts on the page: none\)", out), out


@needs_plotly
def test_explorer_whose_controls_do_nothing_fails(tmp_path, capsys):
    body = ('<div class="threshold-explorer" id="dead">'
            '<button type="button" data-control="method" data-value="dense" aria-pressed="true">dense</button>'
            '<button type="button" data-control="method" data-value="greedy" aria-pressed="false">greedy</button>'
            '<div id="dead-plot"></div></div>'
            "<script>document.addEventListener('DOMContentLoaded', () => "
            "Plotly.newPlot('dead-plot', [{type: 'scatter', x: [1, 2], y: [3, 4]}]));</script>")
    rc, out = _run(tmp_path, capsys, "dead.html", _explorer_page(tmp_path, body))
    assert rc == 1
    assert "threshold explorer #1 (dead): clicking method=greedy did not change the plotted data" in out


@needs_plotly
def test_explorer_that_draws_nothing_fails(tmp_path, capsys):
    body = ('<div class="threshold-explorer" id="empty"><div id="empty-plot"></div></div>'
            "<script>document.addEventListener('DOMContentLoaded', () => Plotly.newPlot('empty-plot', []));</script>")
    rc, out = _run(tmp_path, capsys, "empty.html", _explorer_page(tmp_path, body))
    assert rc == 1
    assert "threshold explorer #1 (empty): the plot drew nothing (0 traces, 0 drawn, 0 points)" in out
