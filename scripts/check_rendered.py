#!/usr/bin/env python3
"""Open every page of a built Jupyter Book in headless Chromium, offline, and check how it renders.

Usage: python scripts/check_rendered.py _build/html [--screenshots DIR] [--only PAGE ...]

Each page (every ``*.html`` under the build folder except genindex, search, redirects and the
``_static``/``_sources``/``_images``/``_screenshots``/``reports`` folders) is opened from
``file://`` in a browser whose network is switched off three ways: DNS resolves nothing
(``--host-resolver-rules``), every request goes to a dead proxy (``--proxy-server=127.0.0.1:9``,
loopback included), and DevTools emulates an offline network. A page FAILS when

* it asked the network for anything (a CDN script, a web font, ...): the book must work offline;
* MathJax did not finish (or never loaded) on a page that has math, or reported a TeX error;
* its visible text, outside typeset math and code (``mjx-container``, ``pre``, ``code``, ``kbd``,
  ``.highlight``, ``.cell_input``, ...), shows
  - a MyST glue role that did not render (``glue:`` or ``{glue``),
  - a ``$`` that MathJax did not consume (an unbalanced ``$`` in the source), or
  - raw TeX: ``$$``, ``\\(``, ``\\[``, ``\\begin{``, any backslash command (``\\frac``,
    ``\\lambda``, ``\\mathrm``, ``\\left`` ...), ``\\|``, ``^{`` or ``_{``;
* its typeset math contains a glue role, or reads like prose (``PROSE_WORDS`` words in a row
  outside ``\\text{...}``): an unbalanced ``$`` typesets the prose up to the next ``$`` as one
  long italic formula, which MathJax renders without complaint. The TeX is taken from MathJax's
  math items (``MathJax.startup.document.getMathItemsWithin``);
* an image is broken (``img.complete && img.naturalWidth === 0``);
* an image has no meaningful alt text: none, empty, a file name or path (what docutils writes when
  no alt is given), a hash, or a bare generic word ("image", "plot"); images marked decorative
  (``role="presentation"``, ``aria-hidden="true"``) are exempt;
* an image drawn by a notebook cell (inside ``.cell_output``) is not a captioned figure
  (``figure > figcaption`` with text): every figure is numbered and captioned;
* a download link (``a.download``: the data behind a figure) points to a file that is missing;
* it shows an error: a notebook traceback or error output, a stderr output mentioning an
  error, or a docutils system message / problematic node;
* a table is wider than its column (the page's ``article``, else ``main``, else ``body``) and no
  scrolling wrapper (an ancestor with ``overflow-x: auto`` or ``scroll`` inside the column) holds
  it, or such a wrapper itself sticks out of the column;
* a table cell shows a missing value as ``NaN`` / ``nan`` (any case), ``NaT`` or ``<NA>``, or is
  nothing but ``None``, ``null`` or ``undefined`` (Python's, JSON's and JavaScript's missing values);
* a glued sentence (``span.pasted-text`` of four words or more) is rendered in bold (myst-nb's
  default style): bold glued text is for numbers only;
* it holds an interactive threshold explorer (``.threshold-explorer``, from
  ``companion.explorer``) and Plotly did not load (its script must come from the book itself: the
  network is off), the explorer drew no traces, or a real click (Selenium, not a script) on its
  controls (``button[data-control]`` whose ``aria-pressed`` is not ``true``, tried in turn) does
  not change the plotted data (the x/y arrays of every trace, compared before and after).

A full-page screenshot of each page is saved under ``<build>/_screenshots/<page>.png`` (width
1280, height the page's scroll height capped at 8000). The script prints one line per page and
the summary ``N pages checked, N failed``; it exits 1 when a page failed, 2 when it could not
run at all. Each problem comes with a short excerpt of the page; the text checks report one
excerpt per kind of problem and paragraph (list item, table cell, ...), with a count of the rest,
and show typeset math in an excerpt as ``⟨its TeX⟩``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

SKIP_DIRS = {"_static", "_sources", "_images", "_screenshots", "_downloads", "reports", ".doctrees",
             ".jupyter_cache", "jupyter_execute"}
SKIP_FILES = {"genindex.html", "search.html", "py-modindex.html"}
WIDTH = 1280
MAX_HEIGHT = 8000
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "chrome-extension:", "devtools:")
# Raw TeX that must not be visible in prose (outside typeset math and code): JavaScript regular
# expressions, tried in this order at each position of a text node; the earliest hit is reported
# as the text it matched (so a command shows up as itself: '\\lambda', '\\frac', ...).
RAW_TEX = (
    r"\$\$",
    r"\\[()\[\]]",            # \( \) \[ \]
    r"\\(?:begin|end)\s*\{",
    r"\\[A-Za-z]+",           # any command: \frac, \lambda, \mathrm, \left, ...
    r"\\[|{}]",               # \| \{ \}
    r"[\^_]\{",               # ^{ _{
)
# Visible text, or typeset math, that shows a MyST glue role instead of its value.
GLUE = r"\{glue|glue:"
# Typeset math whose TeX reads like prose, PROSE_WORDS or more words in a row outside \text{...}:
# what an unbalanced $ does (the prose up to the next $ is typeset as one long italic formula).
PROSE_WORDS = 4

CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--metrics-recording-only",
    "--hide-scrollbars",
    # No name resolves, and every request (loopback included) goes to a port nothing listens on.
    # chromedriver reaches the browser over its own DevTools socket, which neither flag touches.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    f"--window-size={WIDTH},1000",
]

# Resolves when MathJax has typeset the page: 'ok', 'nomath' (no math, MathJax absent), or a reason.
WAIT_MATHJAX_JS = r"""
const done = arguments[arguments.length - 1];
const limitMs = arguments[0];
const t0 = Date.now();
const hasMath = () => document.querySelector('.math, .MathJax, mjx-container, script[type^="math/tex"]') !== null;
const mathjaxScript = () => document.querySelector('script[src*="mathjax" i], script[src*="tex-chtml"], script[src*="tex-mml"]') !== null;
(function poll() {
  const mj = window.MathJax;
  if (!mj && !mathjaxScript() && !hasMath()) { done('nomath'); return; }
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => done('ok'), (e) => done('MathJax startup failed: ' + e));
    return;
  }
  if (Date.now() - t0 > limitMs) {
    if (!hasMath()) { done('nomath'); return; }
    done(mj ? 'MathJax was configured but never started (its script did not load?)'
            : 'the page has math but MathJax is not on it');
    return;
  }
  setTimeout(poll, 100);
})();
"""

# Everything the page shows that could mean it rendered badly.
INSPECT_JS = r"""
const RAW = new RegExp(arguments[0], 'g');
const GLUE = new RegExp(arguments[1]);
const PROSE_WORDS = arguments[2];
const out = {rawTex: [], glue: [], dollar: [], mathGlue: [], mathProse: [],
             brokenImages: [], pendingImages: [], errors: [], mathjaxErrors: [],
             altText: [], uncaptioned: [], downloads: [], boldGlue: [],
             mjx: document.querySelectorAll('mjx-container').length,
             images: document.images.length,
             mathNodes: document.querySelectorAll('.math').length,
             height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)};
