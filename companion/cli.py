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
import logging
import os
import re
import sys
import time
import warnings
from pathlib import Path

import papermill
import yaml
import zmq
from jupyter_client import KernelManager
from tqdm import tqdm
from traitlets.config import Config

from . import chapters, data, paths, presets, validate
from .chapters import CHAPTERS, check
from .experiments import engine, schema, store
from .experiments.estimate import (NOTE_START, RESULT_PREFIXES, _duration, committed_wall_times, estimate,
                                   unit_seconds)


#: What an interrupted or killed run tells the user (every unit finished before is stored).
RESUME = ("every unit finished before it is stored; run the same command again to resume (only the "
          "missing units are computed)")


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise validate.ParameterError(f"parameter override {pair!r} is not allowed: write name=value")
        try:
            out[name] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise validate.ParameterError(f"parameter {name!r} = {value!r} (from -p) is not allowed: "
                                          f"{validate.yaml_problem(value, err)}") from None
    return out


def _kernel_config():
    """Configuration for the kernel manager: encrypt the kernel's connection (CurveZMQ keys from the
    manager) where jupyter_client, pyzmq and the kernelspec support it. Without it ipykernel warns on
    every run that it "is running over TCP without encryption"; other warnings are left alone."""

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

    regenerate = False
    if chapter in chapters.CHAPTERS:
        regenerate = _regenerating(chapter, preset, params, overrides)
        _, options = chapters.check(chapter, params, regenerate=regenerate)
        if params.get("cache_dir") is not None:
            # The kernel runs in book/: a relative cache_dir means relative to where the command was
            # typed; the check resolved it (absolute, symlinks resolved) here.
            params["cache_dir"] = str(options.cache_dir)
    output = Path(output) if output else Path.cwd() / f"{chapter}-{preset}.ipynb"

    before = os.environ.pop(paths.REGENERATE_ENV, None)
    if regenerate:  # the kernel inherits it: the one notebook run allowed to write book/results
        os.environ[paths.REGENERATE_ENV] = "1"
    try:
        # The kernel's announcements of long runs (see cost_note) reach this terminal; nothing else does.
        papermill.execute_notebook(str(notebook), str(output), parameters=params, cwd=str(paths.BOOK_DIR),
                                   kernel_name="python3", progress_bar=progress, config=_kernel_config(),
                                   stderr_file=CostNotes(sys.stderr))
    finally:
        os.environ.pop(paths.REGENERATE_ENV, None)
        if before is not None:
            os.environ[paths.REGENERATE_ENV] = before
    return output


def _regenerating(chapter: str, preset: str, params: dict, overrides: dict) -> bool:
    """True for the regenerate command: ``cache_dir`` names the committed results, the preset is
    ``paper`` and no override changes a chapter parameter (run options such as n_jobs may change).
    A cache_dir naming the committed results in any other run is refused here, before any work."""

    value = params.get("cache_dir")
    if value is None or not str(value).strip() or not paths.in_results(paths.cache_dir(value)):
        return False
    paper = presets.load(chapter, "paper")
    changed = sorted(k for k, v in overrides.items() if k not in schema.RUN_FIELDS and paper.get(k) != v)
    if preset != "paper" or changed:
        what = f"preset {preset!r}" if preset != "paper" else "-p " + ", ".join(changed)
        raise validate.ParameterError(
            f"parameter 'cache_dir' = {value!r} is not allowed: it names the committed results "
            f"({paths.RESULTS_DIR}), which hold only the book's own setting; this run's ({what}) "
            f"belong elsewhere: leave cache_dir unset (the user cache) or give another folder. "
            f"To regenerate the committed results: `python -m companion run {chapter} --preset paper "
            f"-p cache_dir=book/results` or `python -m companion results --chapter {chapter}`")
    return True


def _plan(exps: dict, cache_dir, damage: bool = False):
    """(units, todo, damaged) of a chapter's experiments: ``units`` counts its distinct results (a
    folder shared by two experiments, such as chapter 2's largest N under both step rules, once);
    ``todo`` maps each experiment name to the result names of those still to compute; with
    ``damage``, a stored one that does not read back intact is to compute too, and ``damaged`` maps
    its result name to the message naming it (``engine.damaged``; reads every stored frame)."""

    todo, damaged, every, seen = {}, {}, set(), set()
    for exp in exps.values():
        every.update(store.folder_name(exp.result_name(u), exp.unit_config(u)) for u in exp.units())
        broken = engine.damaged(exp, cache_dir) if damage else {}
        damaged.update({exp.result_name(u): why for u, why in broken.items()})
        for u in [*engine.missing(exp, cache_dir), *broken]:
            folder = store.folder_name(exp.result_name(u), exp.unit_config(u))
            if folder not in seen:
                seen.add(folder)
                todo.setdefault(exp.name, []).append(exp.result_name(u))
    return len(every), todo, damaged


#: Each computing chapter's result folders start with this (its experiments' names: ch1-spectrum, ...).


class CostNotes:
    """papermill's ``stderr_file`` for ``run``: of the kernel's stderr (progress bars, warnings) it
    passes on only the lines that announce a long run (:func:`cost_note`, printed by the engine
    before it computes), so that they reach the terminal of ``python -m companion run``."""

    def __init__(self, out):
        self.out, self._rest = out, ""

    def write(self, text: str) -> None:
        *lines, self._rest = re.split(r"[\r\n]", self._rest + text)
        for line in lines:
            if NOTE_START.match(line):

                tqdm.write(line, file=self.out)  # above papermill's own progress bar

    def flush(self) -> None:
        self.out.flush()


