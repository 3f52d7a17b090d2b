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
from companion.model import TwoLayerNet
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
