"""The book's own Sphinx extension (``sphinx.extra_extensions`` in ``_config.yml``).

1. **The repository link, the "suggest edit" / "open issue" buttons and the Binder / Colab launch
   buttons appear only when a real repository URL is configured**, by one setting: the environment
   variable ``COMPANION_REPOSITORY_URL`` at build time (``https://github.com/OWNER/REPO``; GitLab and
   Bitbucket URLs get the repository and edit/issue buttons, launch buttons need GitHub), with
   ``COMPANION_REPOSITORY_BRANCH`` for another branch than ``repository.branch`` of ``_config.yml``.
   The Sphinx config value ``companion_repository_url`` (default: that variable) is the same switch
   for a ``conf.py``-style override (``jupyter-book build . --config`` or ``sphinx.config``).

   Unset (the default, and what ``make book`` / ``make test`` build), the pages carry no link to any
   repository and no launch button: ``_config.yml`` names no ``repository.url`` and keeps its
   ``use_*_button`` flags off, and this extension empties ``launch_buttons`` (sphinx-book-theme would
   otherwise try to build Binder links without a repository). Set, it fills
   ``html_theme_options`` before the builder reads them (``config-inited``): ``repository_url``,
   ``repository_branch``, ``path_to_docs``, ``use_repository_button``, ``use_edit_page_button``,
   ``use_issues_button`` and the ``launch_buttons`` of ``_config.yml``. (Jupyter Book 1.x copies
   ``repository.url`` into ``html_theme_options['repository_url']`` and refuses ``use_*_button: true``
   without it; sphinx-book-theme derives every link from ``repository_url``.)

2. **plotly.js, offline and only where it is needed**: the threshold explorer
   (:mod:`companion.explorer`) draws with Plotly but does not inline its 4.8 MB of JavaScript. This
   extension copies ``plotly.min.js`` from the pinned ``plotly`` package to
   ``_static/companion/plotly.min.js`` of the HTML build and adds it (deferred) to each page whose body
   contains an explorer (the attribute ``data-companion-plotly``). No CDN is involved.

3. **One execution per ``make test``**: the environment variable ``COMPANION_BOOK_EXECUTE`` sets
   myst-nb's execution mode for one build (``off``, ``cache``, ``force``, ``auto``; unset: the
   ``execute_notebooks`` of ``_config.yml``). ``make test`` builds with ``off``, from the notebooks'
   stored outputs: its notebook check has just executed every notebook and shown that a fresh
   execution (on results with noise added) reproduces every stored output, so executing them again
   for the build would only repeat that work. ``make book`` executes as ``_config.yml`` says.

4. **The execution table's status in words**: myst-nb's ``{nb-exec-table}`` marks each notebook with
   an emoji (U+2705 / U+274C) that a stock Debian Chromium has no font for, so the reproducibility
   page showed an empty box. :func:`status_text` replaces it with "ok" / "failed".
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from myst_nb.ext import execution_tables
from sphinx.errors import ConfigError

from .explorer_page import plotly_js_path

ENV_URL = "COMPANION_REPOSITORY_URL"
ENV_BRANCH = "COMPANION_REPOSITORY_BRANCH"
ENV_EXECUTE = "COMPANION_BOOK_EXECUTE"
#: myst-nb's execution modes that ``COMPANION_BOOK_EXECUTE`` may name.
EXECUTION_MODES = ("off", "cache", "force", "auto")
#: The buttons a configured repository switches on.
BUTTONS = ("use_repository_button", "use_edit_page_button", "use_issues_button")
PROVIDERS = ("github.com", "gitlab.com", "bitbucket.org")
PLOTLY_JS = "companion/plotly.min.js"
PLOTLY_MARKER = "data-companion-plotly"

__version__ = "1.0"


class RepositoryURLError(ValueError):
    """The configured repository URL is not a URL of a repository."""


def repository_url(value: str | None) -> str | None:
    """The repository URL to build with: None when unset or blank; else ``https://HOST/OWNER/REPO``
    (trailing ``/`` and ``.git`` removed). Anything else is refused with a message naming the
    setting."""
    if value is None or not str(value).strip():
        return None
    url = str(value).strip().rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    if (parts.scheme != "https" or parts.netloc.lower() not in PROVIDERS or len(path) != 2
            or parts.query or parts.fragment
            or not all(re.fullmatch(r"[A-Za-z0-9._-]+", p) for p in path)):
        raise RepositoryURLError(
            f"{ENV_URL} = {value!r} is not a repository URL: expected https://github.com/OWNER/REPO "
            f"(or a {', '.join(PROVIDERS[1:])} repository); leave it unset for a book without "
            "repository and launch buttons")
    return f"https://{parts.netloc.lower()}/{path[0]}/{path[1]}"


def theme_options(options: dict, url: str | None, branch: str | None = None) -> dict:
    """``html_theme_options`` as the book is built with: ``options`` (what Jupyter Book made of
    ``_config.yml``) with the repository settings added (``url`` given) or removed (``url`` None).
    Returns a new dict; ``options`` is not changed."""
    out = dict(options)
    launch = dict(out.get("launch_buttons") or {})
    url = repository_url(url)
    if url is None:
        for key in ("repository_url", "repository_provider"):
            out.pop(key, None)
        for key in BUTTONS:
            out[key] = False
        out["launch_buttons"] = {}
        return out
    out["repository_url"] = url
    if branch:
        out["repository_branch"] = branch
    out.setdefault("repository_branch", "main")
    out.setdefault("path_to_docs", "")
    for key in BUTTONS:
        out[key] = True
    if not url.startswith("https://github.com/"):
        # sphinx-book-theme builds Binder/Colab links for GitHub repositories only
        launch = {k: v for k, v in launch.items() if k not in ("binderhub_url", "colab_url")}
    out["launch_buttons"] = launch
    return out


def execution_mode(value: str | None) -> str | None:
    """The myst-nb execution mode ``COMPANION_BOOK_EXECUTE`` asks for (None: _config.yml's)."""
    value = (value or "").strip()
    if value and value not in EXECUTION_MODES:
        raise ConfigError(f"{ENV_EXECUTE}={value!r} is not allowed: must be one of {', '.join(EXECUTION_MODES)} "
                          "or unset (the execute_notebooks of _config.yml)")
    return value or None


def _config_inited(app, config) -> None:
    mode = execution_mode(os.environ.get(ENV_EXECUTE))
    if mode:  # read by myst-nb at builder-inited, after this
        config.nb_execution_mode = mode
    url = config.companion_repository_url
    branch = os.environ.get(ENV_BRANCH, "").strip() or None
    try:
        config.html_theme_options = theme_options(dict(config.html_theme_options or {}), url, branch)
    except RepositoryURLError as exc:
        raise ConfigError(str(exc)) from None


def _builder_inited(app) -> None:
    if getattr(app.builder, "format", None) != "html":
        return
    target = Path(app.outdir) / "_static" / PLOTLY_JS
    target.parent.mkdir(parents=True, exist_ok=True)
    source = plotly_js_path()
    if not target.is_file() or target.stat().st_size != source.stat().st_size \
            or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if PLOTLY_MARKER in (context.get("body") or ""):
        # inside html-page-context, add_js_file adds the script to this page only
        app.add_js_file(PLOTLY_JS, loading_method="defer")


def status_text(succeeded) -> str:
    """The execution table's status cell: words any font can show."""
    return "ok" if succeeded is True else "failed"


def _plain_exec_status() -> None:
    # myst-nb has no option for it: its table maps each column through this private dictionary
    execution_tables._key2transform["succeeded"] = status_text


def setup(app):
    _plain_exec_status()
    app.add_config_value("companion_repository_url", lambda config: os.environ.get(ENV_URL, ""), "html",
                         types=[str])
    app.connect("config-inited", _config_inited, priority=400)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
