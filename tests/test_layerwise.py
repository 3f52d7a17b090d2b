import pytest
import torch

from companion import prune
from companion.prune import layerwise
from companion.models import TwoLayerNet
from companion.models import MLP, ResNet
from companion.metrics import loss_fn
from companion.validate import ParameterError

DT = torch.float64


# tiny networks: one thread (a parallel region per tiny op is slower on a shared machine)
pytestmark = pytest.mark.usefixtures("one_thread")


def mlp(seed=0):
    return MLP(15, [8, 6], 4, seed=seed, dtype=DT)


def resnet(seed=0):
    return ResNet((3, 4), 2, image_size=6, num_outputs=4, seed=seed, dtype=DT)  # identity + 1x1 shortcuts


def case(net, loss, n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, net.input_size, generator=g, dtype=DT)
    if loss == "mse":
        y = torch.randn(n, net.num_outputs, generator=g, dtype=DT)
    else:
        y = torch.randint(0, net.num_outputs, (n,), generator=g)
    return x, y


def assert_same(fast, slow):
    assert fast.picks == slow.picks
    for a, b in zip(fast.losses, slow.losses):
        if a is None:
            assert b is None
        else:
            assert a == pytest.approx(b, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("allow_repeats", [False, True])
@pytest.mark.parametrize("make", [mlp, resnet], ids=["mlp", "resnet"])
def test_exact_mode_equals_brute_force(make, allow_repeats, loss):
    net = make(seed=1)
    x, y = case(net, loss)
    k = [w + 2 for w in net.widths] if allow_repeats else [w - 1 for w in net.widths]
    slow = layerwise.brute_force_layerwise_greedy(net, x, y, k, loss=loss, allow_repeats=allow_repeats)
    fast = layerwise.layerwise_greedy(net, x, y, k, loss=loss, allow_repeats=allow_repeats)
    assert_same(fast, slow)
    # one candidate at a time, tiny chunks (samples split too) and the general code: the same
    for kw in (dict(method="loop"), dict(chunk_bytes=1000), dict(closed_form=False)):
        assert_same(layerwise.layerwise_greedy(net, x, y, k, loss=loss, allow_repeats=allow_repeats, **kw),
                    slow)
    if allow_repeats:
        assert any(len(set(p)) < len(p) for p in fast.picks)  # repeats do happen
    else:
        assert all(len(set(p)) == len(p) for p in fast.picks)


@pytest.mark.parametrize("make", [mlp, resnet], ids=["mlp", "resnet"])
def test_local_criterion_equals_brute_force(make):
    net = make(seed=2)
    x, _ = case(net, "mse")
    k = [3] * len(net.widths)
    slow = layerwise.brute_force_layerwise_greedy(net, x, None, k, criterion="local")
    assert_same(layerwise.layerwise_greedy(net, x, None, k, criterion="local"), slow)
    assert_same(layerwise.layerwise_greedy(net, x, None, k, criterion="local", closed_form=False), slow)


@pytest.mark.parametrize("make", [mlp, resnet], ids=["mlp", "resnet"])
def test_practical_variant_equals_brute_force_with_the_same_draws(make):
    net = make(seed=3)
    x, y = case(net, "ce", n=30)
    kw = dict(loss="ce", candidates=2, batch_size=11, seed=7)
    k = [3] * len(net.widths)
    fast = layerwise.layerwise_greedy(net, x, y, k, **kw)
    assert_same(fast, layerwise.brute_force_layerwise_greedy(net, x, y, k, **kw))
    assert fast.picks == layerwise.layerwise_greedy(net, x, y, k, **kw).picks  # seeded
    # with every candidate and the whole set drawn, it is the exact mode
    full = layerwise.layerwise_greedy(net, x, y, k, loss="ce", candidates=100, batch_size=30)
    assert_same(full, layerwise.layerwise_greedy(net, x, y, k, loss="ce"))


def test_keeping_every_unit_gives_back_the_dense_loss():
    net = mlp(seed=4)
    x, y = case(net, "ce")
    sel = layerwise.layerwise_greedy(net, x, y, [None, 6], loss="ce")
    assert sel.picks[0] is None and sorted(sel.picks[1]) == list(range(6))
    with torch.no_grad():
        dense = float(loss_fn(net(x), y, y, "ce", "mean"))
        assert sel.losses[1][-1] == pytest.approx(dense, rel=1e-12)
        # the reported loss is the loss of the rescaled network
        partial = layerwise.layerwise_greedy(net, x, y, [4, 3], loss="ce")
        value = float(loss_fn(net(x, partial.scales(DT)), y, y, "ce", "mean"))
        assert partial.losses[1][-1] == pytest.approx(value, rel=1e-12)
    assert partial.kept_widths() == [4, 3]


def test_two_layer_greedy_is_the_last_layer_case():
    net = TwoLayerNet(10, 12, 3, "mean_field", seed=0, dtype=DT)
    x, y = case(MLP(10, [12], 3, dtype=DT), "mse", n=40)
    hidden, out_w, _ = net.neurons(x)
    for repeats in (False, True):
        ref = prune.greedy_forward_selection(hidden, out_w, y, 9, allow_repeats=repeats)
        for closed in (True, False):
            sel = layerwise.layerwise_greedy(MLP.from_two_layer(net), x, y, 9, allow_repeats=repeats,
                                             closed_form=closed)
            assert sel.picks[0] == ref.picks
            assert sel.losses[0] == pytest.approx(ref.losses, rel=1e-10)


def test_greedy_beats_random_units():
    net = MLP(15, [32, 32], 4, seed=5, dtype=DT)
    x, y = case(net, "mse", n=100)
    sel = layerwise.layerwise_greedy(net, x, y, 6)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        greedy = float(loss_fn(net(x, sel.scales(DT)), y, y, "mse", "mean"))
        rnd = [float(loss_fn(net(x, layerwise.LayerwiseSelection(
            sel.layer_names, sel.widths, [torch.randperm(32, generator=g)[:6].tolist()] * 2,
            [None, None]).scales(DT)), y, y, "mse", "mean")) for _ in range(5)]
    assert greedy < min(rnd)


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=9), "'k'"), (dict(k=[3]), "'k'"), (dict(k=[None, None]), "'k'"), (dict(k=[3, 0]), r"'k\[1\]'"),
    (dict(k=2, loss="hinge"), "'loss'"), (dict(k=2, criterion="local", loss="ce"), "'loss'"),
    (dict(k=2, candidates=0), "'candidates'"), (dict(k=2, batch_size=25), "'batch_size'"),
    (dict(k=2, method="fast"), "'method'"), (dict(k=2, chunk_bytes=0), "'chunk_bytes'"),
    (dict(k=2, y="labels"), "'y'"), (dict(k=2, loss="ce"), "'y'"),
    (dict(k=2, x=torch.zeros(24, 14)), "'x'"), (dict(k=2, model=torch.nn.Linear(2, 2)), "'model'"),
])
def test_bad_input(kwargs, match):
    net = mlp()
    x, y = case(net, "mse")
    args = {"model": net, "x": x, "y": y, **kwargs}
    with pytest.raises(ParameterError, match=match):
        layerwise.layerwise_greedy(args.pop("model"), args.pop("x"), args.pop("y"), args.pop("k"), **args)
