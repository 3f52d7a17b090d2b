"""Every location the companion reads or writes, in one place."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import validate

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK_DIR = REPO_ROOT / "book"
# Results committed with the book (one folder per result: <name>-<config hash>/). Every chapter
# reads them first, so building the book re-uses them instead of recomputing; they are read-only
# to the code except when a run names this folder as its ``cache_dir`` (the regenerate command).
RESULTS_DIR = BOOK_DIR / "results"
# The tiny regression units committed with the tests (companion.regression): the same
# store layout, recomputed by `make test` and compared with the code.
REGRESSION_UNITS_DIR = REPO_ROOT / "tests" / "regression_units"
PARAMS_DIR = BOOK_DIR / "params"
# Where runs with new settings store their results unless told otherwise (ignored by git).
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache"


def data_root() -> Path:
    """Where full MNIST lives (torchvision layout: <root>/MNIST/raw/). Env COMPANION_DATA_ROOT wins."""
    return Path(os.environ.get("COMPANION_DATA_ROOT", REPO_ROOT / "data")).expanduser()


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder a computation writes new results to: ``path`` if given, else the environment
    variable COMPANION_CACHE_DIR, else ``.cache/`` in the repository. Never the committed results
    unless ``path`` names them explicitly."""
    if path is None:
        path = os.environ.get("COMPANION_CACHE_DIR") or DEFAULT_CACHE_DIR
    return Path(path).expanduser().resolve()  # every cache_dir is resolved here (and checked below)


def is_results_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is the folder of committed results (the regenerate command writes there)."""
    return Path(path).expanduser().resolve() == RESULTS_DIR.resolve()


#: Set to "1" by the regenerate command (``python -m companion run CH --preset paper -p
#: cache_dir=book/results``) for the notebook it executes: the one way a notebook may write into
#: the committed results. A plain papermill run never has it.
REGENERATE_ENV = "COMPANION_REGENERATE"

REGENERATE_COMMANDS = ("`python -m companion run CHAPTER --preset paper -p cache_dir=book/results` "
                       "or `python -m companion results [--chapter CHAPTER]`")


def regenerate_requested() -> bool:
    """True inside a run started by the regenerate command (see :data:`REGENERATE_ENV`)."""
    return os.environ.get(REGENERATE_ENV) == "1"


def in_results(path: Path) -> bool:
    """True when the resolved ``path`` is the committed results or a folder inside them."""
    results = RESULTS_DIR.resolve()
    return path == results or results in path.parents


def checked_cache_dir(name: str, value, *, regenerate: bool = False) -> Path:
    """The one place a ``cache_dir`` becomes a folder: ``value`` (None: $COMPANION_CACHE_DIR, else
    ``.cache/``) resolved to an absolute path (``~`` expanded, relative to the working directory,
    symlinks resolved), checked before any work. Refused, with a ParameterError naming ``name``: an
    empty string; the committed results (or a folder inside them) unless ``regenerate`` (only the
    regenerate commands pass it); a path that names a file or lies under one; a place this process
    cannot create a folder in."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        validate._fail(name, value, "must be None (the user cache, .cache/) or a path")
    if value is not None and not str(value).strip():
        validate._fail(name, value, "must be None (the user cache, .cache/) or a non-empty path "
                       "(an empty one would mean the working directory)")
    path = cache_dir(value)
    if value is None and os.environ.get("COMPANION_CACHE_DIR"):  # say where the folder came from
        name, value = f"{name} (unset: $COMPANION_CACHE_DIR)", os.environ["COMPANION_CACHE_DIR"]
    if in_results(path):
        if not regenerate:
            validate._fail(name, value, f"it names the committed results ({path}), which only the "
                           f"regenerate commands write: {REGENERATE_COMMANDS}. To keep this run's "
                           "results, give another folder, or leave cache_dir unset (the user cache)")
        if path != RESULTS_DIR.resolve():
            validate._fail(name, value, f"it is a folder inside the committed results ({RESULTS_DIR})")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        where = "it names a file" if existing == path else f"{existing} is a file"
        validate._fail(name, value, f"must be a folder; {where}")
    if existing == path:  # an existing folder: may this process write into it? (nothing written)
        if not os.access(path, os.W_OK | os.X_OK):
            validate._fail(name, value, f"cannot write there ({path}: permission denied)")
        return path
    try:  # a folder to be created: can it be? (an empty probe folder, removed at once)
        os.rmdir(tempfile.mkdtemp(prefix=".companion-write-check-", dir=existing))
    except OSError as err:
        validate._fail(name, value, f"cannot create a folder there ({existing}: {err.strerror or err})")
    return path
