"""The notebooks' stored outputs hold no floating-point noise, so nbval passes on any CPU and BLAS.

nbval compares every stored output (except images, times, progress bars and paths) with a fresh run
on the reader's machine. The last bits of a fit or a mean differ between machines, so:

1. no stored output carries a number with more significant digits than ``display.SIGNIFICANT_DIGITS``;
2. the prose never shows a glued number with more digits than were glued;
3. end to end: every notebook, executed on a copy of the committed results whose floats carry extra
   relative noise far larger than any BLAS difference, reproduces every stored output (nbval).

Step 3 is also ``make test``'s notebook check: one nbval execution of every notebook, on noisy
results, keeps the safety of a plain ``pytest --nbval book/*.ipynb`` (each notebook runs top to
bottom and reproduces its stored outputs) and adds the noise. It verifies every committed result's
checksum before adding noise, so a damaged committed result still fails here.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from companion import display, paths
from companion.experiments import store as cache

BOOK = paths.BOOK_DIR
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
RECORD = "application/papermill.record/text/plain"
# A decimal number as it appears in text: 0.0312, -1354.8, 7.6e+28 (not part of a word or a hash).
NUMBER = re.compile(r"(?<![\w.])-?(\d+)\.(\d+)(?:[eE][-+]?\d+)?(?![\w.])")
# {glue:text}`key:fmt`, or across documents {glue:text}`03_mnist_validation.ipynb::key:fmt`
GLUE_REF = re.compile(r"\{glue(?::\w+)?\}`(?:[\w.-]+\.ipynb::)?([^`:]+)(?::([^`]*))?`")


def significant_digits(text: str, shown: bool = False) -> int:
    """Significant digits of a decimal literal. A stored repr is the shortest that round-trips, so its
    trailing zeros (2386760.0) carry nothing; in text formatted for the reader (``shown``), trailing
    zeros after the point (1354.8000) claim precision and count."""
    m = NUMBER.fullmatch(text.strip())
    assert m, text
    digits = (m.group(1) + m.group(2)).lstrip("0")
    return len(digits if shown else digits.rstrip("0"))


def _outputs(nb_path: Path):
    for i, cell in enumerate(json.loads(nb_path.read_text())["cells"]):
        for out in cell.get("outputs", []):
            yield i, out


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def test_significant_digits_counts_what_the_reader_sees():
    assert significant_digits("0.0311150") == 5 and significant_digits("0.0311150", shown=True) == 6
    assert significant_digits("2386760.0") == 6
    assert significant_digits("-1354.800367667631") == 16
    assert significant_digits("7.60585e+28") == 6
    assert display.significant(-0.36027353926610145) == -0.360274
    assert display.significant(1354.8003676676308) == display.significant(1354.800367667631) == 1354.8


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_output_carries_noise_digits(nb_path):
    limit = display.SIGNIFICANT_DIGITS
    noisy = []
    for i, out in _outputs(nb_path):
        for mime, value in out.get("data", {}).items():
            if mime.startswith("image/"):
                continue  # nbval does not compare images
            for m in NUMBER.finditer(_text(value)):
                if significant_digits(m.group(0)) > limit:
                    noisy.append(f"cell {i} {mime}: {m.group(0)}")
        if out.get("output_type") == "stream":
            noisy += [f"cell {i} stream: {m.group(0)}" for m in NUMBER.finditer(_text(out.get("text")))
                      if significant_digits(m.group(0)) > limit]
    assert not noisy, f"{nb_path.name} stores numbers with more than {limit} significant digits: {noisy[:10]}"


def _glued_values() -> dict[str, str]:
    values = {}
    for nb_path in CHAPTERS:
        for _, out in _outputs(nb_path):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and RECORD in out.get("data", {}):
                values[name] = _text(out["data"][RECORD])
    return values


def _prose_references():
    sources = [(p.name, "".join(c["source"])) for p in CHAPTERS
               for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "markdown"]
    sources.append(("intro.md", (BOOK / "intro.md").read_text()))
    for where, text in sources:
        for key, fmt in GLUE_REF.findall(text):
            yield where, key, fmt


def test_every_glue_reference_exists_and_shows_no_more_digits_than_were_glued():
    values = _glued_values()
    refs = list(_prose_references())
    assert refs, "the book glues no number at all?"
    problems = []
    for where, key, fmt in refs:
        if key not in values:
            problems.append(f"{where}: {{glue}}`{key}` is not glued by any chapter")
            continue
        stored = values[key]
        if not fmt or not NUMBER.fullmatch(stored.strip()):
            continue
        shown = format(float(stored), fmt).replace(",", "").rstrip("%")
        m = NUMBER.search(shown)
        if m and significant_digits(m.group(0), shown=True) > display.SIGNIFICANT_DIGITS:
            problems.append(f"{where}: {key}:{fmt} shows {shown!r}, more digits than the glued {stored}")
    assert not problems, problems


# --------------------------------------------------------------------------------------------------
# End to end: stored outputs survive noise in the results
# --------------------------------------------------------------------------------------------------

#: Noise added to every continuous float of the committed results: relative, about 10,000 times the
#: rounding error of a double, far above what another CPU or BLAS build changes; and absolute, for
#: quantities that are zero up to rounding (a loss driven to 1e-31 is noise on every machine).
NOISE = 1e-12
ABS_NOISE = 1e-20
#: Columns that hold a unit's *settings* (a step size, a kept fraction), written from its configuration
#: and identical on every machine: noise there would model a different experiment, not another CPU.
SETTING_COLUMNS = ("lr", "ratio")


def _perturb_results(results: Path, seed: int = 0) -> int:
    """Replace every non-integer float x of every frame by x (1 + NOISE u) + ABS_NOISE v, u uniform in
    [-1, 1], v in [0, 1] (non-negative, so a loss stays a loss), and re-sign the checksum. Accuracies are left alone: they are ratios of integer counts, identical on
    every machine (a changed count is a changed result, which the regression tests catch)."""
    rng = np.random.default_rng(seed)
    changed = 0
    for frame_path in sorted(results.glob("*/frame.csv")):
        recorded = json.loads((frame_path.parent / "provenance.json").read_text())["sha256"]
        assert cache.checksum(frame_path.read_bytes()) == recorded, (
            f"{frame_path.parent.name}: the committed frame does not match its provenance's checksum")
        frame = pd.read_csv(frame_path)
        for col in frame.columns:
            values = frame[col]
            if (values.dtype.kind != "f" or "accuracy" in col or col in SETTING_COLUMNS
                    or np.all(np.isnan(values) | (values == np.round(values)))):
                continue
            frame[col] = (values * (1.0 + NOISE * rng.uniform(-1, 1, len(values)))
                          + ABS_NOISE * rng.uniform(0, 1, len(values)))
            changed += 1
        raw = cache._frame_bytes(frame)
        frame_path.write_bytes(raw)
        prov_path = frame_path.parent / "provenance.json"
        prov = json.loads(prov_path.read_text())
        prov["sha256"] = cache.checksum(raw)
        prov_path.write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
    return changed


def _duration(nb_path: Path) -> float:
    """How long the notebook's stored execution took (papermill records it; 60 s when it did not)."""
    return json.loads(nb_path.read_text())["metadata"].get("papermill", {}).get("duration") or 60.0


