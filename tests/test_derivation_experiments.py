"""Chapter 2's experiments (companion.chapters.derivation): GD runs, greedy vs k, initial residuals,
the step size written into each unit, and the chapter summary."""
import importlib

import numpy as np
import pytest

from companion import chapters
from companion.chapters import derivation
from companion.experiments import engine

QUICK2 = dict(d_high=20, sizes_high=[8, 16], d_low=5, sizes_low=[8, 16], width=64, seeds=[0], eps=1e-2,
              k=16, num_checkpoints=6, step_factor=1.0, horizon=1.2, max_steps=3000,
              residual_sizes=[8, 64], residual_seeds=[0, 1], greedy_size=16, greedy_widths=[16, 64],
              greedy_k_max=64, greedy_seeds=[0], step_rules=["fixed"], mnist_sizes=[20, 40],
              mnist_seeds=[0], mnist_width=64, device="cpu", n_jobs=1, progress=False)


def _frames(tmp_path, **kw):
    params, options = chapters.check("02_derivation", {**QUICK2, "cache_dir": str(tmp_path), **kw})
    return params, derivation.run(params, options)


def test_gd_runs_track_theory(tmp_path):
    p, frames = _frames(tmp_path)
    runs = frames["gd_runs"]
    summary = derivation.run_summary(runs, p.eps)
    assert len(summary) == 6 and set(runs["series"]) == {"dense", "pruned"}
    assert set(summary["dataset"]) == {"sphere", "mnist"} and set(summary["rule"]) == {"fixed"}
    for r in summary.itertuples():
        assert r.t_gd <= r.t_bound + 1                 # the exact threshold is below the simple bound
        assert 0 <= r.t_settled <= r.steps and r.floor >= 0
    # one seed per size: no separate run to measure the pruned floor on, so no pruned threshold
    assert set(summary["pruned_status"]) == {"undefined"} and summary["t_pruned"].isna().all()
    dense = runs[runs.series == "dense"]
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
    p, _ = chapters.check("02_derivation", {**QUICK2, "cache_dir": str(tmp_path), "step_rules": ["per_n"]})
    gd = derivation.experiments(p)["gd_sphere20_per_n"]
    assert gd.etas[8] == derivation.step_size("sphere", 20, 8, p.seeds)
    assert gd.etas[8] > gd.etas[16]       # lambda_max grows with N, so the stable step shrinks
    fixed = derivation.GdRuns("sphere", 20, (8, 16), "fixed", 64, (0,), 1e-2, 16, 6, 1.0, 1.2, 3000)
    assert gd.etas[16] == fixed.etas[8]   # the largest N sets the fixed step


