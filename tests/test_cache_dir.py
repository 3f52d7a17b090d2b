"""Where a run writes (issue 21, point 4): every cache_dir resolved once to an absolute folder; an empty
one, a file, an unwritable place and the committed results (however spelled) refused before any work,
the committed results allowed only to the regenerate commands; and a damaged committed result met
by the regenerate path reported by name, never "reused", and replaced only once its new result is
stored (tested on a copy of book/results: the real one is never touched)."""
import json
import os
import re
import shutil

import pandas as pd
import pytest

from companion import cli, chapters, paths, presets
from companion.experiments import engine, store
from companion.validate import ParameterError


def _opts(cache_dir, **kw):
    return engine.RunOptions(device="cpu", progress=False, cache_dir=cache_dir, **kw)


def test_a_relative_cache_dir_is_resolved_once_to_an_absolute_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = _opts("runs/../cache")
    assert options.cache_dir == tmp_path.resolve() / "cache" and options.cache_dir.is_absolute()
    monkeypatch.chdir(paths.REPO_ROOT)  # a later change of directory changes nothing
    assert options.cache_dir == tmp_path.resolve() / "cache"
    assert store.write_dir(options.cache_dir) == tmp_path.resolve() / "cache"
    # unset: the user cache ($COMPANION_CACHE_DIR here), absolute as well
    assert _opts(None).cache_dir == paths.cache_dir() and _opts(None).cache_dir.is_absolute()
    assert not (tmp_path / "cache").exists()  # checking writes nothing


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_cache_dir_is_refused(value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match=r"parameter 'cache_dir' = '\s*' is not allowed: .*non-empty path"):
        _opts(value)
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: calls.append(a))
    assert cli.main(["run", "01_theorem", "-p", f"cache_dir='{value}'", "--output", str(tmp_path / "o.ipynb")]) == 2
    assert "parameter 'cache_dir' = " in capsys.readouterr().err
    assert calls == [] and list(tmp_path.iterdir()) == []


def test_a_cache_dir_that_is_a_file_or_cannot_be_written_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ParameterError, match=r"'cache_dir' = '.*f' is not allowed: must be a folder; it names a file"):
        _opts(str(tmp_path / "f"))
    with pytest.raises(ParameterError, match=r"must be a folder; .*f is a file"):
        _opts(tmp_path / "f" / "sub")
    with pytest.raises(ParameterError, match=r"'cache_dir' = '/proc/companion-cache' is not allowed: cannot "
                                             r"create a folder there"):
        _opts("/proc/companion-cache")  # not even root can create a folder in /proc
    if os.geteuid() != 0:  # root may write into a read-only folder
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ParameterError, match="cannot write there"):
            _opts(locked)


def test_cache_dir_from_the_environment_is_checked_too(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "f"))
    with pytest.raises(ParameterError, match=r"cache_dir \(unset: \$COMPANION_CACHE_DIR\)"):
        _opts(None)


