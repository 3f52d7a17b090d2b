"""On-disk store of expensive results, one folder per result named by a hash of its full configuration.

    <folder>/<name>-<hash12>/frame.csv        the result, a tidy pandas frame
    <folder>/<name>-<hash12>/provenance.json  config, package versions, device, source revision,
                                              wall time, sha256 of the frame

Two layers are read, in this order:

1. the results committed with the book (``paths.RESULTS_DIR``): **read-only** to the code. A
   committed result that fails its check stops the run with :class:`CommittedResultError`, naming
   the folder and the two ways out; it is never removed or rewritten;
2. the user cache (``cache_dir``: a path, else COMPANION_CACHE_DIR, else ``.cache/``): new results
   are written here, atomically (a temporary folder renamed into place), so an interrupted run never
   leaves a partial result. A cached result that fails its check is recomputed with a
   :class:`CorruptResult` warning naming it, and replaced only once the new one is stored.

Only a run whose ``cache_dir`` *is* the committed folder (the regenerate command, see
``paths.checked_cache_dir``) writes there; it then treats that folder as its cache: a damaged
committed result is reported by name, recomputed, and swapped in atomically once complete.

The key is the configuration plus ``CODE_VERSION``; the device and the source revision are recorded
in the provenance but are not part of the key (a result computed on a GPU answers the same question;
tests/test_regression.py recomputes committed units to catch code changes that alter results).
The checksum is taken over the frame with line endings normalised, so a checkout that converts them
(git's core.autocrlf on Windows) still reads the same result.
"""
from __future__ import annotations

import ctypes
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Callable

import pandas as pd

from .. import paths
from ..runtime import package_versions

# Bump when a change in the code changes what a configuration computes: old results stop matching.
CODE_VERSION = 1


class CorruptResult(UserWarning):
    """A result in the user cache failed its check and is being recomputed."""


class CommittedResultError(RuntimeError):
    """A result committed with the book failed its check (it is left exactly as it is)."""