def test_collapse_fit_and_pruned_threshold_rule():
    fit = derivation.collapse_fit([1.0, 2.0, 4.0], [0.5, 1.0, 2.0])
    assert fit["c"] == pytest.approx(0.5) and fit["rel_rmse"] == pytest.approx(0.0, abs=1e-12)
    import pandas as pd

    def run(seed, curve):
        return [{"dataset": "sphere", "rule": "fixed", "d": 2, "N": 4, "seed": seed, "series": "pruned", "t": t,
                 "k": 1, "value": v / 8, "dense_loss": 0.0, "lambda_0": 0.1, "eta": 1.0, "r0": 6.0,
                 "steps": 100, "t_bound": 50.0, "t_gd": 40, "t_dense": 30, "max_ratio": 1.0}
                for t, v in curve]
    # seed 0 dips below its end value early, then settles; seed 1 ends at a floor of 2
    rows = run(0, [(0, 5.0), (1, 0.5), (10, 3.0), (30, 1.05), (100, 1.0)]) + \
        run(1, [(0, 12.0), (1, 11.0), (10, 2.5), (30, 2.0), (100, 2.0)])
    s = derivation.run_summary(pd.DataFrame(rows), eps=0.1).set_index("seed")
    # the former rule: the first checkpoint from which it stays within eps of the last one
    assert s.loc[0, "t_settled"] == 30 and s.loc[0, "pruned_final"] == pytest.approx(1.0)
    # the pruned threshold: first reach of floor + 10% of the way from t = 0, the floor from the other seed
    assert s.loc[0, "floor_ref"] == pytest.approx(2.0) and s.loc[1, "floor_ref"] == pytest.approx(1.0)
    assert s.loc[0, "t_pruned"] == pytest.approx(np.expm1(np.log1p(0) + (5.0 - 2.3) / (5.0 - 0.5) * np.log1p(1)))
    level = 1.0 + 0.1 * (12.0 - 1.0)                   # seed 1: reached between t = 10 and t = 30
    assert 10 < s.loc[1, "t_pruned"] <= 30 and level == pytest.approx(2.1)
    assert set(s["pruned_status"]) == {"measured"}


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
    # two sizes per dataset: every two-parameter law fits the two size means exactly, none is better
    for key in ("sphere20_fixed", "sphere5_fixed"):
        assert numbers[f"ch2_{key}_dense_better"] == expected_law(summary_of(summary, key)) == "cannot be told apart"
    # (here no MNIST run reaches eps within its run: nothing to fit, and the words say so)
    assert numbers["ch2_mnist_fixed_dense_better"] == expected_law(summary_of(summary, "mnist_fixed"))
    assert 0.5 < numbers["ch2_s2_d20_exp"] < 1.5
    # no undefined quantity is glued as NaN
    assert not [k for k, v in numbers.items() if isinstance(v, float) and not np.isfinite(v)]


def summary_of(summary, key):
    return summary[[derivation.group_label(r.dataset, r.d, r.rule) == key for r in summary.itertuples()]]


def expected_law(runs, margin=0.1):
    """The law the numbers imply, computed here from the runs (not through companion.stats): with
    fewer than three sizes none; else the lowest leave-one-size-out error (fit each law on the other
    sizes' runs, predict the left-out size's mean, RMSE over sizes) of a + b log N, a N^b and a + b N,
    if it beats the others by the margin."""
    from scipy.optimize import curve_fit

    ok = runs.dropna(subset=["t_dense"])
    n, t = ok["N"].to_numpy(float), ok["t_dense"].to_numpy(float)
    if len(np.unique(n)) < 2:
        return "not enough sizes"
    if len(np.unique(n)) < 3:
        return "cannot be told apart"

    def predictor(law, n_fit, t_fit):
        if law in ("log", "linear"):
            x = np.log(n_fit) if law == "log" else n_fit
            b, a = np.polyfit(x, t_fit, 1)
            return lambda m: a + b * (np.log(m) if law == "log" else m)
        b0, la0 = np.polyfit(np.log(n_fit), np.log(t_fit), 1)
        (a, b), _ = curve_fit(lambda x, a, b: a * x ** b, n_fit, t_fit, p0=(np.exp(la0), b0), maxfev=20000)
        return lambda m: a * m ** b

    loso = {}
    for law in ("log", "power", "linear"):
        errs = [predictor(law, n[n != size], t[n != size])(size) - t[n == size].mean() for size in np.unique(n)]
        loso[law] = np.sqrt(np.mean(np.square(errs)))
    best = min(loso, key=loso.get)
    return best if all(loso[best] * (1 + margin) < v for law, v in loso.items() if law != best) else \
        "cannot be told apart"


def test_three_sizes_name_the_law_the_runs_imply(tmp_path):
    p, frames = _frames(tmp_path, sizes_high=[8, 16, 32, 64], seeds=[0, 1])
    numbers = derivation.summarize(frames, p).numbers
    summary = derivation.run_summary(frames["gd_runs"], p.eps)
    assert numbers["ch2_sphere20_fixed_dense_better"] == expected_law(summary_of(summary, "sphere20_fixed"))


