"""companion.chapters.finetune's analysis, words and summary (chapter 4) on synthetic frames with exactly the
engine's columns, whose t_enough is known: A_ft(t) = ceiling - b exp(-t / tau(N, seed)) + a seed offset."""
import math

import numpy as np
import pandas as pd
import pytest

from companion.chapters.finetune import analysis as fa, prose, summary
from companion.validate import ParameterError

GRID = [0] + sorted({int(round(x)) for x in np.geomspace(2, 320, 40)})  # a geometric grid, as the engine's
SIZES = [250, 500, 1000, 2000, 4000]
SEEDS = [0, 1, 2, 3, 4]
BATCH = 32
DENSE_FLOPS = 1000


def tau(n, seed):
    """Grows like log N, with a per-seed spread (so paired tests have something to test)."""
    return 4.0 * math.log(n / 100) * (1 + 0.15 * seed)


def curve(t, n, seed, budget, offset=0.0):
    b = 0.3 if budget else 0.6
    return 0.95 - b * math.exp(-t / tau(n, seed)) + 0.001 * seed + offset


def expected_t_enough(n, seed, budget, delta, grid=GRID):
    """The chapter's rule by hand: the first t from which no value falls more than delta below the
    mean of the last two."""
    vals = [curve(t, n, seed, budget) for t in grid]
    ref = (vals[-1] + vals[-2]) / 2
    for i, t in enumerate(grid):
        if all(v >= ref - delta - 1e-9 for v in vals[i:]):
            return t if i < len(grid) - 1 else math.nan
    return math.nan


def synthetic(arm="mlp", sizes=SIZES, seeds=SEEDS, grid=GRID, ratios=(0.25, 0.5), budgets=(0, 20, 100),
              methods=("greedy", "random", "magnitude", "greedy_sampled", "greedy_local"), acc=curve):
    rows = []

    def add(n, seed, t, method, ratio, budget, a, steps, train_flops, params, flops):
        for split, shift in (("heldout", 0.0), ("test", -0.01)):
            rows.append({"arm": arm, "n": n, "seed": seed, "t": t, "method": method, "ratio": ratio,
                         "budget": budget, "split": split, "loss": 1 - a, "accuracy": a + shift, "steps": steps,
                         "train_flops": float(train_flops), "params": params, "flops": flops})

    offsets = {"greedy": 0.0, "random": -0.02, "magnitude": -0.01, "greedy_sampled": -0.005, "greedy_local": 0.0,
               "scratch": -0.03, "scratch_flops": -0.025, "dense_cost": 0.01}
    for n in sizes:
        for seed in seeds:
            for t in grid:
                add(n, seed, t, "dense", 1.0, 0, acc(t, n, seed, 0, 0.02), t, 3 * DENSE_FLOPS * BATCH * t,
                    10_000, DENSE_FLOPS)
                for ratio in ratios:
                    sub = int(ratio * DENSE_FLOPS)
                    for budget in budgets:
                        cost = 3 * DENSE_FLOPS * BATCH * t + 3 * sub * BATCH * budget
                        for m in methods:
                            add(n, seed, t, m, ratio, budget, acc(t, n, seed, budget, offsets[m]), t + budget,
                                cost, int(ratio * 10_000), sub)
                        if budget:
                            for m in ("scratch", "scratch_flops", "dense_cost"):
                                add(n, seed, t, m, ratio, budget, acc(t, n, seed, budget, offsets[m]), t + budget,
                                    cost, 10_000 if m == "dense_cost" else int(ratio * 10_000),
                                    DENSE_FLOPS if m == "dense_cost" else sub)
    return pd.DataFrame(rows)


class Params:
    delta = 0.005
    deltas = (0.0025, 0.005, 0.01, 0.02)
    n_boot = 20
    batch_size = BATCH


def frames(small=False, **kw):
    if small:  # one ratio, fewer methods: the robustness cases
        kw = {"ratios": (0.25,), "methods": ("greedy", "random"), **kw}
        return {arm: synthetic(arm, **kw) for arm in ("two_layer", "mlp", "cnn")}
    return {"two_layer": synthetic("two_layer", ratios=(0.125, 0.25), **kw), "mlp": synthetic("mlp", **kw),
            "cnn": synthetic("cnn", sizes=SIZES[:3], seeds=SEEDS[:3], ratios=(0.5,),
                             methods=("greedy", "random", "magnitude"))}


