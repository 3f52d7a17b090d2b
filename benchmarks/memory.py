"""Peak memory of the largest unit of every experiment of every chapter's paper preset.

    python benchmarks/memory.py [--data-root PATH] [--chapter CHAPTER ...] [--device cpu]

For each experiment of each chapter (``companion.experiments.CHAPTERS``, paper presets), the unit of
largest ``cost()`` is computed in a fresh Python process, exactly as the engine computes it
(``engine.compute_unit``) and stored into a temporary cache (never into book/results/); the peak
resident set size of that process (``os.wait4``'s ru_maxrss, the process alone) and the unit's wall time
are printed as a Markdown table, with a first row for a process that only imports the package (the
baseline every unit pays). Chapter 3's paper preset reads full MNIST: ``--data-root`` names a folder
holding ``MNIST/raw/`` (torchvision's layout) or the four gzipped IDX files themselves.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing

RAW_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]


def _experiments(chapter: str, cache_dir: str) -> dict:
    from companion import chapters, presets

    params, _ = chapters.check(chapter, presets.load(chapter, "paper") | {"cache_dir": cache_dir,
                                                                          "progress": False})
    return chapters.chapter(chapter).experiments(params)


def child(chapter: str, key: str, index: int, device: str, cache_dir: str) -> None:
    """Compute one unit (by its index in units()) and store it in ``cache_dir``; print a JSON line."""
    from companion.experiments import engine, store

    if chapter == "-":  # the baseline: imports only
        print(json.dumps({"wall_s": 0.0}))
        return
    exp = _experiments(chapter, cache_dir)[key]
    unit = exp.units()[index]
    _, frame, wall, dev = engine.compute_unit(exp, unit, device)
    store.store(exp.result_name(unit), exp.unit_config(unit), frame, device=dev, wall_time_s=wall,
                cache_dir=cache_dir)
    print(json.dumps({"wall_s": wall, "rows": len(frame), "device": dev}))


def measure(args: list[str], env: dict) -> tuple[float, dict]:
    """(peak RSS in MB of the child process alone, its JSON line)."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], env=env, stdout=subprocess.PIPE,
                            text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the unit {args} failed (exit code {proc.returncode})")
    return usage.ru_maxrss / 1024, json.loads(out.strip().splitlines()[-1])  # ru_maxrss: KiB on Linux


def data_root(given: str | None, scratch: Path) -> str | None:
    """A data root in torchvision's layout: ``given`` itself, or a scratch folder linking the gzipped
    IDX files found directly in ``given`` (the package unpacks them there, never in ``given``)."""
    if given is None:
        return None
    root = Path(given).expanduser().resolve()
    if (root / "MNIST" / "raw").is_dir():
        return str(root)
    if all((root / f"{name}.gz").exists() for name in RAW_FILES):
        raw = scratch / "data" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name in RAW_FILES:
            (raw / f"{name}.gz").symlink_to(root / f"{name}.gz")
        return str(scratch / "data")
    raise SystemExit(f"--data-root {given}: neither MNIST/raw/ nor the four gzipped IDX files are there")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", help="full MNIST: a folder with MNIST/raw/, or the gzipped IDX files")
    ap.add_argument("--chapter", action="append", help="only this chapter (repeatable)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        chapter, key, index, device, cache_dir = args.child
        child(chapter, key, int(index), device, cache_dir)
        return

    with tempfile.TemporaryDirectory(prefix="companion-memory-") as scratch:
        scratch = Path(scratch)
        cache = scratch / "cache"
        root = data_root(args.data_root, scratch)
        env = dict(os.environ, COMPANION_CACHE_DIR=str(cache))
        if root:
            env["COMPANION_DATA_ROOT"] = root
            os.environ["COMPANION_DATA_ROOT"] = root  # this process plans the units with the same data
        os.environ["COMPANION_CACHE_DIR"] = str(cache)
        from companion import chapters

        import torch

        print(f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, torch {torch.__version__} "
              f"({torch.get_num_threads()} threads), device {args.device}\n")
        print("| chapter | experiment | unit | peak RSS (MB) | wall time (s) |")
        print("| --- | --- | --- | ---: | ---: |")
        rss, _ = measure(["-", "-", "0", args.device, str(cache)], env)
        print(f"| (baseline) | imports only | - | {rss:.0f} | - |", flush=True)
        for chapter in args.chapter or list(chapters.CHAPTERS):
            for key, exp in _experiments(chapter, str(cache)).items():
                units = exp.units()
                index = max(range(len(units)), key=lambda i: exp.cost(units[i]))  # first of the largest
                rss, info = measure([chapter, key, str(index), args.device, str(cache)], env)
                print(f"| {chapter} | {key} | {exp.unit_label(units[index])} | {rss:.0f} | "
                      f"{info['wall_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