def _spellings(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(paths.RESULTS_DIR, target_is_directory=True)
    return [(paths.REPO_ROOT, "book/results"), (paths.REPO_ROOT, "book/results/"), (paths.REPO_ROOT, "./book//results"),
            (paths.BOOK_DIR, "results"), (paths.BOOK_DIR, "../book/results"), (paths.PARAMS_DIR, "../results"),
            (tmp_path, str(paths.RESULTS_DIR)), (tmp_path, "link"), (tmp_path, str(link) + "/../results"),
            (paths.BOOK_DIR, "results/../results")]


def test_the_committed_results_are_refused_however_spelled(tmp_path, monkeypatch):
    """papermill ... -p cache_dir results --cwd book (and every other spelling) is refused in the
    notebook's first cell, saying how to regenerate; nothing is written into book/results."""
    before = sorted(p.name for p in paths.RESULTS_DIR.iterdir())
    for cwd, value in _spellings(tmp_path):
        monkeypatch.chdir(cwd)
        with pytest.raises(ParameterError) as err:
            chapters.check_notebook("01_theorem", {"cache_dir": value})
        message = str(err.value)
        assert message.startswith(f"parameter 'cache_dir' = {value!r} is not allowed: it names the committed "
                                  "results"), (cwd, value, message)
        assert "python -m companion run CHAPTER --preset paper -p cache_dir=book/results" in message
        assert "python -m companion results" in message
        with pytest.raises(ParameterError):
            _opts(value)
    monkeypatch.chdir(paths.REPO_ROOT)
    with pytest.raises(ParameterError, match="inside the committed results"):  # even when regenerating
        _opts("book/results/sub", regenerate=True)
    assert sorted(p.name for p in paths.RESULTS_DIR.iterdir()) == before


def test_only_the_regenerate_commands_may_write_the_committed_results(tmp_path, monkeypatch, capsys):
    """The flag is explicit: RunOptions(regenerate=True) (``python -m companion results``), or the
    environment variable that ``python -m companion run CH --preset paper -p cache_dir=book/results``
    sets for its kernel; the command line refuses any other run that names book/results."""
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr(paths, "RESULTS_DIR", results)
    assert _opts(results, regenerate=True).cache_dir == results.resolve()
    with pytest.raises(ParameterError, match="committed results"):
        chapters.check_notebook("01_theorem", {"cache_dir": str(results)})
    monkeypatch.setenv(paths.REGENERATE_ENV, "1")
    assert chapters.check_notebook("01_theorem", {"cache_dir": str(results)})[1].cache_dir == results.resolve()
    monkeypatch.delenv(paths.REGENERATE_ENV)
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook",
                        lambda *a, **k: calls.append(os.environ.get(paths.REGENERATE_ENV)))
    out = str(tmp_path / "o.ipynb")
    for args in (["--preset", "quick"], ["--preset", "paper", "-p", "sizes=[50, 100]"]):
        assert cli.main(["run", "01_theorem", *args, "-p", f"cache_dir={results}", "--output", out]) == 2
        err = capsys.readouterr().err
        assert "parameter 'cache_dir'" in err and "hold only the book's own setting" in err
        assert "python -m companion run 01_theorem --preset paper -p cache_dir=book/results" in err
    assert calls == []
    # the paper preset, with run options only: the regenerate command, whose kernel may write there
    assert cli.main(["run", "01_theorem", "--preset", "paper", "-p", "n_jobs=2", "-p", f"cache_dir={results}",
                     "--output", out]) == 0
    assert calls == ["1"] and os.environ.get(paths.REGENERATE_ENV) is None
    # a user's own COMPANION_REGENERATE never reaches the kernel of another run
    monkeypatch.setenv(paths.REGENERATE_ENV, "1")
    assert cli.main(["run", "01_theorem", "--preset", "quick", "-p", f"cache_dir={tmp_path / 'c'}",
                     "--output", out]) == 0
    assert calls[-1] is None and os.environ[paths.REGENERATE_ENV] == "1"
    assert list(results.iterdir()) == []


# -- a damaged committed result on the regenerate path ----------------------------------------------

@pytest.fixture
def ch1_copy(tmp_path, monkeypatch):
    """book/results replaced by a copy of chapter 1's committed results (the real ones are never touched)."""
    results = tmp_path / "results"
    results.mkdir()
    for folder in paths.RESULTS_DIR.glob("ch1-*"):
        shutil.copytree(folder, results / folder.name)
    monkeypatch.setattr(paths, "RESULTS_DIR", results)
    return results


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_results_names_a_damaged_committed_result_and_never_deletes_it(ch1_copy, capsys):
    """`python -m companion results --chapter 01_theorem` after `echo x >> .../frame.csv`: the dry
    run names the damage (not "reused"); without the data to recompute it, the command stops before
    computing anything and the damaged folder is left byte for byte (it used to be deleted, then a
    FileNotFoundError)."""
    [folder] = [f for f in ch1_copy.glob("ch1-spectrum-mnist-full-n1000-*")]
    with open(folder / "frame.csv", "a") as fh:
        fh.write("x\n")
    damaged = _snapshot(folder)
    shown = f"the committed result {folder} is damaged: checksum mismatch"
    assert cli.main(["results", "--chapter", "01_theorem", "--dry-run"]) == 0
    out = capsys.readouterr().out
    [plan] = [line for line in out.splitlines() if line.strip().startswith("01_theorem")]
    units = len(list(ch1_copy.iterdir()))
    assert re.search(rf"{units} units: +1 to compute \(1 damaged\), +{units - 1} reused", plan), plan
    assert shown in out and "replaced only once the new result is stored" in out
    # the real run: chapter 1's larger subsets need full MNIST (absent in the tests)
    assert cli.main(["results", "--chapter", "01_theorem"]) == 2
    out = capsys.readouterr().out
    assert shown in out
    assert "error: 01_theorem cannot be computed without full MNIST; nothing was computed (the damaged" in out
    assert _snapshot(folder) == damaged
    # every other path reports the same damage by name, as an error
    from companion.chapters import theorem

    params, options = chapters.check("01_theorem", {"cache_dir": str(ch1_copy.parent / "user")})
    with pytest.raises(store.CommittedResultError, match=re.escape(shown)):
        theorem.run(params, options)
    assert _snapshot(folder) == damaged


