import pytest
import torch

from companion import prune
from companion.validate import ParameterError


def random_case(n, m, c, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.relu(torch.randn(n, m, generator=g, dtype=dtype))
    out_w = torch.randn(m, c, generator=g, dtype=dtype) * 3
    targets = torch.randn(n, c, generator=g, dtype=dtype)
    return hidden, out_w, targets


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("allow_repeats", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_greedy_equals_brute_force(seed, allow_repeats, gram):
    n, m, c = [(7, 5, 1), (30, 12, 3), (50, 20, 10), (13, 9, 2), (64, 32, 4), (5, 40, 1)][seed]
    hidden, out_w, targets = random_case(n, m, c, seed)
    k = m if not allow_repeats else 2 * m
    fast = prune.greedy_forward_selection(hidden, out_w, targets, k, allow_repeats=allow_repeats, chunk=3,
                                          gram=gram)
    slow = prune.brute_force_greedy(hidden, out_w, targets, k, allow_repeats=allow_repeats)
    assert fast.picks == slow.picks
    assert fast.losses == pytest.approx(slow.losses, rel=1e-10, abs=1e-12)
    literal = prune.brute_force_greedy(hidden, out_w, targets, k, allow_repeats=allow_repeats,
                                       incremental=False)
    assert literal.picks == slow.picks
    if not allow_repeats:
        assert sorted(fast.picks) == list(range(m))


def test_repeats_happen_when_allowed():
    # One neuron that is exactly the target: greedy must pick it again and again.
    hidden, out_w, targets = random_case(20, 6, 2, 0)
    targets = torch.outer(hidden[:, 4], out_w[4])
    sel = prune.greedy_forward_selection(hidden, out_w, targets, 5)
    assert sel.picks == [4] * 5
    assert sel.losses[-1] == pytest.approx(0.0, abs=1e-12)


def test_ties_go_to_lowest_index():
    hidden, out_w, targets = random_case(10, 4, 1, 3)
    hidden = torch.cat([hidden, hidden], 1)  # neurons j and j+4 identical
    out_w = torch.cat([out_w, out_w])
    sel = prune.greedy_forward_selection(hidden, out_w, targets, 3, allow_repeats=False)
    ref = prune.brute_force_greedy(hidden, out_w, targets, 3, allow_repeats=False)
    assert sel.picks == ref.picks
    assert all(p < 4 for p in sel.picks[:1])


def test_losses_match_evaluation_and_dtype_kept():
    hidden, out_w, targets = random_case(40, 16, 3, 1)
    sel = prune.greedy_forward_selection(hidden, out_w, targets, 6)
    for s in range(1, 7):
        ev = prune.evaluate_subnetwork(hidden, out_w, targets, sel.picks[:s])
        assert ev["loss"] == pytest.approx(sel.losses[s - 1], rel=1e-10)
    h32, w32, t32 = (t.float() for t in (hidden, out_w, targets))
    sel32 = prune.greedy_forward_selection(h32, w32, t32, 6)
    assert sel32.picks == sel.picks  # well separated case: float32 agrees
    assert sel32.losses == pytest.approx(sel.losses, rel=1e-4)


def test_greedy_losses_decrease_and_beat_random():
    hidden, out_w, targets = random_case(200, 64, 3, 5)
    sel = prune.greedy_forward_selection(hidden, out_w, targets, 16, allow_repeats=False)
    rnd = prune.evaluate_subnetwork(hidden, out_w, targets, prune.random_selection(64, 16, seed=0))
    assert sel.losses[-1] < rnd["loss"]
    assert sel.losses[0] >= min(sel.losses)


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), "'k'"), (dict(k=65, allow_repeats=False), "'k'"), (dict(k=2.5), "'k'"),
])
def test_bad_k(kwargs, match):
    hidden, out_w, targets = random_case(10, 64, 1, 0)
    with pytest.raises(ParameterError, match=match):
        prune.greedy_forward_selection(hidden, out_w, targets, **kwargs)


def test_shape_mismatch():
    hidden, out_w, targets = random_case(10, 8, 2, 0)
    with pytest.raises(ParameterError, match="shapes"):
        prune.greedy_forward_selection(hidden, out_w[:5], targets, 2)


def test_baselines():
    assert sorted(prune.random_selection(10, 10, seed=1)) == list(range(10))
    assert prune.random_selection(50, 5, seed=2) == prune.random_selection(50, 5, seed=2)
    w = torch.tensor([[1.0], [3.0], [2.0], [3.0]])
    a = torch.ones(4, 1)
    assert prune.magnitude_selection(w, a, 3) == [1, 3, 2]
    with pytest.raises(ParameterError, match="'k'"):
        prune.magnitude_selection(w, a, 5)


@pytest.mark.parametrize("c", [1, 3])
def test_evaluate_subnetworks_equals_one_at_a_time(c):
    hidden, out_w, targets = random_case(57, 11, c, 3)
    bias = torch.randn(c, dtype=torch.float64)
    picks_list = [list(range(11)), [3], [2, 2, 7], [0, 5, 9, 10], [10, 10, 10]]
    many = prune.evaluate_subnetworks(hidden, out_w, targets, picks_list, bias=bias, chunk=8)
    for picks, got in zip(picks_list, many):
        one = prune.evaluate_subnetwork(hidden, out_w, targets, picks, bias=bias)
        assert got["loss"] == pytest.approx(one["loss"], rel=1e-12)
        assert got["accuracy"] == one["accuracy"]
    with pytest.raises(ParameterError, match="picks"):
        prune.evaluate_subnetworks(hidden, out_w, targets, [[1], []])
