"""Unit tests for companion.derivation (chapters 1-2): fits, parameter checks, and small experiments."""

import numpy as np
import pandas as pd
import pytest

from companion import data, derivation, theory
from companion.validate import ParameterError

QUICK2 = dict(d_high=20, sizes_high=[8, 16], d_low=5, sizes_low=[8, 16], width=64, seeds=[0], eps=1e-2,
              k=16, num_checkpoints=6, step_factor=1.0, horizon=1.2, max_steps=3000,
              residual_sizes=[8, 64], residual_seeds=[0, 1], greedy_size=16, greedy_widths=[16, 64],
              greedy_k_max=64, greedy_seeds=[0], device="cpu", progress=False)


def test_power_law_fit_recovers_exponent():
    x = np.array([10, 20, 40, 80])
    fit = derivation.fit_power_law(x, 3.0 * x ** -0.5)
    assert fit["exponent"] == pytest.approx(-0.5)
    assert fit["coefficient"] == pytest.approx(3.0)
    with pytest.raises(ParameterError):
        derivation.fit_power_law([5, 5], [1, 2])


def test_log_vs_linear_picks_the_true_law_and_skips_nan():
    n = np.array([16, 32, 64, 128, 256, 512])
    log_law = derivation.fit_log_vs_linear(n, 10 + 7 * np.log(n))
    assert log_law["better"] == "log" and log_law["log"]["b"] == pytest.approx(7)
    lin = derivation.fit_log_vs_linear(n, 5 + 2.0 * n)
    assert lin["better"] == "linear" and lin["linear"]["b"] == pytest.approx(2)
    with_nan = derivation.fit_log_vs_linear(np.r_[n, 1024], np.r_[10 + 7 * np.log(n), np.nan])
    assert with_nan["log"]["b"] == pytest.approx(7)


def test_inverse_k_fit():
    k = np.array([1, 2, 4, 8, 16])
    fit = derivation.fit_inverse_k(k, 5.0 / k)
    assert fit["C"] == pytest.approx(5.0) and fit["C_envelope"] == pytest.approx(5.0)
    assert fit["exponent"] == pytest.approx(-1.0)
    fast = derivation.fit_inverse_k(k, 8.0 / k ** 2)
    assert fast["C_envelope"] == pytest.approx(8.0) and fast["C"] < 8.0  # 1/k^2 decays below C/k


def test_checkpoint_grid():
    grid = derivation.checkpoint_grid(1000, 20)
    assert grid[0] == 0 and grid[1] == 1 and grid[-1] == 1000
    assert grid == sorted(set(grid)) and 15 <= len(grid) <= 21


def test_theorem_params_errors_name_the_parameter():
    ok = dict(sizes=[20, 40], seeds=[0], source="embedded", synthetic_dims=[10], mc_size=20, mc_samples=[10])
    assert derivation.check_theorem_params(**ok).sizes == [20, 40]
    assert derivation.check_theorem_params(**ok, unknown_from_papermill=1).delta == 0.1
    for bad, name in [(dict(sizes=[0]), "sizes"), (dict(sizes=[5000]), "sizes"), (dict(source="web"), "source"),
                      (dict(delta=1.0), "delta"), (dict(eps=0.0), "eps"), (dict(mc_samples=[]), "mc_samples"),
                      (dict(progress="yes"), "progress")]:
        with pytest.raises(ParameterError, match=name):
            derivation.check_theorem_params(**{**ok, **bad})


def test_derivation_params_errors_name_the_parameter():
    assert derivation.check_derivation_params(**QUICK2).width == 64
    for bad, name in [(dict(step_factor=2.0), "step_factor"), (dict(eps=-1.0), "eps"), (dict(k=0), "k"),
                      (dict(sizes_high=[16]), "sizes_high"), (dict(width=1.5), "width"),
                      (dict(horizon=0.5), "horizon"), (dict(device="tpu"), "device")]:
        with pytest.raises(ParameterError, match=name):
            derivation.check_derivation_params(**{**QUICK2, **bad})


