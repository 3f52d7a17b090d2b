import pytest
import torch

from companion.prune import layerwise, subnetwork
from companion.data import Dataset
from companion.models import MLP, ResNet
from companion.validate import ParameterError

DT = torch.float64


# tiny networks: one thread (a parallel region per tiny op is slower on a shared machine)
pytestmark = pytest.mark.usefixtures("one_thread")


def mlp(seed=0):
    return MLP(15, [8, 6, 7], 4, seed=seed, dtype=DT)


def resnet(seed=0):
    return ResNet((3, 4), 2, image_size=6, num_outputs=4, seed=seed, dtype=DT)


def inputs(net, n=9):
    return torch.randn(n, net.input_size, generator=torch.Generator().manual_seed(0), dtype=DT)


def toy_data(net, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, net.input_size, generator=g, dtype=DT)
    labels = torch.randint(0, net.num_outputs, (n,), generator=g)
    return Dataset(x, labels, torch.nn.functional.one_hot(labels, net.num_outputs).to(DT), "toy")


@pytest.mark.parametrize("make, picks", [
    (mlp, [[5, 1, 5, 5, 7], None, [0, 6]]),
    (mlp, [[2], [3, 3], [6, 0, 1, 6]]),
    (resnet, [[2, 0, 2], None, [1], [3, 3, 0]]),
    (resnet, [None, [1, 2], [0, 1, 2, 3], None]),
], ids=["mlp-repeats", "mlp-all-layers", "resnet-repeats", "resnet-dense-layers"])
def test_materialised_network_computes_the_masked_network(make, picks):
    net = make(seed=1)
    small = subnetwork.materialise(net, picks)
    assert type(small) is type(net)
    assert small.widths == [m if p is None else len(set(p)) for p, m in zip(picks, net.widths)]
    x = inputs(net)
    with torch.no_grad():
        masked = net(x, subnetwork.selection_scales(net, picks))
        assert torch.allclose(small(x), masked, rtol=1e-12, atol=1e-12)
        assert not torch.allclose(masked, net(x))
    assert subnetwork.parameter_count(small) < subnetwork.parameter_count(net)


@pytest.mark.parametrize("make", [mlp, resnet], ids=["mlp", "resnet"])
def test_keeping_every_unit_once_copies_the_dense_network(make):
    net = make(seed=2)
    small = subnetwork.materialise(net, [list(range(m))[::-1] for m in net.widths])
    for (name, a), b in zip(net.state_dict().items(), small.state_dict().values()):
        assert torch.equal(a, b), name


def test_materialise_a_layerwise_selection():
    net = mlp(seed=3)
    data = toy_data(net)
    sel = layerwise.layerwise_greedy(net, data.x, data.labels, [3, None, 4], loss="ce", allow_repeats=True)
    small = subnetwork.materialise(net, sel)
    assert small.widths == sel.kept_widths()
    with torch.no_grad():
        assert torch.allclose(small(data.x), net(data.x, sel.scales(DT)), rtol=1e-12, atol=1e-12)
    ev = subnetwork.evaluate_selection(net, data, sel, loss="ce")
    assert ev["loss"] == pytest.approx(sel.losses[2][-1], rel=1e-12)


def test_parameter_count_and_flops_by_hand():
    net = MLP(784, [32, 16], 10)
    assert subnetwork.parameter_count(net) == (784 * 32 + 32) + (32 * 16 + 16) + (16 * 10 + 10)
    assert subnetwork.flops_per_image(net) == 2 * (784 * 32 + 32 * 16 + 16 * 10)
    cnn = ResNet((4, 6), 1, num_outputs=10)  # 28 -> 14 -> 7
    macs = (28 * 28 * 4 * 1 * 9                                   # stem
            + 14 * 14 * (4 * 4 * 9 + 4 * 4 * 9 + 4 * 4)           # block 0: conv1 s2, conv2, 1x1 shortcut
            + 7 * 7 * (6 * 4 * 9 + 6 * 6 * 9 + 6 * 4)             # block 1
            + 6 * 10)                                             # head
    assert subnetwork.flops_per_image(cnn) == 2 * macs
    small = subnetwork.materialise(cnn, [[0, 1], [2, 2, 5]])
    report = subnetwork.size_report(cnn, small)
    assert report["small_widths"] == [2, 2] and report["dense_widths"] == [4, 6]
    assert report["small_flops_per_image"] == 2 * (macs - 14 * 14 * (2 * 4 * 9 + 4 * 2 * 9)
                                                   - 7 * 7 * (4 * 4 * 9 + 6 * 4 * 9))
    assert 0 < report["flops_fraction"] < 1 and 0 < report["parameter_fraction"] < 1


