"""Library-wide reliability: offline by default, safe loading, determinism across processes."""
import re
import socket
import subprocess
import sys

import pytest

from companion import data, paths

REPO = paths.REPO_ROOT


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_default_run_makes_no_network_request_and_says_once(no_network, capsys, monkeypatch):
    monkeypatch.setattr(data, "_notified", set())
    first = data.mnist(100, n_test=20, seed=0)          # source='auto', download=False
    second = data.mnist(200, seed=1)
    assert first.train.source == second.train.source == "embedded"
    out = capsys.readouterr().out
    assert out.count("Full MNIST not found") == 1


def test_download_failure_falls_back(no_network, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(data, "_notified", set())
    split = data.mnist(50, source="auto", download=True, data_root=tmp_path)
    assert split.train.source == "embedded"
    assert "download failed" in capsys.readouterr().out


def test_no_unsafe_loading_in_the_package():
    """No pickle, no eval/exec, torch.load only with weights_only=True, YAML only through safe_load."""
    for path in sorted((REPO / "companion").rglob("*.py")):
        text = path.read_text()
        assert not re.search(r"\b(eval|exec)\(", text), path
        assert "pickle" not in text, path
        assert not re.search(r"yaml\.(load|unsafe_load)\(", text), path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)


SCRIPT = """
import hashlib, torch
from companion import data, prune
from companion.models import TwoLayerNet
from companion.pretrain import TrainConfig, pretrain
ds = data.mnist(300, seed=2, source="embedded").train
net = TwoLayerNet(784, 64, 10, "mean_field", seed=3)
res = pretrain(net, ds, TrainConfig(lr=0.1, optimizer="sgd", batch_size=32, reduction="mean",
               device="cpu", seed=4), [0, 20, 40], progress=False)
h, a, _ = net.neurons(ds.x.float())
sel = prune.greedy_forward_selection(h, a, ds.targets.float(), 8, allow_repeats=False)
digest = hashlib.sha256()
for t, state in sorted(res.states.items()):
    for v in state.values():
        digest.update(v.numpy().tobytes())
digest.update(repr((sel.picks, sel.losses, res.history.to_csv())).encode())
print(digest.hexdigest())
"""


def test_same_seed_identical_results_from_fresh_processes():
    runs = [subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) == 64


# -- a killed run leaves no worker behind (issue 21, point 5) ----------------------------------------

_SLOW_TOY = """
import os, time
from dataclasses import dataclass

import pandas as pd

from companion.experiments import engine


@dataclass(frozen=True)
class Slow(engine.Experiment):
    '''n units of a minute each; each leaves a file <unit>-<worker pid> in ``marks`` when it starts.'''

    n: int
    marks: str
    name = "slow"

    def units(self):
        return list(range(self.n))

    def unit_label(self, unit):
        return f"u{unit}"

    def unit_config(self, unit):
        return {"unit": unit}

    def compute(self, unit, device):
        open(os.path.join(self.marks, f"{unit}-{os.getpid()}"), "w").close()
        time.sleep(60)
        return pd.DataFrame({"unit": [unit]})
"""

_KILLED_PARENT = """
from companion.experiments import engine
import slow_toy
engine.run(slow_toy.Slow(4, {marks!r}), engine.RunOptions(device="cpu", n_jobs=2, cache_dir={cache!r},
                                                          progress=False))
"""


def _running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_of_a_run_killed_with_sigkill_die_with_it(tmp_path):
    """SIGKILL (which no handler sees) of a process running an n_jobs=2 run mid-unit: both joblib
    workers are gone within a few seconds, not when their minute-long unit ends."""
    import os
    import signal
    import time

    (tmp_path / "slow_toy.py").write_text(_SLOW_TOY)
    marks, cache = tmp_path / "marks", tmp_path / "cache"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)]), "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-c", _KILLED_PARENT.format(marks=str(marks), cache=str(cache))],
                              env=env)
    workers = set()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and parent.poll() is None and len(workers) < 2:
            workers = {int(p.name.split("-")[1]) for p in marks.iterdir()}
            time.sleep(0.05)
        assert len(workers) == 2 and parent.pid not in workers, "the two workers never started a unit"
        assert all(_running(pid) for pid in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 5
        while time.time() < deadline and any(_running(pid) for pid in workers):
            time.sleep(0.05)
        alive = [pid for pid in workers if _running(pid)]
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:  # never leave one behind, even when the test fails
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
    assert not cache.exists() or not list(cache.iterdir())
