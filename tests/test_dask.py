"""Units on a Dask cluster (RunOptions.scheduler): the same frames as a local run, stored by the client,
and a worker killed mid-unit loses nothing. One real two-process LocalCluster for the whole module."""
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from companion.experiments import engine
from companion.validate import ParameterError

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402 - installed with distributed

# The workers are fresh processes that cannot import this test module: ship its classes by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@dataclass(frozen=True)
class Toy(engine.Experiment):
    """units 0..n-1, a small float64 torch computation each; ``seconds``: sleep in every unit;
    ``marks``: a folder where every attempt at a unit leaves a file ``<unit>-<pid>-<ns>``; unit ``broken``
    raises until the file ``repaired`` exists. Only (unit, scale) is in a key."""

    n: int
    scale: float = 1.0
    seconds: float = 0.0
    marks: str = ""
    broken: int = -1
    repaired: str = ""
    name = "toy"

    def units(self):
        return list(range(self.n))

    def unit_label(self, unit):
        return f"u{unit}"

    def unit_config(self, unit):
        return {"unit": unit, "scale": self.scale}

    def cost(self, unit):
        return unit

    def compute(self, unit, device):
        import torch

        if self.marks:
            Path(self.marks, f"{unit}-{os.getpid()}-{time.time_ns()}").touch()
        time.sleep(self.seconds)
        if unit == self.broken and not Path(self.repaired).exists():
            raise ValueError(f"unit {unit} is broken")
        g = torch.Generator().manual_seed(unit)
        a = torch.randn(8, 8, generator=g, dtype=torch.float64)
        values = (a @ a.T).diagonal() * self.scale / (unit + 1)
        return pd.DataFrame({"unit": unit, "value": values.tolist()})


@pytest.fixture(scope="module")
def cluster():
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cluster:
        yield cluster


def _options(cluster, cache, **kw):
    return engine.RunOptions(device="cpu", cache_dir=cache, progress=False,
                             scheduler=cluster.scheduler_address, **kw)


def _no_partial_folders(cache: Path):
    return not [p for p in cache.iterdir() if p.name.startswith(".")]


def test_a_cluster_run_equals_a_local_run_and_is_stored_by_the_client(cluster, tmp_path):
    local = engine.run(Toy(5, 1.5), engine.RunOptions(device="cpu", cache_dir=tmp_path / "local",
                                                      progress=False))
    remote = engine.run(Toy(5, 1.5), _options(cluster, tmp_path / "dask"))
    assert remote.attrs["computed"] == [0, 1, 2, 3, 4]
    pd.testing.assert_frame_equal(local, remote)
    # the client wrote every result into its own cache folder: same folders, same bytes
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "dask").iterdir()) and len(names) == 5
    for name in names:
        assert ((tmp_path / "local" / name / "frame.csv").read_bytes()
                == (tmp_path / "dask" / name / "frame.csv").read_bytes())
    prov = engine.provenance(Toy(5, 1.5), tmp_path / "dask")
    assert prov["device"].str.endswith("x1 threads").all()  # computed by a worker, one thread per task
    # everything stored: a rerun on the cluster computes nothing (and never needs the cluster)
    assert engine.run(Toy(5, 1.5), _options(cluster, tmp_path / "dask")).attrs["computed"] == []


def test_a_worker_killed_mid_unit_loses_and_corrupts_nothing(cluster, tmp_path):
    marks, cache = tmp_path / "marks", tmp_path / "cache"
    marks.mkdir()
    toy = Toy(4, 1.0, seconds=1.5, marks=str(marks))
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    with client:
        worker_pids = set(client.run(os.getpid).values())
    killed = []

    def kill_the_first_worker_to_start_a_unit():
        deadline = time.time() + 30
        while time.time() < deadline:
            started = list(marks.iterdir())
            if started:
                pid = int(started[0].name.split("-")[1])
                os.kill(pid, signal.SIGKILL)  # mid-unit: the unit sleeps 1.5 s after leaving its mark
                killed.append((int(started[0].name.split("-")[0]), pid))
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_first_worker_to_start_a_unit)
    killer.start()
    try:
        frame = engine.run(toy, _options(cluster, cache))
    finally:
        killer.join()
    [(unit, pid)] = killed
    assert pid in worker_pids
    # Dask rescheduled the killed unit on a live worker: the run completed, every unit stored once
    assert sorted(frame.attrs["computed"]) == [0, 1, 2, 3]
    attempts = [p.name.split("-")[0] for p in marks.iterdir()]
    assert attempts.count(str(unit)) >= 2
    assert _no_partial_folders(cache)
    pd.testing.assert_frame_equal(frame, engine.run(Toy(4, 1.0), engine.RunOptions(
        device="cpu", cache_dir=tmp_path / "local", progress=False)))
    assert engine.run(toy, _options(cluster, cache)).attrs["computed"] == []


