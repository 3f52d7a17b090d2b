"""Chapter 4's engine (companion/chapters/finetune/experiments.py): the frame, its controls, determinism, the
materialised subnetworks and the parameter checks, on tiny networks of the embedded data."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
import torch

from companion import validate
from companion.chapters import finetune
from companion.chapters.finetune import cost
from companion.chapters import check
from companion import regression
from companion.models import TwoLayerNet
from companion.prune.greedy import subnetwork_output
from companion.prune.subnetwork import evaluate_selection

# the module (the package exports its function experiments() under the same name)
ft_experiments = importlib.import_module("companion.chapters.finetune.experiments")

TINY = {"two_layer_sizes": [100, 200], "two_layer_seeds": [0], "two_layer_width": 16,
        "two_layer_ratios": [0.25, 0.5], "two_layer_steps": 8, "two_layer_num_checkpoints": 3,
        "two_layer_first_checkpoint": 2, "two_layer_budgets": [2, 4],
        "mlp_sizes": [100], "mlp_seeds": [0], "mlp_hidden": [8, 8], "mlp_ratios": [0.25, 0.5],
        "mlp_steps": 8, "mlp_num_checkpoints": 3, "mlp_first_checkpoint": 2, "mlp_budgets": [2, 4],
        "mlp_sampled_candidates": 3, "mlp_sampled_batch": 32,
        "cnn_sizes": [100], "cnn_seeds": [0], "cnn_channels": [2, 4], "cnn_ratios": [0.5],
        "cnn_steps": 4, "cnn_num_checkpoints": 2, "cnn_first_checkpoint": 4, "cnn_budgets": [1, 2],
        "batch_size": 32, "score_n": 200, "n_heldout": 100, "heldout_from": 3000, "n_test": 50,
        "source": "embedded", "progress": False}


def tiny(**overrides):
    return check("04_finetune", {**TINY, **overrides})


def unit_frame(arm: str, unit=None):
    p, _ = tiny()
    exp = p.arm(arm)
    unit = unit or exp.units()[0]
    return exp, exp.unit_config(unit), exp.compute(unit, torch.device("cpu"))


@pytest.fixture(scope="module")
def frames():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield {arm: unit_frame(arm) for arm in finetune.ARMS}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("arm", tuple(finetune.ARMS))
def test_frame_has_the_spec_columns_methods_and_rows(frames, arm):
    exp, config, frame = frames[arm]
    assert list(frame.columns) == finetune.FRAME_COLUMNS
    assert set(frame["method"]) == set(finetune.CONTROLS) | set(finetune.ARMS[arm].methods)
    assert set(frame["split"]) == set(finetune.SPLITS)
    assert (frame["arm"] == arm).all()
    grid, budgets = exp.checkpoints, sorted(exp.budgets)
    assert grid[0] == 0 and grid[-1] == exp.steps
    n_splits, n_ratios = len(finetune.SPLITS), len(exp.ratios)
    counts = frame.groupby("method").size()
    assert counts["dense"] == len(grid) * n_splits
    for method in finetune.ARMS[arm].methods:  # budget 0 and every budget, at every t and ratio
        # (the MLP's two other greedy variants at its smallest ratio only)
        ratios = 1 if method in finetune.ARMS[arm].variants else n_ratios
        assert counts[method] == len(grid) * ratios * (len(budgets) + 1) * n_splits
        if method in finetune.ARMS[arm].variants:
            assert set(frame.loc[frame["method"] == method, "ratio"]) == {min(exp.ratios)}
        sub = frame[frame["method"] == method]
        assert sorted(sub["budget"].unique()) == [0, *budgets]
        assert (sub["steps"] == sub["t"] + sub["budget"]).all()
    for method in ("scratch", "scratch_flops"):
        assert counts[method] == len(grid) * n_ratios * len(budgets) * n_splits
    dense = frame[frame["method"] == "dense"]
    assert (dense["ratio"] == 1.0).all() and (dense["budget"] == 0).all()
    assert sorted(dense["t"].unique()) == grid
    pruned = frame[frame["method"] == "greedy"]
    assert (pruned["params"] < dense["params"].iloc[0]).all()
    assert (pruned["flops"] < dense["flops"].iloc[0]).all()
    assert frame[["loss", "accuracy"]].notna().all().all()
    assert frame["accuracy"].between(0, 1).all()


def test_unit_labels_and_config_hold_everything_and_no_run_option():
    p, _ = tiny()
    exp = p.arm("mlp")
    assert exp.result_name((100, 0)) == "ch4-ft-mlp-n100-s0"
    config = exp.unit_config((100, 0))
    for key in ("lr", "finetune_lr", "momentum", "batch_size", "checkpoints", "budgets", "ratios", "methods", "widths",
                "score_n", "n_heldout", "heldout_from", "source", "unit_norm", "dtype", "loss"):
        assert key in config
    for option in ("device", "n_jobs", "cache_dir", "progress", "scheduler"):
        assert option not in config
    # a change of any setting gives another key
    p2, _ = tiny(mlp_budgets=[2, 5])
    assert p2.arm("mlp").unit_config((100, 0)) != config
    assert exp.cost((100, 0)) > 0


def test_same_seed_gives_the_same_frame_twice(frames, one_thread):
    exp, config, frame = frames["mlp"]
    again = exp.compute((100, 0), torch.device("cpu"))
    pd.testing.assert_frame_equal(frame, again, check_exact=True)


def test_dense_row_at_t0_is_the_initial_network(frames):
    for arm in finetune.ARMS:
        exp, config, frame = frames[arm]
        train, heldout, test, score = ft_experiments._data(config, torch.device("cpu"))
        net = finetune.ARMS[config["arm"]].dense(config, config["seed"])
        rows = frame[(frame["method"] == "dense") & (frame["t"] == 0)].set_index("split")
        for name, data in {"heldout": heldout, "test": test, "train": score}.items():
            res = ft_experiments._evaluate(net, {name: data}, config["loss"], "cpu")[0]
            assert rows.loc[name, "loss"] == pytest.approx(res["loss"], rel=1e-12, abs=0)
            assert rows.loc[name, "accuracy"] == res["accuracy"]
        assert rows["steps"].eq(0).all() and rows["train_flops"].eq(0).all()


@pytest.mark.parametrize("arm", tuple(finetune.ARMS))
def test_budget_zero_greedy_is_the_network_the_pruner_scored(frames, arm):
    """At t = 0 (the initial network) and budget 0: the materialised greedy subnetwork's training loss
    is the loss the pruner scored (the two-layer closed form on the whole training set; the MLP's
    layer-wise greedy on the scoring set, here the whole set), and equals the masked network's (the
    MLP and the CNN)."""
    exp, config, frame = frames[arm]
    train, heldout, test, score = ft_experiments._data(config, torch.device("cpu"))
    assert len(score) == len(train)  # N <= score_n: the scoring set is the training set
    net = finetune.ARMS[config["arm"]].dense(config, config["seed"])
    for r in exp.ratios:
        choice = ft_experiments.select(config, net, score, train, r, "greedy", 0, {})
        row = frame[(frame["method"] == "greedy") & (frame["t"] == 0) & (frame["ratio"] == r)
                    & (frame["budget"] == 0) & (frame["split"] == "train")]
        assert len(row) == 1
        assert row["loss"].iloc[0] == pytest.approx(choice.scored_loss, rel=1e-5)
        if arm != "two_layer":
            masked = evaluate_selection(net, score, choice.picks, loss="ce")
            assert row["loss"].iloc[0] == pytest.approx(masked["loss"], rel=1e-5)
            assert row["accuracy"].iloc[0] == masked["accuracy"]
            assert [len(p) for p in choice.picks] == finetune.kept_widths(config, r)


@pytest.mark.parametrize("arm", tuple(finetune.ARMS))
def test_controls_follow_the_steps_and_flops_rules(frames, arm):
    exp, config, frame = frames[arm]
    sizes = cost.network_sizes(config)
    dense_flops, batch = sizes["dense"][0], config["batch_size"]
    for r in exp.ratios:
        small = sizes[r][0]
        f = frame[frame["ratio"] == r]
        pipe = f[f["method"] == "greedy"].set_index(["t", "budget", "split"])
        for method in ("scratch", "scratch_flops", "dense_cost"):
            rows = f[f["method"] == method]
            for _, row in rows.iterrows():
                t, b = row["t"], row["budget"]
                if method == "scratch":
                    assert row["steps"] == t + b
                elif method == "scratch_flops":
                    assert row["steps"] == round(t * dense_flops / small) + b
                    # the same training FLOPs as the pipeline, to within half a step of the small net
                    assert abs(row["train_flops"] - pipe.loc[(t, b, row["split"]), "train_flops"]) <= \
                        1.5 * batch * small + 1e-6
                else:
                    assert row["steps"] == t + round(b * small / dense_flops)
                    assert abs(row["train_flops"] - pipe.loc[(t, b, row["split"]), "train_flops"]) <= \
                        1.5 * batch * dense_flops + 1e-6
        greedy = f[f["method"] == "greedy"]
        expect = 3 * batch * (greedy["t"] * dense_flops + greedy["budget"] * small)
        assert np.allclose(greedy["train_flops"], expect, rtol=1e-12)
        assert (f.loc[f["method"].isin(["scratch", "scratch_flops"]), "flops"] == small).all()


def test_short_budget_is_the_prefix_of_the_long_run(one_thread):
    """The fine-tuning run of F_long recorded at F_short gives the row of a run of F_short alone."""
    exp, config, frame = unit_frame("mlp")
    short = {**config, "budgets": [min(config["budgets"])]}
    f2 = finetune.compute_unit(short)
    keys = ["t", "method", "ratio", "budget", "split"]
    pruned = frame[frame["method"].isin(finetune.ARMS["mlp"].methods)].set_index(keys)
    other = f2[f2["method"].isin(finetune.ARMS["mlp"].methods)].set_index(keys)
    common = pruned.index.intersection(other.index)
    assert len(common) == len(other)
    pd.testing.assert_frame_equal(pruned.loc[common, ["loss", "accuracy"]],
                                  other.loc[common, ["loss", "accuracy"]], check_exact=True)


@pytest.mark.parametrize("parameterization", ["mean_field", "standard", "ntk"])
@pytest.mark.parametrize("picks", [[3, 0, 7], [5, 5, 1, 2]])
def test_two_layer_subnetwork_computes_the_greedy_average(parameterization, picks):
    torch.manual_seed(1)
    net = TwoLayerNet(6, 9, 3, parameterization, seed=2, dtype=torch.float64)
    x = torch.randn(20, 6, dtype=torch.float64)
    hidden, out_w, bias = net.neurons(x)
    expect = subnetwork_output(hidden, out_w, picks)
    if bias is not None:
        expect = expect + bias
    small = net.subnetwork(picks)
    assert small.m == len(set(picks)) and small.parameterization == parameterization
    assert torch.allclose(small(x), expect, rtol=1e-12, atol=1e-12)
    if parameterization == "mean_field":
        assert small.lr_scale == len(set(picks))
    with pytest.raises(validate.ParameterError, match="picks"):
        net.subnetwork([9])
    with pytest.raises(validate.ParameterError, match="picks"):
        net.subnetwork([])


@pytest.mark.parametrize("override, name", [
    ({"mlp_sizes": [100, 5000]}, "mlp_sizes"),            # above the embedded pool
    ({"two_layer_ratios": [0.5, 1.5]}, "two_layer_ratios"),  # outside (0, 1]
    ({"cnn_ratios": [0.0]}, "cnn_ratios"),
    ({"cnn_seeds": []}, "cnn_seeds"),                      # empty
    ({"mlp_budgets": []}, "mlp_budgets"),
    ({"mlp_ratio": [0.5]}, "mlp_ratio"),                   # unknown name
    ({"two_layer_ratios": [0.01]}, "two_layer_ratios"),    # keeps no neuron of 16
    ({"mlp_first_checkpoint": 20}, "mlp_first_checkpoint"),  # after T_full
    ({"heldout_from": 3950}, "n_heldout"),                 # too few images left outside
    ({"mlp_hidden": [8, 0]}, "mlp_hidden"),
    ({"source": "full"}, "source"),
])
def test_bad_parameter_fails_before_any_work(override, name, tmp_path, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("computed something")

    monkeypatch.setattr(finetune, "compute_unit", no_work)
    with pytest.raises(validate.ParameterError, match=name):
        tiny(cache_dir=str(tmp_path), **override)
    assert not any(tmp_path.iterdir())


def test_run_gives_every_arm_and_the_provenance(tmp_path):
    p, o = tiny(two_layer_sizes=[100], cache_dir=str(tmp_path), n_jobs=1)
    out = finetune.run(p, o)
    assert set(out) == {"two_layer", "mlp", "cnn", "reference", "units"}
    assert sorted(out["units"]["experiment"]) == ["cnn", "cnn_reference", "mlp", "mlp_reference", "two_layer",
                                                  "two_layer_reference"]
    assert all(len(out[a]) for a in finetune.ARMS)
    assert set(out["reference"]["arm"]) == set(finetune.ARMS)
    # a second run reads everything back from the cache: the same frames
    again = finetune.run(p, o)
    for key in (*finetune.ARMS, "reference"):
        pd.testing.assert_frame_equal(out[key], again[key], check_exact=True)


def test_regression_recomputes_the_cheapest_unit_of_every_arm():
    """tests/test_regression.py recomputes each chapter's cheapest paper unit against its committed
    frame; chapter 4's three arms are among its cases (they pass once the paper results are
    committed), and the cheapest unit of each arm is its smallest N."""
    cases = {(ch, key): (exp, unit) for ch, key, exp, unit in regression.cheapest_units()}
    for arm in finetune.ARMS:
        exp, unit = cases[("04_finetune", arm)]
        assert unit == (min(exp.sizes), min(exp.seeds))
        assert regression.needs_full_mnist(exp, unit)


def test_the_tolerance_catches_a_changed_step_but_not_a_recomputation(frames, one_thread):
    """The regression comparison at the arm's tolerance: a recomputation agrees, a 20% larger step
    does not (a code change must not hide inside the tolerance)."""
    exp, config, frame = frames["mlp"]
    tol = exp.tolerance
    again = finetune.compute_unit(config)
    assert regression.compare(frame, again, tol) == []
    changed = finetune.compute_unit({**config, "lr": config["lr"] * 1.2})
    problems = regression.compare(frame, changed, tol)
    assert any("'accuracy'" in p for p in problems), problems


def test_fine_tuning_runs_at_its_own_step_and_the_controls_do_not(one_thread):
    """finetune_lr moves the fine-tuned rows only: the dense run, the pruned networks at F = 0 and the
    scratch controls (trained at the pre-training step) are unchanged."""
    p, _ = tiny()
    exp = p.arm("two_layer")
    config = exp.unit_config(exp.units()[0])
    base = finetune.compute_unit(config)
    other = finetune.compute_unit({**config, "finetune_lr": config["finetune_lr"] / 4})
    key = ["t", "method", "ratio", "budget", "split"]
    merged = base.merge(other, on=key, suffixes=("", "_other"))
    same = merged["accuracy"].eq(merged["accuracy_other"]) & merged["loss"].eq(merged["loss_other"])
    tuned = merged["method"].isin(finetune.ARMS["two_layer"].methods) & (merged["budget"] > 0)
    assert same[~tuned].all()
    assert not merged.loc[tuned, "loss"].eq(merged.loc[tuned, "loss_other"]).all()


def test_variants_run_at_the_smallest_ratio_only():
    p, _ = tiny()
    config = p.arm("mlp").unit_config((100, 0))
    assert finetune.methods_at(config, 0.25) == list(finetune.ARMS["mlp"].methods)
    assert finetune.methods_at(config, 0.5) == ["greedy", "random", "magnitude"]
    two = p.arm("two_layer").unit_config((100, 0))
    assert finetune.methods_at(two, 0.5) == list(finetune.ARMS["two_layer"].methods)


@pytest.mark.parametrize("head, init", [("flatten", "he"), ("pool", "pytorch")])
def test_cnn_head_and_init_reach_the_network_and_its_subnetworks(head, init):
    p, _ = tiny(cnn_head=head, cnn_init=init)
    config = p.arm("cnn").unit_config((100, 0))
    assert (config["head"], config["init"]) == (head, init)
    net = finetune.ARMS[config["arm"]].dense(config, 0)
    assert (net.head_kind, net.init) == (head, init)
    small = finetune.ARMS[config["arm"]].small(config, net, finetune.kept_widths(config, 0.5), 1)
    assert (small.head_kind, small.init) == (head, init)
    side = 7  # 28 -> 14 -> 7
    assert net.head.in_features == config["widths"][-1] * (side * side if head == "flatten" else 1)
    with pytest.raises(validate.ParameterError, match="cnn_head"):
        tiny(cnn_head="mean")