def test_baselines():
    net = mlp(seed=4)
    a = subnetwork.random_units(net, [3, None, 7], seed=5)
    assert a == subnetwork.random_units(net, [3, None, 7], seed=5)
    assert a != subnetwork.random_units(net, [3, None, 7], seed=6)
    assert a[1] is None and len(set(a[0])) == 3 and a[0] == sorted(a[0]) and sorted(a[2]) == list(range(7))
    norms = subnetwork.largest_norm_units(net, [2, 6, None])
    w_in, w_out = net.hidden[0].weight, net.hidden[1].weight
    score = w_in.norm(dim=1) * w_out.norm(dim=0)
    assert norms[0] == torch.argsort(score, descending=True)[:2].tolist()
    assert sorted(norms[1]) == list(range(6)) and norms[2] is None
    cnn = resnet()
    conv_norms = subnetwork.largest_norm_units(cnn, [1, 1, 1, 1])
    w1, w2 = cnn.blocks[2].conv1.weight, cnn.blocks[2].conv2.weight
    score = w1.flatten(1).norm(dim=1) * w2.transpose(0, 1).flatten(1).norm(dim=1)
    assert conv_norms[2] == [int(score.argmax())]
    scratch = subnetwork.from_scratch(net, [3, None, 2], seed=1)
    assert scratch.widths == [3, 6, 2]
    again = net.with_widths([3, 6, 2], seed=1)
    assert all(torch.equal(p, q) for p, q in zip(scratch.parameters(), again.parameters()))
    other = subnetwork.from_scratch(net, [3, None, 2], seed=2)
    assert not torch.equal(scratch.head.weight, other.head.weight)


def test_random_baseline_averages_the_draws():
    net = mlp(seed=5)
    data = toy_data(net)
    out = subnetwork.random_baseline(net, data, [2, 2, 2], draws=3, seed=10, loss="ce")
    each = [subnetwork.evaluate_selection(net, data, subnetwork.random_units(net, [2, 2, 2], s), "ce")
            for s in (10, 11, 12)]
    assert out["loss"] == pytest.approx(sum(e["loss"] for e in each) / 3, rel=1e-12)
    assert out["accuracy"] == pytest.approx(sum(e["accuracy"] for e in each) / 3, rel=1e-12)
    assert out["draws"] == 3 and out["loss_std"] > 0
    assert subnetwork.random_baseline(net, data, [2, 2, 2], draws=1)["loss_std"] == 0.0


@pytest.mark.parametrize("call, match", [
    (lambda n: subnetwork.materialise(n, [[0]]), "'picks'"),
    (lambda n: subnetwork.materialise(n, [[0], [9], None]), r"'picks\[0\]'"),
    (lambda n: subnetwork.materialise(n, [[], None, None]), "'picks'"),
    (lambda n: subnetwork.random_units(n, [9, None, None]), r"'widths\[0\]'"),
    (lambda n: subnetwork.largest_norm_units(n, [1, 1]), "'widths'"),
    (lambda n: subnetwork.random_baseline(n, toy_data(n), [1, 1, 1], draws=0), "'draws'"),
    (lambda n: subnetwork.materialise(torch.nn.Linear(2, 2), [None]), "'model'"),
])
def test_bad_input(call, match):
    with pytest.raises(ParameterError, match=match):
        call(mlp())
