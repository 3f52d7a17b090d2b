import math

import numpy as np
import pandas as pd
import pytest

from companion.stats import laws, paired, thresholds
from companion.validate import ParameterError

T = [0, 10, 100, 1000]
LOSS = [1.0, 0.5, 0.2, 0.1]


def test_within_delta_exact_grid_point():
    # best 0.1, delta 0.1 -> first t with loss <= 0.2 is exactly t = 100
    assert thresholds.threshold_time(T, LOSS, rule="within_delta", delta=0.1) == pytest.approx(100)


def test_within_delta_interpolates_in_log_t():
    # target 0.35 lies half-way between 0.5 (t=10) and 0.2 (t=100): midpoint in log(1+t)
    got = thresholds.threshold_time(T, LOSS, rule="within_delta", delta=0.25)
    assert got == pytest.approx(math.sqrt(11 * 101) - 1)
    assert 10 < got < 100


def test_reaches_accuracy_and_never_and_at_zero():
    acc = [0.1, 0.5, 0.8, 0.9]
    assert thresholds.threshold_time(T, acc, rule="reaches", metric="accuracy", level=0.8) == \
        pytest.approx(100)
    assert math.isnan(thresholds.threshold_time(T, acc, rule="reaches", metric="accuracy", level=0.95))
    assert thresholds.threshold_time(T, acc, rule="reaches", metric="accuracy", level=0.05) == 0
    # accuracy within delta of its best (0.9): >= 0.85 crossed between t=100 and t=1000
    got = thresholds.threshold_time(T, acc, rule="within_delta", metric="accuracy", delta=0.05)
    assert 100 < got < 1000


def test_unsorted_input_is_sorted_first():
    order = [3, 0, 2, 1]
    got = thresholds.threshold_time([T[i] for i in order], [LOSS[i] for i in order], delta=0.1)
    assert got == pytest.approx(100)


def _frame(curves):
    rows = []
    for (regime, n, seed), losses in curves.items():
        for t, v in zip(T, losses):
            rows.append({"regime": regime, "n": n, "seed": seed, "t": t, "method": "greedy",
                         "split": "train", "loss": v, "accuracy": 1 - v})
            rows.append({"regime": regime, "n": n, "seed": seed, "t": t, "method": "dense",
                         "split": "train", "loss": 0.0, "accuracy": 1.0})
    return pd.DataFrame(rows)


def test_thresholds_per_unit_uses_greedy_train_rows():
    frame = _frame({("mean_field", 100, 0): LOSS, ("mean_field", 200, 0): [1.0, 0.9, 0.8, 0.1]})
    ts = thresholds.thresholds(frame, rule="within_delta", metric="loss", delta=0.1)
    assert list(ts["n"]) == [100, 200]
    assert ts["t_star"].iloc[0] == pytest.approx(100)
    assert 100 < ts["t_star"].iloc[1] < 1000
    assert ts["reached"].all() and ts["best"].iloc[0] == pytest.approx(0.1)


SIZES = np.array([500, 1000, 2000, 4000, 8000, 16000])


def _synthetic(law, seeds=3, noise=20.0, seed=0, sizes=None):
    rng = np.random.default_rng(seed)
    rows = []
    for n in SIZES if sizes is None else sizes:
        for s in range(seeds):
            rows.append({"regime": "r", "n": int(n), "seed": s,
                         "t_star": law(n) + noise * rng.standard_normal(), "reached": True})
    return pd.DataFrame(rows)


def test_fit_recovers_exact_parameters():
    n = SIZES.astype(float)
    assert laws.fit(n, 100 + 300 * np.log(n), "log") == pytest.approx((100, 300))
    assert laws.fit(n, 50 + 0.2 * n, "linear") == pytest.approx((50, 0.2))
    assert laws.fit(n, 3 * n ** 0.4, "power") == pytest.approx((3, 0.4), rel=1e-6)


def test_log_law_data_log_model_wins():
    ts = _synthetic(lambda n: 100 + 300 * np.log(n))
    table = laws.fit_table(ts, n_boot=200)
    assert laws.best_model(table, "r", "loso") == "log"
    assert laws.best_model(table, "r", "aic") == "log"
    row = table[table["model"] == "log"].iloc[0]
    assert row["b_lo"] < row["b"] < row["b_hi"]
    assert abs(row["b"] - 300) < 20 and row["b_hi"] - row["b_lo"] < 60
    oos = laws.out_of_sample(ts, "log")
    assert oos["n"] == 16000 and oos["rel_error"] < 0.03
    # the linear law extrapolates the log data badly
    assert laws.out_of_sample(ts, "linear")["rel_error"] > 0.1


