"""Chapter presets: ``book/params/<chapter>/<preset>.yaml`` hold papermill parameters (``quick`` for CI
and a first look, ``paper`` for the published configuration, which is also the notebook default)."""
from __future__ import annotations

from pathlib import Path

import yaml

from . import paths, validate


def chapters() -> list[str]:
    """Chapter names: the notebooks under book/ (e.g. '03_mnist_validation')."""
    return sorted(p.stem for p in paths.BOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def notebook(chapter: str) -> Path:
    validate.choice("chapter", chapter, chapters())
    return paths.BOOK_DIR / f"{chapter}.ipynb"


def available(chapter: str) -> list[str]:
    validate.choice("chapter", chapter, chapters())
    return sorted(p.stem for p in (paths.PARAMS_DIR / chapter).glob("*.yaml"))


def load(chapter: str, preset: str) -> dict:
    """The parameters of ``preset`` for ``chapter`` (safe YAML: plain data only)."""
    validate.choice("preset", preset, available(chapter))
    params = yaml.safe_load((paths.PARAMS_DIR / chapter / f"{preset}.yaml").read_text()) or {}
    if not isinstance(params, dict):
        raise validate.ParameterError(f"preset file for {chapter}/{preset} must hold a mapping")
    return params
