"""``python -m companion run CHAPTER --preset quick|paper [-p name=value ...] [--output PATH]``
``python -m companion results [--dry-run] [--chapter CHAPTER ...] [--scheduler ADDRESS]``

``run`` is a thin layer over papermill: load the chapter's preset, apply overrides (values parsed as YAML, so
``-p sizes='[500, 1000]'`` gives a list; never ``eval``), execute the notebook with a progress bar.
A name that the chapter's ``parameters`` cell does not define (a typo such as ``sizez``), on the
command line or in the preset file, is refused before anything runs: papermill itself would only log
"Passed unknown parameter" and run the chapter with its defaults.

``results`` regenerates every committed result: the paper preset of every chapter that computes, into
``book/results/``, resumably (stored units are reused), with one progress bar and a summary line per
chapter; ``--dry-run`` only says what would be computed and how long it would take.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import yaml

from . import paths, presets, validate


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise validate.ParameterError(f"parameter override {pair!r} is not allowed: write name=value")
        out[name] = yaml.safe_load(value)
    return out


def _kernel_config():
    """Configuration for the kernel manager: encrypt the kernel's connection (CurveZMQ keys from the
    manager) where jupyter_client, pyzmq and the kernelspec support it. Without it ipykernel warns on
    every run that it "is running over TCP without encryption"; other warnings are left alone."""
    import zmq
    from jupyter_client import KernelManager
    from traitlets.config import Config

    config = Config()
    if zmq.has("curve") and KernelManager.class_traits().get("transport_encryption") is not None:
        config.KernelManager.transport_encryption = "auto"  # 'auto': only if the kernelspec declares it
    return config


def run(chapter: str, preset: str = "quick", overrides: dict | None = None,
        output: str | Path | None = None, progress: bool = True) -> Path:
    """Execute ``chapter`` with ``preset`` (+ overrides); returns the executed notebook's path.

    Every name in the preset file and in ``overrides`` (the ``-p`` options) must be a parameter of the
    chapter: an unknown one raises ParameterError before anything is executed or written."""
    notebook = presets.notebook(chapter)
    overrides = overrides or {}
    params = presets.load(chapter, preset)
    presets.check_names(chapter, overrides, "-p")
    params = params | overrides
    from . import experiments  # every value checked against the chapter's schema, before any work

    if chapter in experiments.CHAPTERS:
        experiments.check(chapter, params)
    if isinstance(params.get("cache_dir"), str):
        # The kernel runs in book/; a relative cache_dir means relative to where the command was typed.
        params["cache_dir"] = str(Path(params["cache_dir"]).expanduser().resolve())
    output = Path(output) if output else Path.cwd() / f"{chapter}-{preset}.ipynb"
    import papermill  # imported late: `--help` stays fast

    papermill.execute_notebook(str(notebook), str(output), parameters=params, cwd=str(paths.BOOK_DIR),
                               kernel_name="python3", progress_bar=progress, config=_kernel_config())
    return output


#: Each computing chapter's result folders start with this (its experiments' names: ch1-spectrum, ...).
RESULT_PREFIXES = {"01_theorem": "ch1-", "02_derivation": "ch2-", "03_mnist_validation": "ch3-"}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _paper_n_jobs(chapter: str) -> int:
    """n_jobs of the chapter's paper preset, read from the YAML file alone (no import of torch)."""
    path = paths.PARAMS_DIR / chapter / "paper.yaml"
    try:
        return int((yaml.safe_load(path.read_text()) or {}).get("n_jobs") or 1)
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return 1


