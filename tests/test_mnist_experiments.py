"""Chapter 3's experiments (companion.chapters.mnist) on the engine: keys, stored units, no data read
when every unit is stored, the NTK study, and the chapter summary."""
import numpy as np
import pandas as pd
import pytest
import torch

from companion import data, chapters
from companion.chapters import mnist
from companion.experiments import engine, store
from companion.pretrain import TrainConfig, pretrain

TINY = dict(sizes=[20, 40, 60], seeds=[0, 1], steps=12, num_checkpoints=5, batch_size=10,
            gd_sizes=[20, 40, 60], gd_seeds=[0], gd_steps=8, gd_num_checkpoints=4, first_checkpoint=2,
            width=8, k=3, random_draws=3, n_test=20, ntk_n=30, ntk_seeds=[0], ntk_lrs=[1.0, 2.0],
            ntk_ks=[2, 8, 16], ntk_steps=6, ntk_num_checkpoints=3, source="embedded", n_boot=20,
            level=0.2, levels=[0.1, 0.2], deltas=[0.05], summed_eps=[5.0], wt_sizes=[20, 40], wt_seeds=[0],
            wt_lrs=[0.4], wt_ks=[2, 4], wt_num_checkpoints=3, wt_ntk_lrs=[1.0], n_heldout=20, heldout_from=1000)


def _check(tmp_path, **kw):
    return chapters.check("03_mnist_validation", {**TINY, "cache_dir": str(tmp_path),
                                                     "progress": False, "n_jobs": 1, **kw})


def test_checkpoint_grid_is_geometric_with_zero():
    p, _ = chapters.check("03_mnist_validation", {**TINY, "steps": 1000, "num_checkpoints": 8, "gd_steps": 100,
                                                     "ntk_steps": 100,
                                                     "first_checkpoint": 10})
    grid = p.sweep("sgd").checkpoints
    assert grid[0] == 0 and grid[1] == 10 and grid[-1] == 1000 and grid == sorted(set(grid))
    ratios = [b / a for a, b in zip(grid[1:], grid[2:])]
    assert max(ratios) / min(ratios) < 1.1 and len(grid) == 8


def test_unit_config_holds_everything_and_no_run_option(tmp_path):
    p, _ = _check(tmp_path)
    sgd, gd, ntk = (mnist.experiments(p)[k] for k in ("sgd", "gd", "ntk"))
    a = sgd.unit_config((20, 0))
    assert a["checkpoints"] == sgd.checkpoints and a["optimizer"] == "sgd" and a["center"] == "pool"
    assert a["random_draws"] == 3 and a["batch_size"] == 10 and a["sgd_batches"] == "epoch_stream"
    assert gd.unit_config((20, 0))["batch_size"] is None and gd.unit_config((20, 0))["optimizer"] == "gd"
    assert store.config_hash(a) != store.config_hash(gd.unit_config((20, 0)))
    b = mnist.experiments(_check(tmp_path, width=9)[0])["sgd"].unit_config((20, 0))
    assert store.config_hash(a) != store.config_hash(b)
    for cfg in (a, gd.unit_config((20, 0)), ntk.unit_config((1.0, 0))):
        assert not {"device", "n_jobs", "cache_dir", "progress", "scheduler"} & set(cfg)
    # changing only the analysis (threshold rule, targets) keeps every key
    c = mnist.experiments(_check(tmp_path, threshold_rule="within_delta", summed_eps=[1.0])[0])
    assert c["sgd"].unit_config((20, 0)) == a and c["ntk"].unit_config((1.0, 0)) == ntk.unit_config((1.0, 0))
    assert sgd.result_name((20, 0)) == "ch3-sgd-n20-s0" and ntk.result_name((2.0, 0)) == "ch3-ntk-lr2-s0"


def test_sweep_stores_units_and_never_reads_data_when_all_are_stored(tmp_path, monkeypatch):
    p, options = _check(tmp_path)
    first = mnist.run(p, options)
    sgd = first["sgd"]
    assert len(sgd) == 3 * 2 * len(p.sweep("sgd").checkpoints) * 4 * 2
    assert set(sgd["method"]) == set(mnist.METHODS) and set(sgd["split"]) == {"train", "test"}
    assert list(sgd.columns) == mnist.FRAME_COLUMNS and set(first["gd"]["optimizer"]) == {"gd"}
    assert list(first["ntk"].columns) == mnist.NTK_COLUMNS
    import companion.data

    def boom(*a, **k):
        raise AssertionError("data loaded although every unit is stored")

    monkeypatch.setattr(companion.data, "mnist", boom)
    second = mnist.run(p, options)
    for key in ("sgd", "gd", "ntk", "well", "well_ntk"):
        pd.testing.assert_frame_equal(first[key], second[key])
    assert list(first["well"].columns) == mnist.WT_COLUMNS
    assert len(second["units"]) == 6 + 3 + 2 + 2 + 2 and (second["units"]["wall_time_s"] > 0).all()