def test_linear_prediction_is_the_linearised_dynamics_of_each_run(tmp_path):
    """t_lin from H(0) is the first step of the linear recursion u <- u - eta H(0) (u - y) below eps,
    and the slowest H_inf direction alone bounds the H_inf prediction."""
    import torch
    from companion import theory
    from companion.models import TwoLayerNet

    exp = derivation.LinearRuns("sphere", 20, (8, 16), "fixed", 64, (0,), 1e-2, 1.0)
    frame = engine.run(exp, engine.RunOptions(cache_dir=tmp_path, progress=False))
    assert len(frame) == 2 and (frame["t_lin_inf"] <= frame["t_slowest"] + 1e-9).all()
    row = frame[frame.N == 16].iloc[0]
    ds = derivation.dataset("sphere", 16, 20, 0)
    net = TwoLayerNet(20, 64, 1, "ntk", seed=0, dtype=torch.float64)
    h = theory.empirical_gram(ds.x, net.w, net.a).numpy()
    with torch.no_grad():
        r = (ds.targets.double() - net(ds.x.double())).numpy().ravel()
    assert row["r0"] == pytest.approx(float(r @ r))
    step = np.eye(16) - row["eta"] * h
    t = 0
    while r @ r > 1e-2:
        r, t = step @ r, t + 1
    assert np.ceil(row["t_lin_h0"]) == t
    # every run of the GD experiments has its linearised prediction, under the same key fields
    p, frames = _frames(tmp_path)
    every = derivation.run_summary(frames["gd_runs"], p.eps, frames["linear_runs"])
    # H(0) of a narrow network can exceed the step's stability limit: then its linearisation never
    # gets to eps (NaN), and only then
    unstable = every["eta"] * every["lambda_max_h0"] > 2
    assert (every["t_lin_h0"].isna() == unstable).all() and every["t_lin_inf"].notna().all()
    gd = derivation.experiments(p)["gd_mnist_fixed"]
    lin = derivation.experiments(p)["linear_mnist_fixed"]
    assert lin.etas == gd.etas and lin.unit_label((20, 0)) == gd.unit_label((20, 0))


def test_the_pruned_threshold_does_not_move_when_the_horizon_changes(tmp_path, monkeypatch):
    """Two runs of every (N, seed), one 2.5 times longer than the other, sampled at the same
    checkpoints up to the shorter end: the pruned threshold of each run is the same in both."""
    grid = np.unique(np.round(np.geomspace(1, 1e6, 160)).astype(int))
    monkeypatch.setattr(importlib.import_module("companion.chapters.derivation.experiments"), "checkpoint_grid",
                        lambda last, points: sorted({0, last} | {int(v) for v in grid if v <= last}))
    out = {}
    for horizon in (1.2, 3.0):
        exp = derivation.GdRuns("sphere", 20, (8, 16, 32), "fixed", 64, (0, 1, 2), 1e-2, 16, 24, 1.0,
                                horizon, 10_000)
        runs = engine.run(exp, engine.RunOptions(cache_dir=tmp_path, progress=False)).assign(rule="fixed")
        out[horizon] = derivation.run_summary(runs, 1e-2).set_index(["N", "seed"])
    short, long = out[1.2], out[3.0]
    assert (long["steps"] > 2 * short["steps"]).all()
    measured = short["pruned_status"].eq("measured") & long["pruned_status"].eq("measured")
    assert measured.sum() >= 6
    # (the floors, taken at the two ends of the other seeds' runs, agree to about 1e-6)
    np.testing.assert_allclose(long.loc[measured, "t_pruned"], short.loc[measured, "t_pruned"], rtol=1e-4, atol=1e-6)


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
    from companion import chapters, presets
    from companion.experiments import engine

    for chapter, module in chapters.CHAPTERS.items():
        params, _ = chapters.check(chapter, presets.load(chapter, "paper"))
        for key, exp in module.experiments(params).items():
            assert engine.missing(exp) == [], f"{chapter} {key}: units whose key is not committed"