def config_hash(config: dict) -> str:
    text = json.dumps({"config": config, "code_version": CODE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def folder_name(name: str, config: dict) -> str:
    return f"{name}-{config_hash(config)}"


def write_dir(cache_dir=None) -> Path:
    """The folder new results are written to."""
    return paths.cache_dir(cache_dir)


def result_dir(name: str, config: dict, cache_dir=None) -> Path:
    """Where the result of ``config`` is written (in the user cache, or the committed folder when
    ``cache_dir`` names it)."""
    return write_dir(cache_dir) / folder_name(name, config)


def _layers(cache_dir) -> list[tuple[Path, bool]]:
    """(folder, read_only) pairs in reading order."""
    target = write_dir(cache_dir)
    if paths.is_results_dir(target):
        return [(target, False)]
    return [(paths.RESULTS_DIR, True), (target, False)]


def locate(name: str, config: dict, cache_dir=None) -> Path | None:
    """The folder holding the result of ``config`` (committed first), or None. Checks existence only."""
    for root, _ in _layers(cache_dir):
        folder = root / folder_name(name, config)
        if (folder / "provenance.json").exists():
            return folder
    return None


def exists(name: str, config: dict, cache_dir=None) -> bool:
    return locate(name, config, cache_dir) is not None


def checksum(raw: bytes) -> str:
    """sha256 of a frame's bytes with line endings normalised (CRLF and CR read as LF)."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).hexdigest()


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.17g", lineterminator="\n")
    return buf.getvalue().encode()


def _read(folder: Path) -> pd.DataFrame:
    """The checked frame in ``folder``; raises FileNotFoundError or ValueError saying what is wrong."""
    try:
        prov = json.loads((folder / "provenance.json").read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"provenance.json is not valid JSON ({err})") from None
    raw = (folder / "frame.csv").read_bytes()
    if not isinstance(prov, dict) or "sha256" not in prov:
        raise ValueError("provenance.json has no sha256")
    if checksum(raw) != prov["sha256"]:
        raise ValueError("checksum mismatch: frame.csv is not the file its provenance describes")
    try:
        return pd.read_csv(io.BytesIO(raw))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"frame.csv does not parse ({err})") from None


def _why(err: Exception) -> str:
    return f"files missing ({err.filename})" if isinstance(err, FileNotFoundError) else str(err)


def damage(name: str, config: dict, cache_dir=None) -> str | None:
    """None when the stored result of ``config`` (the one :func:`locate` finds) reads back intact, or
    when there is none; else the message that names its folder and what is wrong, the same message
    :func:`load` gives (an error for a committed result, a warning elsewhere). Reads the frame."""
    folder = locate(name, config, cache_dir)
    if folder is None:
        return None
    try:
        _read(folder)
    except (OSError, ValueError) as err:
        return _damage_message(folder, _why(err), cache_dir)
    return None


def _damage_message(folder: Path, why: str, cache_dir) -> str:
    committed = paths.is_results_dir(folder.parent)
    if committed and not paths.is_results_dir(write_dir(cache_dir)):
        return _committed_message(folder, why)
    if committed:  # the regenerate command: its cache is the committed folder
        return (f"{_damaged(folder, why)} It is recomputed, and replaced only once the new result is "
                f"stored (or restore it with `git checkout -- {_shown(folder)}`).")
    return f"cached result {folder} is corrupt ({why}); recomputing it (replaced once the new one is stored)"


def load(name: str, config: dict, cache_dir=None) -> pd.DataFrame | None:
    """The stored frame for ``config``, or None when there is none.

    A damaged committed result raises :class:`CommittedResultError` (and is left untouched). A
    damaged result in the folder this run writes to (the user cache, or the committed results for
    the regenerate command) gives a :class:`CorruptResult` warning naming it, then None: it is left
    where it is until :func:`store` replaces it with the recomputed one (never deleted first)."""
    for root, read_only in _layers(cache_dir):
        folder = root / folder_name(name, config)
        if not folder.exists():
            continue
        try:
            return _read(folder)
        except (OSError, ValueError) as err:
            message = _damage_message(folder, _why(err), cache_dir)
            if read_only:
                raise CommittedResultError(message) from None
            warnings.warn(message, CorruptResult, stacklevel=2)
            return None
    return None


def _shown(folder: Path) -> Path:
    try:
        return folder.relative_to(paths.REPO_ROOT)
    except ValueError:
        return folder


def _damaged(folder: Path, why: str) -> str:
    return f"the committed result {_shown(folder)} is damaged: {why}."


def _committed_message(folder: Path, why: str) -> str:
    shown = _shown(folder)
    return (f"{_damaged(folder, why)} Nothing was changed. Restore it with "
            f"`git checkout -- {shown}`, or regenerate the committed results of its chapter with "
            f"`python -m companion run CHAPTER --preset paper -p cache_dir={paths.RESULTS_DIR}` "
            "(or `python -m companion results --chapter CHAPTER`).")


@lru_cache(maxsize=1)
def source_revision() -> str | None:
    """The git commit of the code (with '+dirty' when tracked files differ), or None outside git."""
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=paths.REPO_ROOT, capture_output=True,  # noqa: E731
                                        text=True, timeout=10, check=True).stdout.strip()
        commit = run("rev-parse", "HEAD")
        dirty = run("status", "--porcelain", "--untracked-files=no", "--", "companion")
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def store(name: str, config: dict, frame: pd.DataFrame, *, device: str, wall_time_s: float,
          cache_dir=None) -> Path:
    """Write frame + provenance atomically into the result folder of the user cache."""
    folder = result_dir(name, config, cache_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    raw = _frame_bytes(frame)
    prov = {"name": name, "hash": config_hash(config), "config": config,
            "code_version": CODE_VERSION, "source_revision": source_revision(),
            "packages": package_versions(), "device": device,
            "wall_time_s": round(wall_time_s, 3), "rows": len(frame),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "sha256": checksum(raw)}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / "frame.csv").write_bytes(raw)
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True, default=str) + "\n")
        if not folder.exists():
            os.replace(tmp, folder)
        elif _intact(folder):  # a concurrent writer finished first: same config, same result
            shutil.rmtree(tmp)
        else:  # a damaged result: replaced now that the new one is complete, never deleted first
            _replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _intact(folder: Path) -> bool:
    try:
        _read(folder)
    except (OSError, ValueError):
        return False
    return True


#: renameat2(2)'s flag that swaps two paths in one step (Linux 3.15+, glibc 2.28+).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap the folders ``a`` and ``b`` atomically (Linux); OSError where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError) as err:
        raise OSError(f"renameat2 is not available ({err})") from None
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _replace_folder(new: Path, old: Path) -> None:
    """Put the complete folder ``new`` in the place of ``old`` (a damaged result), then remove what was
    there: one atomic swap where the system has one; elsewhere two renames (a run killed between
    them leaves no result, which the next run computes, and the damaged copy in a hidden folder)."""
    try:
        _exchange(new, old)  # ``new`` now holds the damaged files
    except OSError:
        aside = old.with_name(f"{new.name}.damaged")
        os.replace(old, aside)
        os.replace(new, old)
        new = aside
    shutil.rmtree(new, ignore_errors=True)


def cached(name: str, config: dict, compute: Callable[[], pd.DataFrame], *, cache_dir=None,
           device: str = "cpu") -> pd.DataFrame:
    """Return the stored result of ``compute()`` for ``config``, computing and storing it if needed.

    ``config`` must hold everything the result depends on (JSON-serialisable), and nothing else."""
    frame = load(name, config, cache_dir)
    if frame is not None:
        return frame
    start = time.perf_counter()
    frame = compute()
    store(name, config, frame, device=device, wall_time_s=time.perf_counter() - start,
          cache_dir=cache_dir)
    # Read back what was written, so a fresh result and a stored one are the same floats.
    return load(name, config, cache_dir)


def provenance(name: str, config: dict, cache_dir=None) -> dict | None:
    folder = locate(name, config, cache_dir)
    return json.loads((folder / "provenance.json").read_text()) if folder else None


def committed_frame(experiment) -> tuple[pd.DataFrame, int, int]:
    """(frame of the committed units of ``experiment``, committed units, all units): only
    ``book/results`` is read, nothing is computed (a unit not committed is counted, not run)."""
    frames, units = [], experiment.units()
    for u in units:
        name, config = experiment.result_name(u), experiment.unit_config(u)
        if (paths.RESULTS_DIR / folder_name(name, config) / "provenance.json").exists():
            frames.append(load(name, config))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame, len(frames), len(units)
