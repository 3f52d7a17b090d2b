"""The well-trained arm of chapter 3: thresholds at a level relative to the subnetwork's own ceiling,
the held-out images from the unused part of the training pool, and the arm's unit on a tiny setting."""
import math

import numpy as np
import pandas as pd
import pytest

from companion import data, validate
from companion.stats import thresholds


def test_gain_level_is_the_share_of_the_way_from_start_to_best():
    assert thresholds.gain_level([0, 10, 100], [0.2, 0.9, 0.6], 0.5) == pytest.approx(0.55)
    with pytest.raises(validate.ParameterError, match="share"):
        thresholds.gain_level([0, 1], [0.1, 0.2], 0.0)


def _curves(levels_by_n):
    rows = []
    for n, curve in levels_by_n.items():
        for seed in (0, 1):
            for t, v in zip([0, 10, 100, 1000], curve):
                rows.append({"arm": "a", "n": n, "seed": seed, "t": t, "accuracy": v})
    return pd.DataFrame(rows)


def test_own_level_interpolates_in_log_t_and_largest_level_censors():
    frame = _curves({100: [0.1, 0.5, 0.9, 1.0], 1000: [0.1, 0.2, 0.95, 0.96]})
    own = thresholds.gain_thresholds(frame, 0.9, ["arm"], level_from="own")
    small = own[own["n"] == 100].iloc[0]
    assert small["level"] == pytest.approx(0.91)
    # the crossing lies 10% of the way from t = 100 (0.9) to t = 1000 (1.0), in log(1 + t)
    want = math.expm1(math.log1p(100) + 0.1 * (math.log1p(1000) - math.log1p(100)))
    assert small["t_star"] == pytest.approx(want)
    # level from the largest N: 0.1 + 0.9 * 0.86 = 0.874, reached by N = 100 before t = 100 ...
    big = thresholds.gain_thresholds(frame, 0.9, ["arm"], level_from="largest")
    assert set(big["level"].round(6)) == {0.874}
    assert big[big["n"] == 100]["t_star"].iloc[0] < 100
    # ... and a level above a curve's ceiling is censored (NaN, not reached)
    high = _curves({100: [0.1, 0.2, 0.3, 0.4], 1000: [0.1, 0.5, 0.9, 1.0]})
    cens = thresholds.gain_thresholds(high, 0.9, ["arm"], level_from="largest")
    assert not cens[cens["n"] == 100]["reached"].any()
    assert cens[cens["n"] == 1000]["reached"].all()


def test_gain_thresholds_of_nothing_is_an_empty_frame():
    out = thresholds.gain_thresholds(pd.DataFrame(columns=["arm", "n", "seed", "t", "accuracy"]), 0.9, ["arm"])
    assert out.empty and "t_star" in out.columns


def test_pool_heldout_images_are_outside_every_subset_up_to_heldout_from():
    x, y, _ = data.load_mnist("embedded", train=True)
    held = data.pool_heldout_indices(y, 300, seed=3, heldout_from=3000)
    assert len(set(held)) == 300
    for n in (100, 1000, 3000):
        assert not set(held) & set(data.balanced_indices(y, n, 3))
    assert np.array_equal(held, data.pool_heldout_indices(y, 300, seed=3, heldout_from=3000))
    with pytest.raises(validate.ParameterError, match="n_heldout"):
        data.pool_heldout_indices(y, 1001, seed=3, heldout_from=3000)
    split = data.mnist(500, n_test=100, seed=3, source="embedded", center="pool", n_heldout=300,
                       heldout_from=3000)
    assert len(split.heldout) == 300
    with pytest.raises(validate.ParameterError, match="heldout_from"):
        data.mnist(500, seed=3, source="embedded", n_heldout=10, heldout_from=400)


def test_well_trained_unit_on_a_tiny_setting(one_thread):
    from companion.chapters import mnist

    e = mnist.WellTrainedSweep(parameterization="mean_field", lrs=(0.4,), sizes=(200,), seeds=(0,),
                               ks=(4, 8), width=16, steps=20, num_checkpoints=3, first_checkpoint=5,
                               batch_size=32, n_test=100, n_heldout=100, heldout_from=3000,
                               source="embedded")
    f = e.compute(e.units()[0], "cpu")
    assert list(f.columns) == mnist.WT_COLUMNS
    assert set(f["split"]) == {"train", "test", "heldout"}
    assert set(f["k"]) == {4, 8, 16} and set(f["t"]) == set(e.checkpoints)
    assert f.equals(e.compute(e.units()[0], "cpu"))  # deterministic


def test_a_diverging_step_is_a_row_that_says_so(one_thread):
    from companion.chapters import mnist

    e = mnist.WellTrainedSweep(parameterization="ntk", lrs=(1e6,), sizes=(200,), seeds=(0,), ks=(4,),
                               width=16, steps=20, num_checkpoints=3, first_checkpoint=5, batch_size=32,
                               n_test=100, n_heldout=100, heldout_from=3000, source="embedded")
    f = e.compute(e.units()[0], "cpu")
    assert list(f["method"]) == ["diverged"] and 1 <= f["t"].iloc[0] <= 20


# --------------------------------------------------------------------------------------------------
# Issue 34: the one-level rule on a dense grid, the accuracy window, the epochs at T*