def test_ntk_study_prefixes_and_scale(tmp_path):
    p, options = _check(tmp_path)
    ntk = mnist.run(p, options)["ntk"]
    # no repeats only up to k = m; with repeats beyond it
    assert set(ntk.loc[ntk["method"] == "greedy_distinct", "k"]) == {2, 8}
    assert set(ntk.loc[ntk["method"] == "greedy_repeats", "k"]) == {2, 8, 16}
    # the refitted scale never makes the training loss worse, and leaves accuracy alone when positive
    train = ntk[ntk["split"] == "train"].pivot_table(index=["lr", "t", "method", "k"], columns="output_scale",
                                                     values=["loss", "accuracy", "scale"])
    assert (train[("loss", "refit")] <= train[("loss", "none")] + 1e-12).all()
    pos = train[("scale", "refit")] > 0
    assert (train.loc[pos, ("accuracy", "refit")] == train.loc[pos, ("accuracy", "none")]).all()


def test_output_scale_is_the_least_squares_scalar():
    out = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    y = 0.5 * out
    assert mnist.output_scale(out, y) == pytest.approx(0.5)


def _expected_after_peak_words(sgd, level):
    """The after-peak verdict recomputed from the frame alone (first crossing of ``level`` by the
    greedy training accuracy on the grid, a paired t-test with scipy), not with the chapter's code."""
    from scipy import stats

    rows = sgd[(sgd["method"] == "greedy") & (sgd["split"] == "train")].sort_values("t")
    t_star = {}
    for (n, seed), g in rows.groupby(["n", "seed"]):
        hit = np.flatnonzero(g["accuracy"].to_numpy() >= level)
        if len(hit):
            i, t, v = hit[0], np.log1p(g["t"].to_numpy(float)), g["accuracy"].to_numpy()
            t_star[n, seed] = 0.0 if i == 0 else float(np.expm1(t[i - 1] + (level - v[i - 1]) / (v[i] - v[i - 1])
                                                                 * (t[i] - t[i - 1])))
    means = pd.Series(t_star).groupby(level=0).mean()
    n_peak, last = means.idxmax(), means.index.max()
    if n_peak == last:
        return "peaks at the largest N" if last == sgd["n"].max() else "is not defined beyond"
    pairs = [(t_star[n_peak, s], t_star[last, s]) for (n, s) in t_star if n == n_peak and (last, s) in t_star]
    if len(pairs) < 2:
        return "cannot be tested" if pairs else "is not defined"
    a, b = np.array(pairs).T
    p_value = stats.ttest_rel(b, a).pvalue
    return "does not change significantly" if p_value >= 0.05 else ("rises" if (b - a).mean() > 0 else "falls")


def test_summary_on_a_tiny_sweep(tmp_path):
    p, options = _check(tmp_path)
    frames = mnist.run(p, options)
    summary = mnist.summarize(frames, p)
    n = summary.numbers
    assert n["ch3_n_units"] == 11 + 2 + 2 and n["ch3_width"] == 8  # + the well-trained arm (2 + 2 NTK)
    assert 0 <= n["ch3_final_greedy_train"] <= 1
    assert set(summary.tables["thresholds"]) == {"dense", "greedy", "difference"}
    # the verdict after the peak is the one the tiny sweep's own thresholds imply
    assert n["ch3_after_peak_words"].startswith(_expected_after_peak_words(frames["sgd"], p.level))
    # the tuned NTK step: the lowest mean final training loss of the dense network, recomputed here
    ntk = frames["ntk"]
    dense = ntk[(ntk["method"] == "dense") & (ntk["split"] == "train") & (ntk["output_scale"] == "none")
                & (ntk["t"] == ntk["t"].max())]
    assert n["ch3_ntk_lr"] == dense.groupby("lr")["loss"].mean().idxmin()
    # a quantity the tiny sweep cannot define is said in words, never glued as NaN
    assert not [k for k, v in n.items() if isinstance(v, float) and not np.isfinite(v)]
    assert n["ch3_seed_sd_min"] == mnist.UNDEFINED  # one seed reaches the level at each size


