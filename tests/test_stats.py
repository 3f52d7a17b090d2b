"""The statistics core: the threshold rule, the growth criterion and the multiple-test corrections."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from companion import validate
from companion.stats import paired, thresholds, verdicts
from companion.stats.thresholds import Rule

T = [0, 10, 100, 1000]
ACC = [0.1, 0.5, 0.8, 0.9]


def test_a_rule_gives_the_same_threshold_as_the_function_it_names():
    assert Rule("reaches", "accuracy", level=0.8).time(T, ACC) == thresholds.threshold_time(
        T, ACC, rule="reaches", metric="accuracy", level=0.8) == pytest.approx(100)
    assert Rule.from_params("within_delta", "accuracy", delta=0.15, level=0.5).time(T, ACC) == \
        thresholds.threshold_time(T, ACC, rule="within_delta", metric="accuracy", delta=0.15)
    # 50% of the gain 0.1 -> 0.9 is 0.5, reached at t = 10
    assert Rule("gain_share", share=0.5).time(T, ACC) == pytest.approx(10)
    assert math.isnan(Rule("reaches", level=0.95).time(T, ACC))  # censored: never met


def test_within_reference_is_one_sided_or_two_sided_and_must_stay_within():
    curve = [0.80, 0.905, 0.93, 0.90]  # overshoots the reference 0.90 at t = 100
    assert Rule("within_reference", delta=0.01, side="below").time(T, curve, 0.90) == 10
    assert Rule("within_reference", delta=0.01, side="both").time(T, curve, 0.90) == 1000
    dips = [0.80, 0.90, 0.85, 0.90]  # within at t = 10, out again at t = 100
    assert Rule("within_reference", delta=0.01, side="below").time(T, dips, 0.90) == 1000
    assert math.isnan(Rule("within_reference", delta=0.01).time(T, [0.8, 0.8, 0.8, 0.8], 0.90))


def test_a_rule_describes_itself_and_refuses_bad_values():
    assert Rule("reaches", "accuracy", level=0.85).describe("its training") == \
        "the first step at which its training accuracy reaches 0.85"
    with pytest.raises(validate.ParameterError, match="delta"):
        Rule("within_delta", delta=-1)
    with pytest.raises(validate.ParameterError, match="rule"):
        Rule("somewhere")


def _ts(means_by_n, seeds=5, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, spread, seeds)
    return pd.DataFrame([{"n": n, "seed": s, "t_star": m + base[s] + rng.normal(0, 0.1 * spread)}
                         for n, m in means_by_n.items() for s in range(seeds)])


@pytest.mark.parametrize("means, verdict", [
    ({100: 10, 200: 20, 400: 30, 800: 40}, "grows"),
    ({100: 10, 200: 20, 400: 30, 800: 30}, "grows_then_stops"),
    ({100: 10, 200: 20, 400: 30, 800: 20}, "grows_then_falls"),
    ({100: 40, 200: 30, 400: 20}, "falls"),
    ({100: 10, 200: 10, 400: 10}, "flat"),
])
def test_the_growth_criterion(means, verdict):
    g = verdicts.growth(_ts(means))
    assert g.verdict == verdict
    assert g.grows == verdict.startswith("grows") and g.stops == (verdict == "grows_then_stops")
    lo, hi = g.interval
    assert (lo > 0) == g.grows


def test_growth_without_enough_sizes_or_seeds_is_said_so():
    assert verdicts.growth(_ts({100: 10})).verdict == "undefined"
    one_seed = _ts({100: 10, 200: 20}, seeds=1)
    assert verdicts.growth(one_seed).verdict == "untestable"
    censored = _ts({100: 10, 200: 20}).assign(t_star=lambda f: np.where(f["n"] == 200, np.nan, f["t_star"]))
    assert verdicts.growth(censored).verdict == "undefined"


def test_holm_and_benjamini_hochberg_against_hand_computed_values():
    p = [0.01, 0.04, 0.03, np.nan, 0.005]
    # Holm over the four tested: sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.03, 0.06, 0.06
    assert paired.holm(p)[[4, 0, 2, 1]] == pytest.approx([0.02, 0.03, 0.06, 0.06])
    assert math.isnan(paired.holm(p)[3])
    # BH: 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4 -> 0.02, 0.02, 0.04, 0.04 (monotone from the top)
    assert paired.benjamini_hochberg(p)[[4, 0, 2, 1]] == pytest.approx([0.02, 0.02, 0.04, 0.04])
    assert np.all(paired.holm(p)[[0, 1, 2, 4]] >= paired.benjamini_hochberg(p)[[0, 1, 2, 4]])


def test_a_frame_of_thresholds_from_a_rule_equals_the_loose_parameters():
    frame = pd.DataFrame([{"n": n, "seed": s, "t": t, "method": "greedy", "split": "train",
                           "accuracy": a * (1 - 0.01 * s) * (1 - 0.001 * n), "loss": 1 - a}
                          for n in (100, 200) for s in range(3) for t, a in zip(T, ACC)])
    by_rule = thresholds.thresholds(frame, rule=Rule("reaches", "accuracy", level=0.7))
    loose = thresholds.thresholds(frame, rule="reaches", metric="accuracy", level=0.7)
    pd.testing.assert_frame_equal(by_rule, loose)
    with pytest.raises(validate.ParameterError, match="rule"):
        thresholds.thresholds(frame, rule=Rule("gain_share", share=0.5))


def test_no_paired_test_on_fewer_than_three_seeds_and_a_unanimous_change_is_a_change():
    two = paired.paired_test([3.0, 5.0])
    assert two["seeds"] == 2 and math.isnan(two["p_value"]) and math.isnan(two["ci_lo"])
    unanimous = paired.paired_test([4.0, 4.0, 4.0])
    assert unanimous["p_value"] == 0.0 and unanimous["ci_lo"] == unanimous["ci_hi"] == 4.0
    assert paired.change_rises({**unanimous, "mean": 4.0})
    none = paired.paired_test([0.0, 0.0, 0.0, 0.0])
    assert none["p_value"] == 1.0 and not paired.change_rises(none)
    from scipy import stats as scipy_stats
    d = [1.0, 2.5, 0.5, 3.0]
    assert paired.paired_test(d)["p_value"] == pytest.approx(scipy_stats.ttest_1samp(d, 0.0).pvalue)
    ts = pd.DataFrame([{"n": n, "seed": s, "t_star": 10.0 + (5 if n == 200 else 0)} for n in (100, 200)
                       for s in range(3)])
    assert verdicts.growth(ts).verdict == "grows"  # every seed rises by 5 steps: a change


def test_many_paired_tests_at_once_follow_the_rules_of_one():
    groups = [[1.0, 2.5, 0.5, 3.0], [4.0, 4.0, 4.0], [0.0, 0.0, 0.0], [3.0, 5.0], [7.0]]
    one = [paired.paired_test(g) for g in groups]
    lo, hi, p = paired.paired_tests([len(g) for g in groups], [np.mean(g) for g in groups],
                                    [np.std(g, ddof=1) if len(g) > 1 else np.nan for g in groups])
    for i, o in enumerate(one):
        for got, want in ((lo[i], o["ci_lo"]), (hi[i], o["ci_hi"]), (p[i], o["p_value"])):
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)