def _balanced_groups(notebooks, count: int) -> list[list[Path]]:
    """``notebooks`` in ``count`` groups of about equal summed duration (longest first, each to the
    group with the least so far)."""
    groups = [[] for _ in range(count)]
    for nb in sorted(notebooks, key=_duration, reverse=True):
        min(groups, key=lambda g: sum(map(_duration, g))).append(nb)
    return [g for g in groups if g]


def test_notebooks_reproduce_their_stored_outputs_from_noisy_results(tmp_path):
    """Copy the package and the book, add noise to the committed results, run nbval on the copy: every
    notebook of the book, the reproducibility page included."""
    repo = tmp_path / "repo"
    shutil.copytree(paths.REPO_ROOT / "companion", repo / "companion",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(BOOK, repo / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    assert _perturb_results(repo / "book" / "results") > 10
    # one BLAS and torch thread per process: the two processes below each take one core
    env = {**os.environ, "PYTHONPATH": str(repo), "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "COMPANION_CACHE_DIR": str(tmp_path / "cache")}
    which = subprocess.run([sys.executable, "-c", "import companion; print(companion.__file__)"],
                           cwd=repo / "book", env=env, capture_output=True, text=True, check=True).stdout
    assert which.startswith(str(repo)), which  # the copy, not the repository, is imported
    # Two nbval processes at once, one per core, each on a group of notebooks of about the same
    # execution time (the notebooks' own papermill durations), so the check takes the longer group's
    # time instead of the sum. They share the noisy copy, which no notebook writes results into.
    runs = [subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
         *[f"book/{p.name}" for p in group], "--nbval-sanitize-with", "book/nbval_sanitize.cfg"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for group in _balanced_groups(NOTEBOOKS, 2)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), "\n".join(out[-6000:] for out in outputs)
    assert sum(int(re.search(r"(\d+) passed", out).group(1)) for out in outputs) >= len(NOTEBOOKS)
    # every chapter read the (noisy) committed results instead of recomputing them
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_cross_document_glue_names_a_format():
    """myst-nb splits `path::key` at its last colon: a cross-document reference without a format
    (`01_theorem.ipynb::ch1_x`) is read as key '01_theorem.ipynb:' and breaks the build."""
    texts = [(p.name, "".join(c["source"])) for p in CHAPTERS
             for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "markdown"]
    texts.append(("intro.md", (BOOK / "intro.md").read_text()))
    bad = [f"{where}: {m}" for where, text in texts
           for m in re.findall(r"\{glue(?::\w+)?\}`[\w.-]+\.ipynb::[^`:]+`", text)]
    assert not bad, bad
