"""On-disk cache of expensive results, one folder per result named by a hash of its full configuration.

    <cache_dir>/<name>-<hash12>/frame.csv        the result, a tidy pandas frame
    <cache_dir>/<name>-<hash12>/provenance.json  config, package versions, device, wall time, sha256

Written atomically (a temporary folder renamed into place), so an interrupted run never leaves a
partial result that could be read back; a result whose checksum does not match is recomputed with a
warning, never used.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import pandas as pd

from . import paths
from .runtime import package_versions

# Bump when a change in the code changes what a configuration computes: old results stop matching.
CODE_VERSION = 1


class CorruptResult(UserWarning):
    """A cached result failed its checksum and is being recomputed."""


def config_hash(config: dict) -> str:
    text = json.dumps({"config": config, "code_version": CODE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def result_dir(name: str, config: dict, cache_dir=None) -> Path:
    return paths.cache_dir(cache_dir) / f"{name}-{config_hash(config)}"


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.17g")
    return buf.getvalue().encode()


def load(name: str, config: dict, cache_dir=None) -> pd.DataFrame | None:
    """The cached frame, or None when absent or corrupt (corrupt: warn, remove, return None)."""
    folder = result_dir(name, config, cache_dir)
    try:
        prov = json.loads((folder / "provenance.json").read_text())
        raw = (folder / "frame.csv").read_bytes()
        if hashlib.sha256(raw).hexdigest() != prov["sha256"]:
            raise ValueError("checksum mismatch")
        return pd.read_csv(io.BytesIO(raw))
    except FileNotFoundError:
        if folder.exists():
            _discard(folder, "files missing")
        return None
    except (ValueError, KeyError, json.JSONDecodeError, pd.errors.ParserError) as err:
        _discard(folder, str(err))
        return None


def _discard(folder: Path, why: str):
    warnings.warn(f"cached result {folder} is corrupt ({why}); recomputing it", CorruptResult,
                  stacklevel=3)
    shutil.rmtree(folder, ignore_errors=True)


def store(name: str, config: dict, frame: pd.DataFrame, *, device: str, wall_time_s: float,
          cache_dir=None) -> Path:
    """Write frame + provenance atomically into the result folder."""
    folder = result_dir(name, config, cache_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    raw = _frame_bytes(frame)
    prov = {"name": name, "hash": config_hash(config), "config": config,
            "code_version": CODE_VERSION, "packages": package_versions(), "device": device,
            "wall_time_s": round(wall_time_s, 3), "rows": len(frame),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sha256": hashlib.sha256(raw).hexdigest()}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / "frame.csv").write_bytes(raw)
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True, default=str) + "\n")
        if folder.exists():  # a concurrent writer finished first: same config, same result
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def cached(name: str, config: dict, compute: Callable[[], pd.DataFrame], *, cache_dir=None,
           device: str = "cpu") -> pd.DataFrame:
    """Return the cached result of ``compute()`` for ``config``, computing and storing it if needed.

    ``config`` must hold everything the result depends on (JSON-serialisable)."""
    frame = load(name, config, cache_dir)
    if frame is not None:
        return frame
    start = time.perf_counter()
    frame = compute()
    store(name, config, frame, device=device, wall_time_s=time.perf_counter() - start,
          cache_dir=cache_dir)
    # Read back what was written, so a fresh result and a cached one are the same floats.
    return load(name, config, cache_dir)


def provenance(name: str, config: dict, cache_dir=None) -> dict | None:
    path = result_dir(name, config, cache_dir) / "provenance.json"
    return json.loads(path.read_text()) if path.exists() else None
