"""Chapter 4's verdicts on constructed data (issue 33): the arm's tolerance from its measured noise,
corrected families, the step check of the scratch control (a planted confound is caught), a censored
unit kept in the growth test, the early-bird signal, and the reference run agreeing with the main unit."""
import importlib
import math

import numpy as np
import pandas as pd
import pytest

from companion import chapters, presets
from companion.chapters.finetune import analysis as fa
from companion.chapters.finetune import reference as fr
from companion.prune import early_bird as eb
from companion.stats import paired, verdicts
from companion.validate import ParameterError

fx = importlib.import_module("companion.chapters.finetune.experiments")  # the package exports a function of that name


def _rows(method, n, seed, t, acc, ratio=0.25, budget=100):
    return {"arm": "mlp", "n": n, "seed": seed, "t": t, "method": method, "ratio": ratio, "budget": budget,
            "split": "heldout", "loss": 1 - acc, "accuracy": acc, "steps": t + budget, "train_flops": 1.0 + t,
            "params": 10, "flops": 10}


def _frame(rows):
    return pd.DataFrame(rows, columns=list(fa.COLUMNS))


def test_the_tolerance_is_never_below_twice_the_measured_noise():
    rng = np.random.default_rng(0)
    rows = []
    for n in (100, 200):
        for seed in range(6):
            for t, base in ((0, 0.80), (50, 0.90), (100, 0.90)):
                rows.append(_rows("greedy", n, seed, t, base + (0.01 * rng.standard_normal() if t else 0)))
    f = _frame(rows)
    noise = fa.noise_floor(f, 0.25, 100)
    w = f[f["t"].isin([50, 100])].pivot_table(index=["n", "seed"], columns="t", values="accuracy")
    d = w[100] - w[50]
    expected = math.sqrt(np.mean([d.loc[n].std(ddof=1) ** 2 for n in (100, 200)]))
    assert noise["sd"] == pytest.approx(expected)
    delta = fa.arm_delta(0.005, noise["sd"])
    assert delta >= 2 * noise["sd"] and delta - 2 * noise["sd"] < fa.DELTA_STEP + 1e-12
    assert fa.arm_delta(0.005, 0.001) == 0.005  # quiet data keep the chapter's delta
    assert fa.arm_delta(0.005, math.nan) == 0.005


def test_a_family_is_holm_corrected_and_named_by_its_verdicts():
    c = pd.DataFrame({"t": [0, 1, 2, 3], "mean": [0.01, -0.01, 0.02, 0.0],
                      "p_value": [0.01, 0.02, 0.03, math.nan], "n": 1})
    fam = fa.family(c)
    # Holm over the three tested: 0.03, 0.04, 0.04 (the step-down keeps the running maximum)
    assert list(fam["p_holm"].round(6)[:3]) == [0.03, 0.04, 0.04] and math.isnan(fam["p_holm"].iloc[3])
    assert list(fam["verdict"]) == ["better", "worse", "better", "untested"]
    assert fa.family_counts(fam) == {"better": 2, "worse": 1, "same": 0, "untested": 1, "tested": 3}
    assert fa.better_from(fam.iloc[:3]) == 2.0  # t = 1 is worse: better from t = 2 on


def _t0_frame(shift):
    """Random pruning at t = 0 and scratch training, 5 seeds at 3 sizes: the same small networks, with
    ``shift`` added to scratch (a control trained at another step) and seed noise on both."""
    rng = np.random.default_rng(1)
    rows = []
    for n in (100, 200, 400):
        for seed in range(5):
            base = 0.9 + 0.01 * rng.standard_normal()
            rows.append(_rows("random", n, seed, 0, base + 0.002 * rng.standard_normal()))
            rows.append(_rows("scratch", n, seed, 0, base + shift + 0.002 * rng.standard_normal()))
    return _frame(rows)


def test_a_planted_step_confound_between_control_and_pipeline_is_caught():
    fair = fa.step_confound(_t0_frame(0.0), 0.25, 100)
    assert len(fair) == 3 and set(fair["verdict"]) == {"no difference"}
    confounded = fa.step_confound(_t0_frame(-0.012), 0.25, 100)  # scratch 1.2 pp lower: another step
    assert set(confounded["verdict"]) == {"better"}


def test_the_experiment_trains_scratch_at_the_fine_tuning_step():
    p, _ = chapters.check("04_finetune", {**presets.load("04_finetune", "quick"), "progress": False})
    two = fx.FinetuneArm.of(p, "two_layer").unit_config((250, 0))
    assert two["lr"] != two["finetune_lr"] and two["scratch_lr"] == two["finetune_lr"]
    mlp = fx.FinetuneArm.of(p, "mlp").unit_config((250, 0))
    assert mlp["lr"] == mlp["finetune_lr"] and "scratch_lr" not in mlp  # the same step: its name unchanged


