import pytest

from companion import cli, presets
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


def test_run_reports_a_bad_parameter_from_the_notebook(tmp_path, capsys):
    code = cli.main(["run", "01_theorem", "--preset", "quick", "-p", "sizes=[]",
                     "-p", f"cache_dir={tmp_path / 'cache'}", "--output", str(tmp_path / "out.ipynb")])
    assert code == 1
    assert "ParameterError: parameter 'sizes' = []" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()
