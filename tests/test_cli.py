import re
import shutil

import pytest

from companion import chapters, cli, experiments, paths, presets
from companion.experiments import estimate as cost
from companion.validate import ParameterError


def test_overrides_are_parsed_as_yaml_not_evaluated():
    got = cli.parse_overrides(["sizes=[500, 1000]", "lr=0.1", "source=embedded", "x=__import__('os')"])
    assert got == {"sizes": [500, 1000], "lr": 0.1, "source": "embedded", "x": "__import__('os')"}
    with pytest.raises(ParameterError, match="name=value"):
        cli.parse_overrides(["sizes"])


def test_unknown_chapter_and_preset_are_clear_errors(capsys):
    assert cli.main(["run", "99_nothing"]) == 2
    assert "'chapter' = '99_nothing'" in capsys.readouterr().err
    for chapter in presets.chapters():
        with pytest.raises(ParameterError, match="'preset' = 'huge'.*quick"):
            presets.load(chapter, "huge")


def test_a_bad_value_is_refused_before_anything_runs(tmp_path, capsys, no_execution):
    code = cli.main(["run", "01_theorem", "--preset", "quick", "-p", "sizes=[]",
                     "-p", f"cache_dir={tmp_path / 'cache'}", "--output", str(tmp_path / "out.ipynb")])
    assert code == 2 and no_execution == []
    assert "parameter 'sizes' = [] is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out.ipynb").exists()


