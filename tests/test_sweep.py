import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from companion import cache, sweep
from companion.validate import ParameterError

REPO = Path(__file__).resolve().parents[1]

TINY = dict(regimes=["mean_field", "ntk"], sizes=[20, 40], seeds=[0], n_test=20, width=8, k=3,
            steps=12, num_checkpoints=4, first_checkpoint=2, batch_size=10, lr_mean_field=0.1,
            lr_ntk=1.0, source="embedded")


def tiny_spec(**kw):
    return sweep.check_params(**{**TINY, **kw})["spec"]


def test_checkpoint_grid_is_geometric_with_zero():
    grid = sweep.checkpoint_grid(1000, 8, first=10)
    assert grid[0] == 0 and grid[1] == 10 and grid[-1] == 1000 and grid == sorted(set(grid))
    ratios = [b / a for a, b in zip(grid[1:], grid[2:])]
    assert max(ratios) / min(ratios) < 1.1  # geometric, not doubling: ratio 100^(1/6) ~ 2.15
    assert len(sweep.checkpoint_grid(1000, 30, first=10)) == 30


@pytest.mark.parametrize("kw, name", [
    ({"sizes": []}, "sizes"),
    ({"k": 9}, "k"),
    ({"source": "foo"}, "source"),
    ({"lr_mean_field": -0.1}, "lr_mean_field"),
    ({"regimes": ["ntk", "bogus"]}, "regimes"),
    ({"sizes": [5000]}, "sizes"),  # embedded holds 4,000 training images
    ({"sizes": [60000], "source": "torchvision"}, "sizes"),  # balanced: at most 10 x 5,421 (digit 5)
    ({"batch_size": 30}, "batch_size"),  # larger than the smallest size
    ({"threshold_rule": "sometimes"}, "threshold_rule"),
])
def test_check_params_fails_fast_naming_the_parameter(kw, name):
    with pytest.raises(ParameterError, match=name):
        sweep.check_params(**{**TINY, **kw})


def test_unit_config_holds_everything():
    spec = tiny_spec()
    a = spec.unit_config("ntk", 20, 0)
    assert a["checkpoints"] == spec.checkpoints and a["parameterization"] == "ntk" and a["lr"] == 1.0
    b = tiny_spec(width=9).unit_config("ntk", 20, 0)
    assert cache.config_hash(a) != cache.config_hash(b)
    assert "device" not in a  # results are keyed on the configuration only


def test_sweep_caches_resumes_and_never_reads_cached_data(tmp_path, monkeypatch):
    spec = tiny_spec()
    first = sweep.run_sweep(spec, cache_dir=tmp_path, progress=False)
    assert len(first.attrs["computed"]) == 4
    assert len(first) == 4 * len(spec.checkpoints) * 4 * 2
    assert set(first["method"]) == set(sweep.METHODS) and set(first["split"]) == {"train", "test"}
    assert list(first.columns) == ["regime", "n", "seed", "t", "method", "split", "loss", "accuracy"]
    dense0 = first[(first.t == 0) & (first.method == "dense")]
    assert dense0["accuracy"].between(0, 1).all()

    # all cached: no work, and the data are never loaded
    import companion.data

    def boom(*a, **k):
        raise AssertionError("data loaded although every unit is cached")

    monkeypatch.setattr(companion.data, "mnist", boom)
    second = sweep.run_sweep(spec, cache_dir=tmp_path, progress=False)
    assert second.attrs["computed"] == []
    pd.testing.assert_frame_equal(first, second)
    monkeypatch.undo()

    # one unit missing: only it is recomputed, to the same numbers
    gone = cache.result_dir(sweep.unit_name("ntk", 40, 0), spec.unit_config("ntk", 40, 0), tmp_path)
    keep = cache.result_dir(sweep.unit_name("ntk", 20, 0), spec.unit_config("ntk", 20, 0), tmp_path)
    mtime = (keep / "frame.csv").stat().st_mtime_ns
    import shutil
    shutil.rmtree(gone)
    assert sweep.missing_units(spec, tmp_path) == [("ntk", 40, 0)]
    third = sweep.run_sweep(spec, cache_dir=tmp_path, progress=False)
    assert third.attrs["computed"] == [("ntk", 40, 0)]
    assert (keep / "frame.csv").stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(first, third)
    prov = sweep.provenance(spec, tmp_path)
    assert len(prov) == 4 and (prov["wall_time_s"] > 0).all()


_CHILD = """
import sys, json
sys.path.insert(0, {repo!r})
from companion import sweep
spec = sweep.check_params(**json.loads({params!r}))["spec"]
sweep.run_sweep(spec, cache_dir={cache!r}, progress=False)
"""


def test_sigkill_then_rerun_reuses_finished_units(tmp_path):
    import json

    params = {**TINY, "sizes": [20, 30, 40, 50], "steps": 400}  # units slow enough to kill mid-sweep
    spec = sweep.check_params(**params)["spec"]
    killed = tmp_path / "killed"
    code = _CHILD.format(repo=str(REPO), params=json.dumps(params), cache=str(killed))
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if len(spec.units()) - len(sweep.missing_units(spec, killed)) >= 1:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    missing = sweep.missing_units(spec, killed)
    finished = [u for u in spec.units() if u not in missing]
    assert finished and missing
    stamps = {u: (cache.result_dir(sweep.unit_name(*u), spec.unit_config(*u), killed)
                  / "frame.csv").stat().st_mtime_ns for u in finished}
    resumed = sweep.run_sweep(spec, cache_dir=killed, progress=False)
    assert sorted(resumed.attrs["computed"]) == sorted(missing)
    for u, stamp in stamps.items():
        folder = cache.result_dir(sweep.unit_name(*u), spec.unit_config(*u), killed)
        assert (folder / "frame.csv").stat().st_mtime_ns == stamp
    # no half-written folders left behind by the kill
    assert not [p for p in killed.iterdir() if p.name.startswith(".")]
    clean = sweep.run_sweep(spec, cache_dir=tmp_path / "clean", progress=False)
    pd.testing.assert_frame_equal(resumed, clean)
