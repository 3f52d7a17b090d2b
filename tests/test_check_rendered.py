"""scripts/check_rendered.py must pass a good page and fail bad ones (skipped without Chromium)."""
import importlib.util
import os
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
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==">
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