@pytest.fixture
def no_execution(monkeypatch):
    """papermill.execute_notebook replaced by a recorder: a test that reaches it executes nothing."""
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def test_unknown_parameter_name_is_refused_before_anything_runs(tmp_path, capsys, no_execution):
    out = tmp_path / "out.ipynb"
    code = cli.main(["run", "03_mnist_validation", "--preset", "quick", "-p", "sizez=[100]",
                     "-p", f"cache_dir={tmp_path / 'cache'}", "--output", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: parameter 'sizez' is not a parameter of chapter 03_mnist_validation (from -p)")
    assert "did you mean 'sizes'?" in err
    assert "Allowed: " in err and "n_boot" in err
    assert no_execution == [] and not out.exists() and not (tmp_path / "cache").exists()
    # no close match: still refused, with the allowed names
    with pytest.raises(ParameterError, match=r"'xyzzy' is not a parameter of chapter 01_theorem \(from -p\)\. "
                                             r"Allowed: sizes, seeds"):
        presets.check_names("01_theorem", ["xyzzy"], "-p")


def test_unknown_key_in_a_preset_file_is_refused(tmp_path, monkeypatch, capsys, no_execution):
    params = tmp_path / "params"
    shutil.copytree(paths.PARAMS_DIR, params)
    typo = params / "03_mnist_validation" / "typo.yaml"
    typo.write_text((params / "03_mnist_validation" / "quick.yaml").read_text() + "seedz: [0, 1]\n")
    monkeypatch.setattr(paths, "PARAMS_DIR", params)
    with pytest.raises(ParameterError, match=rf"'seedz' is not a parameter of chapter 03_mnist_validation "
                                             rf"\(from preset file {re.escape(str(typo))}\); did you mean 'seeds'\?"):
        presets.load("03_mnist_validation", "typo")
    out = tmp_path / "out.ipynb"
    assert cli.main(["run", "03_mnist_validation", "--preset", "typo", "--output", str(out)]) == 2
    assert "did you mean 'seeds'?" in capsys.readouterr().err
    assert no_execution == [] and not out.exists()


def test_every_committed_preset_uses_only_the_chapters_parameter_names():
    for chapter in presets.chapters():
        known = presets.notebook_parameters(chapter)
        assert "cache_dir" in known and "device" in known
        assert presets.available(chapter), chapter
        for preset in presets.available(chapter):
            keys = set(presets.load(chapter, preset))  # load checks the names itself
            assert keys and keys <= set(known), (chapter, preset, keys - set(known))


def test_valid_overrides_pass_the_check_and_reach_papermill(tmp_path, no_execution):
    presets.check_names("03_mnist_validation", ["sizes", "seeds", "cache_dir"], "-p")
    out = cli.run("03_mnist_validation", "quick", cli.parse_overrides(["sizes=[250, 500]", "n_jobs=1"]),
                  output=tmp_path / "out.ipynb", progress=False)
    assert out == tmp_path / "out.ipynb"
    [(args, kwargs)] = no_execution
    assert args[0].endswith("03_mnist_validation.ipynb")
    assert kwargs["parameters"] == presets.load("03_mnist_validation", "quick") | {"sizes": [250, 500], "n_jobs": 1}


# -- python -m companion results: every committed result from one command ----------------------------

def _snapshot(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_results_dry_run_prints_the_estimate_and_the_plan_and_writes_nothing(capsys, monkeypatch):
    from companion.experiments import engine

    def no_run(*args, **kwargs):
        raise AssertionError("a dry run computed something")

    monkeypatch.setattr(engine, "run", no_run)
    before = _snapshot(paths.RESULTS_DIR)
    assert cli.main(["results", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    est = cost.estimate()
    total = sum(row["wall_s"] for row in est.values())
    assert out[1].startswith(f"Estimated time from scratch: about {cost._duration(total)} of computing on a "
                             "2-core CPU (01_theorem ")
    for chapter in cost.RESULT_PREFIXES:
        [line] = [x for x in out if x.strip().startswith(chapter)]
        assert re.search(r"\d+ units: +\d+ to compute, +\d+ reused|units unknown until full MNIST", line)
    assert out[-1] == "Dry run: nothing was computed or written."
    assert _snapshot(paths.RESULTS_DIR) == before


def test_the_estimate_is_each_chapters_summed_wall_time_over_its_n_jobs(tmp_path):
    import json

    for name, wall in [("ch1-spectrum-mnist-n50", 3.0), ("ch1-monte-carlo-n200-s0", 1.0),
                       ("ch2-gd-d10-n16-s0", 10.0), ("ch2-gd-d10-n16-s1", 30.0), ("ch3-ntk-n500-s0", 100.0)]:
        (tmp_path / f"{name}-0123456789ab").mkdir()
        (tmp_path / f"{name}-0123456789ab" / "provenance.json").write_text(
            json.dumps({"name": name, "wall_time_s": wall}))
    est = cost.estimate(tmp_path, {"01_theorem": 1, "02_derivation": 2, "03_mnist_validation": 4})
    assert {ch: (row["units"], row["wall_s"]) for ch, row in est.items()} == {
        "01_theorem": (2, 4.0), "02_derivation": (2, 20.0), "03_mnist_validation": (1, 25.0),
        "04_finetune": (0, 0.0)}
    # n_jobs defaults to each chapter's paper preset
    assert cost.estimate(tmp_path)["03_mnist_validation"]["n_jobs"] == presets.load(
        "03_mnist_validation", "paper")["n_jobs"]


def test_every_chapters_result_folders_start_with_its_prefix():
    for chapter, module in chapters.CHAPTERS.items():
        names = {getattr(module, n).name for n in dir(module)
                 if isinstance(getattr(module, n), type) and issubclass(getattr(module, n), experiments.engine.Experiment)
                 and getattr(module, n) is not experiments.engine.Experiment}
        # a result folder is named <experiment name>-<unit label>-<hash>
        assert names and all(f"{n}-".startswith(cost.RESULT_PREFIXES[chapter]) for n in names), (chapter, names)


_TINY_MNIST = {"sizes": [100], "seeds": [0], "n_test": 100, "width": 16, "k": 4, "steps": 20,
               "num_checkpoints": 3, "first_checkpoint": 5, "batch_size": 50, "gd_sizes": [100],
               "gd_seeds": [0], "gd_steps": 10, "gd_num_checkpoints": 3, "ntk_n": 100, "ntk_seeds": [0],
               "ntk_lrs": [1.0], "ntk_ks": [4, 32], "ntk_steps": 10, "ntk_num_checkpoints": 3,
               "random_draws": 2, "source": "embedded", "wt_sizes": [100], "wt_seeds": [0], "wt_lrs": [0.4],
               "wt_ks": [4], "wt_num_checkpoints": 3, "wt_ntk_lrs": [1.0], "n_heldout": 50,
               "heldout_from": 1000}


@pytest.fixture
def tiny_results(tmp_path, monkeypatch):
    """book/results/ replaced by an empty folder, chapter 3's paper preset by a seconds-long one."""
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr(paths, "RESULTS_DIR", results)
    load = presets.load
    tiny = dict(_TINY_MNIST)
    monkeypatch.setattr(presets, "load", lambda ch, preset: load(ch, preset) | tiny)
    return results, tiny


def test_results_computes_the_missing_units_then_reuses_them(tiny_results, capsys):
    results, _ = tiny_results
    assert cli.main(["results", "--chapter", "03_mnist_validation"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  03_mnist_validation +5 units: +5 to compute, +0 reused", out, re.M)
    assert re.search(r"^03_mnist_validation: 5 units computed, 0 reused, wall time \d+ s", out, re.M)
    assert sorted(p.name.rsplit("-", 1)[0] for p in results.iterdir()) == [
        "ch3-gd-n100-s0", "ch3-ntk-lr1-s0", "ch3-sgd-n100-s0", "ch3-wt-lr0.4-n100-s0", "ch3-wtntk-lr1-n100-s0"]
    assert cli.main(["results", "--chapter", "03_mnist_validation"]) == 0
    assert re.search(r"^03_mnist_validation: 0 units computed, 5 reused", capsys.readouterr().out, re.M)


def test_results_without_full_mnist_stops_before_computing_anything(tiny_results, capsys):
    results, tiny = tiny_results
    tiny["source"] = "torchvision"  # the conftest's data root is empty
    assert cli.main(["results", "--chapter", "03_mnist_validation", "--dry-run"]) == 0
    assert "needs full MNIST, not found in" in capsys.readouterr().out
    assert cli.main(["results", "--chapter", "03_mnist_validation"]) == 2
    assert "error: 03_mnist_validation cannot be computed without full MNIST" in capsys.readouterr().out
    assert list(results.iterdir()) == []


def test_results_checks_the_scheduler_address(capsys):
    assert cli.main(["results", "--dry-run", "--scheduler", "localhost:8786"]) == 2
    assert "parameter 'scheduler' = 'localhost:8786' is not allowed" in capsys.readouterr().err


# -- what a setting will cost, said before it starts (issue 21, point 7) -----------------------------

def test_unit_estimates_come_from_the_committed_units_of_the_same_names():
    walls = {"ch3-sgd-n500-s0": [10.0], "ch3-sgd-n500-s1": [30.0], "ch3-gd-n250-s0": [2.0]}
    assert cost.unit_seconds("ch3", ["ch3-sgd-n500-s0"], walls) == (10.0, [])      # the same unit
    assert cost.unit_seconds("ch3", ["ch3-sgd-n500-s7"], walls) == (20.0, [])      # its other seeds
    assert cost.unit_seconds("ch3", ["ch3-sgd-n9000-s0"], walls) == (14.0, [])     # the experiment's mean
    assert cost.unit_seconds("toy", ["toy-u1", "toy-u2"], walls) == (0.0, ["toy-u1", "toy-u2"])
    # the results command's per-chapter estimate reads the same provenance (one reader)
    est, committed = cost.estimate(), cost.committed_wall_times()
    assert est["03_mnist_validation"]["compute_s"] == pytest.approx(
        sum(sum(w) for n, w in committed.items() if n.startswith("ch3-")))


def test_a_long_setting_is_announced_with_its_unit_count_and_estimate():
    """seeds=range(2000) on chapter 3's quick preset: the line the engine prints before it starts."""
    from companion import chapters

    params, options = chapters.check("03_mnist_validation", presets.load("03_mnist_validation", "quick")
                                        | {"seeds": list(range(2000))})
    exps = cli._chapter_experiments("03_mnist_validation", params)
    names = {}
    for exp in exps.values():
        names.setdefault(exp.name, []).extend(exp.result_name(u) for u in exp.units())
    count = sum(len(v) for v in names.values())
    assert count > 8000
    note = cost.cost_note("03_mnist_validation", names, 0, options.n_jobs)
    assert re.match(rf"03_mnist_validation: {count:,} units to compute \(0 already stored\), estimated "
                    r"[\d.]+ h of computing \(n_jobs=2: about [\d.]+ h\)", note), note
    assert cost.NOTE_START.match(note)
    # the quick preset itself is below the threshold: nothing is said
    params, options = chapters.check("03_mnist_validation", presets.load("03_mnist_validation", "quick"))
    quick = {}
    for exp in cli._chapter_experiments("03_mnist_validation", params).values():
        quick.setdefault(exp.name, []).extend(exp.result_name(u) for u in exp.units())
    assert cost.cost_note("03_mnist_validation", quick, 0, options.n_jobs) is None


def test_only_the_kernels_announcements_reach_the_terminal(tmp_path, no_execution):
    import io

    out = io.StringIO()
    notes = cli.CostNotes(out)
    for chunk in ["\rch3 units:   0%|  | 0/3\r", "ch3 units:  33%|##", "\nch3: 8,010 units to com",
                  "pute (0 already stored), estimated 9.1 h of computing\n", "some warning\n"]:
        notes.write(chunk)
    assert out.getvalue() == "ch3: 8,010 units to compute (0 already stored), estimated 9.1 h of computing\n"
    # the command line hands it to papermill as the kernel's stderr
    cli.run("01_theorem", "quick", {"cache_dir": str(tmp_path / "c")}, output=tmp_path / "o.ipynb", progress=False)
    [(_, kwargs)] = no_execution
    assert isinstance(kwargs["stderr_file"], cli.CostNotes)


def test_a_real_run_writes_its_notebook_and_results_and_announces_its_cost(tmp_path, capfd, monkeypatch):
    """End to end, one real run: the notebook and the results are written, the engine in the kernel
    prints its cost line (threshold 0) and the command line shows it, and the kernel's transport
    warning does not reach the terminal."""
    monkeypatch.setenv(cost.ANNOUNCE_ENV, "0")
    code = cli.main(["run", "01_theorem", "--preset", "quick", "-p", "sizes=[50, 100]", "-p", "seeds=[0]",
                     "-p", "mc_samples=[100, 1000]", "-p", "synthetic_dims=[10]", "-p", "full_sizes=[100, 200]",
                     "-p", f"cache_dir={tmp_path / 'cache'}", "--output", str(tmp_path / "out.ipynb")])
    err = capfd.readouterr().err  # capfd: the kernel process writes to the same stderr
    assert code == 0, err[-2000:]
    assert (tmp_path / "out.ipynb").exists() and any((tmp_path / "cache").glob("ch1-spectrum-mnist-n50-*"))
    # the kernel's "running over TCP without encryption" warning is gone (the CLI asks for CurveZMQ)
    assert "without encryption" not in err
    lines = re.split(r"[\r\n]", err)
    assert [x for x in lines if re.match(r"ch1-spectrum: \d+ units to compute \(0 already stored\), estimated", x)]
    assert [x for x in lines if x.startswith("ch1-monte-carlo: 1 unit to compute (0 already stored)")]
