"""scripts/check_rendered.py must pass a good page and fail bad ones (skipped without Chromium)."""
import importlib.util
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
