"""Chapter 1's experiments (companion.chapters.theorem): spectra, Du et al.'s requirements,
the Monte-Carlo check, and the chapter summary."""
import numpy as np
import pandas as pd
import pytest

from companion import data, chapters, theory
from companion.stats import laws
from companion.chapters import theorem
from companion.experiments import engine


def _run(tmp_path, **kw):
    params, options = chapters.check("01_theorem", {"sizes": [20, 60], "seeds": [0], "source": "embedded",
                                                       "synthetic_dims": [10], "mc_size": 20,
                                                       "mc_samples": [10, 100], "full_sizes": [100, 200],
                                                       "full_source": "embedded", "cache_dir": str(tmp_path),
                                                       "progress": False, **kw})
    return params, theorem.run(params, options)


def test_spectrum_and_du_requirements(tmp_path):
    params, frames = _run(tmp_path)
    spec = frames["spectrum"]
    assert set(spec["dataset"]) == {"MNIST", "sphere, d=10"} and len(spec) == 4
    assert (spec["lambda_0"] > 0).all() and (spec["lambda_max"] > spec["lambda_0"]).all()
    # equal to the direct computation through data.mnist
    x = data.mnist(60, seed=0, source="embedded").train.x
    row = spec[(spec.dataset == "MNIST") & (spec.N == 60)].iloc[0]
    # (to 1e-8: the last bits of a symmetric eigensolver depend on the CPU and the thread count)
    assert row["lambda_0"] == pytest.approx(theory.lambda_min(theory.gram_infinity(x)), rel=1e-8)
    req = theorem.du_requirements(spec, delta=0.5, eps=0.1)
    r = req.iloc[0]
    assert r["width_required"] == pytest.approx(r["N"] ** 6 / (r["lambda_0"] ** 4 * 0.125))
    assert r["eta_required"] == pytest.approx(r["lambda_0"] / r["N"] ** 2)
    r0 = r["N"] * (1 + r["outputs"] / 2)
    assert r["t_bound_stable_eta"] == pytest.approx(theory.threshold_bound(1 / r["lambda_max"], r["lambda_0"], r0, 0.1))
    # stored per (dataset, N): a second run reads the same frame back; one more size computes 2 units
    _, again = _run(tmp_path)
    assert again["spectrum"].attrs["computed"] == []
    pd.testing.assert_frame_equal(again["spectrum"], spec)
    _, more = _run(tmp_path, sizes=[20, 60, 80])
    assert more["spectrum"].attrs["computed"] == [("MNIST", 784, 80), ("sphere, d=10", 10, 80)]


def test_monte_carlo_error_shrinks(tmp_path):
    exp = theorem.MonteCarlo(30, (100, 10_000), 0, "embedded", chunk=3000)
    mc = engine.run(exp, engine.RunOptions(cache_dir=tmp_path, progress=False))
    assert list(mc["samples"]) == [100, 10_000]
    assert mc["rel_fro_error"].iloc[1] < mc["rel_fro_error"].iloc[0] / 3  # ~ 1/sqrt(S): 10x expected
    assert mc["lambda_0_mc"].iloc[1] == pytest.approx(mc["lambda_0_exact"].iloc[1], abs=0.02)


def test_summary_numbers_come_from_the_frames(tmp_path):
    params, frames = _run(tmp_path, sizes=[20, 40, 80], seeds=[0, 1])
    numbers = theorem.summarize(frames, params).numbers
    by_n = frames["spectrum"].query("dataset == 'MNIST'").groupby("N")["lambda_0"].mean()
    assert numbers["ch1_mnist_lam_small"] == by_n.iloc[0] and numbers["ch1_mnist_nmax"] == 80
    assert numbers["ch1_n_spectra"] == 2 * 3 * 2 and numbers["ch1_all_positive"] == "yes"
    assert numbers["ch1_mnist_slope"] < 0                  # lambda_0 shrinks with N
    assert numbers["ch1_mc_smax"] == 100 and numbers["ch1_source"] == "embedded"
    # the two targets: the average one has no log N, the summed one does
    assert numbers["ch1_logsum_large"] - numbers["ch1_logsum_small"] == pytest.approx(np.log(4))
    assert numbers["ch1_tsum_large"] > numbers["ch1_tmean_large"]
    # the power law of the larger subsets, extrapolated
    fit = laws.fit_power_law(frames["spectrum_large"]["N"], frames["spectrum_large"]["lambda_0"])
    assert numbers["ch1_extrap_lam"] == pytest.approx(fit["coefficient"] * 50000 ** fit["exponent"])


def test_a_single_size_is_refused_before_any_work(tmp_path):
    from companion.validate import ParameterError
    with pytest.raises(ParameterError, match="'sizes'.*at least 2"):
        chapters.check("01_theorem", {"sizes": [50], "cache_dir": str(tmp_path)})
    with pytest.raises(ParameterError, match="'mc_samples'"):
        chapters.check("01_theorem", {"mc_samples": [100], "cache_dir": str(tmp_path)})
    assert not any(tmp_path.iterdir())


def test_the_words_are_chosen_by_the_numbers(tmp_path):
    params, frames = _run(tmp_path, sizes=[20, 40, 80], seeds=[0, 1])
    numbers = theorem.summarize(frames, params).numbers
    assert not [k for k, v in numbers.items() if isinstance(v, float) and not np.isfinite(v)]
    assert numbers["ch1_mnist_trend"] == "falls" and numbers["ch1_mnist_drop"] > 1.05
    assert numbers["ch1_pd_words"].startswith("All 12 matrices are positive definite")
    # a single synthetic dimension: no comparison of dimensions is claimed
    assert numbers["ch1_sphere_words"].startswith("On the sphere the slope is") and "fewer" not in numbers["ch1_sphere_words"]
    # the same frames with lambda_0 made to rise with N: the words turn with them
    spec = frames["spectrum"].copy()
    mnist = spec.dataset == "MNIST"
    spec.loc[mnist, "lambda_0"] = 0.01 * spec.loc[mnist, "N"]
    turned = theorem.summarize({**frames, "spectrum": spec}, params).numbers
    assert turned["ch1_mnist_trend"] == "rises" and turned["ch1_lam_lead"] == "But λ0 is not a constant:"
    assert turned["ch1_mnist_change"].endswith("times higher")
    spec.loc[mnist, "lambda_0"] = -1e-3
    bad = theorem.summarize({**frames, "spectrum": spec}, params).numbers
    assert bad["ch1_all_positive"] == "no" and "assumption 1 fails" in bad["ch1_pd_words"]
    assert not [k for k, v in bad.items() if isinstance(v, float) and not np.isfinite(v)]