def _no_nan(numbers):
    bad = {k: v for k, v in numbers.items() if isinstance(v, float) and not math.isfinite(v)}
    assert not bad, bad
    assert not any("nan" in v.lower().split() for v in numbers.values() if isinstance(v, str))


# --------------------------------------------------------------------------------------------------
# t_enough of one curve


def test_curve_monotone_known_answer():
    t = [0, 1, 2, 4, 8]
    assert fa.t_enough_curve(t, [0.5, 0.8, 0.897, 0.899, 0.9], 0.005) == (2.0, fa.STATUS_MET)
    assert fa.t_enough_curve(t, [0.9] * 5, 0.005) == (0.0, fa.STATUS_MET)


def test_curve_that_dips_out_after_entering_counts_from_the_reentry():
    t = [0, 10, 20, 40, 80, 160]
    #       out  in    in    OUT   in    ref (the mean of the last two: 0.8995)
    acc = [0.5, 0.898, 0.9, 0.85, 0.899, 0.9]
    assert fa.t_enough_curve(t, acc, 0.005) == (80.0, fa.STATUS_MET)


def test_a_flat_curve_above_its_reference_has_had_enough_at_once():
    # pre-training hurts: every early value is above the reference. One-sided (the chapter's rule)
    # that is enough at t = 0; the two-sided rule against the last value alone calls it censored.
    t = [0, 10, 20, 40, 80, 160]
    acc = [0.95, 0.95, 0.95, 0.95, 0.95, 0.9]
    assert fa.t_enough_curve(t, acc, 0.005, reference="last") == (0.0, fa.STATUS_MET)
    assert fa.t_enough_curve(t, acc, 0.005, side="both", reference="last")[1] == fa.STATUS_NEVER
    # against the mean of the last two (0.925), the last value itself falls short: censored, never NaN
    assert fa.t_enough_curve(t, acc, 0.005)[1] == fa.STATUS_NEVER


def test_the_reference_is_the_mean_of_the_last_two_values():
    t = [0, 10, 20, 40]
    # a low last value (0.887) would make t = 0 enough against itself; the mean 0.891 does not
    acc = [0.883, 0.884, 0.895, 0.887]
    assert fa.reference_value(acc) == pytest.approx(0.891)
    assert fa.t_enough_curve(t, acc, 0.005, reference="last") == (0.0, fa.STATUS_MET)
    assert fa.t_enough_curve(t, acc, 0.005) == (20.0, fa.STATUS_MET)


def test_curve_exactly_delta_away_is_within():
    # 0.905 - 0.9 is 0.005000000000000004 in binary: still within 0.005
    assert fa.t_enough_curve([0, 1, 2], [0.5, 0.905, 0.9], 0.005, side="both", reference="last") == (
        1.0, fa.STATUS_MET)
    assert fa.t_enough_curve([0, 1, 2], [0.5, 0.895, 0.9], 0.005, reference="last") == (1.0, fa.STATUS_MET)


def test_curve_censored_cases():
    assert fa.t_enough_curve([0, 1, 2], [0.5, 0.6, 0.9], 0.005) == (pytest.approx(math.nan, nan_ok=True),
                                                                   fa.STATUS_NEVER)
    te, status = fa.t_enough_curve([0], [0.9], 0.005)
    assert math.isnan(te) and status == fa.STATUS_SHORT
    te, status = fa.t_enough_curve([0, 1], [0.9, float("nan")], 0.005)
    assert math.isnan(te) and status == fa.STATUS_MISSING
    # unsorted input is sorted by t; a NaN before the end is never within (and a NaN among the last
    # two leaves no reference)
    te, status = fa.t_enough_curve([2, 0, 1], [0.9, 0.9, float("nan")], 0.005, reference="last")
    assert math.isnan(te) and status == fa.STATUS_NEVER
    te, status = fa.t_enough_curve([2, 0, 1], [0.9, 0.9, float("nan")], 0.005)
    assert math.isnan(te) and status == fa.STATUS_MISSING


