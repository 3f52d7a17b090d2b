import pytest
import torch

from companion import data
from companion.models import TwoLayerNet
from companion.pretrain import TrainConfig, model_at, pretrain
from companion.train import TrainingDiverged
from companion.validate import ParameterError


def test_gd_decreases_the_loss_and_records_checkpoints():
    ds = data.synthetic(32, 8, seed=0)
    net = TwoLayerNet(8, 256, 1, "ntk", seed=0, dtype=torch.float64)
    res = pretrain(net, ds, TrainConfig(lr=0.05, device="cpu"), [0, 10, 100], progress=False)
    assert sorted(res.states) == [0, 10, 100]
    loss = res.history.set_index("t")["loss"]
    assert loss[100] < loss[10] < loss[0]
    # the recorded state reproduces the recorded loss
    again = model_at(net, res.states[10])
    with torch.no_grad():
        out = again(ds.x)
    assert float(0.5 * ((out - ds.targets) ** 2).sum(1).mean()) == pytest.approx(loss[10])


def test_sgd_mean_field_is_deterministic():
    ds = data.mnist(200, source="embedded", seed=0).train
    runs = []
    for _ in range(2):
        net = TwoLayerNet(784, 32, 10, "mean_field", seed=1)
        cfg = TrainConfig(lr=0.1, optimizer="sgd", batch_size=16, reduction="mean", device="cpu")
        runs.append(pretrain(net, ds, cfg, [0, 25], progress=False))
    assert all(torch.equal(runs[0].states[25][k], runs[1].states[25][k]) for k in runs[0].states[25])
    assert runs[0].history.equals(runs[1].history)
    assert runs[0].history["loss"].iloc[-1] < runs[0].history["loss"].iloc[0]


def test_divergence_names_the_learning_rate():
    ds = data.synthetic(16, 4, seed=0)
    net = TwoLayerNet(4, 64, 1, "ntk", seed=0)
    with pytest.raises(TrainingDiverged, match="lr = 1e\\+06"):
        pretrain(net, ds, TrainConfig(lr=1e6, device="cpu"), [200], progress=False)


@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=0), "'lr'"), (dict(lr=-1.0), "'lr'"), (dict(lr=0.1, optimizer="adam"), "'optimizer'"),
    (dict(lr=0.1, optimizer="sgd"), "'batch_size'"), (dict(lr=0.1, device="tpu"), "'device'"),
    (dict(lr=0.1, batch_size=4), "'batch_size'"),
])
def test_bad_train_config(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        TrainConfig(**kwargs)


def test_bad_checkpoints():
    ds = data.synthetic(8, 4, seed=0)
    net = TwoLayerNet(4, 8, 1, "ntk")
    with pytest.raises(ParameterError, match="'checkpoints'"):
        pretrain(net, ds, TrainConfig(lr=0.1), [], progress=False)
    with pytest.raises(ParameterError, match=r"'checkpoints\[1\]'"):
        pretrain(net, ds, TrainConfig(lr=0.1), [0, -5], progress=False)


def test_pretraining_runs_through_the_one_training_loop(monkeypatch):
    """Pre-training and fine-tuning share one loop (companion.train.train): pretrain is that loop with
    a constant step, no momentum and the chapter's reduction."""
    from companion import data as data_mod, pretrain as pretrain_mod, train as train_mod
    from companion.models import TwoLayerNet

    calls = []
    original = train_mod.train
    assert pretrain_mod.train is original  # the loop pretrain calls is train.train

    def spy(model, data, config, checkpoints, **kw):
        calls.append(config)
        return original(model, data, config, checkpoints, **kw)

    monkeypatch.setattr(pretrain_mod, "train", spy)
    ds = data_mod.synthetic(32, 5, seed=0)
    net = TwoLayerNet(5, 16, ds.targets.shape[1], "ntk", seed=0)
    result = pretrain(net, ds, TrainConfig(lr=0.1, optimizer="gd", reduction="sum", seed=0, device="cpu"),
                      [0, 2, 5], progress=False, log_every=1)
    assert len(calls) == 1 and calls[0].batch_size is None and calls[0].reduction == "sum"
    assert calls[0].momentum == 0.0 and calls[0].schedule == "constant"
    assert list(result.history.columns) == ["t", "loss", "accuracy"] and result.history["t"].tolist() == list(range(6))
    assert sorted(result.states) == [0, 2, 5]