def _estimate_text(est: dict) -> str:
    total = sum(row["wall_s"] for row in est.values())
    return (f"about {_duration(total)} of computing on a 2-core CPU ("
            + ", ".join(f"{ch} {_duration(row['wall_s'])}" for ch, row in est.items())
            + "; from the committed provenance: each chapter's summed unit wall times / its n_jobs)")


def _chapter_experiments(chapter: str, params) -> dict:

    return chapters.chapter(chapter).experiments(params)


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
    out = out or sys.stdout
    say = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    chapters = list(chapters or CHAPTERS)
    for ch in chapters:
        validate.choice("chapter", ch, CHAPTERS)
    engine.check_scheduler("scheduler", scheduler)
    results_dir = paths.RESULTS_DIR
    plans, no_data = [], []
    mnist_raw = paths.data_root() / "MNIST" / "raw"
    for ch in chapters:  # every chapter checked and planned before anything is computed
        params, options = check(ch, presets.load(ch, "paper") | {"cache_dir": str(results_dir)},
                                            regenerate=True)
        options = dataclasses.replace(options, progress=False, scheduler=scheduler or options.scheduler)
        try:
            exps = _chapter_experiments(ch, params)  # may resolve a data source (reads no data)
        except FileNotFoundError:
            exps = None
        damaged, todo_names = {}, {}
        if exps is None:
            units = todo = None
        else:
            # A damaged committed result is recomputed (and replaced once the new one is stored), so
            # it is not "reused": each one is named, as every other path names it.
            units, todo_names, damaged = _plan(exps, options.cache_dir, damage=True)
            todo = sum(len(v) for v in todo_names.values())
        # On a Dask cluster the workers read the data (from their own data root), not this process.
        if exps is None or (todo and _needs_full_mnist(params) and not data.full_mnist_present()
                            and options.scheduler is None):
            no_data.append(ch)
        plans.append((ch, params, options, exps, units, todo, damaged, todo_names))
    est = estimate(results_dir, {plan[0]: plan[2].n_jobs for plan in plans})
    est = {ch: est[ch] for ch in chapters if ch in est}
    walls = committed_wall_times(results_dir)
    say(f"Regenerating the committed results (paper presets) of {', '.join(chapters)} in {results_dir}.")
    say(f"Estimated time from scratch: {_estimate_text(est)}; `make results` then also rebuilds the book.")
    for ch, params, options, exps, units, todo, damaged, todo_names in plans:
        where = f"on {options.scheduler}" if options.scheduler else f"n_jobs={options.n_jobs}"
        scratch = f"from scratch ~{_duration(est.get(ch, {}).get('wall_s', 0.0))}; {where}"
        if exps is None:
            say(f"  {ch:<20} units unknown until full MNIST is there  ({scratch})")
        else:
            seconds = sum(unit_seconds(name, names, walls)[0] for name, names in todo_names.items())
            now = f"this run ~{_duration(seconds / (1 if options.scheduler else options.n_jobs))}; " if todo else ""
            broken = f" ({len(damaged)} damaged)" if damaged else ""
            say(f"  {ch:<20} {units:>4} units: {todo:>4} to compute{broken}, {units - todo:>4} reused  "
                f"({now}{scratch})")
            for why in damaged.values():
                say(f"  {'':<20} {why}")
        if ch in no_data:
            say(f"  {'':<20} needs full MNIST, not found in {mnist_raw}: see the README, 'Getting full "
                "MNIST' (or set COMPANION_DATA_ROOT)")
    if dry_run:
        say("Dry run: nothing was computed or written.")
        return 0
    if no_data:
        say(f"error: {', '.join(no_data)} cannot be computed without full MNIST; nothing was computed"
            + (" (the damaged results named above are left as they are)." if any(p[6] for p in plans)
               else "."))
        return 2
    failed = False
    for ch, params, options, exps, units, todo, damaged, _ in plans:
        start, stored, lost = time.perf_counter(), [], 0
        with tqdm(total=todo, desc=ch, unit="unit", disable=not progress, file=sys.stderr) as bar, \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", store.CorruptResult)  # each damaged one is named above
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

            for name, default, text in schema.help_table(chapters.chapter(args.chapter).SCHEMA):
                print(f"{name} = {default!r}\n    {text}")
            return 0
        out = run(args.chapter, args.preset, parse_overrides(args.param), args.output)
    except validate.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ConnectionError, TimeoutError) as err:  # a Dask scheduler that does not answer, or has no workers
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not the libraries' tracebacks

        # nbclient's cell task, abandoned by the interrupt, would be logged by asyncio at exit with the
        # kernel's whole traceback ("Task exception was never retrieved"): the line below says it all.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)
        print(f"\ninterrupted: {RESUME}", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - papermill's error carries the notebook's exception
        if type(err).__name__ == "DeadKernelError":  # nbclient's: the kernel was killed (or ran out of memory)
            print(f"error: the chapter's kernel died (killed, or out of memory): {RESUME}", file=sys.stderr)
            return 1
        if type(err).__name__ != "PapermillExecutionError":
            raise
        print(f"error: the chapter failed: {err.ename}: {err.evalue}", file=sys.stderr)
        return 1
    print(f"executed notebook written to {out}")
    return 0
