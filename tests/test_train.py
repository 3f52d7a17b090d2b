import math

import pytest
import torch

from companion import data
from companion.prune import subnetwork
from companion.models import TwoLayerNet
from companion.models import MLP, ResNet
from companion.train import TrainingDiverged, checkpoint_grid
from companion.train import EpochStream, SGDConfig, learning_rate, train
from companion.validate import ParameterError


# tiny networks: one thread (a parallel region per tiny op is slower on a shared machine)
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mnist():
    return data.mnist(200, n_test=50, source="embedded", seed=0, unit_norm=False)


def states_equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("make", [lambda: MLP(784, [32, 16], 10, seed=1),
                                  lambda: ResNet((4, 6), 1, seed=1)], ids=["mlp", "resnet"])
def test_same_seed_gives_identical_weights(mnist, make):
    cfg = SGDConfig(lr=0.05, batch_size=16, momentum=0.9, schedule="cosine", warmup=3, seed=2)
    grid = checkpoint_grid(20, 3)
    runs = [train(make(), mnist.train, cfg, grid, eval_data=mnist.test) for _ in range(2)]
    assert sorted(runs[0].states) == grid == [0, 1, 4, 20]
    assert all(states_equal(runs[0].states[t], runs[1].states[t]) for t in grid)
    assert runs[0].history.equals(runs[1].history)
    other = train(make(), mnist.train, SGDConfig(**{**cfg.to_dict(), "seed": 3}), grid)
    assert not states_equal(other.states[20], runs[0].states[20])
    assert states_equal(other.states[0], runs[0].states[0])
    hist = runs[0].history.set_index("t")
    assert list(hist.columns) == ["lr", "loss", "accuracy", "test_loss", "test_accuracy"]
    assert hist.loc[20, "loss"] < hist.loc[0, "loss"]


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_training_decreases_the_loss_and_momentum_matters(mnist, loss):
    results = {}
    for momentum in (0.0, 0.9):
        cfg = SGDConfig(lr=0.05 if loss == "ce" else 0.2, batch_size=32, loss=loss, momentum=momentum)
        results[momentum] = train(MLP(784, [32], 10, seed=0), mnist.train, cfg, [0, 60])
    for res in results.values():
        loss_at = res.history.set_index("t")["loss"]
        assert loss_at[60] < 0.8 * loss_at[0]
    assert not states_equal(results[0.0].states[60], results[0.9].states[60])


def test_full_batch_and_the_two_layer_network(mnist):
    net = TwoLayerNet(784, 16, 10, "mean_field", seed=0)
    res = train(net, mnist.train, SGDConfig(lr=0.1, batch_size=None, loss="mse"), [0, 10])
    loss_at = res.history.set_index("t")["loss"]
    assert loss_at[10] < loss_at[0]


def test_fine_tuning_a_materialised_subnetwork(mnist):
    net = MLP(784, [32, 16], 10, seed=0)
    train(net, mnist.train, SGDConfig(lr=0.1, batch_size=32, momentum=0.9), [30])
    small = subnetwork.materialise(net, subnetwork.largest_norm_units(net, [8, 4]))
    res = train(small, mnist.train, SGDConfig(lr=0.05, batch_size=32, momentum=0.9), [0, 30])
    loss_at = res.history.set_index("t")["loss"]
    assert loss_at[30] < loss_at[0]
    assert small.widths == [8, 4]


def test_learning_rate_schedules():
    const = SGDConfig(lr=0.4)
    assert [learning_rate(const, t, 10) for t in (1, 10)] == [0.4, 0.4]
    cos = SGDConfig(lr=0.4, schedule="cosine", warmup=4)
    lrs = [learning_rate(cos, t, 14) for t in range(1, 15)]
    assert lrs[:4] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert lrs[4] == pytest.approx(0.4)
    assert lrs[-1] == pytest.approx(0.4 * 0.5 * (1 + math.cos(math.pi * 0.9)))
    assert all(a > b for a, b in zip(lrs[4:], lrs[5:]))
    with pytest.raises(ParameterError, match="'t'"):
        learning_rate(const, 11, 10)


def test_epoch_stream_visits_every_sample_once_per_epoch():
    stream = EpochStream(10, 4, seed=0)
    seen = torch.cat([stream.next() for _ in range(5)])  # 20 = two epochs
    assert sorted(seen[:10].tolist()) == list(range(10)) and sorted(seen[10:].tolist()) == list(range(10))


def test_divergence_names_the_learning_rate(mnist):
    with pytest.raises(TrainingDiverged, match="lr = 1e\\+08"):
        train(MLP(784, [16], 10), mnist.train, SGDConfig(lr=1e8, batch_size=32, loss="mse"), [50])


@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=0), "'lr'"), (dict(lr=0.1, batch_size=0), "'batch_size'"), (dict(lr=0.1, loss="l1"), "'loss'"),
    (dict(lr=0.1, momentum=1.0), "'momentum'"), (dict(lr=0.1, nesterov=True), "'nesterov'"),
    (dict(lr=0.1, schedule="step"), "'schedule'"), (dict(lr=0.1, warmup=-1), "'warmup'"),
    (dict(lr=0.1, weight_decay=-1.0), "'weight_decay'"), (dict(lr=0.1, device="tpu"), "'device'"),
])
def test_bad_config(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        SGDConfig(**kwargs)


def test_bad_call(mnist):
    net = MLP(784, [4], 10)
    with pytest.raises(ParameterError, match="'checkpoints'"):
        train(net, mnist.train, SGDConfig(lr=0.1), [])
    with pytest.raises(ParameterError, match="'batch_size'"):
        train(net, mnist.train, SGDConfig(lr=0.1, batch_size=500), [5])
    with pytest.raises(ParameterError, match="'config'"):
        train(net, mnist.train, {"lr": 0.1}, [5])