def test_bad_delta_and_side_are_refused():
    with pytest.raises(ParameterError, match="delta"):
        fa.t_enough_curve([0, 1], [0.5, 0.5], -0.1)
    with pytest.raises(ParameterError, match="side"):
        fa.t_enough_curve([0, 1], [0.5, 0.5], 0.1, side="above")


def test_frame_without_a_column_is_refused():
    with pytest.raises(ParameterError, match="train_flops"):
        fa.t_enough(synthetic().drop(columns="train_flops"), 0.005)
    with pytest.raises(ParameterError, match="DataFrame"):
        fa.t_enough([1, 2], 0.005)


# --------------------------------------------------------------------------------------------------
# t_enough of a frame


@pytest.mark.parametrize("delta", [0.0025, 0.005, 0.02])
def test_t_enough_on_the_synthetic_frame_has_the_known_answer(delta):
    te = fa.t_enough(synthetic(), delta, methods=["greedy"])
    assert len(te) == len(SIZES) * len(SEEDS) * 2 * 3
    for r in te.itertuples():
        want = expected_t_enough(r.n, r.seed, r.budget, delta)
        if math.isnan(want):
            assert r.censored and math.isnan(r.t_enough)
        else:
            assert r.t_enough == want and not r.censored
            assert r.a_enough == pytest.approx(curve(want, r.n, r.seed, r.budget))
        assert r.t_full == GRID[-1] and r.points == len(GRID)
    # it grows with N (tau grows like log N)
    means = te[(te["budget"] == 100) & (te["ratio"] == 0.25)].groupby("n")["t_enough"].mean()
    assert means.is_monotonic_increasing and means.iloc[-1] > means.iloc[0]


