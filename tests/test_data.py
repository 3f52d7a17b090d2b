import gzip
import struct

import numpy as np
import pytest
import torch

from companion import data
from companion.validate import ParameterError


def write_idx(raw, name, array):
    """An IDX file as MNIST ships it (gzipped), for torchvision to read."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape)
    with gzip.open(raw / f"{name}.gz", "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in [("train", 60), ("t10k", 30)]:
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, size=(n, 28, 28))
        write_idx(raw, f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw, f"{prefix}-labels-idx1-ubyte", labels)
    return tmp_path


def test_torchvision_source_reads_idx_files(tiny_mnist):
    assert data.full_mnist_present(tiny_mnist)
    split = data.mnist(20, n_test=10, seed=1, source="auto", data_root=tiny_mnist)
    assert split.train.source == "torchvision"
    assert split.train.x.shape == (20, 784) and split.test.x.shape == (10, 784)
    assert torch.bincount(split.train.labels).tolist() == [2] * 10
    assert torch.allclose(split.train.x.norm(dim=1), torch.ones(20, dtype=torch.float64))
    with pytest.raises(ParameterError, match="'n' = 61"):
        data.mnist(61, source="torchvision", data_root=tiny_mnist)
    labels = np.array([0] * 3 + [1] * 10 + list(range(2, 10)) * 10)
    with pytest.raises(ParameterError, match="class 0 has only 3"):
        data.balanced_indices(labels, 40, seed=0)  # 4 per class wanted


def test_auto_falls_back_to_embedded(tmp_path, capsys):
    split = data.mnist(100, n_test=50, seed=0, source="auto", data_root=tmp_path)
    assert split.train.source == "embedded"
    assert torch.bincount(split.train.labels).tolist() == [10] * 10
    assert split.train.targets.shape == (100, 10)
    assert split.test is not None and len(split.test) == 50
    with pytest.raises(FileNotFoundError, match="full MNIST"):
        data.mnist(10, source="torchvision", data_root=tmp_path)


def test_embedded_limits_and_split_disjoint():
    x_train, y_train, _ = data.load_mnist("embedded", train=True)
    x_test, y_test, _ = data.load_mnist("embedded", train=False)
    assert len(y_train) == 4000 and len(y_test) == 1000
    train_rows = {r.tobytes() for r in x_train}
    assert not any(r.tobytes() in train_rows for r in x_test[:200])
    with pytest.raises(ParameterError, match="'n' = 4001"):
        data.mnist(4001, source="embedded")
    with pytest.raises(ParameterError, match="'source'"):
        data.mnist(10, source="kaggle")


def test_preprocessing_options():
    raw = data.mnist(50, source="embedded", center=False, unit_norm=False).train
    assert raw.x.min() >= 0 and raw.x.max() <= 1
    centred = data.mnist(50, source="embedded", center=True, unit_norm=False).train
    assert centred.x.mean(0).abs().max() < 1e-12


def test_same_seed_same_subset_other_seed_other():
    a = data.mnist(200, source="embedded", seed=3).train
    b = data.mnist(200, source="embedded", seed=3).train
    c = data.mnist(200, source="embedded", seed=4).train
    assert torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.x, c.x)


def test_synthetic_satisfies_assumptions():
    d = data.synthetic(64, 10, seed=0)
    assert torch.allclose(d.x.norm(dim=1), torch.ones(64, dtype=torch.float64))
    cos = (d.x @ d.x.T).abs() - torch.eye(64, dtype=torch.float64)
    assert cos.max() < 1 - 1e-6  # no two inputs parallel
    assert set(d.targets.flatten().tolist()) <= {-1.0, 1.0}
    assert torch.equal(d.x, data.synthetic(64, 10, seed=0).x)