def estimate(results_dir: str | Path | None = None, n_jobs: dict | None = None) -> dict[str, dict]:
    """Per computing chapter, from the committed provenance: ``units`` (result folders), ``compute_s``
    (the sum of their recorded wall times) and ``wall_s`` = compute_s / n_jobs (n_jobs of the paper
    preset unless given), the time its paper preset takes from scratch on the machine that computed
    the committed results (a 2-core CPU)."""
    results_dir = Path(results_dir or paths.RESULTS_DIR)
    out = {ch: {"units": 0, "compute_s": 0.0, "n_jobs": (n_jobs or {}).get(ch) or _paper_n_jobs(ch)}
           for ch in RESULT_PREFIXES}
    for prov_path in sorted(results_dir.glob("*/provenance.json")):
        try:
            prov = json.loads(prov_path.read_text())
            name, wall = str(prov["name"]), float(prov["wall_time_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged folder: the run itself reports it
        for ch, prefix in RESULT_PREFIXES.items():
            if name.startswith(prefix):
                out[ch]["units"] += 1
                out[ch]["compute_s"] += wall
    for row in out.values():
        row["wall_s"] = row["compute_s"] / row["n_jobs"]
    return out


def _estimate_text(est: dict) -> str:
    total = sum(row["wall_s"] for row in est.values())
    return (f"about {_duration(total)} of computing on a 2-core CPU ("
            + ", ".join(f"{ch} {_duration(row['wall_s'])}" for ch, row in est.items())
            + "; from the committed provenance: each chapter's summed unit wall times / its n_jobs)")


def _chapter_experiments(chapter: str, params) -> dict:
    from . import experiments

    return experiments.chapter(chapter).experiments(params)


def _needs_full_mnist(params) -> bool:
    """True when a data-source parameter of the chapter (``source``, ``full_source``, ...) asks for full
    MNIST explicitly ('auto' falls back to the embedded subset)."""
    return any((f.name == "source" or f.name.endswith("_source")) and getattr(params, f.name) == "torchvision"
               for f in dataclasses.fields(params))


def results(chapters=None, *, dry_run: bool = False, scheduler: str | None = None,
            progress: bool = True, out=None) -> int:
    """Regenerate the committed results of ``chapters`` (default: every chapter that computes) from
    their paper presets into ``book/results/``; returns an exit code. Units already stored there are
    reused (an interrupted regeneration resumes where it stopped). ``dry_run``: only report, per
    chapter, how many units would be computed and reused, and the time estimate."""
    from tqdm import tqdm

    from . import data, experiments
    from .experiments import engine

    out = out or sys.stdout
    say = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    chapters = list(chapters or experiments.CHAPTERS)
    for ch in chapters:
        validate.choice("chapter", ch, experiments.CHAPTERS)
    engine.check_scheduler("scheduler", scheduler)
    results_dir = paths.RESULTS_DIR
    plans, no_data = [], []
    mnist_raw = paths.data_root() / "MNIST" / "raw"
    for ch in chapters:  # every chapter checked and planned before anything is computed
        params, options = experiments.check(ch, presets.load(ch, "paper") | {"cache_dir": str(results_dir)})
        options = dataclasses.replace(options, progress=False, scheduler=scheduler or options.scheduler)
        try:
            exps = _chapter_experiments(ch, params)  # may resolve a data source (reads no data)
        except FileNotFoundError:
            exps = None
        if exps is None:
            units = todo = None
        else:
            units = sum(len(e.units()) for e in exps.values())
            todo = sum(len(engine.missing(e, options.cache_dir)) for e in exps.values())
        # On a Dask cluster the workers read the data (from their own data root), not this process.
        if exps is None or (todo and _needs_full_mnist(params) and not data.full_mnist_present()
                            and options.scheduler is None):
            no_data.append(ch)
        plans.append((ch, params, options, exps, units, todo))
    est = estimate(results_dir, {ch: options.n_jobs for ch, _, options, *_ in plans})
    est = {ch: est[ch] for ch in chapters if ch in est}
    say(f"Regenerating the committed results (paper presets) of {', '.join(chapters)} in {results_dir}.")
    say(f"Estimated time from scratch: {_estimate_text(est)}; `make results` then also rebuilds the book.")
    for ch, params, options, exps, units, todo in plans:
        where = f"on {options.scheduler}" if options.scheduler else f"n_jobs={options.n_jobs}"
        scratch = f"from scratch ~{_duration(est.get(ch, {}).get('wall_s', 0.0))}; {where}"
        if exps is None:
            say(f"  {ch:<20} units unknown until full MNIST is there  ({scratch})")
        else:
            say(f"  {ch:<20} {units:>4} units: {todo:>4} to compute, {units - todo:>4} reused  ({scratch})")
        if ch in no_data:
            say(f"  {'':<20} needs full MNIST, not found in {mnist_raw}: see the README, 'Getting full "
                "MNIST' (or set COMPANION_DATA_ROOT)")
    if dry_run:
        say("Dry run: nothing was computed or written.")
        return 0
    if no_data:
        say(f"error: {', '.join(no_data)} cannot be computed without full MNIST; nothing was computed.")
        return 2
    failed = False
    for ch, params, options, exps, units, todo in plans:
        start, stored, lost = time.perf_counter(), [], 0
        with tqdm(total=todo, desc=ch, unit="unit", disable=not progress, file=sys.stderr) as bar:
            for key, exp in exps.items():
                bar.set_postfix_str(key)

                def on_stored(unit):
                    stored.append(unit)
                    bar.update()

                try:
                    engine.run(exp, options, on_stored=on_stored)
                except engine.UnitsFailed as err:  # every other unit is stored: report, go on
                    failed, lost = True, lost + len(err.failures)
                    say(f"error: {err}")
        wall = time.perf_counter() - start
        say(f"{ch}: {len(stored)} units computed, {units - len(stored) - lost} reused"
            + (f", {lost} failed" if lost else "") + f", wall time {_duration(wall)} ({wall:.1f} s)")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m companion",
                                     description="Run the book's chapters with presets and new settings.")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="execute a chapter notebook with a preset and overrides")
    run_p.add_argument("chapter", help="one of: " + ", ".join(presets.chapters()))
    run_p.add_argument("--preset", default="quick", help="a file under book/params/CHAPTER/ (default quick)")
    run_p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                       help="override one parameter (value parsed as YAML)")
    run_p.add_argument("--output", help="where to write the executed notebook")
    sub.add_parser("list", help="list chapters and their presets")
    params_p = sub.add_parser("params", help="list a chapter's parameters, their defaults and meaning")
    params_p.add_argument("chapter", help="one of: " + ", ".join(presets.chapters()))
    est = estimate()
    results_p = sub.add_parser(
        "results", help="regenerate every committed result (paper presets) into book/results/",
        description="Compute the paper preset of every chapter that computes into book/results/, "
        "resumably: units already stored there are reused, so an interrupted run goes on where it "
        "stopped. Prints one progress bar and a summary (units computed, reused, wall time) per chapter. "
        f"Takes {_estimate_text(est)}. Needs full MNIST for 03_mnist_validation (see the README, "
        "'Getting full MNIST'). `make results` runs this, then rebuilds the book.")
    results_p.add_argument("--dry-run", action="store_true",
                           help="only report what would be computed and reused, and the time estimate")
    results_p.add_argument("--chapter", action="append", choices=list(RESULT_PREFIXES),
                           help="only this chapter (repeatable; default: every chapter that computes)")
    results_p.add_argument("--scheduler", metavar="ADDRESS",
                           help="compute on the workers of this running Dask scheduler (tcp://host:port)")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for chapter in presets.chapters():
                print(f"{chapter}: {', '.join(presets.available(chapter))}")
            return 0
        if args.command == "results":
            return results(args.chapter, dry_run=args.dry_run, scheduler=args.scheduler)
        if args.command == "params":
            from . import experiments
            from .experiments import schema

            for name, default, text in schema.help_table(experiments.chapter(args.chapter).SCHEMA):
                print(f"{name} = {default!r}\n    {text}")
            return 0
        out = run(args.chapter, args.preset, parse_overrides(args.param), args.output)
    except validate.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - papermill's error carries the notebook's exception
        if type(err).__name__ != "PapermillExecutionError":
            raise
        print(f"error: the chapter failed: {err.ename}: {err.evalue}", file=sys.stderr)
        return 1
    print(f"executed notebook written to {out}")
    return 0
