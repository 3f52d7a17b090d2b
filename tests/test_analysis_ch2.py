"""Chapter 2's analysis functions (companion.stats.laws and .thresholds): three laws compared, the
growth of a threshold split into its factors, and the pruned threshold that does not depend on the
length of the run."""
import math

import numpy as np
import pandas as pd
import pytest

from companion.stats import laws, thresholds

from companion import vocabulary


def test_compare_laws_names_the_law_that_made_the_data():
    n = np.repeat([16.0, 32, 64, 128, 256, 512], 3)
    noise = np.tile([-0.05, 0.0, 0.05], 6)
    log_t = 3 + 2 * np.log(n) + noise
    assert laws.compare_laws(n, log_t)["best"] == "log"
    power_t = 2 * n ** 0.6 + noise
    assert laws.compare_laws(n, power_t)["best"] == "power"
    lin_t = 5 + 0.3 * n + noise
    assert laws.compare_laws(n, lin_t)["best"] == "linear"
    words = vocabulary.law_words(laws.compare_laws(n, power_t))
    assert words.startswith("power (leave-one-size-out error") and "log" in words and "linear" in words


def test_compare_laws_never_calls_a_law_better_with_two_sizes_or_within_the_margin():
    n = np.array([50.0, 50, 100, 100])
    t = np.array([10.0, 12, 20, 23])
    two = laws.compare_laws(n, t)
    assert two["best"] == "cannot be told apart" and two["sizes"] == 2
    # no size can be left out and predicted with two sizes: no error, no law
    assert all(math.isnan(two[law]["loso"]) for law in laws.LAWS)
    assert vocabulary.law_words(two) == "the laws cannot be told apart with two sizes"
    # three sizes over a narrow range (the laws' curves nearly coincide), size means that no law
    # follows: their leave-one-size-out errors are within the margin of each other
    n3 = np.repeat([100.0, 110, 120], 2)
    close = laws.compare_laws(n3, np.repeat([2.0, 2.2, 2.1], 2) + np.tile([0.2, -0.2], 3))
    assert close["best"] == "cannot be told apart" and len(close["tied"]) >= 2
    assert laws.compare_laws([10.0], [1.0])["best"] == "not enough sizes"
    # undefined thresholds are left out, not fitted
    assert laws.compare_laws([10.0, 20, 40], [1.0, np.nan, np.nan])["best"] == "not enough sizes"


def test_log_growth_split_is_exact_and_finds_each_factor():
    n = np.repeat([10.0, 100.0], 2)
    inv_eta = np.array([1.0, 1.0, 4.0, 4.0])
    inv_lam = np.array([2.0, 2.0, 6.0, 6.0])
    log = np.array([5.0, 5.0, 7.0, 7.0])
    rest = np.array([0.5, 0.5, 0.5, 0.5])
    t = inv_eta * inv_lam * log * rest
    split = laws.log_growth_split(n, t, {"eta": inv_eta, "lam": inv_lam, "log": log})
    assert split["total"] == pytest.approx(math.log(t[-1] / t[0]))
    assert split["eta"] == pytest.approx(math.log(4)) and split["lam"] == pytest.approx(math.log(3))
    assert split["log"] == pytest.approx(math.log(7 / 5)) and split["rest"] == pytest.approx(0.0, abs=1e-12)
    assert split["total"] == pytest.approx(split["eta"] + split["lam"] + split["log"] + split["rest"])
    none = laws.log_growth_split([10.0, 100.0], [1.0, np.nan], {"f": [1.0, 2.0]})
    assert math.isnan(none["total"]) and math.isnan(none["f"])


def test_constant_fit_and_leave_one_out_mean():
    fit = laws.constant_fit([1.0, 2.0, 3.0])
    assert fit["c"] == 2.0 and fit["rel_rmse"] == pytest.approx(math.sqrt(2 / 3) / 2)
    frame = pd.DataFrame({"N": [8, 8, 8, 16], "seed": [0, 1, 2, 0], "floor": [1.0, 2.0, 6.0, 5.0]})
    loo = thresholds.leave_one_out_mean(frame, "N", "floor")
    assert list(loo.iloc[:3]) == [4.0, 3.5, 1.5] and math.isnan(loo.iloc[3])


def _curve(t_end, drift=0.0):
    """A pruned residual: 100 at t = 0, falling to a floor of 10 with some wobble, then drifting slowly
    by ``drift`` per step (a network that never quite stops moving), checkpoints every step."""
    t = np.arange(t_end + 1, dtype=float)
    v = 10 + 90 * np.exp(-t / 5.0) + 0.5 * np.sin(t) - drift * t
    return t, v


def test_pruned_threshold_is_the_first_reach_of_the_stated_level():
    t, v = _curve(200)
    level = 10 + 0.1 * (v[0] - 10)
    got = thresholds.pruned_threshold(t, v, floor=10.0, tolerance=0.1)
    i = int(np.flatnonzero(v <= level)[0])
    assert t[i - 1] < got <= t[i]
    assert thresholds.pruned_threshold(t, v, floor=120.0) == 0.0        # already at its floor at t = 0
    assert math.isnan(thresholds.pruned_threshold(t, v, floor=float("nan")))
    # censored: the run ends before the subnetwork gets there
    assert math.isnan(thresholds.pruned_threshold(t[:5], v[:5], floor=10.0))


def test_pruned_threshold_does_not_move_with_the_run_length_while_the_settled_rule_does():
    """Lengthening the run (same checkpoints up to the shorter end, the curve still drifting by 1e-3
    per step) leaves the pruned threshold where it was; the former rule, 'first checkpoint from which
    it stays within eps of its value at the last checkpoint', moves with the end."""
    eps = 1e-3

    def settled(t, v):
        outside = np.flatnonzero(np.abs(v - v[-1]) > eps)
        return t[outside[-1] + 1] if len(outside) else t[0]

    short, long = _curve(300, drift=1e-3), _curve(900, drift=1e-3)
    assert thresholds.pruned_threshold(*short, floor=10.0) == thresholds.pruned_threshold(*long, floor=10.0)
    assert settled(*long) > 2 * settled(*short)
