"""The experiment engine: units stored one by one, resumable, parallel, run options never in a key."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pandas as pd
import pytest

from companion import chapters, paths, presets
from companion.chapters import derivation
from companion.experiments import engine, store
from companion.validate import ParameterError

REPO = paths.REPO_ROOT


@dataclass(frozen=True)
class Toy(engine.Experiment):
    """units 0..n-1; each unit's frame depends on (unit, scale) only."""

    n: int
    scale: float
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

        g = torch.Generator().manual_seed(unit)
        return pd.DataFrame({"unit": unit, "value": (torch.randn(3, generator=g, dtype=torch.float64)
                                                     * self.scale).tolist()})


def test_run_stores_each_unit_and_reuses_it(tmp_path):
    options = engine.RunOptions(device="cpu", cache_dir=tmp_path, progress=False)
    first = engine.run(Toy(4, 2.0), options)
    assert first.attrs["computed"] == [0, 1, 2, 3] and len(first) == 12
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["toy"] * 4
    second = engine.run(Toy(4, 2.0), options)
    assert second.attrs["computed"] == []
    pd.testing.assert_frame_equal(first, second)
    # a larger grid computes only the new unit; another scale is another key for every unit
    assert engine.run(Toy(5, 2.0), options).attrs["computed"] == [4]
    assert engine.missing(Toy(5, 3.0), tmp_path) == [0, 1, 2, 3, 4]
    # one unit lost: only it is recomputed, to the same numbers
    shutil.rmtree(store.result_dir("toy-u2", {"unit": 2, "scale": 2.0}, tmp_path))
    third = engine.run(Toy(4, 2.0), options)
    assert third.attrs["computed"] == [2]
    pd.testing.assert_frame_equal(first, third)
    prov = engine.provenance(Toy(4, 2.0), tmp_path)
    assert list(prov["unit"]) == ["u0", "u1", "u2", "u3"] and prov["device"].str.startswith("cpu").all()


def test_parallel_run_equals_serial_run_and_options_are_not_keys(tmp_path):
    serial = engine.run(Toy(5, 1.5), engine.RunOptions(device="cpu", cache_dir=tmp_path / "a",
                                                       progress=False))
    parallel = engine.run(Toy(5, 1.5), engine.RunOptions(device="auto", n_jobs=2, cache_dir=tmp_path / "b",
                                                         progress=False))
    pd.testing.assert_frame_equal(serial, parallel)
    assert (sorted(p.name for p in (tmp_path / "a").iterdir())
            == sorted(p.name for p in (tmp_path / "b").iterdir()))  # same keys whatever the run options


@pytest.mark.parametrize("kw, name", [({"device": "tpu"}, "device"), ({"n_jobs": 0}, "n_jobs"),
                                      ({"progress": "yes"}, "progress"), ({"cache_dir": 3}, "cache_dir")])
def test_run_options_are_checked(kw, name):
    with pytest.raises(ParameterError, match=name):
        engine.RunOptions(**kw)


def test_no_committed_key_holds_a_run_option():
    for prov in sorted(paths.RESULTS_DIR.glob("*/provenance.json")):
        config = json.loads(prov.read_text())["config"]
        assert not {"device", "n_jobs", "cache_dir", "progress"} & set(config), prov.parent.name


_CHILD = """
import sys, json
sys.path.insert(0, {repo!r})
from companion import chapters, experiments
from companion.chapters import derivation
params, options = chapters.check("02_derivation", json.loads({params!r}))
experiments.engine.run(derivation.experiments(params)["gd_sphere200_fixed"], options)
"""


def test_chapter_2_run_killed_then_rerun_recomputes_only_the_unfinished_units(tmp_path):
    """SIGKILL a chapter 2 run (its quick preset, the paper preset's code path) once some units are
    stored; the rerun computes exactly the missing ones and gives the uninterrupted run's frame."""
    killed = tmp_path / "killed"
    params = {**presets.load("02_derivation", "quick"), "cache_dir": str(killed), "progress": False,
              "n_jobs": 1, "seeds": [0, 1, 2]}
    p, options = chapters.check("02_derivation", params)
    gd = derivation.experiments(p)["gd_sphere200_fixed"]
    code = _CHILD.format(repo=str(REPO), params=json.dumps(params))
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if len(gd.units()) - len(engine.missing(gd, killed)) >= 2:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    missing = engine.missing(gd, killed)
    finished = [u for u in gd.units() if u not in missing]
    assert finished and missing
    stamps = {u: (store.result_dir(gd.result_name(u), gd.unit_config(u), killed) / "frame.csv")
              .stat().st_mtime_ns for u in finished}
    resumed = engine.run(gd, options)
    assert sorted(resumed.attrs["computed"]) == sorted(missing)
    for u, stamp in stamps.items():
        assert (store.result_dir(gd.result_name(u), gd.unit_config(u), killed) / "frame.csv"
                ).stat().st_mtime_ns == stamp
    assert not [q for q in killed.iterdir() if q.name.startswith(".")]  # no half-written folders
    clean = engine.run(gd, engine.RunOptions(device="cpu", cache_dir=tmp_path / "clean", progress=False))
    pd.testing.assert_frame_equal(resumed, clean)


def test_a_long_run_is_announced_by_the_engine_too(tmp_path, capsys, monkeypatch):
    """A run started from papermill or Python (not the command line) says so as well, before any unit."""
    from companion.experiments import estimate

    monkeypatch.setattr(estimate, "ANNOUNCE_UNKNOWN_UNITS", 3)
    engine.run(Toy(3, 1.0), engine.RunOptions(device="cpu", cache_dir=tmp_path, progress=True))
    err = capsys.readouterr().err
    assert "toy: 3 units to compute (0 already stored), estimated 0 s of computing (n_jobs=1: about 0 s), " \
           "plus 3 units with no estimate" in err
    engine.run(Toy(3, 2.0), engine.RunOptions(device="cpu", cache_dir=tmp_path, progress=False))
    assert "units to compute" not in capsys.readouterr().err  # quiet runs stay quiet
