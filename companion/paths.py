"""Every location the companion reads or writes, in one place."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK_DIR = REPO_ROOT / "book"
# Results committed with the book: the default cache of every chapter, so that building the
# book re-uses them instead of recomputing (one folder per result: <name>-<config hash>/).
RESULTS_DIR = BOOK_DIR / "results"
PARAMS_DIR = BOOK_DIR / "params"


def data_root() -> Path:
    """Where full MNIST lives (torchvision layout: <root>/MNIST/raw/). Env COMPANION_DATA_ROOT wins."""
    return Path(os.environ.get("COMPANION_DATA_ROOT", REPO_ROOT / "data")).expanduser()


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache a computation reads and writes: ``path`` if given, else the committed results."""
    return Path(path).expanduser() if path is not None else RESULTS_DIR