def test_pool_centring_is_the_same_for_every_n_and_subsets_are_nested():
    a = data.mnist(40, seed=3, source="embedded", center="pool", unit_norm=False)
    b = data.mnist(80, seed=3, source="embedded", center="pool", unit_norm=False)
    mean = data.pool_mean("embedded")
    raw_a = data.mnist(40, seed=3, source="embedded", center=False, unit_norm=False)
    assert torch.allclose(a.train.x, raw_a.train.x - mean)
    # nested: every image of the smaller subset is in the larger one
    rows_b = {tuple(r.tolist()) for r in b.train.x}
    assert all(tuple(r.tolist()) in rows_b for r in a.train.x)
    with pytest.raises(data.validate.ParameterError, match="center"):
        data.mnist(40, source="embedded", center="median")


def test_sgd_drops_no_image_and_a_longer_budget_keeps_the_trajectory():
    # A determinism check of the SGD stream: under a constant step the states up to a checkpoint cannot
    # depend on later checkpoints, so this holds by construction. It is no evidence about chapter 3's
    # plateau, and the chapter does not cite it as such.
    from companion.models import TwoLayerNet

    ds = data.mnist(50, seed=0, source="embedded", center="pool").train.to(dtype=torch.float32)
    seen = []
    real = torch.randperm

    def spy(n, generator=None, **kw):
        perm = real(n, generator=generator, **kw)
        seen.append(perm.clone())
        return perm

    cfg = TrainConfig(lr=0.1, optimizer="sgd", batch_size=20, loss="mse", reduction="mean", seed=0,
                      device="cpu")
    torch.randperm = spy
    try:
        short = pretrain(TwoLayerNet(784, 8, 10, "mean_field", seed=0), ds, cfg, [0, 5, 10], progress=False,
                         history=False)
    finally:
        torch.randperm = real
    # 10 steps of 20 = 200 images = 4 full epochs of 50: every epoch's permutation used to the end
    assert len(seen) == 4
    long = pretrain(TwoLayerNet(784, 8, 10, "mean_field", seed=0), ds, cfg, [0, 5, 10, 40], progress=False,
                    history=False)
    for t in (5, 10):
        for key, value in short.states[t].items():
            assert torch.equal(value, long.states[t][key])


def _curves(rows):
    import pandas as pd
    return pd.DataFrame(rows, columns=["optimizer", "n", "seed", "t", "method", "split", "loss", "accuracy"])


def test_heldout_threshold_meets_the_training_one_where_the_difference_changes_sign():
    from companion.stats import thresholds
    from companion.chapters import mnist
    from companion.stats.thresholds import Rule

    rows = []
    # training accuracy reaches 0.8 at t = 100 (N = 100) and t = 300 (N = 1,000); held-out at 400 and 200
    for n, t_train, t_test in ((100, 100, 400), (1000, 300, 200)):
        for seed in (0, 1, 2):
            for t in (0, 100, 200, 300, 400, 500):
                for split, ts in (("train", t_train + seed), ("test", t_test + seed)):
                    rows.append(("sgd", n, seed, t, "greedy", split, 1.0, 0.9 if t >= ts else 0.5))
    sgd = _curves(rows)
    rules = {"rule": "reaches", "metric": "accuracy", "delta": 0.01, "level": 0.8}
    train = thresholds.thresholds(sgd, method="greedy", split="train", **{k: rules[k] for k in rules})
    rule = Rule.from_params(**rules)
    frame, out = mnist.heldout_thresholds(sgd, train, rule, 100, 1000)
    assert set(frame["split"]) == {"train", "held-out"}
    assert (out["ch3_heldout_meet_lo"], out["ch3_heldout_meet_hi"]) == (100, 1000)
    assert "meet between N = 100 and N = 1,000" in out["ch3_heldout_sentence"]
    assert out["ch3_heldout_diff_largest"] < 0 and out["ch3_heldout_diff_hi"] < 0  # seeds agree: tight interval
    # held-out always later: no meeting, said so
    later = sgd.copy()
    later.loc[later["split"] == "test", "accuracy"] = 0.5
    _, out = mnist.heldout_thresholds(later, train, rule, 100, 1000)
    assert "not defined" in out["ch3_heldout_sentence"]


def test_loss_gap_sentence_says_whether_the_gap_is_constant():
    from companion.chapters import mnist

    def frame(gaps):
        rows = []
        for t, g in zip((0, 100, 1000), gaps):
            rows += [("sgd", 500, 0, t, "dense", "train", 0.4, 0.5), ("sgd", 500, 0, t, "greedy", "train", 0.4 + g, 0.5)]
        return _curves(rows)

    moving = mnist.loss_gap_sentence(frame((-0.1, 0.0, 0.1)), 500, 100.0, 64)
    assert "-0.100 at t = 0" in moving and moving.split("; ")[0].endswith("+0.100 at t = 1,000")
    assert "not a constant" in moving and "changes sign" in moving
    steady = mnist.loss_gap_sentence(frame((0.05, 0.05, 0.051)), 500, 100.0, 64)
    assert "roughly constant" in steady
