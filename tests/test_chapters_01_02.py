"""Chapters 1 and 2 run end to end through papermill with their quick presets and a fresh cache, and
reject bad parameters before doing any work."""
import json
import os

import papermill as pm
import pytest

from companion import paths, presets


def _run(chapter, tmp_path, **overrides):
    quick = presets.load(chapter, "quick")
    out = tmp_path / f"{chapter}.out.ipynb"
    pm.execute_notebook(str(paths.BOOK_DIR / f"{chapter}.ipynb"), str(out),
                        parameters={**quick, "cache_dir": str(tmp_path / "cache"), "progress": False, **overrides},
                        cwd=str(paths.BOOK_DIR), kernel_name="python3", progress_bar=False)
    return json.loads(out.read_text())


def _glued(nb) -> dict:
    """Name -> value of every myst_nb glue in an executed notebook (from papermill's scrap records)."""
    out = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            data, meta = o.get("data", {}), o.get("metadata", {})
            name = meta.get("scrapbook", {}).get("name")
            for key, value in data.items():
                if "text/plain" in key and name:
                    out[name] = value
    return out


def _no_errors_or_stderr(nb):
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            assert o["output_type"] != "error"
            assert not (o["output_type"] == "stream" and o.get("name") == "stderr"), o.get("text")


@pytest.fixture(autouse=True)
def _kernel_sees_companion(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(paths.REPO_ROOT), os.environ.get("PYTHONPATH")])))


def test_chapter_01_quick(tmp_path):
    nb = _run("01_theorem", tmp_path)
    _no_errors_or_stderr(nb)
    g = _glued(nb)
    assert g["ch1_all_positive"] == "'yes'"
    assert float(g["ch1_mnist_slope"]) < 0                     # lambda_0 shrinks with N
    assert -0.7 < float(g["ch1_mc_slope"]) < -0.3              # Monte-Carlo rate ~ S^(-1/2)
    assert float(g["ch1_width_req"]) > 1e10
    names = {p.name.split("-n")[0] for p in (tmp_path / "cache").iterdir()}
    assert names == {"ch1-spectrum-mnist", "ch1-spectrum-sphere10", "ch1-spectrum-sphere200", "ch1-monte-carlo"}


def test_chapter_02_quick(tmp_path):
    nb = _run("02_derivation", tmp_path)
    _no_errors_or_stderr(nb)
    g = _glued(nb)
    assert 0.8 < float(g["ch2_s2_d200_exp"]) < 1.2              # initial residual linear in N
    assert int(g["ch2_s1_n_hold"]) >= 1
    assert float(g["ch2_s3_C_exp_m"]) > 0                       # the O(1/k) constant grows with m
    assert g["ch2_sphere200_fixed_dense_better"] in ("'log'", "'linear'")
    assert 0 < float(g["ch2_collapse_c"]) < 3 and int(g["ch2_mnist_fixed_nmax"]) == 80
    names = {p.name.split("-")[1] for p in (tmp_path / "cache").iterdir()}
    assert names == {"gd", "greedy", "residuals"}


@pytest.mark.parametrize("chapter, bad, name", [
    ("01_theorem", {"sizes": [10, 100000]}, "sizes"),
    ("01_theorem", {"delta": 2.0}, "delta"),
    ("02_derivation", {"step_factor": 3.0}, "step_factor"),
    ("02_derivation", {"k": 0}, "'k'"),
])
def test_bad_parameters_fail_before_any_work(tmp_path, chapter, bad, name):
    with pytest.raises(pm.PapermillExecutionError) as err:
        _run(chapter, tmp_path, **bad)
    assert "ParameterError" in str(err.value) and name in str(err.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
