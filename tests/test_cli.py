import re
import shutil

import pytest

from companion import cli, paths, presets
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


def test_a_real_run_writes_its_notebook_and_results_quietly(tmp_path, capfd):
    code = cli.main(["run", "01_theorem", "--preset", "quick", "-p", "sizes=[50, 100]", "-p", "seeds=[0]",
                     "-p", "mc_samples=[100, 1000]", "-p", f"cache_dir={tmp_path / 'cache'}",
                     "--output", str(tmp_path / "out.ipynb")])
    assert code == 0 and (tmp_path / "out.ipynb").exists()
    assert any((tmp_path / "cache").glob("ch1-spectrum-mnist-n50-*"))
    err = capfd.readouterr().err  # capfd: the kernel process writes to the same stderr
    # the kernel's "running over TCP without encryption" warning is gone (the CLI asks for CurveZMQ)
    assert "without encryption" not in err


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
