"""Chapter presets: ``book/params/<chapter>/<preset>.yaml`` hold papermill parameters (``quick`` for CI
and a first look, ``paper`` for the published configuration, which is also the notebook default)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import papermill
import yaml

from . import paths, validate
from .chapters import CHAPTERS
from .experiments import schema


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
    """The parameters of ``preset`` for ``chapter`` (safe YAML: plain data only); a key that the
    chapter's ``parameters`` cell does not define is an error (see :func:`check_names`)."""
    validate.choice("preset", preset, available(chapter))
    path = paths.PARAMS_DIR / chapter / f"{preset}.yaml"
    text = path.read_text()
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise validate.ParameterError(f"preset file {path} is not allowed: "
                                      f"{validate.yaml_problem(text, err)}") from None
    if params is None or params == {}:
        # An empty file would silently mean the notebook's defaults (the paper preset).
        raise validate.ParameterError(f"preset file {path} is empty: a preset sets its parameters, "
                                      "one 'name: value' per line (see paper.yaml)")
    if not isinstance(params, dict):
        raise validate.ParameterError(f"preset file {path} must hold a mapping of parameter names to "
                                      f"values ('name: value' lines), not a {type(params).__name__}")
    check_names(chapter, params, f"preset file {path}")
    return params


_PARAMETERS: dict[Path, dict[str, str]] = {}


def notebook_parameters(chapter: str) -> dict[str, str]:
    """The names the chapter's ``parameters`` cell defines, with their default values as source text
    (``{'sizes': '[500, 1000]', ...}``), as papermill reads them; read once per process."""
    path = notebook(chapter)
    if path not in _PARAMETERS:
        _PARAMETERS[path] = {name: info["default"]
                             for name, info in papermill.inspect_notebook(str(path)).items()}
    return dict(_PARAMETERS[path])


def check_names(chapter: str, names: Iterable[str], where: str) -> None:
    """Refuse any of ``names`` that the chapter does not declare (its schema; for a notebook without
    one, its ``parameters`` cell). ``where`` says where the names came from (``-p``, a preset file)."""
    known = (schema.names(CHAPTERS[chapter].SCHEMA) if chapter in CHAPTERS
             else list(notebook_parameters(chapter)))
    schema.refuse_unknown(names, known, where, f"chapter {chapter}")
