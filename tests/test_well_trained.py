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