def test_a_censored_unit_at_the_largest_size_counts_as_growth():
    # t_enough at N = 100 for 5 seeds; at N = 400, 3 seeds rise and 2 are censored (beyond the grid):
    # dropping the censored leaves 3 pairs; keeping them gives 5 rises of 5 (sign test p = 1/32)
    ts = pd.DataFrame([(100, s, 10.0 + s) for s in range(5)] + [(400, 0, 30.0), (400, 1, 12.0), (400, 2, 50.0),
                                                                (400, 3, math.nan), (400, 4, math.nan)],
                      columns=["n", "seed", "t_star"])
    g = verdicts.growth(ts)
    assert g.grows and g.rise["test"] == "sign" and g.rise["censored"] == 2


def test_mask_distance_and_the_settle_time_on_a_constructed_run():
    assert eb.mask_distance([1, 2, 3, 4], [4, 3, 2, 1]) == 0.0
    assert eb.mask_distance([1, 2], [3, 4]) == 1.0
    assert eb.mask_distance([[1, 2], [5, 6, 7, 8]], [[1, 3], [5, 6, 7, 8]]) == pytest.approx(0.25)
    with pytest.raises(ParameterError, match="same positive number"):
        eb.mask_distance([1, 2], [1])
    t = [0, 10, 20, 40, 80, 160, 320]
    d = [math.nan, 0.5, 0.3, 0.05, 0.2, 0.04, 0.02]
    assert eb.settle_time(t, d, 0.1, 2) == 320.0  # the dip at 40 alone is not two in a row
    assert eb.settle_time(t, d, 0.1, 1) == 40.0
    assert math.isnan(eb.settle_time(t, d, 0.1, 3))
    selections = [[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3, 5]]
    assert list(eb.distances(selections)[1:]) == [0.25, 0.0]


def test_early_bird_stop_reads_the_first_grid_step_after_the_signal():
    rows = []
    for t, acc in ((0, 0.80), (10, 0.85), (40, 0.89), (160, 0.90), (320, 0.90)):
        rows.append(_rows("greedy", 100, 0, t, acc))
    f = _frame(rows)
    te = fa.t_enough(f, 0.005)
    stop = fa.stop_at_early_bird(f, pd.DataFrame({"arm": ["mlp"], "n": [100], "seed": [0], "t_eb": [20.0]}),
                                 te, 0.25, 100)
    row = stop.iloc[0]
    assert row["t_stop"] == 40 and row["cost"] == pytest.approx(-0.01)
    assert row["saved"] == pytest.approx(1 - 41 / 321) and row["t_enough"] == 160


def test_the_reference_run_reproduces_the_main_unit_at_t_full():
    """The reference run shares the main unit's dense run, greedy pick and fine-tuning batches at
    T_full: its fine-tuned accuracy there is the main unit's (one quick two-layer unit, ~5 s)."""
    p, _ = chapters.check("04_finetune", {**presets.load("04_finetune", "quick"), "progress": False,
                                          "two_layer_sizes": [250], "two_layer_seeds": [0, 1],
                                          "two_layer_ratios": [0.25], "two_layer_budgets": [8]})
    main = fx.FinetuneArm.of(p, "two_layer")
    ref = fr.ReferenceRun.of(p, "two_layer")
    assert ref.checkpoints[-1] == 2 * main.steps and main.steps in ref.checkpoints
    a = fx.compute_unit(main.unit_config((250, 0)))
    b = fr.compute_reference_unit(ref.unit_config((250, 0)))
    at = a[(a["method"] == "greedy") & (a["split"] == "heldout") & (a["t"] == main.steps)
           & (a["ratio"] == ref.ratio) & (a["budget"] == ref.budget)]
    mine = b[(b["quantity"] == "greedy_finetuned") & (b["t"] == main.steps)]
    assert float(mine["value"].iloc[0]) == pytest.approx(float(at["accuracy"].iloc[0]), abs=1e-6)
    dense = b[(b["quantity"] == "dense") & (b["t"] == main.steps)]
    assert float(dense["value"].iloc[0]) == pytest.approx(
        float(a[(a["method"] == "dense") & (a["split"] == "heldout") & (a["t"] == main.steps)]["accuracy"].iloc[0]),
        abs=1e-6)


def test_the_box_says_where_the_mask_settles_when_not_at_the_largest_n():
    """The box's early-bird row reads the largest N; a mask that settles only at smaller N is said so,
    not reported as never settling (the chapter's short line counts every run)."""
    import numpy as np
    import pandas as pd

    from companion.chapters.finetune.verdict_box import early_bird_phrase

    stop = pd.DataFrame({"n": [1000, 1000, 16000, 16000], "t_eb": [600.0, np.nan, np.nan, np.nan],
                         "t_stop": [683.0, 1024.0, 1024.0, 1024.0], "cost": [0.0] * 4, "saved": [0.3, 0, 0, 0]})
    assert early_bird_phrase(stop) == "not at N = 16,000; settles in 1 of 4 runs at smaller N"
    assert early_bird_phrase(stop.assign(t_eb=np.nan)) == "the mask never settles"
    settled = stop.assign(t_eb=[600.0, np.nan, 700.0, 800.0])
    assert early_bird_phrase(settled).startswith("t = 1,024;")