_TINY = {"sizes": [100], "seeds": [0, 1], "n_test": 100, "width": 16, "k": 4, "steps": 20,
         "num_checkpoints": 3, "first_checkpoint": 5, "batch_size": 50, "gd_sizes": [100],
         "gd_seeds": [0], "gd_steps": 10, "gd_num_checkpoints": 3, "ntk_n": 100, "ntk_seeds": [0],
         "ntk_lrs": [1.0], "ntk_ks": [4, 32], "ntk_steps": 10, "ntk_num_checkpoints": 3,
         "random_draws": 2, "source": "embedded", "n_jobs": 1, "wt_sizes": [100], "wt_seeds": [0],
         "wt_lrs": [0.4], "wt_ks": [4], "wt_num_checkpoints": 3, "wt_ntk_lrs": [1.0], "n_heldout": 50,
         "heldout_from": 1000}


def test_results_replaces_a_damaged_committed_result_only_once_the_new_one_is_stored(tmp_path, monkeypatch,
                                                                                        capsys):
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr(paths, "RESULTS_DIR", results)
    load = presets.load
    monkeypatch.setattr(presets, "load", lambda ch, preset: load(ch, preset) | _TINY)
    assert cli.main(["results", "--chapter", "03_mnist_validation"]) == 0
    [folder] = list(results.glob("ch3-sgd-n100-s1-*"))
    good = _snapshot(folder)
    with open(folder / "frame.csv", "a") as fh:
        fh.write("x\n")
    seen = []
    compute = engine.compute_unit

    def watching(experiment, unit, *args):  # the damaged folder is still there, as it was, while computing
        seen.append((unit, (folder / "frame.csv").read_bytes().endswith(b"x\n")))
        return compute(experiment, unit, *args)

    monkeypatch.setattr(engine, "compute_unit", watching)
    capsys.readouterr()
    assert cli.main(["results", "--chapter", "03_mnist_validation"]) == 0
    out = capsys.readouterr().out
    assert f"the committed result {folder} is damaged: checksum mismatch" in out
    assert re.search(r"^03_mnist_validation: 1 units computed, 5 reused", out, re.M), out
    assert seen == [((100, 1), True)]
    assert _snapshot(folder) == {**good, "provenance.json": _snapshot(folder)["provenance.json"]}
    assert store.load("ch3-sgd-n100-s1", json.loads(good["provenance.json"])["config"], results) is not None
    assert not [p for p in results.iterdir() if p.name.startswith(".")]  # no hidden leftovers


def test_store_swaps_a_damaged_folder_for_the_new_one_and_keeps_an_intact_one(tmp_path):
    cfg = {"n": 3}
    folder = store.store("demo", cfg, pd.DataFrame({"x": [1.0]}), device="cpu", wall_time_s=1.0, cache_dir=tmp_path)
    intact = _snapshot(folder)
    store.store("demo", cfg, pd.DataFrame({"x": [2.0]}), device="cpu", wall_time_s=1.0, cache_dir=tmp_path)
    assert _snapshot(folder) == intact  # a concurrent writer's intact result is kept
    (folder / "frame.csv").write_text("x\n5\n")
    with pytest.warns(store.CorruptResult, match=rf"{folder.name}.*checksum"):
        assert store.load("demo", cfg, tmp_path) is None
    assert (folder / "frame.csv").read_text() == "x\n5\n"  # reported, not deleted
    store.store("demo", cfg, pd.DataFrame({"x": [2.0]}), device="cpu", wall_time_s=1.0, cache_dir=tmp_path)
    assert store.load("demo", cfg, tmp_path)["x"].tolist() == [2.0]
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no hidden leftovers
