"""``python -m companion run CHAPTER --preset quick|paper [-p name=value ...] [--output PATH]``

A thin layer over papermill: load the chapter's preset, apply overrides (values parsed as YAML, so
``-p sizes='[500, 1000]'`` gives a list; never ``eval``), execute the notebook with a progress bar.
A name that the chapter's ``parameters`` cell does not define (a typo such as ``sizez``), on the
command line or in the preset file, is refused before anything runs: papermill itself would only log
"Passed unknown parameter" and run the chapter with its defaults.
"""
from __future__ import annotations

import argparse
import sys
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
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for chapter in presets.chapters():
                print(f"{chapter}: {', '.join(presets.available(chapter))}")
            return 0
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
