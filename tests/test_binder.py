"""Binder (repo2docker) can build the book's environment from the repository alone: binder/ holds a
requirements file that reads the root requirements.txt (no second copy of the pins), the Python
version, and a postBuild that installs the companion package."""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from companion import paths

ROOT = paths.REPO_ROOT
BINDER = ROOT / "binder"


def _lines(path: Path) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line:
            out.append(line)
    return out


def _requirements(path: Path) -> list[str]:
    """The requirement lines of ``path``, following ``-r`` references (relative to the file, as pip
    reads them); options such as ``--extra-index-url`` are left out."""
    reqs = []
    for line in _lines(path):
        if line.startswith(("-r ", "--requirement ")):
            reqs += _requirements((path.parent / line.split(None, 1)[1]).resolve())
        elif not line.startswith("-"):
            reqs.append(line)
    return reqs


def test_binder_folder_has_what_repo2docker_reads():
    # repo2docker reads binder/ (or .binder/), and then ignores configuration files at the root
    assert BINDER.is_dir() and not (ROOT / ".binder").exists()
    assert {p.name for p in BINDER.iterdir()} == {"requirements.txt", "runtime.txt", "postBuild"}


def test_binder_requirements_are_the_root_pins_read_not_copied():
    lines = _lines(BINDER / "requirements.txt")
    assert "-r ../requirements.txt" in lines
    # nothing but options and the reference: every pin lives in the root requirements.txt only
    assert all(line.startswith("-") for line in lines), lines
    assert _requirements(BINDER / "requirements.txt") == _requirements(ROOT / "requirements.txt")
    pins = _requirements(ROOT / "requirements.txt")
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins and any(p.startswith("plotly==") for p in pins)


def test_binder_python_is_the_projects():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime)
    version = runtime.removeprefix("python-")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11" and tuple(map(int, version.split("."))) >= (3, 11)
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    setup = [s for job in workflow["jobs"].values() for s in job["steps"]
             if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup and all(s["with"]["python-version"] == version for s in setup)


def test_postbuild_installs_the_package_and_stops_on_error():
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text  # repo2docker does not stop on a failing postBuild line itself
    assert re.search(r"^pip install --no-deps -e \.$", text, re.M)
    assert os.access(post, os.X_OK), "binder/postBuild must be executable (git mode 100755)"


def _shellcheck() -> str | None:
    here = Path(sys.executable).parent / "shellcheck"
    return str(here) if here.exists() else shutil.which("shellcheck")


@pytest.mark.skipif(_shellcheck() is None, reason="shellcheck is not installed (requirements.txt installs it)")
def test_postbuild_passes_shellcheck():
    proc = subprocess.run([_shellcheck(), str(BINDER / "postBuild")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
