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
