"""Chapter 2's experiments (companion.experiments.derivation): GD runs, greedy vs k, initial residuals,
the step size written into each unit, and the chapter summary."""
import numpy as np
import pytest

from companion import experiments
from companion.experiments import derivation, engine

QUICK2 = dict(d_high=20, sizes_high=[8, 16], d_low=5, sizes_low=[8, 16], width=64, seeds=[0], eps=1e-2,
              k=16, num_checkpoints=6, step_factor=1.0, horizon=1.2, max_steps=3000,
              residual_sizes=[8, 64], residual_seeds=[0, 1], greedy_size=16, greedy_widths=[16, 64],
              greedy_k_max=64, greedy_seeds=[0], step_rules=["fixed"], mnist_sizes=[20, 40],
              mnist_seeds=[0], mnist_width=64, device="cpu", n_jobs=1, progress=False)


def _frames(tmp_path, **kw):
    params, options = experiments.check("02_derivation", {**QUICK2, "cache_dir": str(tmp_path), **kw})
    return params, derivation.run(params, options)


def test_gd_runs_track_theory(tmp_path):
    p, frames = _frames(tmp_path)
    runs = frames["gd_runs"]
    summary = derivation.run_summary(runs, p.eps)
    assert len(summary) == 6 and set(runs["series"]) == {"dense", "pruned"}
    assert set(summary["dataset"]) == {"sphere", "mnist"} and set(summary["rule"]) == {"fixed"}
    for r in summary.itertuples():
        assert r.t_gd <= r.t_bound + 1                 # the exact threshold is below the simple bound
        assert 0 <= r.t_pruned <= r.steps and r.floor >= 0
    dense = runs[runs.series == "dense"]
    assert (summary["t_pruned"] <= summary["steps"]).all()
    first = dense[dense.t == 0]
    assert np.allclose(first["value"], first["r0"])      # residual at t = 0 is ||y - u(0)||^2
    # t_dense is the first recorded iteration with residual <= eps (every step <= 64 is recorded)
    for _, g in dense.groupby(["dataset", "d", "N", "seed"]):
        t_dense = g["t_dense"].iloc[0]
        if t_dense <= 64:
            assert g[g.value <= p.eps]["t"].min() == t_dense
    # one step for all N in a given dataset, set by the largest N
    assert runs.groupby(["dataset", "d"])["eta"].nunique().eq(1).all()
    eta_high = derivation.step_size("sphere", p.d_high, max(p.sizes_high), p.seeds)
    assert runs[runs.d == p.d_high]["eta"].iloc[0] == eta_high


def test_the_step_is_written_into_each_unit_so_a_grid_change_invalidates_exactly_its_units(tmp_path):
    p, frames = _frames(tmp_path)
    assert frames["gd_sphere5_fixed"].attrs["computed"] == [(8, 0), (16, 0)]
    # a larger N in d_low changes d_low's step: its runs are recomputed, d_high's are reused
    _, more = _frames(tmp_path, sizes_low=[8, 16, 32])
    assert more["gd_sphere5_fixed"].attrs["computed"] == [(8, 0), (16, 0), (32, 0)]
    assert more["gd_sphere20_fixed"].attrs["computed"] == []
    gd = derivation.experiments(p)["gd_sphere20_fixed"]
    assert gd.unit_config((8, 0))["eta"] == gd.etas[8] == gd.etas[16]
    assert "device" not in gd.unit_config((8, 0))


def test_the_per_n_rule_takes_each_sizes_own_step(tmp_path):
    p, _ = experiments.check("02_derivation", {**QUICK2, "cache_dir": str(tmp_path), "step_rules": ["per_n"]})
    gd = derivation.experiments(p)["gd_sphere20_per_n"]
    assert gd.etas[8] == derivation.step_size("sphere", 20, 8, p.seeds)
    assert gd.etas[8] > gd.etas[16]       # lambda_max grows with N, so the stable step shrinks
    fixed = derivation.GdRuns("sphere", 20, (8, 16), "fixed", 64, (0,), 1e-2, 16, 6, 1.0, 1.2, 3000)
    assert gd.etas[16] == fixed.etas[8]   # the largest N sets the fixed step


