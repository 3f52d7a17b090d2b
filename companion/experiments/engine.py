"""The one experiment engine under every chapter.

An *experiment* is a frozen dataclass of exactly the fields its results depend on, with

- ``units()``: the grid, a list of hashable units (e.g. ``(d, n, seed)``);
- ``unit_label(unit)``: a readable name for the unit's result folder;
- ``unit_config(unit)``: everything that unit's result depends on (its cache key), including any
  quantity derived from the whole grid (chapter 2's step size, set by the largest N), so changing
  the grid invalidates exactly the units it affects;
- ``compute(unit, device)``: the unit's tidy frame.

:func:`run` reads the units already stored (the committed results first, then the user cache, see
:mod:`.store`), computes the missing ones (largest ``cost`` first, in ``n_jobs`` worker processes),
stores each as soon as it is back in this process, and returns all of them as one frame. Workers only
compute and return frames; this process writes them, so a worker needs no file system of its own and
a run killed at any moment keeps every unit finished before the kill. Each worker watches this process
and exits when it is gone (even after a SIGKILL), so a killed run leaves no worker behind. A run whose
missing units are estimated to take long says how many and how long before it starts
(:func:`.estimate.cost_note`).

With ``RunOptions(scheduler="tcp://host:port")`` the missing units run on the workers of an existing
``dask.distributed`` cluster instead: each unit is one task (retried on failure; a task whose worker
dies is rescheduled by Dask), its frame comes back to this process and is stored here exactly as a
local run stores it, so the workers need no shared file system and a Dask run gives the same frames
as a local one. A unit that still fails is reported, by name, in :class:`UnitsFailed` once every other
unit is stored; a rerun computes only what is missing. A scheduler with no worker stops the run,
having computed nothing, after :data:`WORKER_TIMEOUT_S` (the environment variable
``COMPANION_DASK_WORKER_TIMEOUT`` sets it): :class:`NoWorkers`.

How a run is carried out — device, jobs, cache folder, progress bars, scheduler — is a
:class:`RunOptions`, never part of a key.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Hashable

import pandas as pd
import torch
from joblib import Parallel, delayed
from tqdm import tqdm  # plain tqdm: tqdm.auto warns on stderr without ipywidgets

from .. import paths, validate
from ..runtime import DEVICES, device_description, resolve_device
from . import store
from .estimate import cost_note


def param(default, help: str, check: Callable | None = None):
    """A chapter parameter or run option: ``default`` (lists given as tuples), one line of ``help``, and
    ``check`` (name, value) -> normalised value, raising ParameterError that names the parameter
    (re-exported by :mod:`.schema`, where the chapters declare theirs)."""
    return field(default=default, metadata={"help": help, "check": check})


@dataclass(frozen=True)
class RunOptions:
    """How to run (never what is computed): not part of any cache key.

    The one declaration of the run options: each field with help text is a parameter of every
    computing chapter (``schema.RUN_FIELDS``: its default, ``python -m companion params`` help and
    check come from here); ``regenerate`` is set only by the regenerate commands."""

    device: str = param("auto", "'auto' (CUDA when available, else the CPU), 'cpu' or 'cuda'",
                        lambda n, v: validate.choice(n, v, DEVICES))
    n_jobs: int = param(1, "worker processes for the units still to compute",
                        lambda n, v: validate.integer(n, v, low=1, high=256))
    cache_dir: object = param(None, "None: read the committed results, store new ones in .cache/ "
                              "(or $COMPANION_CACHE_DIR); a path: store there", validate.optional_path)
    progress: bool = param(True, "show progress bars while computing", validate.boolean)
    #: None: compute here (``n_jobs`` processes). An address such as "tcp://host:8786": compute on the
    #: workers of that running dask.distributed scheduler (``n_jobs`` is then ignored).
    scheduler: str | None = param(None, "None: compute here; the address of a running Dask scheduler "
                                  "('tcp://host:8786'): compute the missing units on its workers",
                                  lambda n, v: check_scheduler(n, v))
    #: True only for the regenerate commands: ``cache_dir`` may then be the committed results.
    regenerate: bool = False

    def __post_init__(self):
        validate.boolean("regenerate", self.regenerate)
        for f in run_option_fields():
            f.metadata["check"](f.name, getattr(self, f.name))
        # Resolved once, here, to an absolute folder (refused: '', a file, an unwritable place, the
        # committed results unless regenerating), so no later change of directory changes it.
        object.__setattr__(self, "cache_dir", paths.checked_cache_dir("cache_dir", self.cache_dir,
                                                                      regenerate=self.regenerate))


def run_option_fields() -> tuple:
    """The fields of :class:`RunOptions` that are chapter parameters (those with help text)."""
    return tuple(f for f in dataclasses.fields(RunOptions) if "help" in f.metadata)


#: Address schemes of a dask.distributed scheduler that ``RunOptions.scheduler`` accepts.
SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://", "ws://")


def check_scheduler(name: str, value):
    """None, or the address of a running dask.distributed scheduler ("tcp://host:port", ...)."""
    if value is not None and not (isinstance(value, str) and value.startswith(SCHEDULER_SCHEMES)
                                  and len(value) > value.index("://") + 3):
        raise validate.ParameterError(
            f"parameter {name!r} = {value!r} is not allowed: must be None (compute here) or the address "
            f"of a running Dask scheduler starting with {', '.join(SCHEDULER_SCHEMES)} "
            "(e.g. 'tcp://127.0.0.1:8786')")
    return value


class UnitsFailed(RuntimeError):
    """Units that could not be computed on a Dask cluster (after retries); every other unit is stored.

    ``failures`` maps each failed unit to its error; rerunning computes exactly these units."""

    def __init__(self, experiment: "Experiment", failures: dict, stored: int, scheduler: str):
        self.failures = failures
        names = "; ".join(f"{experiment.result_name(u)} ({type(e).__name__}: {e})"
                          for u, e in failures.items())
        super().__init__(f"{len(failures)} unit(s) of {experiment.name} failed on the Dask cluster at "
                         f"{scheduler} and were not stored: {names}. The {stored} other unit(s) of this "
                         "run are stored; run again to compute the failed ones.")


class Experiment:
    """Base of every experiment (subclasses are frozen dataclasses)."""

    #: Prefix of every result folder of this experiment, e.g. ``ch2-gd``.
    name: ClassVar[str]
    #: Intra-op threads while a unit computes, wherever it computes (this process with n_jobs 1, a
    #: worker process, a Dask worker): set in one place, :func:`compute_unit`, for every chapter. One:
    #: the parallelism is across units (n_jobs), and many small matrix products run faster on one
    #: thread than on two on a busy two-core machine (measured in chapter 4: an MLP unit took 63-70 s
    #: on the default two threads beside one other busy process, 1-3.5 s on one).
    threads: ClassVar[int] = 1
    #: How closely a recomputation on any machine must match a committed result (numpy.isclose terms,
    #: plus ``scale``, ``scale_by`` and ``max_share``: see :mod:`companion.regression`). Never bit for bit: the
    #: last bits depend on the BLAS, its kernel choice, the CPU and the thread count.
    #: Default for float64 computations. Measured (``scripts/numerics.py --drift``, 8 numeric
    #: configurations against the committed results): chapter 1's eigenvalues drift by at most 1e-8
    #: relative, the Monte-Carlo errors by 8e-7 relative but 3e-8 of their column's scale (the largest
    #: entry moves): a 1e-6 floor on the column's scale, 30x that.
    tolerance: ClassVar[dict] = {"rtol": 1e-6, "atol": 1e-12, "scale": 1e-6}

    def units(self) -> list[Hashable]:
        raise NotImplementedError

    def unit_label(self, unit) -> str:
        raise NotImplementedError

    def unit_config(self, unit) -> dict:
        raise NotImplementedError

    def compute(self, unit, device: torch.device) -> pd.DataFrame:
        raise NotImplementedError

    def cost(self, unit) -> float:
        """Relative cost, to start the longest units first (better load balance)."""
        return 1.0

    def seconds(self, unit) -> float | None:
        """Estimated wall time of the unit from its own configuration, for the announcement of a long
        run; None: take the committed unit of the same name (see :mod:`.estimate`)."""
        return None

    # -- helpers shared by all experiments ----------------------------------------------------------
    def result_name(self, unit) -> str:
        return f"{self.name}-{self.unit_label(unit)}"


def missing(experiment: Experiment, cache_dir=None) -> list:
    """Units without a stored result (checks existence only: reads no frame)."""
    return [u for u in experiment.units()
            if not store.exists(experiment.result_name(u), experiment.unit_config(u), cache_dir)]


def damaged(experiment: Experiment, cache_dir=None) -> dict:
    """Stored units whose result does not read back intact: unit -> the message naming its folder and
    what is wrong (see ``store.damage``). Reads every stored frame."""
    out = {}
    for u in experiment.units():
        why = store.damage(experiment.result_name(u), experiment.unit_config(u), cache_dir)
        if why is not None:
            out[u] = why
    return out


#: Set in a worker process once it watches its parent (the process that started the run).
_WATCHED_PARENT: int | None = None


def _die_with_parent(parent: int, interval_s: float = 0.2) -> None:
    """In a worker process of a local parallel run: exit as soon as ``parent`` is gone, so that a run
    killed by SIGKILL (which no handler sees) leaves no worker computing for nobody. A daemon thread
    polls the parent pid: when a process dies its children are re-parented at once, so the pid
    changes. (A parent-death signal would fire when the *thread* that spawned the worker ends.)"""
    global _WATCHED_PARENT
    if os.getpid() == parent or _WATCHED_PARENT == parent:
        return
    _WATCHED_PARENT = parent
    start_ppid = os.getppid()

    def alive() -> bool:
        if os.getppid() != start_ppid:
            return False
        try:
            os.kill(parent, 0)  # the run's process may not be the direct parent: check it too
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def watch():
        while alive():
            time.sleep(interval_s)
        os._exit(1)

    threading.Thread(target=watch, name="companion-watch-parent", daemon=True).start()


def _compute_in_worker(experiment: Experiment, unit, device: str, parent: int):
    """compute_unit in a worker process of a local parallel run (one intra-op thread: the workers
    already fill the cores), which dies with ``parent``."""
    _die_with_parent(parent)
    return compute_unit(experiment, unit, device, 1)


def compute_unit(experiment: Experiment, unit, device: str = "auto", threads: int | None = None):
    """Compute one unit, in whatever process this runs: returns (unit, frame, wall time, device text).
    The one place where a unit's intra-op threads are pinned (``threads``, else the experiment's
    :attr:`Experiment.threads`, one), restored afterwards."""
    dev = resolve_device(device)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or experiment.threads or 1)
    try:
        start = time.perf_counter()
        frame = experiment.compute(unit, dev)
        return unit, frame, time.perf_counter() - start, device_description(dev)
    finally:
        torch.set_num_threads(before)


def run(experiment: Experiment, options: RunOptions | None = None, *,
        on_stored: Callable[[Hashable], None] | None = None) -> pd.DataFrame:
    """Every unit of ``experiment`` as one tidy frame (stored units read back, missing ones computed
    and stored). ``frame.attrs['computed']`` lists the units this call computed; ``on_stored(unit)``,
    if given, is called after each computed unit is stored (e.g. to drive a progress bar).

    On a Dask cluster (``options.scheduler``), a unit that fails after its retries raises
    :class:`UnitsFailed` naming it, after every other unit is stored."""
    options = options or RunOptions()
    if options.scheduler is None:
        resolve_device(options.device)  # a bad or unavailable device fails before any work
    # (on a cluster the workers resolve the device: this process may have no GPU while they do)
    units = experiment.units()
    todo = set(missing(experiment, options.cache_dir))
    frames = {u: store.load(experiment.result_name(u), experiment.unit_config(u), options.cache_dir)
              for u in units if u not in todo}
    # A damaged result where this run writes (user cache; book/results when regenerating): recompute
    # it; store() replaces it only once the new one is complete.
    todo |= {u for u, f in frames.items() if f is None}
    pending = sorted((u for u in units if u in todo), key=experiment.cost, reverse=True)
    if pending and options.progress:
        _announce(experiment, pending, len(units) - len(pending), options)
    computed = []
    bar = tqdm(total=len(pending), desc=f"{experiment.name} units", disable=not options.progress
               or not pending, leave=False)
    failures = {}
    try:
        for unit, frame, wall, device in _compute_all(experiment, pending, options, failures):
            name, config = experiment.result_name(unit), experiment.unit_config(unit)
            store.store(name, config, frame, device=device, wall_time_s=wall, cache_dir=options.cache_dir)
            # Read back what was written, so a fresh result and a stored one are the same floats.
            frames[unit] = store.load(name, config, options.cache_dir)
            computed.append(unit)
            bar.update()
            if on_stored is not None:
                on_stored(unit)
    finally:
        bar.close()
    if failures:
        raise UnitsFailed(experiment, failures, len(computed), options.scheduler)
    out = pd.concat([frames[u] for u in units], ignore_index=True) if units else pd.DataFrame()
    out.attrs["computed"] = sorted(computed, key=units.index)
    return out


def _announce(experiment, pending, stored: int, options) -> None:
    """Before a long run (estimated from each unit's own configuration where the experiment can,
    else from the committed provenance, by the one estimate in :mod:`.estimate` that the command line
    also prints): one line saying how many units and how long."""
    own = {experiment.result_name(u): experiment.seconds(u) for u in pending}
    note = cost_note(experiment.name, {experiment.name: [experiment.result_name(u) for u in pending]},
                     stored, options.n_jobs, options.scheduler,
                     own={k: v for k, v in own.items() if v is not None})
    if note:
        print(note, file=sys.stderr, flush=True)


def _compute_all(experiment, pending, options, failures):
    if options.scheduler is not None and pending:
        yield from _compute_on_dask(experiment, pending, options, failures)
    elif len(pending) > 1 and options.n_jobs > 1:
        # Each worker dies with this process (see _die_with_parent): a killed run leaves no orphans.
        yield from Parallel(n_jobs=options.n_jobs, return_as="generator_unordered")(
            delayed(_compute_in_worker)(experiment, u, options.device, os.getpid()) for u in pending)
    else:
        for u in pending:
            yield compute_unit(experiment, u, options.device)


def _compute_on_dask(experiment, pending, options, failures):
    """Yield compute_unit's tuples as the cluster's workers finish them; record in ``failures`` (unit ->
    error) each unit that still fails after its retries (or whose worker kept dying: KilledWorker)."""
    import distributed  # only a run with a scheduler needs it

    try:
        client = distributed.Client(options.scheduler, set_as_default=False)
    except OSError as err:
        raise ConnectionError(f"parameter 'scheduler' = {options.scheduler!r}: no Dask scheduler answers "
                              f"there ({err})") from err
    with client:
        _wait_for_workers(client, options.scheduler)
        # Largest cost first, as locally: a higher priority for each earlier unit. One intra-op thread
        # per task, as in a local parallel run (a worker with several threads runs several tasks).
        futures = {client.submit(compute_unit, experiment, u, options.device, 1, pure=False, retries=2,
                                 priority=len(pending) - i): u for i, u in enumerate(pending)}
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                unit = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # noqa: BLE001 - reported with the unit once the rest is stored
                    failures[unit] = err
                    continue
                finally:
                    future.release()
                yield result
        finally:
            # An interrupted run (Ctrl-C, an error while storing) leaves nothing running on the cluster.
            client.cancel([f for f in futures if not f.done()])


#: How long a run waits for a Dask scheduler without workers to get one (seconds); the environment
#: variable of this name sets it.
WORKER_TIMEOUT_ENV = "COMPANION_DASK_WORKER_TIMEOUT"
WORKER_TIMEOUT_S = 120.0


class NoWorkers(TimeoutError):
    """The Dask scheduler of a run has no worker, and none joined in time: nothing was computed."""


def _wait_for_workers(client, scheduler: str) -> None:
    text = os.environ.get(WORKER_TIMEOUT_ENV)
    try:
        timeout = validate.positive(WORKER_TIMEOUT_ENV, float(text)) if text else WORKER_TIMEOUT_S
    except ValueError:
        raise validate.ParameterError(f"environment variable {WORKER_TIMEOUT_ENV} = {text!r} is not "
                                      "allowed: must be a number of seconds > 0") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise NoWorkers(f"parameter 'scheduler' = {scheduler!r}: the Dask scheduler there has no "
                        f"workers (none joined within {timeout:g} s; {WORKER_TIMEOUT_ENV} sets the wait). "
                        f"Start some, e.g. `dask worker {scheduler} --nthreads 1`; nothing was "
                        "computed.") from None


def provenance(experiment: Experiment, cache_dir=None) -> pd.DataFrame:
    """One row per stored unit: its label, device, wall time and torch version."""
    rows = []
    for u in experiment.units():
        prov = store.provenance(experiment.result_name(u), experiment.unit_config(u), cache_dir)
        if prov is not None:
            rows.append({"unit": experiment.unit_label(u), "device": prov.get("device"),
                         "wall_time_s": prov.get("wall_time_s"),
                         "torch": prov.get("packages", {}).get("torch")})
    return pd.DataFrame(rows, columns=["unit", "device", "wall_time_s", "torch"])