const squash = (s) => s.replace(/\s+/g, ' ').trim();
const visible = (el) => {
  if (!el) return false;
  if (typeof el.checkVisibility === 'function') {
    return el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  }
  return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
};
// Text that may legitimately show TeX, $ or glue( calls: code, typeset math and its assistive copy.
const SKIP = 'pre, code, kbd, samp, tt, script, style, noscript, textarea, mjx-container, .highlight, ' +
             '.MathJax, .cell_input, mjx-assistive-mml, title, head';
const BLOCK = 'p, li, dt, dd, td, th, caption, figcaption, blockquote, h1, h2, h3, h4, h5, h6, ' +
              'div, section, article, aside, nav, header, footer, main, body';
// Typeset math: its TeX source (MathJax's math items), else the text of its assistive MathML.
const mathTexts = [];
const texOf = new Map();  // mjx-container -> its TeX
try {
  const doc = window.MathJax && MathJax.startup && MathJax.startup.document;
  if (doc && typeof doc.getMathItemsWithin === 'function') {
    for (const item of doc.getMathItemsWithin(document.body)) {
      const root = item.typesetRoot;
      if (root) texOf.set(root, String(item.math));
      if (root && root.isConnected && !visible(root)) continue;
      mathTexts.push({tex: String(item.math), el: root && root.isConnected ? root : null});
    }
  }
} catch (e) { /* fall back to the containers below */ }
if (!mathTexts.length) {
  for (const el of document.querySelectorAll('mjx-container')) {
    const mml = el.querySelector('mjx-assistive-mml');
    mathTexts.push({tex: (mml ? mml.textContent : '') || el.getAttribute('aria-label') || '', el: el});
  }
}
const mathShown = (el) => {
  if (texOf.has(el)) return '⟨' + texOf.get(el).trim() + '⟩';
  const mml = el.querySelector('mjx-assistive-mml');
  return '⟨' + ((mml ? mml.textContent : '') || el.getAttribute('aria-label') || 'math').trim() + '⟩';
};
// What a reader sees around offset i of a text node: the text of its block, typeset math shown
// as ⟨its TeX⟩. Returns [block, excerpt].
const excerpt = (node, i, before = 50, after = 70) => {
  const block = node.parentElement.closest(BLOCK) || document.body;
  let text = '', at = -1;
  const walk = (el) => {
    for (const n of el.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) {
        if (n === node) at = text.length + i;
        text += n.nodeValue;
      } else if (n.nodeType === Node.ELEMENT_NODE) {
        const tag = n.tagName.toLowerCase();
        if (tag === 'script' || tag === 'style') continue;
        if (tag === 'mjx-container') { text += mathShown(n); continue; }
        walk(n);
      }
    }
  };
  walk(block);
  if (at < 0) { text = node.nodeValue; at = i; }
  const start = Math.max(0, at - before), end = Math.min(text.length, at + after);
  return [block, (start > 0 ? '...' : '') + squash(text.slice(start, end)) + (end < text.length ? '...' : '')];
};
// One report per kind of problem and block (paragraph, list item, cell ...), counting the rest.
const reported = new Map();
const once = (list, kind, block, item) => {
  let seenIn = reported.get(block);
  if (!seenIn) { seenIn = {}; reported.set(block, seenIn); }
  if (seenIn[kind]) { seenIn[kind].more += 1; return; }
  item.more = 0;
  seenIn[kind] = item;
  list.push(item);
};
const hit = (list, kind, node, i, extra) => {
  const [block, context] = excerpt(node, i);
  once(list, kind, block, Object.assign({context: context}, extra || {}));
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let node;
while ((node = walker.nextNode())) {
  const text = node.nodeValue;
  if (!text || !text.trim()) continue;
  const parent = node.parentElement;
  // Glue *roles* ({glue:text}`key`) in a code block: one may be a documented example, but two or more
  // mean prose turned into code (e.g. a fence whose info string holds a backtick swallowed the text).
  const roles = text.match(/\{glue(?::[a-z]+)?\}`/g);
  if (roles && roles.length >= 2 && parent && visible(parent) &&
      !parent.closest('.cell_input, script, style, head, title')) {
    hit(out.glue, 'glue', node, text.indexOf(roles[0]), {pattern: roles[0]});
    continue;
  }
  if (!parent || parent.closest(SKIP) || !visible(parent)) continue;
  const g = GLUE.exec(text);
  if (g) hit(out.glue, 'glue', node, g.index, {pattern: g[0]});
  RAW.lastIndex = 0;
  const m = RAW.exec(text);
  if (m) hit(out.rawTex, 'tex', node, m.index, {pattern: m[0]});
  const d = text.indexOf('$');
  if (d >= 0 && !(m && m[0] === '$$')) hit(out.dollar, 'dollar', node, d);
}
// Words of prose in TeX: drop \text{...}-like groups and commands, then look for a run of words.
const TEXTGROUP = /\\(?:text[a-z]*|mbox|hbox|mathrm|mathit|mathbf|mathsf|mathtt|mathcal|mathbb|operatorname\*?|label|tag|ref|eqref)\s*\{[^{}]*\}/g;
const PROSE = new RegExp('(?:[A-Za-z]{2,}[\\s,.;:!?\'"`]+){' + (PROSE_WORDS - 1) + ',}[A-Za-z]{2,}');
for (const {tex, el} of mathTexts) {
  const block = (el && el.parentElement && el.parentElement.closest(BLOCK)) || document.body;
  const g = GLUE.exec(tex);
  if (g) {
    const i = g.index;
    once(out.mathGlue, 'mathGlue', block, {context: (i > 50 ? '...' : '') +
         squash(tex.slice(Math.max(0, i - 50), i + 70)) + (i + 70 < tex.length ? '...' : '')});
    continue;
  }
  const bare = tex.replace(TEXTGROUP, ' ').replace(/\\[A-Za-z]+/g, ' ');
  if (PROSE.test(bare)) {
    const t = squash(tex);
    once(out.mathProse, 'mathProse', block, {context: t.slice(0, 140) + (t.length > 140 ? '...' : '')});
  }
}
for (const img of Array.from(document.images)) {
  const src = img.getAttribute('src') || '(no src)';
  if (!img.complete) out.pendingImages.push(src);
  else if (img.naturalWidth === 0) out.brokenImages.push(src);
}
// Every image must say what it shows: alt text that is not empty, not a file name or path, not a
// hash and not a bare generic word (what docutils writes when no alt is given is the image's URI).
// Images marked decorative (role="presentation"/"none" or aria-hidden) are left alone.
const ALT_PATH = /(^|[\/])[^\s\/]*\.(png|jpe?g|gif|svg|webp|bmp|pdf)$|_images\/|^[^\s]*\/[^\s]*$|^(data|file|https?):/i;
const ALT_HASH = /^[\s]*[0-9a-f]{12,}[\s.]*|\b[0-9a-f]{32,}\b/i;
const ALT_GENERIC = /^(image|img|figure|fig|plot|chart|graph|picture|png|output|untitled|alt|none|null|undefined)\s*\d*\.?$/i;
for (const img of Array.from(document.images)) {
  const role = (img.getAttribute('role') || '').toLowerCase();
  if (role === 'presentation' || role === 'none' || img.getAttribute('aria-hidden') === 'true') continue;
  const src = img.getAttribute('src') || '(no src)';
  const shortSrc = src.startsWith('data:') ? src.slice(0, 30) + '...' : src;
  const alt = img.getAttribute('alt');
  let why = null;
  if (alt === null) why = 'no alt attribute';
  else if (!alt.trim()) why = 'empty alt text';
  else if (alt.trim() === src || ALT_PATH.test(alt.trim())) why = 'alt text is a file name or path';
  else if (ALT_HASH.test(alt.trim())) why = 'alt text looks like a hash';
  else if (ALT_GENERIC.test(alt.trim())) why = 'alt text is a generic word';
  if (why) out.altText.push({src: shortSrc, why: why, alt: alt === null ? '' : alt.slice(0, 80)});
  // A figure a notebook cell drew must be a numbered, captioned figure: <figure> with a <figcaption>.
  if (img.closest('.cell_output, .output')) {
    const fig = img.closest('figure');
    const cap = fig ? fig.querySelector(':scope > figcaption') : null;
    if (!cap || !(cap.textContent || '').trim()) {
      out.uncaptioned.push({src: shortSrc, why: fig ? 'its <figure> has no <figcaption>' : 'not inside a <figure>'});
    }
  }
}
// Glued sentences in bold (myst-nb's span.pasted-text is bold by default): bold is for numbers only.
for (const el of document.querySelectorAll('span.pasted-text')) {
  if (!visible(el)) continue;
  const text = squash(el.textContent || '');
  const words = text.match(/[A-Za-z]{2,}/g) || [];
  const weight = parseInt(getComputedStyle(el).fontWeight, 10) || 400;
  if (words.length >= 4 && weight >= 600) {
    out.boldGlue.push({weight: weight, context: text.slice(0, 100) + (text.length > 100 ? '...' : '')});
  }
}
// Download links (Sphinx's a.download: the data behind a figure): their targets must exist.
for (const a of document.querySelectorAll('a.download, a.reference.download')) {
  out.downloads.push({href: a.href, text: squash(a.textContent || '')});
}
const ERR = [
  ['.output.traceback', 'traceback output'],
  ['div.cell_output .traceback', 'traceback output'],
  ['.output.error', 'error output'],
  ['div.cell_output .output.error', 'error output'],
  ['.system-message', 'docutils system message'],
  ['.problematic', 'problematic markup'],
];
const seen = new Set();
for (const [sel, what] of ERR) {
  for (const el of document.querySelectorAll(sel)) {
    if (seen.has(el)) continue;
    seen.add(el);
    out.errors.push(what + ': ' + squash(el.innerText || el.textContent || '').slice(0, 160));
  }
}
for (const el of document.querySelectorAll('.output.stderr, div.cell_output .stderr')) {
  const text = (el.innerText || el.textContent || '');
  if (/Error|Traceback/.test(text) && !seen.has(el)) {
    seen.add(el);
    out.errors.push('stderr output with an error: ' + squash(text).slice(0, 160));
  }
}
for (const el of document.querySelectorAll('mjx-merror')) {
  out.mathjaxErrors.push((el.getAttribute('data-mjx-error') || el.textContent || '').slice(0, 160));
}
return out;
"""


# Tables: wider than their column without a scrolling wrapper, or cells showing a missing value.
TABLES_JS = r"""
const out = {overflow: [], missing: []};
const squash = (s) => s.replace(/\s+/g, ' ').trim();
const visible = (el) => {
  if (typeof el.checkVisibility === 'function') {
    return el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  }
  return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
};
const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
const inner = (el) => {  // the content box of an element, in viewport coordinates
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  return {left: r.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft),
          right: r.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight)};
};
const name = (table) => {
  const cap = table.querySelector('caption');
  if (cap && squash(cap.textContent)) return 'table "' + squash(cap.textContent).slice(0, 60) + '"';
  const heads = Array.from(table.querySelectorAll('th')).slice(0, 4).map((th) => squash(th.textContent));
  return heads.length ? 'table with headers ' + JSON.stringify(heads.join(' | ').slice(0, 80))
                      : 'table starting ' + JSON.stringify(squash(table.textContent).slice(0, 60));
};
const describe = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
                         ? '.' + el.className.trim().split(/\s+/).join('.') : '');