def test_bootstrap_ci_covers_truth_with_many_seeds():
    ts = _synthetic(lambda n: 100 + 300 * np.log(n), seeds=12, seed=1)
    ci = laws.bootstrap(ts["n"], ts["t_star"], ts["seed"], "log", n_boot=300, at=[32000])
    assert ci["b_lo"] < 300 < ci["b_hi"]
    assert ci["pred_lo"][0] < 100 + 300 * np.log(32000) < ci["pred_hi"][0]


def test_linear_data_linear_model_wins():
    ts = _synthetic(lambda n: 500 + 0.1 * n)
    table = laws.fit_table(ts, n_boot=100)
    assert laws.best_model(table, "r", "loso") == "linear"
    assert laws.best_model(table, "r", "aic") == "linear"
    assert laws.out_of_sample(ts, "log")["rel_error"] > 0.1


def test_nan_thresholds_are_left_out_of_fits():
    ts = _synthetic(lambda n: 100 + 300 * np.log(n), noise=0.0)
    ts.loc[0, "t_star"] = np.nan
    table = laws.fit_table(ts, n_boot=20)
    row = table[table["model"] == "log"].iloc[0]
    assert row["points"] == len(ts) - 1 and row["b"] == pytest.approx(300)


@pytest.mark.parametrize("kw, name", [
    ({"threshold_rule": "foo"}, "threshold_rule"),
    ({"delta": -1.0}, "delta"),
    ({"deltas": []}, "deltas"),
    ({"threshold_metric": "accuracy", "level": 1.5}, "level"),
    ({"n_boot": 2}, "n_boot"),
])
def test_analysis_parameters_are_checked_by_the_chapter_schema(kw, name):
    from companion import chapters

    good = dict(threshold_rule="within_delta", threshold_metric="loss", delta=0.01, deltas=[0.01],
                level=0.8, levels=[0.8], n_boot=100, useful_accuracy=0.5)
    with pytest.raises(ParameterError, match=name):
        chapters.check("03_mnist_validation", {**good, **kw})


def test_a_failed_power_fit_is_nan_not_its_starting_guess(monkeypatch):
    def fail(*a, **k):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(laws, "curve_fit", fail)
    n = SIZES.astype(float)
    a, b = laws.fit(n, 3 * n ** 0.4, "power")
    assert math.isnan(a) and math.isnan(b)
    assert math.isnan(laws.loso_rmse(n, 3 * n ** 0.4, "power"))
    table = laws.fit_table(_synthetic(lambda n: 3 * n ** 0.4, noise=0.0), n_boot=5)
    row = table[table["model"] == "power"].iloc[0]
    assert not row["fit_ok"] and math.isnan(row["aic"]) and not row["best_loso"] and not row["best_aic"]


def test_aic_and_loso_treat_seeds_the_same_way():
    # Doubling every seed (same points twice) changes neither score: both judge the seed means per size.
    ts = _synthetic(lambda n: 100 + 300 * np.log(n), seeds=3)
    twice = pd.concat([ts, ts.assign(seed=ts["seed"] + 10)], ignore_index=True)
    for model in laws.MODELS:
        params = laws.fit(ts["n"], ts["t_star"], model)
        params2 = laws.fit(twice["n"], twice["t_star"], model)
        assert params2 == pytest.approx(params, rel=1e-5)
        assert laws.aic(twice["n"], twice["t_star"], model, *params2) == pytest.approx(
            laws.aic(ts["n"], ts["t_star"], model, *params), rel=1e-5)
        assert laws.loso_rmse(twice["n"], twice["t_star"], model) == pytest.approx(
            laws.loso_rmse(ts["n"], ts["t_star"], model), rel=1e-6)


def test_model_choice_singles_out_a_clear_law_and_not_a_noisy_one():
    clear = _synthetic(lambda n: 500 + 0.1 * n, seeds=6, noise=5.0)
    shares = laws.model_choice(clear["n"], clear["t_star"], n_boot=40)
    assert shares["linear"] >= 0.95 and sum(shares.values()) == pytest.approx(1.0)
    # T* flat in N up to large noise: no law can win reliably
    flat = _synthetic(lambda n: 300 + 0 * n, seeds=4, noise=60.0, seed=3)
    assert max(laws.model_choice(flat["n"], flat["t_star"], n_boot=40).values()) < 0.95


