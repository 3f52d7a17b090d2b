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
* its visible text, outside code blocks, still shows raw TeX: ``$$``, ``\\(``, ``\\[``,
  ``\\begin{`` or ``\\frac``;
* an image is broken (``img.complete && img.naturalWidth === 0``);
* it shows an error: a notebook traceback or error output, a stderr output mentioning an
  error, or a docutils system message / problematic node.

A full-page screenshot of each page is saved under ``<build>/_screenshots/<page>.png`` (width
1280, height the page's scroll height capped at 8000). The script prints one line per page and
the summary ``N pages checked, N failed``; it exits 1 when a page failed, 2 when it could not
run at all.
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
RAW_TEX = ("$$", "\\(", "\\[", "\\begin{", "\\frac")

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
const RAW = arguments[0];
const out = {rawTex: [], brokenImages: [], pendingImages: [], errors: [], mathjaxErrors: [],
             mjx: document.querySelectorAll('mjx-container').length,
             images: document.images.length,
             mathNodes: document.querySelectorAll('.math').length,
             height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)};
const visible = (el) => {
  if (!el) return false;
  if (typeof el.checkVisibility === 'function') {
    return el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  }
  return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
};
const SKIP = 'pre, code, kbd, samp, script, style, noscript, textarea, mjx-container, .highlight, ' +
             '.MathJax, .cell_input, mjx-assistive-mml, title, head';
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let node;
while ((node = walker.nextNode())) {
  const text = node.nodeValue;
  if (!text || !text.trim()) continue;
  const parent = node.parentElement;
  if (!parent || parent.closest(SKIP) || !visible(parent)) continue;
  for (const pat of RAW) {
    const i = text.indexOf(pat);
    if (i >= 0) {
      out.rawTex.push({pattern: pat,
                       context: text.slice(Math.max(0, i - 40), i + 60).replace(/\s+/g, ' ').trim()});
      break;
    }
  }
}
for (const img of Array.from(document.images)) {
  const src = img.getAttribute('src') || '(no src)';
  if (!img.complete) out.pendingImages.push(src);
  else if (img.naturalWidth === 0) out.brokenImages.push(src);
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
    out.errors.push(what + ': ' + (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 160));
  }
}
for (const el of document.querySelectorAll('.output.stderr, div.cell_output .stderr')) {
  const text = (el.innerText || el.textContent || '');
  if (/Error|Traceback/.test(text) && !seen.has(el)) {
    seen.add(el);
    out.errors.push('stderr output with an error: ' + text.replace(/\s+/g, ' ').trim().slice(0, 160));
  }
}
for (const el of document.querySelectorAll('mjx-merror')) {
  out.mathjaxErrors.push((el.getAttribute('data-mjx-error') || el.textContent || '').slice(0, 160));
}
return out;
"""


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


def check_page(driver, path: Path, root: Path, shots: Path, mathjax_wait_s: float) -> list[str]:
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
    info = driver.execute_script(INSPECT_JS, list(RAW_TEX))

    for item in info["rawTex"][:5]:
        problems.append(f"unrendered TeX {item['pattern']!r} in visible text: ...{item['context']}...")
    if len(info["rawTex"]) > 5:
        problems.append(f"... and {len(info['rawTex']) - 5} more unrendered TeX fragments")
    for src in info["brokenImages"]:
        problems.append(f"broken image: {src}")
    for src in info["pendingImages"]:
        problems.append(f"image never finished loading: {src}")
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
    parser.add_argument("--only", nargs="*", default=None,
                        help="check only these pages (paths relative to html_dir)")
    args = parser.parse_args(argv)

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
                problems = check_page(driver, page, root, shots, args.mathjax_wait)
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