const MISSING = /(?<![\w.])[-+]?(?:nan|NaT|<NA>)(?![\w>])/i;
const MISSING_CELL = /^(?:None|null|undefined)$/;  // a whole cell: "None of the three" is prose
for (const table of document.querySelectorAll('table')) {
  if (!visible(table)) continue;
  const column = table.closest('article') || table.closest('main, [role="main"]') || document.body;
  const box = inner(column);
  let wrapper = null;
  for (let el = table.parentElement; el && el !== column; el = el.parentElement) {
    if (scrolls(el)) { wrapper = el; break; }
  }
  const r = (wrapper || table).getBoundingClientRect();
  if (r.right > box.right + 1 || r.left < box.left - 1) {
    out.overflow.push({table: name(table), width: Math.round(table.getBoundingClientRect().width),
                       column: Math.round(box.right - box.left), columnName: describe(column),
                       wrapper: wrapper ? describe(wrapper) : null});
  }
  for (const cell of table.querySelectorAll('td, th')) {
    const text = squash(cell.innerText || cell.textContent || '');
    const m = MISSING.exec(text) || MISSING_CELL.exec(text);
    if (m && visible(cell)) {
      const row = cell.parentElement;
      const header = row ? squash((row.querySelector('th') || row.cells[0] || {}).textContent || '') : '';
      out.missing.push({table: name(table), shown: m[0], text: text.slice(0, 60), row: header.slice(0, 40)});
    }
  }
}
return out;
"""

# Interactive threshold explorers (companion.explorer): whether Plotly loaded and what each plots.
EXPLORERS_JS = r"""
return Array.from(document.querySelectorAll('.threshold-explorer')).map((root, i) => {
  const gd = root.querySelector('.js-plotly-plot');
  const data = gd && Array.isArray(gd.data) ? gd.data : [];
  return {index: i, id: root.id || '', plotly: !!(window.Plotly && window.Plotly.react),
          traces: data.length,
          drawn: gd ? gd.querySelectorAll('.scatterlayer .trace').length : 0,
          points: data.reduce((k, t) => k + (Array.isArray(t.y) ? t.y.filter((v) => v !== null).length : 0), 0),
          data: JSON.stringify(data.map((t) => [t.name, t.x, t.y]))};
});
"""
PLOTLY_SCRIPTS_JS = "return Array.from(document.scripts).map(s => s.src).filter(s => /plotly/i.test(s));"


def check_explorers(driver, wait_s: float = 20.0) -> list[str]:
    """Problems with the page's threshold explorers: Plotly not loaded, nothing drawn, or no control
    whose (real) click changes the plotted data."""
    from selenium.webdriver.common.by import By

    problems: list[str] = []
    states = driver.execute_script(EXPLORERS_JS)
    if not states:
        return problems
    deadline = time.time() + wait_s
    while time.time() < deadline and not all(s["plotly"] and s["drawn"] > 0 for s in states):
        time.sleep(0.2)
        states = driver.execute_script(EXPLORERS_JS)
    roots = driver.find_elements(By.CSS_SELECTOR, ".threshold-explorer")
    for state, root in zip(states, roots):
        what = f"threshold explorer #{state['index'] + 1}" + (f" ({state['id']})" if state["id"] else "")
        if not state["plotly"]:
            scripts = driver.execute_script(PLOTLY_SCRIPTS_JS)
            problems.append(f"{what}: Plotly did not load (window.Plotly is undefined; plotly scripts on "
                            f"the page: {scripts or 'none'}); the book must serve its own plotly.js")
            continue
        if state["traces"] == 0 or state["drawn"] == 0 or state["points"] == 0:
            problems.append(f"{what}: the plot drew nothing ({state['traces']} traces, {state['drawn']} "
                            f"drawn, {state['points']} points)")
            continue
        before = state["data"]
        tried = []
        changed = False
        for button in root.find_elements(By.CSS_SELECTOR, "button[data-control]"):
            if button.get_attribute("aria-pressed") == "true" or not button.is_displayed():
                continue
            label = f"{button.get_attribute('data-control')}={button.get_attribute('data-value')}"
            tried.append(label)
            button.click()  # a real click, through WebDriver
            stop = time.time() + 5
            while time.time() < stop:
                after = driver.execute_script(EXPLORERS_JS)[state["index"]]["data"]
                if after != before:
                    changed = True
                    break
                time.sleep(0.1)
            if changed or len(tried) >= 4:
                break
        if not tried:
            problems.append(f"{what}: no control to click (button[data-control] not pressed)")
        elif not changed:
            problems.append(f"{what}: clicking {', '.join(tried)} did not change the plotted data")
    return problems


def find_pages(root: Path, only: list[str] | None = None) -> list[Path]:
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS for part in rel.parts[:-1]) or rel.name in SKIP_FILES:
            continue
        if only and rel.as_posix() not in only:
            continue
        head = path.read_text(encoding="utf-8", errors="replace")[:2000].lower()
        if 'http-equiv="refresh"' in head and "<body" not in head:
            print(f"skip {rel.as_posix()} (redirect)")
            continue
        pages.append(path)
    return pages


def _find_binary(candidates: list[str]) -> str | None:
    for cand in candidates:
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def make_driver(chromium: str, chromedriver: str, profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=chromedriver)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(90)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    return driver


def network_requests(driver) -> list[str]:
    """URLs the page asked for that are not local (from the DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        try:
            message = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        if message.get("method") != "Network.requestWillBeSent":
            continue
        url = message.get("params", {}).get("request", {}).get("url", "")
        if url and not url.startswith(LOCAL_SCHEMES) and url not in urls:
            urls.append(url)
    return urls


def _report(problems: list[str], items: list, what: str, line, limit: int = 5) -> None:
    """Add one line per item (at most ``limit``, then a count of the rest) to ``problems``."""
    for item in items[:limit]:
        problems.append(line(item))
    if len(items) > limit:
        problems.append(f"... and {len(items) - limit} more {what}")


def _local_file(href: str) -> Path | None:
    """The file a ``file:`` URL points to (query and fragment dropped), else None."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(href)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path))


def _more(item: dict) -> str:
    return f" (and {item['more']} more in this block)" if item.get("more") else ""


def check_page(driver, path: Path, root: Path, shots: Path, mathjax_wait_s: float,
               explorer_wait_s: float = 20.0) -> list[str]:
    problems: list[str] = []
    driver.get_log("performance")  # drop what earlier pages logged
    driver.set_window_size(WIDTH, 1000)
    driver.get(path.resolve().as_uri())
    deadline = time.time() + 30
    while driver.execute_script("return document.readyState") != "complete" and time.time() < deadline:
        time.sleep(0.1)

    state = driver.execute_async_script(WAIT_MATHJAX_JS, int(mathjax_wait_s * 1000))
    if state not in ("ok", "nomath"):
        problems.append(f"MathJax: {state}")

    # Grow the window to the whole page so that lazy images load, then look at the page.
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    driver.set_window_size(WIDTH, max(600, min(int(height), MAX_HEIGHT)))
    deadline = time.time() + 10
    while time.time() < deadline and not driver.execute_script(
            "return Array.from(document.images).every(i => i.complete)"):
        time.sleep(0.2)
    info = driver.execute_script(INSPECT_JS, "|".join(RAW_TEX), GLUE, PROSE_WORDS)

    _report(problems, info["glue"], "blocks with an unrendered glue role", lambda item:
            f"unrendered glue role ({item['pattern']!r}) in visible text{_more(item)}: "
            f"{item['context']}")
    _report(problems, info["mathGlue"], "blocks with a glue role typeset as math", lambda item:
            f"glue role typeset as math (a $ left open around a glued value?){_more(item)}: "
            f"{item['context']}")
    _report(problems, info["mathProse"], "blocks with prose typeset as math", lambda item:
            f"prose typeset as math (an unbalanced $?){_more(item)}: {item['context']}")
    _report(problems, info["rawTex"], "blocks with unrendered TeX", lambda item:
            f"unrendered TeX {item['pattern']!r} in visible text{_more(item)}: {item['context']}")
    _report(problems, info["dollar"], "blocks with a stray '$'", lambda item:
            f"stray '$' in visible text (unbalanced math?){_more(item)}: {item['context']}")
    for src in info["brokenImages"]:
        problems.append(f"broken image: {src}")
    for src in info["pendingImages"]:
        problems.append(f"image never finished loading: {src}")
    for item in info["altText"]:
        problems.append(f"image without meaningful alt text ({item['why']}"
                        + (f": {item['alt']!r}" if item["alt"] else "") + f"): {item['src']}")
    for item in info["uncaptioned"]:
        problems.append(f"notebook figure without a caption ({item['why']}): {item['src']}")
    for item in info["downloads"]:
        target = _local_file(item["href"])
        if target is not None and not target.is_file():
            problems.append(f"broken download link {item['text']!r}: {item['href']}")
    _report(problems, info["boldGlue"], "glued sentences in bold", lambda item:
            f"glued sentence rendered in bold (font-weight {item['weight']}; bold only numbers): "
            f"{item['context']}")
    tables = driver.execute_script(TABLES_JS)
    _report(problems, tables["overflow"], "overflowing tables", lambda item:
            f"{item['table']} overflows its column ({item['width']} px in a {item['column']} px "
            f"{item['columnName']}" + (f"; its scrolling wrapper {item['wrapper']} sticks out too)"
                                       if item["wrapper"] else ", no scrolling wrapper)"))
    _report(problems, tables["missing"], "table cells showing a missing value", lambda item:
            f"table cell shows {item['shown']!r} in {item['table']}"
            + (f", row {item['row']!r}" if item["row"] else "") + f": {item['text']!r}")
    problems.extend(check_explorers(driver, explorer_wait_s))
    for err in info["errors"]:
        problems.append(err)
    for err in info["mathjaxErrors"]:
        problems.append(f"MathJax error: {err}")
    for url in network_requests(driver):
        problems.append(f"network request (the book must work offline): {url}")

    rel = path.relative_to(root)
    shot = shots / rel.with_suffix(".png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    height = min(int(info["height"]), MAX_HEIGHT)
    driver.set_window_size(WIDTH, max(600, height))
    time.sleep(0.2)
    driver.save_screenshot(str(shot))

    status = "FAIL" if problems else "ok  "
    print(f"{status} {rel.as_posix()}  (math elements: {info['mathNodes']}, typeset: {info['mjx']}, "
          f"images: {info['images']}, screenshot: {shot.relative_to(root).as_posix()})")
    for problem in problems:
        print(f"       - {problem}")
    sys.stdout.flush()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", type=Path, help="the built HTML folder, e.g. _build/html")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="where screenshots go (default: <html_dir>/_screenshots)")
    parser.add_argument("--chromium", default=None, help="the Chromium binary")
    parser.add_argument("--chromedriver", default=None, help="the chromedriver binary")
    parser.add_argument("--mathjax-wait", type=float, default=20.0,
                        help="seconds to wait for MathJax to start on a page (default 20)")
    parser.add_argument("--explorer-wait", type=float, default=20.0,
                        help="seconds to wait for Plotly to draw a threshold explorer (default 20)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="check only these pages (paths relative to html_dir)")
    args = parser.parse_args(argv)
    try:  # excerpts show typeset math as ⟨TeX⟩: never let an ASCII-only stdout fail a page
        sys.stdout.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):
        pass

    root = args.html_dir.resolve()
    if not root.is_dir():
        print(f"error: {args.html_dir} is not a folder; build the book first (make book)")
        return 2
    chromium = _find_binary([args.chromium, "/usr/lib/chromium/chromium", "/usr/bin/chromium",
                             shutil.which("chromium") or "", shutil.which("chromium-browser") or ""])
    chromedriver = _find_binary([args.chromedriver, "/usr/bin/chromedriver",
                                 shutil.which("chromedriver") or ""])
    if not chromium or not chromedriver:
        print("error: Chromium and chromedriver are needed (Debian: apt-get install chromium "
              "chromium-driver; `make browser-check` does this)")
        return 2
    pages = find_pages(root, args.only)
    if not pages:
        print(f"error: no pages found under {root}")
        return 2
    shots = (args.screenshots or root / "_screenshots").resolve()
    shots.mkdir(parents=True, exist_ok=True)

    profile = tempfile.mkdtemp(prefix="check-rendered-profile-")
    failed: dict[str, list[str]] = {}
    t0 = time.time()
    driver = None
    try:
        driver = make_driver(chromium, chromedriver, profile)
        for page in pages:
            rel = page.relative_to(root).as_posix()
            try:
                problems = check_page(driver, page, root, shots, args.mathjax_wait, args.explorer_wait)
            except Exception as exc:  # a page that breaks the checker fails, the others still run
                problems = [f"checker error: {type(exc).__name__}: {exc}"]
                print(f"FAIL {rel}\n       - {problems[0]}")
            if problems:
                failed[rel] = problems
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

    print(f"\nChecked in {time.time() - t0:.1f} s with {chromium}; screenshots in {shots}")
    if failed:
        print("Failed pages:")
        for rel, problems in failed.items():
            print(f"  {rel}: {len(problems)} problem(s), first: {problems[0]}")
    print(f"{len(pages)} pages checked, {len(failed)} failed")
    print(f"browser-check: {len(pages) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