def test_paired_change_is_paired_over_seeds():
    rows = [{"n": n, "seed": s, "t_star": base + s * 100 + (7 if n == 200 else 0)}
            for n, base in [(100, 10.0), (200, 10.0)] for s in range(5)]
    ts = pd.DataFrame(rows)
    got = paired.paired_change(ts, 100, 200)
    # seed-to-seed spread is 100s of steps, yet every seed rises by exactly 7: a paired test sees it
    assert got["mean"] == pytest.approx(7) and got["up"] == 5 and got["down"] == 0
    # every seed moves by the same amount: a change (issue 33), not 'no spread to test'
    assert got["p_value"] == 0.0 and got["ci_lo"] == got["ci_hi"] == pytest.approx(7)
    assert paired.change_rises(got)
    jitter = np.tile([3.0, -4.0, 5.0, -6.0, 2.0], 2) * (ts["n"] == 200)
    noisy = ts.assign(t_star=ts["t_star"] + jitter)
    got = paired.paired_change(noisy, 100, 200)
    assert got["ci_lo"] < got["mean"] < got["ci_hi"] and 0 < got["p_value"] < 1
    steps = paired.paired_steps(pd.concat([noisy, noisy[noisy["n"] == 200].assign(n=400)]))
    assert list(zip(steps["n_from"], steps["n_to"])) == [(100, 200), (200, 400)]
    assert steps["mean"].iloc[1] == pytest.approx(0)


def test_summed_thresholds_use_n_times_the_mean_loss():
    frame = _frame({("mean_field", 100, 0): [1.0, 0.5, 0.2, 0.1], ("mean_field", 1000, 0): [1.0, 0.5, 0.2, 0.1]})
    ts = thresholds.summed_thresholds(frame, 20.0)
    # N = 100: summed loss 100, 50, 20, 10 -> reaches 20 at t = 100; N = 1000: never below 100
    assert ts.set_index("n")["t_star"][100] == pytest.approx(100)
    assert not ts.set_index("n")["reached"][1000] and ts.set_index("n")["best"][1000] == pytest.approx(100)


def test_value_at_and_gap_at_the_threshold():
    assert thresholds.value_at(T, [0.0, 0.5, 0.8, 0.9], 100) == pytest.approx(0.8)
    mid = math.sqrt(11 * 101) - 1  # half-way between t = 10 and t = 100 in log(1 + t)
    assert thresholds.value_at(T, [0.0, 0.5, 0.8, 0.9], mid) == pytest.approx(0.65)
    assert math.isnan(thresholds.value_at(T, LOSS, math.nan))
    frame = _frame({("mean_field", 100, 0): LOSS})
    test = frame.assign(split="test", accuracy=frame["accuracy"] - 0.1)
    ts = pd.DataFrame([{"n": 100, "seed": 0, "t_star": 100.0}])
    got = thresholds.at_threshold(pd.concat([frame, test]), ts, method="greedy")
    assert got["train"].iloc[0] == pytest.approx(0.8) and got["gap"].iloc[0] == pytest.approx(0.1)


def test_interpolation_error_is_zero_on_a_curve_linear_in_log_t():
    t = [0, 1, 3, 7, 15, 31, 63]
    rows = [{"n": 10, "seed": 0, "t": tt, "method": "greedy", "split": "train", "loss": 1.0,
             "accuracy": math.log1p(tt) / math.log(64)} for tt in t]
    err = thresholds.interpolation_error(pd.DataFrame(rows), rule="reaches", metric="accuracy", level=0.55)
    assert err["abs_diff"].iloc[0] == pytest.approx(0.0, abs=1e-9)


def test_power_law_fit_recovers_exponent():
    x = np.array([10, 20, 40, 80])
    fit = laws.fit_power_law(x, 3.0 * x ** -0.5)
    assert fit["exponent"] == pytest.approx(-0.5)
    assert fit["coefficient"] == pytest.approx(3.0)
    with pytest.raises(ParameterError):
        laws.fit_power_law([5, 5], [1, 2])


