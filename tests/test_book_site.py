"""companion.book_site: repository and launch buttons only with a configured repository URL, and
plotly.js only on the pages that hold an explorer."""
import json
import types
from pathlib import Path

import pytest
import yaml

from companion import book_site, paths

CONFIG = yaml.safe_load((paths.REPO_ROOT / "_config.yml").read_text())


@pytest.mark.parametrize("given, url", [
    (None, None), ("", None), ("   ", None),
    ("https://github.com/owner/repo", "https://github.com/owner/repo"),
    ("https://github.com/owner/repo/", "https://github.com/owner/repo"),
    ("https://github.com/owner/repo.git", "https://github.com/owner/repo"),
    (" https://GitHub.com/Owner/my.repo ", "https://github.com/Owner/my.repo"),
    ("https://gitlab.com/group/project", "https://gitlab.com/group/project"),
])
def test_repository_url_is_normalised(given, url):
    assert book_site.repository_url(given) == url


@pytest.mark.parametrize("bad", ["github.com/owner/repo", "http://github.com/owner/repo",
                                 "https://github.com/owner", "https://github.com/owner/repo/tree/main",
                                 "https://example.org/owner/repo", "https://github.com/owner/repo?x=1"])
def test_a_url_that_is_not_a_repository_is_refused(bad):
    with pytest.raises(book_site.RepositoryURLError, match="COMPANION_REPOSITORY_URL"):
        book_site.repository_url(bad)


def _jupyter_book_theme_options() -> dict:
    """html_theme_options as Jupyter Book 1.x makes them from the repository's _config.yml."""
    from jupyter_book.config import yaml_to_sphinx

    return yaml_to_sphinx(CONFIG)[0]["html_theme_options"]


def test_config_names_no_repository_and_loads_the_extension():
    assert "url" not in CONFIG["repository"]
    assert "wolfe-companion" not in (paths.REPO_ROOT / "_config.yml").read_text()
    assert not any(CONFIG["html"][b] for b in book_site.BUTTONS)
    assert CONFIG["launch_buttons"]["binderhub_url"]  # kept for builds with a repository
    assert "companion.book_site" in CONFIG["sphinx"]["extra_extensions"]


def test_unset_url_means_no_repository_link_and_no_launch_buttons():
    options = _jupyter_book_theme_options()  # Jupyter Book accepts the config as it is
    out = book_site.theme_options(options, None)
    assert "repository_url" not in out
    assert not any(out[b] for b in book_site.BUTTONS)
    assert out["launch_buttons"] == {}
    assert options["launch_buttons"]["binderhub_url"]  # the input is left alone


def test_set_url_switches_every_button_on():
    out = book_site.theme_options(_jupyter_book_theme_options(), "https://github.com/owner/repo.git")
    assert out["repository_url"] == "https://github.com/owner/repo"
    assert out["repository_branch"] == CONFIG["repository"]["branch"]
    assert all(out[b] for b in book_site.BUTTONS)
    assert out["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert out["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert book_site.theme_options(out, "https://github.com/o/r", "dev")["repository_branch"] == "dev"
    gitlab = book_site.theme_options(_jupyter_book_theme_options(), "https://gitlab.com/o/r")
    assert gitlab["use_repository_button"] and "binderhub_url" not in gitlab["launch_buttons"]


def test_the_setting_is_read_from_the_environment(monkeypatch):
    app = types.SimpleNamespace(config_values={})

    def add_config_value(name, default, rebuild, types=()):
        app.config_values[name] = default
    app.add_config_value = add_config_value
    app.connect = lambda *args, **kw: None
    assert book_site.setup(app)["parallel_read_safe"]
    default = app.config_values["companion_repository_url"]
    monkeypatch.delenv(book_site.ENV_URL, raising=False)
    assert default(None) == ""
    monkeypatch.setenv(book_site.ENV_URL, "https://github.com/o/r")
    assert default(None) == "https://github.com/o/r"


def test_plotly_js_is_copied_and_added_to_explorer_pages_only(tmp_path):
    added = []
    app = types.SimpleNamespace(outdir=str(tmp_path), builder=types.SimpleNamespace(format="html"),
                                add_js_file=lambda name, **kw: added.append((name, kw)))
    book_site._builder_inited(app)
    copied = tmp_path / "_static" / book_site.PLOTLY_JS
    assert copied.stat().st_size > 1_000_000 and b"window.Plotly" in copied.read_bytes()[-200:]
    book_site._page_context(app, "intro", "page.html", {"body": "<p>no explorer here</p>"}, None)
    assert added == []
    book_site._page_context(app, "ch3", "page.html",
                            {"body": '<div class="threshold-explorer" data-companion-plotly="1">'}, None)
    assert added == [(book_site.PLOTLY_JS, {"loading_method": "defer"})]


# --- A real (tiny) Sphinx build with sphinx-book-theme and myst-nb -------------------------------

NOTEBOOK = {"cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# A notebook page\n"]}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _build(tmp_path: Path, monkeypatch, url: str | None) -> str:
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    if url is None:
        monkeypatch.delenv(book_site.ENV_URL, raising=False)
    else:
        monkeypatch.setenv(book_site.ENV_URL, url)
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.ipynb").write_text(json.dumps(NOTEBOOK))
    conf = {"extensions": ["myst_nb", "companion.book_site"], "html_theme": "sphinx_book_theme",
            "html_theme_options": _jupyter_book_theme_options(), "nb_execution_mode": "off",
            "master_doc": "index", "exclude_patterns": []}
    out = tmp_path / "html"
    with docutils_namespace():  # a second Sphinx in this process re-registers the same nodes
        app = Sphinx(str(src), None, str(out), str(tmp_path / "doctrees"), "html", confoverrides=conf,
                     status=None, warning=None, freshenv=True, warningiserror=True)
        app.build()
    return (out / "index.html").read_text()


def test_built_page_without_url_links_to_no_repository(tmp_path, monkeypatch):
    page = _build(tmp_path, monkeypatch, None)
    assert "github.com" not in page and "mybinder" not in page and "colab" not in page
    assert "plotly.min.js" not in page


def test_built_page_with_url_has_repository_edit_issue_and_launch_buttons(tmp_path, monkeypatch):
    page = _build(tmp_path, monkeypatch, "https://github.com/owner/repo")
    assert 'href="https://github.com/owner/repo"' in page
    assert "https://github.com/owner/repo/edit/main/index.ipynb" in page
    assert "https://github.com/owner/repo/issues/new" in page
    assert "https://mybinder.org/v2/gh/owner/repo/main?urlpath=tree/index.ipynb" in page
    assert "https://colab.research.google.com/github/owner/repo/blob/main/index.ipynb" in page


def test_glued_sentences_are_not_bold():
    """myst-nb sets glued text in bold; the book's stylesheet (added to every page by Jupyter Book)
    gives it the weight of the text around it, and the introduction wraps no glued sentence in **."""
    import re

    css = (paths.REPO_ROOT / "_static" / "book.css").read_text()
    assert re.search(r"span\.pasted-text\s*\{\s*font-weight:\s*inherit;\s*\}", css)
    intro = (paths.BOOK_DIR / "intro.md").read_text()
    assert "{glue:text}" in intro
    bold = re.findall(r"\*\*(.+?)\*\*", intro, re.S)  # the **...** spans, paired left to right
    assert bold and not [b for b in bold if re.search(r"\{glue:text\}`[^`]*:s`", b)]