def test_collapse_fit_and_pruned_threshold_rule():
    fit = derivation.collapse_fit([1.0, 2.0, 4.0], [0.5, 1.0, 2.0])
    assert fit["c"] == pytest.approx(0.5) and fit["rel_rmse"] == pytest.approx(0.0, abs=1e-12)
    # the pruned residual dips below its end value early, then settles: t_pruned is where it settles
    import pandas as pd
    rows = [{"dataset": "sphere", "rule": "fixed", "d": 2, "N": 4, "seed": 0, "series": "pruned", "t": t,
             "k": 1, "value": v / 8, "dense_loss": 0.0, "lambda_0": 0.1, "eta": 1.0, "r0": 6.0,
             "steps": 100, "t_bound": 50.0, "t_gd": 40, "t_dense": 30, "max_ratio": 1.0}
            for t, v in [(0, 5.0), (1, 0.5), (10, 3.0), (30, 1.05), (100, 1.0)]]
    s = derivation.run_summary(pd.DataFrame(rows), eps=0.1).iloc[0]
    assert s["t_pruned"] == 30 and s["pruned_final"] == pytest.approx(1.0)


def test_greedy_vs_k_and_fits(tmp_path):
    _, frames = _frames(tmp_path)
    gk = frames["greedy_vs_k"]
    assert set(gk["stage"]) == {"init", "trained"} and set(gk["width"]) == {16, 64}
    # the greedy loss need not fall at every step, but it must fall overall
    for _, g in gk.groupby(["width", "stage"]):
        g = g.sort_values("k")
        assert g["loss"].iloc[-1] < g["loss"].iloc[0]
        assert (g["distinct"] <= g["k"]).all()
    assert (derivation.inverse_k_fits(gk)["C"] > 0).all()


def test_initial_residual_is_about_three_halves_n(tmp_path):
    exp = derivation.InitialResiduals((20, 5), (256, 1024), (0, 1, 2), 64)
    res = engine.run(exp, engine.RunOptions(cache_dir=tmp_path, progress=False))
    assert 0.7 < (res["residual"] / res["expected"]).mean() < 1.3
    assert (res["expected"] == 1.5 * res["N"]).all()


def test_summary_numbers_come_from_the_frames(tmp_path):
    p, frames = _frames(tmp_path)
    numbers = derivation.summarize(frames, p).numbers
    summary = derivation.run_summary(frames["gd_runs"], p.eps)
    assert numbers["ch2_n_runs"] == 4 and numbers["ch2_n_runs_all"] == len(summary) == 6
    assert numbers["ch2_s1_n_hold"] + numbers["ch2_s1_n_fail"] == 6
    assert numbers["ch2_mnist_fixed_nmax"] == 40 and 0 < numbers["ch2_collapse_c"] < 3
    assert numbers["ch2_d20_eta"] == summary[summary.d == 20]["eta"].iloc[0]
    assert numbers["ch2_sphere20_fixed_dense_better"] in ("log", "linear")
    assert 0.5 < numbers["ch2_s2_d20_exp"] < 1.5


def test_a_step_within_cross_cpu_noise_of_a_committed_step_is_that_step():
    committed = (0.5, 1.588720652)
    # 1.3e-9 relative: what an AVX2 and an AVX-512 CPU measured for the same H_inf
    assert derivation.canonical_step(1.588720654, committed) == 1.588720652
    assert derivation.canonical_step(0.50000003, committed) == 0.5
    # a real change of the step is never snapped
    assert derivation.canonical_step(1.5888, committed) == 1.5888
    assert derivation.canonical_step(0.7, ()) == 0.7


def test_every_paper_preset_unit_is_committed_under_this_machines_keys():
    """The keys of the committed results do not depend on the CPU that computes them: on any machine
    the paper presets find every unit committed, so building the book recomputes nothing."""
    from companion import experiments, presets
    from companion.experiments import engine

    for chapter, module in experiments.CHAPTERS.items():
        params, _ = experiments.check(chapter, presets.load(chapter, "paper"))
        for key, exp in module.experiments(params).items():
            assert engine.missing(exp) == [], f"{chapter} {key}: units whose key is not committed"