def test_inverse_k_fit():
    k = np.array([1, 2, 4, 8, 16])
    fit = laws.fit_inverse_k(k, 5.0 / k)
    assert fit["C"] == pytest.approx(5.0) and fit["C_envelope"] == pytest.approx(5.0)
    assert fit["exponent"] == pytest.approx(-1.0)
    fast = laws.fit_inverse_k(k, 8.0 / k ** 2)
    assert fast["C_envelope"] == pytest.approx(8.0) and fast["C"] < 8.0  # 1/k^2 decays below C/k


# --------------------------------------------------------------------------------------------------
# Too little data gives a documented "undefined", never an exception (issue 21: a level no arm reaches)


def test_fit_table_on_no_threshold_and_on_one_size():
    empty = _synthetic(lambda n: 100 + 0 * n).iloc[:0]
    table = laws.fit_table(empty, n_boot=10, by="regime")
    assert list(table.columns) == ["regime", *laws.FIT_COLUMNS] and table.empty
    never = _synthetic(lambda n: 100 + 0 * n).assign(t_star=np.nan)  # no unit meets the rule
    table = laws.fit_table(never, n_boot=10)
    assert list(table["model"]) == list(laws.MODELS) and not table["fit_ok"].any()
    assert table[["b", "b_lo", "aic", "loso_rmse"]].isna().all().all() and (table["points"] == 0).all()
    assert not table["best_loso"].any()
    one = _synthetic(lambda n: 100 + 0 * n)
    one = one[one["n"] == SIZES[0]]
    assert not laws.fit_table(one, n_boot=10)["fit_ok"].any()


def test_bootstrap_is_undefined_when_a_size_has_one_point():
    ts = _synthetic(lambda n: 100 + 300 * np.log(n), seeds=1)
    ci = laws.bootstrap(ts["n"], ts["t_star"], ts["seed"], "log", n_boot=20, at=[32000])
    assert all(math.isnan(ci[k]) for k in ("a_lo", "a_hi", "b_lo", "b_hi", "failed"))
    assert np.isnan(ci["pred_lo"]).all()
    # a fit on one seed per size still has a slope, but its table row has no interval
    row = laws.fit_table(ts, n_boot=20).set_index("model").loc["log"]
    assert math.isfinite(row["b"]) and math.isnan(row["b_lo"])


def test_model_choice_and_out_of_sample_need_three_sizes():
    ts = _synthetic(lambda n: 100 + 300 * np.log(n))
    two = ts[ts["n"].isin(SIZES[:2])]
    assert all(math.isnan(v) for v in laws.model_choice(two["n"], two["t_star"], n_boot=5).values())
    assert all(math.isnan(v) for v in laws.model_choice([], [], n_boot=5).values())
    assert all(math.isnan(v) for v in laws.out_of_sample(two, "log").values())


def test_paired_steps_keeps_its_columns_with_one_size():
    ts = _synthetic(lambda n: 100 + 0 * n)
    steps = paired.paired_steps(ts[ts["n"] == SIZES[0]])
    assert steps.empty and list(steps.columns) == paired.PAIRED_COLUMNS


def test_ratio_change_is_the_paired_growth_factor():
    rows = [{"n": n, "seed": s, "t_star": base * (1 + s / 10) + (j if n == 200 else 0)}
            for n, base in [(100, 100.0), (200, 200.0)] for s, j in zip(range(4), [3.0, -2.0, 1.0, -4.0])]
    ts = pd.DataFrame(rows)
    got = paired.ratio_change(ts, 100, 200)
    a, b = ts[ts["n"] == 100]["t_star"], ts[ts["n"] == 200]["t_star"]
    assert got["ratio"] == pytest.approx(b.mean() / a.mean()) and got["seeds"] == 4
    change = paired.paired_change(ts, 100, 200)
    assert got["lo"] == pytest.approx(1 + change["ci_lo"] / a.mean()) and got["lo"] < got["ratio"] < got["hi"]
    one = paired.ratio_change(ts[ts["seed"] == 0], 100, 200)
    assert math.isfinite(one["ratio"]) and math.isnan(one["lo"]) and math.isnan(one["hi"])
    zero = paired.ratio_change(ts.assign(t_star=np.where(ts["n"] == 100, 0.0, ts["t_star"])), 100, 200)
    assert math.isnan(zero["ratio"])
    never = paired.ratio_change(ts.assign(t_star=np.nan), 100, 200)
    assert never["seeds"] == 0 and math.isnan(never["ratio"])


