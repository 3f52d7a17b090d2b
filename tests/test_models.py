import pytest
import torch

from companion.models import TwoLayerNet
from companion.models import MLP, ResNet, scale_units, unit_counts, unit_scale
from companion.models.base import candidate_preactivations
from companion.validate import ParameterError

DT = torch.float64


# tiny networks: one thread (a parallel region per tiny op is slower on a shared machine)
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_resnet(seed=0, **kw):
    return ResNet((3, 4), 2, image_size=8, seed=seed, dtype=DT, **kw)


def nets():
    return [MLP(20, [7, 5, 6], 3, seed=1, dtype=DT), tiny_resnet(seed=2),
            tiny_resnet(seed=3, head="flatten", init="he")]


def inputs(net, n=6, seed=0):
    return torch.randn(n, net.input_size, generator=torch.Generator().manual_seed(seed), dtype=DT)


def random_scales(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(m, generator=g, dtype=DT) * 2 for m in net.widths]


def test_default_resnet_is_a_small_mnist_cnn():
    net = ResNet()
    assert net.widths == [16, 16, 32, 32]
    assert net.unit_layer_names() == [f"blocks.{b}.inner" for b in range(4)]
    assert net(torch.zeros(3, 784)).shape == (3, 10)
    assert net.next_shape(0) == (16, 14, 14) and net.next_shape(3) == (32, 7, 7)
    assert net.unit_modules(1) == ("blocks.1.conv1", "blocks.1.conv2")


def test_resnet_he_init_and_flattened_head():
    net = ResNet((8, 16), 1, head="flatten", init="he", seed=0)
    assert net.head.in_features == 16 * 7 * 7 and net(torch.zeros(2, 784)).shape == (2, 10)
    conv = net.blocks[1].conv2  # 16 -> 16 channels, 3x3: fan-in 144
    assert conv.weight.std().item() == pytest.approx((2 / 144) ** 0.5, rel=0.1)
    assert (conv.bias == 0).all()
    default = ResNet((8, 16), 1, seed=0)
    assert default.head.in_features == 16 and default.blocks[1].conv2.weight.std().item() < 0.05
    assert ResNet((8, 16), 1, head="flatten", init="he", seed=0).state_dict().keys() == net.state_dict().keys()
    small = net.with_widths([4, 8], seed=1)
    assert (small.head_kind, small.init, small.head.in_features) == ("flatten", "he", 16 * 7 * 7)
    for bad, name in (({"head": "mean"}, "'head'"), ({"init": "xavier"}, "'init'")):
        with pytest.raises(ParameterError, match=name):
            ResNet((8, 16), 1, **bad)


def test_mlp_layout_and_standard_init():
    net = MLP(784, [256, 128], 10, seed=3)
    assert net.widths == [256, 128] and net.unit_layer_names() == ["hidden.0", "hidden.1"]
    assert net.unit_modules(1) == ("hidden.1", "head") and net.output_is_consumer(1)
    assert not net.output_is_consumer(0)
    bound = 1 / 784 ** 0.5  # nn.Linear's default: uniform in +-1/sqrt(fan-in)
    assert net.hidden[0].weight.abs().max() <= bound and net.hidden[0].weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize("make", [lambda s: MLP(20, [7, 5], 3, seed=s), lambda s: tiny_resnet(seed=s)])
def test_initialisation_is_seeded_and_leaves_the_global_rng(make):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = make(4), make(4), make(5)
    assert torch.rand(1) == before
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("net", nets(), ids=["mlp", "resnet", "resnet-flat-he"])
def test_split_and_finish_recompose_the_forward_pass(net):
    x = inputs(net)
    scales = random_scales(net)
    with torch.no_grad():
        full = net(x, scales)
        for layer in range(len(net.widths)):
            h, context = net.split(layer, x, scales)
            assert h.shape[:2] == (6, net.widths[layer])
            z = net.consumer(layer)(scale_units(h, scales[layer]))
            out = net.finish(layer, torch.stack([z, z]), context, scales)
            assert out.shape == (2, 6, net.num_outputs)
            assert torch.allclose(out[1], full, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("net", nets(), ids=["mlp", "resnet", "resnet-flat-he"])
def test_keeping_every_unit_once_is_the_dense_network(net):
    x = inputs(net)
    ones = [unit_scale(range(m), m, DT) for m in net.widths]
    assert all(torch.equal(s, torch.ones_like(s)) for s in ones)
    with torch.no_grad():
        assert torch.equal(net(x, ones), net(x))
        assert not torch.allclose(net(x, random_scales(net)), net(x))


def test_unit_scale_is_m_times_count_over_size():
    s = unit_scale([3, 3, 5], 8)
    expected = torch.zeros(8, dtype=torch.float64)
    expected[3], expected[5] = 8 * 2 / 3, 8 / 3
    assert torch.allclose(s, expected, rtol=1e-15)
    assert unit_counts([1, 1, 1], 3).tolist() == [0, 3, 0]
    with pytest.raises(ParameterError, match="'picks'"):
        unit_scale([], 4)
    with pytest.raises(ParameterError, match=r"'picks\[1\]'"):
        unit_scale([0, 4], 4)


@pytest.mark.parametrize("net", nets(), ids=["mlp", "resnet", "resnet-flat-he"])
def test_candidate_preactivations_add_one_unit_each(net):
    x = inputs(net)
    with torch.no_grad():
        for layer in range(len(net.widths)):
            h, _ = net.split(layer, x)
            consumer = net.consumer(layer)
            base = torch.randn(consumer(h).shape, dtype=DT)
            units = torch.tensor([2, 0, 2])
            z = candidate_preactivations(consumer, h, base, units, 1.5)
            for i, j in enumerate(units.tolist()):
                one = torch.zeros(net.widths[layer], dtype=DT)
                one[j] = 1
                direct = consumer(scale_units(h, one))
                if consumer.bias is not None:
                    direct = direct - consumer.bias.view(-1, *([1] * (direct.ndim - 2)))
                assert torch.allclose(z[i], base + 1.5 * direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("parameterization", ["ntk", "mean_field", "standard"])
def test_two_layer_network_carries_over(parameterization):
    net = TwoLayerNet(12, 9, 3, parameterization, seed=1, dtype=DT)
    mlp = MLP.from_two_layer(net)
    x = torch.randn(5, 12, dtype=DT)
    with torch.no_grad():
        assert torch.allclose(mlp(x), net(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: MLP(10, [], 2), "'hidden'"), (lambda: MLP(10, [0], 2), r"'hidden\[0\]'"),
    (lambda: ResNet((4,), 2, inner_widths=[3]), "'inner_widths'"),
    (lambda: ResNet((4, 4, 4, 4, 4, 4), 1), "'image_size'"),
    (lambda: MLP(10, [4], 2)(torch.zeros(3, 9)), "'x'"),
    (lambda: MLP(10, [4], 2)(torch.zeros(3, 10), [None, None]), "'scales'"),
    (lambda: MLP(10, [4], 2)(torch.zeros(3, 10), [torch.ones(3)]), r"'scales\[0\]'"),
    (lambda: MLP(10, [4], 2).with_widths([2, 2]), "'widths'"),
    (lambda: MLP(10, [4], 2).split(1, torch.zeros(2, 10)), "'layer'"),
])
def test_bad_input(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