def test_a_unit_that_keeps_failing_is_named_after_every_other_unit_is_stored(cluster, tmp_path):
    marks, cache, repaired = tmp_path / "marks", tmp_path / "cache", tmp_path / "repaired"
    marks.mkdir()
    toy = Toy(4, 2.0, marks=str(marks), broken=3, repaired=str(repaired))
    with pytest.raises(engine.UnitsFailed, match=r"1 unit\(s\) of toy failed .* toy-u3 \(ValueError: "
                                                  r"unit 3 is broken\)\. The 3 other unit\(s\)") as info:
        engine.run(toy, _options(cluster, cache))
    assert list(info.value.failures) == [3]
    assert [p.name.split("-")[0] for p in marks.iterdir()].count("3") == 3  # first try + 2 retries
    assert engine.missing(toy, cache) == [3] and _no_partial_folders(cache)
    repaired.touch()
    again = engine.run(toy, _options(cluster, cache))
    assert again.attrs["computed"] == [3]
    pd.testing.assert_frame_equal(again, engine.run(Toy(4, 2.0), engine.RunOptions(
        device="cpu", cache_dir=tmp_path / "local", progress=False)))


@pytest.mark.parametrize("value", ["localhost:8786", "http://host:8786", "tcp://", 8786, ["tcp://a:1"]])
def test_the_scheduler_option_is_checked(value):
    with pytest.raises(ParameterError, match="parameter 'scheduler'"):
        engine.RunOptions(scheduler=value)


@pytest.mark.parametrize("value", [None, "tcp://127.0.0.1:8786", "tls://sched:8786", "inproc://1.2/3/4",
                                   "ws://sched:8786"])
def test_scheduler_addresses_that_are_allowed(value):
    assert engine.RunOptions(scheduler=value).scheduler == value


def test_distributed_is_imported_only_for_a_run_on_a_cluster(tmp_path):
    code = ("import sys; import companion.experiments as e; e.engine.RunOptions(scheduler='tcp://h:1'); "
            "print('distributed' in sys.modules, 'dask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.stdout.split() == ["False", "False"]


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConnectionError, match="parameter 'scheduler' = 'tcp://127.0.0.1:9'"):
            engine.run(Toy(2), engine.RunOptions(device="cpu", cache_dir=tmp_path, progress=False,
                                                 scheduler="tcp://127.0.0.1:9"))
    assert engine.missing(Toy(2), tmp_path) == [0, 1]


# -- a scheduler without workers (issue 21, point 7) --------------------------------------------------

@pytest.fixture
def no_workers():
    """A real scheduler with no worker at all (in this process: cheap), and a one-second wait for one."""
    import logging

    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as empty:
        yield empty


def test_a_scheduler_without_workers_times_out_with_a_message(no_workers, tmp_path, monkeypatch):
    import re

    monkeypatch.setenv(engine.WORKER_TIMEOUT_ENV, "1")
    outcome = []

    def attempt():  # in a thread: a run that hangs (the defect) fails the test instead of hanging it
        try:
            engine.run(Toy(2), _options(no_workers, tmp_path))
        except BaseException as err:  # noqa: BLE001 - examined below
            outcome.append(err)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "a run on a scheduler without workers hangs"
    [err] = outcome
    assert isinstance(err, engine.NoWorkers) and isinstance(err, TimeoutError)
    assert re.match(rf"parameter 'scheduler' = '{re.escape(no_workers.scheduler_address)}': the Dask scheduler "
                    rf"there has no workers \(none joined within 1 s; {engine.WORKER_TIMEOUT_ENV} sets the wait\)",
                    str(err)), err
    assert engine.missing(Toy(2), tmp_path) == [0, 1]  # nothing computed, nothing stored
    monkeypatch.setenv(engine.WORKER_TIMEOUT_ENV, "soon")
    with pytest.raises(ParameterError, match=engine.WORKER_TIMEOUT_ENV):
        engine.run(Toy(2), _options(no_workers, tmp_path))


def test_the_results_command_reports_a_scheduler_without_workers(no_workers, tmp_path, monkeypatch, capsys):
    from companion import cli, paths, presets

    monkeypatch.setenv(engine.WORKER_TIMEOUT_ENV, "1")
    monkeypatch.setattr(paths, "RESULTS_DIR", tmp_path)
    load = presets.load
    tiny = {"sizes": [100], "seeds": [0], "n_test": 100, "width": 16, "k": 4, "steps": 20, "num_checkpoints": 3,
            "first_checkpoint": 5, "batch_size": 50, "gd_sizes": [100], "gd_seeds": [0], "gd_steps": 10,
            "gd_num_checkpoints": 3, "ntk_n": 100, "ntk_seeds": [0], "ntk_lrs": [1.0], "ntk_ks": [4, 32],
            "ntk_steps": 10, "ntk_num_checkpoints": 3, "random_draws": 2, "source": "embedded",
            "wt_sizes": [100], "wt_seeds": [0], "wt_lrs": [0.4], "wt_ks": [4], "wt_num_checkpoints": 3,
            "wt_ntk_lrs": [1.0], "n_heldout": 50, "heldout_from": 1000}
    monkeypatch.setattr(presets, "load", lambda ch, preset: load(ch, preset) | tiny)
    code = cli.main(["results", "--chapter", "03_mnist_validation", "--scheduler", no_workers.scheduler_address])
    assert code == 2
    err = capsys.readouterr().err
    assert "\nerror: parameter 'scheduler'" in err and "has no workers" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