def test_one_level_rule_on_a_dense_grid_matches_a_hand_computed_crossing():
    """T* at one level on a dense geometric grid: the crossing between the two bracketing checkpoints,
    linear in log(1 + t), computed by hand."""
    import numpy as np

    from companion.chapters.mnist.experiments import lead_checkpoints
    from companion.stats import thresholds as thr
    from companion.train import checkpoint_grid

    grid = lead_checkpoints(checkpoint_grid(4000, 15, 10), 25, 260, 34)
    assert len([t for t in grid if 30 <= t <= 230]) >= 30 and grid[-1] == 4000 and grid[0] == 0
    # accuracy = 0.1 + 0.8 * (1 - exp(-t / 60)): reaches 0.7 at t = 60 ln 4 = 83.18 (between 78 and 84)
    t = np.array(grid, float)
    acc = 0.1 + 0.8 * (1 - np.exp(-t / 60))
    lo = max(x for x in grid if x <= 60 * np.log(4))
    hi = min(x for x in grid if x > 60 * np.log(4))
    a0, a1 = 0.1 + 0.8 * (1 - np.exp(-lo / 60)), 0.1 + 0.8 * (1 - np.exp(-hi / 60))
    x = np.log1p(lo) + (0.7 - a0) / (a1 - a0) * (np.log1p(hi) - np.log1p(lo))
    hand = float(np.expm1(x))
    got = thr.threshold_time(t, acc, rule="reaches", metric="accuracy", level=0.7)
    assert got == pytest.approx(hand, rel=1e-12)
    assert abs(got - 60 * np.log(4)) < 0.5  # the dense grid resolves it to half a step
    # one level for every N: the level is the largest N's, the same for each curve
    rows = []
    for n, tau in ((1000, 40.0), (50000, 60.0)):
        for seed in range(3):
            a = 0.1 + 0.8 * (1 - np.exp(-t / tau))
            rows += [{"lr": 1.6, "k": 64, "split": "train", "n": n, "seed": seed, "t": ti, "accuracy": ai}
                     for ti, ai in zip(t, a)]
    frame = pd.DataFrame(rows)
    ts = thr.gain_thresholds(frame, 0.75, ["lr", "k", "split"], level_from="largest")
    level = 0.1 + 0.75 * (float(0.1 + 0.8 * (1 - np.exp(-4000 / 60))) - 0.1)
    assert ts["level"].to_numpy() == pytest.approx(level)
    big = ts[ts["n"] == 50000]["t_star"]
    assert big.to_numpy() == pytest.approx(thr.threshold_time(t, 0.1 + 0.8 * (1 - np.exp(-t / 60)),
                                                              rule="reaches", metric="accuracy", level=level))


def test_accuracy_window_bounds_on_a_constructed_curve():
    import numpy as np

    from companion.stats import thresholds as thr

    t = np.array([0, 10, 100, 1000, 4000], float)
    acc = np.array([0.1, 0.5, 0.9, 0.7, 0.6])
    w = thr.accuracy_window(t, acc, 0.8)
    # opens between 10 and 100: halfway from 0.5 to 0.9 is 0.7, so 0.8 is 3/4 of the way in log(1 + t)
    opens = np.expm1(np.log1p(10) + 0.75 * (np.log1p(100) - np.log1p(10)))
    closes = np.expm1(np.log1p(100) + 0.5 * (np.log1p(1000) - np.log1p(100)))
    assert w["open"] == pytest.approx(opens) and w["close"] == pytest.approx(closes)
    assert (w["peak_t"], w["peak"]) == (100.0, 0.9)
    # still above the level at the end: open, not closed (censored)
    w = thr.accuracy_window(t, [0.1, 0.5, 0.9, 0.85, 0.82], 0.8)
    assert np.isfinite(w["open"]) and np.isnan(w["close"])
    # a dip below the level and back: the window closes only where it stays below to the end
    w = thr.accuracy_window(t, [0.1, 0.9, 0.7, 0.9, 0.5], 0.8)
    assert w["close"] == pytest.approx(np.expm1(np.log1p(1000) + 0.25 * (np.log1p(4000) - np.log1p(1000))))
    # never reached: no window
    w = thr.accuracy_window(t, [0.1, 0.2, 0.3, 0.3, 0.3], 0.8)
    assert np.isnan(w["open"]) and np.isnan(w["close"]) and w["peak"] == 0.3


def test_windows_and_epochs_of_the_chapter():
    import numpy as np

    from companion.chapters.mnist import findings

    t = np.array([0, 10, 100, 1000, 4000], float)
    rows = []
    for n, curve in ((1000, [0.1, 0.5, 0.9, 0.9, 0.9]), (4000, [0.1, 0.5, 0.9, 0.7, 0.6])):
        for seed in range(3):
            rows += [{"lr": 1.6, "k": 64, "split": "train", "method": "greedy", "n": n, "seed": seed, "t": ti,
                      "accuracy": ai} for ti, ai in zip(t, curve)]
    frame = pd.DataFrame(rows)
    ts = findings.wt_thresholds(frame, 0.875)
    w = findings.wt_windows(frame, ts, 1.6)
    assert w["level"].to_numpy() == pytest.approx(0.8)
    s = findings.window_summary(w).set_index("n")
    assert s.loc[1000, "closed"] == 0 and s.loc[4000, "closed"] == 3 and s.loc[4000, "opened"] == 3
    ep = findings.epochs_at(ts[(ts["rule"] == "largest") & (ts["split"] == "train")], 128)
    assert (ep["epochs"] == ep["t_star"] * 128 / ep["n"]).all()