def test_frame_rule_is_the_curve_rule():
    """The vectorised t_enough of a frame against t_enough_curve on random curves (with NaN, ties and
    curves of one point)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(60):
        k = int(rng.integers(1, 8))
        ts = np.sort(rng.choice(50, size=k, replace=False))
        acc = np.round(0.9 + rng.choice([-0.01, -0.004, 0, 0.003, 0.006], size=k), 3)
        if rng.random() < 0.2:
            acc[rng.integers(k)] = np.nan
        for t, a in zip(ts, acc):
            rows.append({"arm": "mlp", "n": 100, "seed": seed, "t": int(t), "method": "greedy", "ratio": 0.5,
                         "budget": 10, "split": "heldout", "loss": 0.0, "accuracy": a, "steps": 0,
                         "train_flops": 0.0, "params": 1, "flops": 1})
    frame = pd.DataFrame(rows)
    for side in ("both", "below"):
        te = fa.t_enough(frame, 0.005, side=side)
        for seed, g in frame.groupby("seed"):
            want = fa.t_enough_curve(g["t"], g["accuracy"], 0.005, side)
            got = te[te["seed"] == seed].iloc[0]
            assert got["status"] == want[1], (seed, side)
            assert (math.isnan(want[0]) and math.isnan(got["t_enough"])) or got["t_enough"] == want[0]


def test_dense_rows_beyond_t_full_do_not_move_the_reference():
    f = synthetic(sizes=[500], seeds=[0], methods=("greedy",), budgets=(0, 20))
    extra = f[(f["method"] == "dense") & (f["t"] == GRID[-1])].assign(t=GRID[-1] * 4, accuracy=0.2)
    te = fa.t_enough(pd.concat([f, extra]), 0.005, methods=["dense"])
    assert te["t_full"].iloc[0] == GRID[-1]


# --------------------------------------------------------------------------------------------------
# Controls, the practitioner's table


def test_contrast_greedy_minus_random_is_the_offset():
    c = fa.contrast(synthetic(), "greedy", "random")
    assert np.allclose(c["mean"], 0.02)
    assert (c["seeds"] == len(SEEDS)).all()
    # every seed differs by the same amount: a change (issue 33), its interval that amount, p 0
    assert (c["p_value"] == 0).all() and np.allclose(c["ci_lo"], 0.02) and np.allclose(c["ci_hi"], 0.02)
    two = fa.contrast(synthetic(seeds=SEEDS[:2]), "greedy", "random")
    assert two["p_value"].isna().all()  # no paired test on fewer than three seeds
    words = prose.contrast_words(two[(two["n"] == 4000) & (two["budget"] == 100) & (two["ratio"] == 0.25)],
                                 "greedy", "random")
    assert "+2.0 pp" in words and "no pre-training length can be tested" in words


def test_contrast_with_spread_is_tested():
    f = synthetic(sizes=[500], methods=("greedy", "random"), budgets=(0, 20))
    noise = np.random.default_rng(0).normal(0, 0.004, len(f))
    f = f.assign(accuracy=np.where(f["method"] == "random", f["accuracy"] + noise, f["accuracy"]))
    c = fa.contrast(f, "greedy", "random")
    assert c["p_value"].notna().all() and (c["ci_lo"] < c["mean"]).all() and (c["mean"] < c["ci_hi"]).all()
    assert (c["p_value"] < 0.05).mean() > 0.5   # +2 pp against 0.4 pp noise over 5 seeds


def test_practitioner_table_numbers():
    f = synthetic(sizes=[1000], seeds=[0, 1], methods=("greedy",), budgets=(0, 100), ratios=(0.25,))
    te = fa.t_enough(f, 0.005, methods=["greedy"])
    table = fa.practitioner_table(f, te, batch=BATCH)
    row = table[table["budget"] == 100].iloc[0]
    tes = [expected_t_enough(1000, s, 100, 0.005) for s in (0, 1)]
    assert row["t_enough"] == np.mean(tes)
    assert row["epochs"] == pytest.approx(np.mean(tes) * BATCH / 1000)
    assert row["pct_full"] == pytest.approx(100 * np.mean(tes) / GRID[-1])
    sub = 250
    saved = [1 - (3 * DENSE_FLOPS * BATCH * t + 3 * sub * BATCH * 100) / (3 * DENSE_FLOPS * BATCH * GRID[-1]
                                                                           + 3 * sub * BATCH * 100) for t in tes]
    assert row["flops_saved"] == pytest.approx(100 * np.mean(saved))
    assert (row["params"], row["params_dense"], row["flops"], row["flops_dense"]) == (2500, 10_000, 250, 1000)
    assert row["acc_dense_cost"] > row["acc_full"]  # the synthetic dense at equal cost is 1 pp above
    assert fa._batch(None, "mlp", f) == pytest.approx(BATCH)  # recovered from the dense rows' FLOPs


# --------------------------------------------------------------------------------------------------
# The summary: sentences from the data, never NaN


def test_summary_of_the_synthetic_chapter():
    ch3 = pd.DataFrame({"n": np.repeat(SIZES, 3), "seed": np.tile([0, 1, 2], len(SIZES)),
                        "t_star": [100.0] * (3 * len(SIZES)), "reached": True})
    # flat: per-seed changes of both signs, none significant
    ch3["t_star"] += np.array([[0, 1, 0, 1, 0], [0, -1, 0, -1, 0], [0, 0.5, 0.2, -0.3, 0.1]]).T.ravel()
    s = summary.summarize(frames(), Params(), chapter3=ch3)
    n = s.numbers
    _no_nan(n)
    assert n["ch4_delta_pp"] == 0.5
    assert n["ch4_mlp_verdict"].endswith("grows with N up to the largest size measured (N = 4,000)")
    assert n["ch4_two_layer_grows"] and n["ch4_mlp_grows"]
    assert "does not change significantly" in n["ch4_ch3_sentence"]
    assert n["ch4_ch3_verdict"].startswith("differs from chapter 3's T*(N): the practitioner's quantity grows")
    assert "Chapter 3" not in n["ch4_verdict_ch3"][:3]
    assert "+2.0 pp" in n["ch4_mlp_random"]
    assert "greedy with sampled candidates" in n["ch4_variants_sentence"]
    assert "rank the saturating law" in n["ch4_verdict_cannot_long"]  # the CNN has three sizes
    assert isinstance(n["ch4_mlp_saved_largest"], float) and 0 < n["ch4_mlp_saved_largest"] < 100
    sens = s.tables["sensitivity"]
    assert set(sens["delta_pp"]) == {0.25, 0.5, 1.0, 2.0}
    assert set(sens["arm"]) == {"two_layer", "mlp", "cnn"}
    fits = s.tables["fits"]
    assert set(fits["model"]) >= {"log", "linear", "power", "saturating"}
    assert fits["loso_win_share"].notna().any()
    prac = s.tables["practitioner"]
    assert set(prac["arm"]) == {"two_layer", "mlp", "cnn"} and (prac["method"] == "greedy").all()


@pytest.mark.parametrize("case", ["one_size", "one_seed", "all_censored", "no_mlp", "empty_cnn", "nothing"])
def test_summary_is_words_never_nan(case):
    if case == "one_size":
        fr = frames(True, sizes=[500])
    elif case == "one_seed":
        fr = frames(True, seeds=[0])
    elif case == "all_censored":
        # an accuracy that jumps at the last checkpoint: within delta only at T_full
        fr = frames(True, acc=lambda t, n, seed, budget, offset=0.0: 0.5 + (0.4 if t == GRID[-1] else 0.0) + offset)
    elif case == "no_mlp":
        fr = {k: v for k, v in frames(True).items() if k != "mlp"}
    elif case == "empty_cnn":
        fr = frames(True)
        fr["cnn"] = fr["cnn"].iloc[:0]
    else:
        fr = {}
    s = summary.summarize(fr, Params(), chapter3=False)
    n = s.numbers
    _no_nan(n)
    if case == "one_size":
        assert "one size only" in n["ch4_mlp_verdict"]
        assert "cannot be compared" in n["ch4_mlp_laws"]
    if case == "one_seed":
        assert "cannot be tested" in n["ch4_mlp_verdict"] and "only one seed" in n["ch4_mlp_verdict"]
        assert "one seed" in n["ch4_mlp_random"]
        # an untestable change is not "too small to detect"
        assert "on the deep MLP at all (too few seeds" in n["ch4_verdict_cannot_long"]
        assert "on the deep MLP by an amount too small" not in n["ch4_verdict_cannot_long"]
    if case == "all_censored":
        assert "defined at no size" in n["ch4_mlp_verdict"]
        assert n["ch4_mlp_coverage"].startswith("Censored") and "only at T_full" in n["ch4_mlp_coverage"]
        assert n["ch4_mlp_pct_largest"] == fa.UNDEFINED
        assert "undefined (censored)" in n["ch4_mlp_worth"]
    if case == "no_mlp":
        assert n["ch4_mlp_verdict"] == "the deep MLP arm has no rows for these settings"
        assert "cannot be compared" in n["ch4_variants_sentence"]
    if case == "empty_cnn":
        assert "fewer than two of them" in n["ch4_variants_sentence"]  # the small MLP has greedy only
    if case == "empty_cnn":
        assert "no data for the residual CNN" in n["ch4_verdict_growth"]
    if case == "nothing":
        assert "cannot be shown" in n["ch4_sens_sentence"]
        assert "cannot be tested" in n["ch4_verdict_worth"]
    assert "left out" in n["ch4_ch3_sentence"]


def test_settings_from_params():
    s = summary.Settings.of(Params())
    assert s.deltas == (0.0025, 0.005, 0.01, 0.02) and s.n_boot == 20
    class Other:
        delta = 0.003
    assert 0.003 in summary.Settings.of(Other()).deltas  # the chapter's delta is always in the table
    assert summary.Settings.of(None).delta == fa.DELTA


# --------------------------------------------------------------------------------------------------
# The interactive view


def test_explorer_spec_is_deterministic_and_marks_t_enough():
    import json

    from companion.chapters.finetune import explorer as ef

    fr = frames(True, sizes=[250, 1000], seeds=[0, 1])
    a = ef.show(fr, **summary.explorer_settings(Params()), name="ch4")
    b = ef.show(fr, **summary.explorer_settings(Params()), name="ch4")
    assert a.html == b.html and 'id="finetune-explorer-ch4"' in a.html
    assert 'class="threshold-explorer finetune-explorer"' in a.html and "data-companion-plotly" in a.html
    # the initial setting: the arm asked for, greedy, the smallest ratio, the longest budget, delta 0.5 pp
    assert a.spec["initial"] == {"arm": "two_layer", "method": "greedy", "ratio": "0.25", "budget": "100",
                                 "delta": "0.005"}
    mark = a.spec["settings"]["mlp|greedy|0.25|100"]["marks"]["0.005"]
    want = [np.mean([expected_t_enough(n, s, 100, 0.005) for s in (0, 1)]) + 1 for n in (250, 1000)]
    assert mark["n"] == [250, 1000] and mark["t"] == pytest.approx(want)
    assert "t_enough (δ = 0.5 pp)" in mark["summary"]
    json.dumps(a.spec, allow_nan=False)  # no NaN anywhere in the page's data
    with pytest.raises(ParameterError, match="initial"):
        ef.show(fr, initial={"colour": "red"})
    with pytest.raises(ParameterError, match="no rows"):
        ef.show({"mlp": fr["mlp"].iloc[:0]})


def test_explorer_censored_sizes_are_said():
    from companion.chapters.finetune import explorer as ef

    fr = frames(True, sizes=[250], seeds=[0],
                acc=lambda t, n, seed, budget, offset=0.0: 0.5 + (0.4 if t == GRID[-1] else 0.0) + offset)
    spec = ef.show(fr).spec
    mark = spec["settings"]["cnn|greedy|0.25|100"]["marks"]["0.005"]
    assert mark["n"] == [] and "censored at N = 250" in mark["summary"]


# --------------------------------------------------------------------------------------------------
# Convergence: less than delta per doubling over the last interval


def test_per_doubling_known_answers():
    assert fa.per_doubling(1024, 0.950, 2048, 0.955) == pytest.approx(0.005)
    assert fa.per_doubling(512, 0.950, 2048, 0.960) == pytest.approx(0.005)  # two doublings
    assert fa.per_doubling(100, 0.9, 300, 0.9) == 0.0
    with pytest.raises(ValueError, match="0 < t0 < t1"):
        fa.per_doubling(0, 0.1, 64, 0.9)


def test_converged_words_decides_on_the_last_interval_per_doubling():
    slow = prose.converged_words(pd.Series({0: 0.1, 256: 0.90, 1024: 0.96, 2048: 0.964}), 0.005, "fine-tuning")
    assert slow["converged"] is True and slow["per_doubling"] == pytest.approx(0.004)
    assert "+0.4 pp from 1,024 to 2,048 fine-tuning steps, +0.40 pp per doubling: converged" in slow["words"]
    # the same +1.2 pp over a coarse interval (4x) is 0.6 pp per doubling: not converged
    coarse = prose.converged_words(pd.Series({0: 0.1, 512: 0.948, 2048: 0.960}), 0.005, "pre-training")
    assert coarse["converged"] is False and "not converged" in coarse["words"]
    # t = 0 does not count as an interval's start (no doubling from zero)
    none = prose.converged_words(pd.Series({0: 0.1, 64: 0.9}), 0.005, "fine-tuning")
    assert none["converged"] is None and "cannot be checked" in none["words"]


def test_summary_says_whether_the_dense_network_and_the_long_budget_converged():
    s = summary.summarize(frames(), Params(), chapter3=False)
    n = s.numbers
    assert n["ch4_mlp_dense_converged"] is True and "converged by the chapter's criterion" in n["ch4_mlp_convergence"]
    assert n["ch4_mlp_long_converged"] is True and "from 20 to 100 fine-tuning steps" in n["ch4_mlp_long_convergence"]
    assert "pruned at t = 0 to converge" not in n["ch4_verdict_cannot_long"]
    assert "grows on the deep MLP at all" not in n["ch4_verdict_cannot_long"]
    # fine-tuning that still gains 1 pp per doubling at t = 0: the long budget is said to be too short
    rising = lambda t, n, seed, budget, offset=0.0: curve(t, n, seed, budget, offset) + (
        0.01 * math.log2(budget) if budget and t == 0 else 0.0)
    n = summary.summarize(frames(acc=rising), Params(), chapter3=False).numbers
    _no_nan(n)
    assert n["ch4_mlp_long_converged"] is False
    assert "not long enough for it to converge" in n["ch4_mlp_long_convergence"]
    assert "the deep MLP's t_enough goes when fine-tuning is long enough" in n["ch4_verdict_cannot_long"]