def test_spectrum_and_du_requirements(tmp_path):
    p = derivation.check_theorem_params(sizes=[20, 60], seeds=[0], source="embedded", synthetic_dims=[10],
                                        mc_size=20, mc_samples=[10, 100], cache_dir=tmp_path, progress=False)
    spec = derivation.spectrum(p)
    assert set(spec["dataset"]) == {"MNIST", "sphere, d=10"}
    assert (spec["lambda_0"] > 0).all() and (spec["lambda_max"] > spec["lambda_0"]).all()
    # equal to the direct computation through data.mnist
    x = data.mnist(60, seed=0, source="embedded").train.x
    row = spec[(spec.dataset == "MNIST") & (spec.N == 60)].iloc[0]
    # (to 1e-8: the last bits of a symmetric eigensolver depend on the CPU and the thread count)
    assert row["lambda_0"] == pytest.approx(theory.lambda_min(theory.gram_infinity(x)), rel=1e-8)
    req = derivation.du_requirements(spec, delta=0.5, eps=0.1)
    r = req.iloc[0]
    assert r["width_required"] == pytest.approx(r["N"] ** 6 / (r["lambda_0"] ** 4 * 0.125))
    assert r["eta_required"] == pytest.approx(r["lambda_0"] / r["N"] ** 2)
    r0 = r["N"] * (1 + r["outputs"] / 2)
    assert r["t_bound_stable_eta"] == pytest.approx(theory.threshold_bound(1 / r["lambda_max"], r["lambda_0"], r0, 0.1))
    # cached: a second call reads the same frame back
    pd.testing.assert_frame_equal(derivation.spectrum(p), spec)


def test_monte_carlo_error_shrinks(tmp_path):
    p = derivation.check_theorem_params(sizes=[20], seeds=[0], source="embedded", synthetic_dims=[],
                                        mc_size=30, mc_samples=[100, 10_000], cache_dir=tmp_path, progress=False)
    mc = derivation.monte_carlo(p, chunk=3000)
    assert list(mc["samples"]) == [100, 10_000]
    assert mc["rel_fro_error"].iloc[1] < mc["rel_fro_error"].iloc[0] / 3  # ~ 1/sqrt(S): 10x expected
    assert mc["lambda_0_mc"].iloc[1] == pytest.approx(mc["lambda_0_exact"].iloc[1], abs=0.02)


def test_gd_runs_track_theory(tmp_path):
    p = derivation.check_derivation_params(**{**QUICK2, "cache_dir": tmp_path})
    runs = derivation.gd_runs(p)
    summary = derivation.run_summary(runs)
    assert len(summary) == 4 and set(runs["series"]) == {"dense", "pruned"}
    for r in summary.itertuples():
        assert r.t_gd <= r.t_bound + 1                 # the exact threshold is below the simple bound
        assert 0 <= r.t_pruned <= r.steps and r.floor >= 0
    dense = runs[runs.series == "dense"]
    first = dense[dense.t == 0]
    assert np.allclose(first["value"], first["r0"])      # residual at t = 0 is ||y - u(0)||^2
    # t_dense is the first recorded iteration with residual <= eps (every step <= 64 is recorded)
    for (d, n, s), g in dense.groupby(["d", "N", "seed"]):
        t_dense = g["t_dense"].iloc[0]
        below = g[g.value <= p.eps]
        if t_dense <= 64:
            assert below["t"].min() == t_dense
    # one step for all N in a given d
    assert runs.groupby("d")["eta"].nunique().eq(1).all()
    eta_high = derivation.step_size(p.d_high, max(p.sizes_high), p.seeds)
    assert runs[runs.d == p.d_high]["eta"].iloc[0] == pytest.approx(eta_high)


def test_greedy_vs_k_and_fits(tmp_path):
    p = derivation.check_derivation_params(**{**QUICK2, "cache_dir": tmp_path})
    gk = derivation.greedy_vs_k(p)
    assert set(gk["stage"]) == {"init", "trained"} and set(gk["width"]) == {16, 64}
    # the greedy loss need not fall at every step, but it must fall overall
    for _, g in gk.groupby(["width", "stage"]):
        g = g.sort_values("k")
        assert g["loss"].iloc[-1] < g["loss"].iloc[0]
        assert (g["distinct"] <= g["k"]).all()
    fits = derivation.inverse_k_fits(gk)
    assert (fits["C"] > 0).all()


def test_initial_residual_is_about_three_halves_n(tmp_path):
    p = derivation.check_derivation_params(**{**QUICK2, "residual_sizes": [256, 1024], "residual_seeds": [0, 1, 2],
                                              "cache_dir": tmp_path})
    res = derivation.initial_residuals(p)
    ratio = (res["residual"] / res["expected"]).mean()
    assert 0.7 < ratio < 1.3
    assert (res["expected"] == 1.5 * res["N"]).all()