def test_saturating_law_recovers_a_known_ceiling_and_wins_on_a_plateau():
    # T* = 450 - 4000 N^(-0.6): a ceiling of 450 steps, reached within noise by N = 50,000
    sizes = [500, 1000, 2000, 4000, 8000, 16000, 32000, 50000]
    ts = _synthetic(lambda n: 450 - 4000 * np.power(n, -0.6), seeds=5, noise=3.0, sizes=sizes)
    a, b, c = laws.fit(ts["n"], ts["t_star"], "saturating")
    assert a == pytest.approx(450, abs=15) and c == pytest.approx(0.6, abs=0.15) and b > 0
    errs = {m: laws.loso_rmse(ts["n"], ts["t_star"], m) for m in laws.MODELS}
    assert min(errs, key=errs.get) == "saturating", errs
    assert laws.model_choice(ts["n"], ts["t_star"], n_boot=20)["saturating"] >= 0.9
    # a pure logarithm has no ceiling: the saturating law fitted to it puts its ceiling far above the data
    log = _synthetic(lambda n: 100 + 50 * np.log(n), seeds=5, noise=3.0, sizes=sizes)
    assert laws.fit(log["n"], log["t_star"], "saturating")[0] > 1.5 * log["t_star"].max()
    # three parameters: no LOSO with three sizes, no AIC with three sizes
    three = ts[ts["n"].isin(sizes[:3])]
    assert math.isnan(laws.loso_rmse(three["n"], three["t_star"], "saturating"))
    assert math.isnan(laws.aic(three["n"], three["t_star"], "saturating",
                                   *laws.fit(three["n"], three["t_star"], "saturating")))


def _ts(rows):
    return pd.DataFrame(rows, columns=["n", "seed", "t_star"])


def test_a_censored_unit_stays_in_the_paired_test_as_a_known_sign():
    # five seeds: three rise by a measured amount, two are censored at the larger size (beyond the
    # run): dropping them leaves 3 differences; keeping them gives 5 known rises -> sign test p = 1/32
    ts = _ts([(100, s, 10.0) for s in range(5)] + [(200, 0, 20.0), (200, 1, 25.0), (200, 2, 30.0),
                                                   (200, 3, math.nan), (200, 4, math.nan)])
    c = paired.paired_change(ts, 100, 200)
    assert c["test"] == "sign" and c["censored"] == 2 and c["up"] == 5 and c["down"] == 0
    assert c["p_up"] == pytest.approx(1 / 32) and paired.change_rises(c)
    assert c["seeds"] == 3 and c["mean"] == pytest.approx(15.0)  # the mean is of the measured ones
    # censored at the smaller size only: a known fall
    c = paired.paired_change(ts, 200, 100)
    assert c["down"] == 5 and paired.change_falls(c) and not paired.change_rises(c)


def test_sign_test_needs_five_informative_seeds_for_one_sided_five_percent():
    assert paired.sign_test(4, 0)[0] == pytest.approx(1 / 16)
    assert paired.sign_test(5, 0)[0] == pytest.approx(1 / 32)
    assert math.isnan(paired.sign_test(2, 0)[0])


def test_a_unanimous_rise_is_a_rise_and_rises_are_one_sided():
    # every seed rises by the same 8 steps: no spread, still a change
    ts = _ts([(100, s, 10.0 + s) for s in range(3)] + [(200, s, 18.0 + s) for s in range(3)])
    c = paired.paired_change(ts, 100, 200)
    assert c["test"] == "t" and c["p_up"] == 0.0 and paired.change_rises(c)
    # a rise whose two-sided p is between 0.05 and 0.10 is a one-sided rise at 5%
    ts = _ts([(100, s, 10.0) for s in range(4)] + [(200, 0, 12.0), (200, 1, 11.0), (200, 2, 13.0), (200, 3, 10.5)])
    c = paired.paired_change(ts, 100, 200)
    assert 0.05 < c["p_value"] < 0.10 and c["p_up"] == pytest.approx(c["p_value"] / 2)
    assert paired.change_rises(c) and not paired.change_falls(c)


def test_both_censored_gives_no_sign_and_too_few_signs_no_test():
    ts = _ts([(100, 0, math.nan), (100, 1, math.nan), (100, 2, 5.0),
              (200, 0, math.nan), (200, 1, math.nan), (200, 2, 9.0)])
    c = paired.paired_change(ts, 100, 200)
    assert c["up"] == 1 and c["censored"] == 0 and not paired.change_tested(c)
