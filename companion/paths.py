"""Every location the companion reads or writes, in one place."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK_DIR = REPO_ROOT / "book"
# Results committed with the book (one folder per result: <name>-<config hash>/). Every chapter
# reads them first, so building the book re-uses them instead of recomputing; they are read-only
# to the code except when a run names this folder as its ``cache_dir`` (the regenerate command).
RESULTS_DIR = BOOK_DIR / "results"
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
    return Path(path).expanduser().resolve()


def is_results_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is the folder of committed results (the regenerate command writes there)."""
    return Path(path).expanduser().resolve() == RESULTS_DIR.resolve()
