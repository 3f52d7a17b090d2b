"""New settings as a researcher passes them (issue 21, points 3 and 6): the README's commands as
written, what papermill's ``-p`` really injects, and a clear error naming the parameter or the file
(never a traceback) for a YAML typo, a broken or empty preset file, a seed no generator takes, and
``1e-1``, which YAML reads as text."""
import ast
import os
import re
import shlex
import shutil
import subprocess
import sys

import nbformat
import pytest

from companion import cli, chapters, paths, presets
from companion.validate import ParameterError

README = paths.REPO_ROOT / "README.md"


def _section_commands(title: str) -> list[list[str]]:
    """Every command line of the ```bash blocks of one README section, split as the shell splits it."""
    section = README.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [shlex.split(line, comments=True) for block in blocks for line in block.splitlines() if line.strip()]


def _cell_defaults(chapter: str) -> dict:
    """The notebook's namespace after its parameters cell (what papermill's injected cell then changes)."""
    nb = nbformat.read(paths.BOOK_DIR / f"{chapter}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}


def _papermill_parameters(args: list[str], monkeypatch) -> tuple[str, dict]:
    """(notebook, parameters) that papermill's own command line would pass to execute_notebook."""
    from click.testing import CliRunner
    from papermill import cli as papermill_cli

    calls = []
    monkeypatch.setattr(papermill_cli, "execute_notebook", lambda *a, **kw: calls.append((a, kw)))
    result = CliRunner().invoke(papermill_cli.papermill, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [(a, kw)] = calls
    return (a[0] if a else kw["input_path"]), kw["parameters"]


@pytest.fixture
def no_execution(monkeypatch):
    """papermill.execute_notebook replaced by a recorder (with the regenerate flag the kernel would see)."""
    import papermill

    calls = []

    def record(*args, **kwargs):
        calls.append({"parameters": kwargs["parameters"], "regenerate": os.environ.get(paths.REGENERATE_ENV)})

    monkeypatch.setattr(papermill, "execute_notebook", record)
    return calls


def test_the_readmes_new_settings_commands_work_as_written(monkeypatch, no_execution, capsys, tmp_path):
    commands = _section_commands("Running a chapter with new settings")
    assert [c[0] for c in commands].count("papermill") == 2 and len(commands) >= 6
    monkeypatch.chdir(paths.REPO_ROOT)  # "from the repository root"
    seen = set()
    for command in commands:
        if command[0] == "papermill":
            notebook, injected = _papermill_parameters(command[1:], monkeypatch)
            chapter = os.path.basename(notebook).removesuffix(".ipynb")
            # what the chapter's first cell then checks: its parameters cell, then papermill's values
            params, options = chapters.check_notebook(chapter, _cell_defaults(chapter) | injected)
            if "seeds" in command:
                assert injected["seeds"] == "[0, 1]"          # papermill's -p passes the list as text...
                assert params.seeds == (0, 1)                  # ...which the chapter reads as YAML
            else:
                assert params.seeds == tuple(presets.load(chapter, "quick")["seeds"])
            seen.add("papermill")
        else:
            assert command[:3] == ["python", "-m", "companion"], command
            assert cli.main(command[3:]) == 0, (command, capsys.readouterr().err)
            seen.add(command[3])
    assert seen == {"papermill", "list", "params", "run"}
    out = capsys.readouterr().out
    assert "03_mnist_validation: paper, quick" in out and "seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in out
    quick, regenerate = no_execution
    assert quick["parameters"]["seeds"] == [0, 1] and quick["regenerate"] is None
    # the regenerate command: the kernel is told it may write the committed results, at their absolute path
    assert regenerate["parameters"]["cache_dir"] == str(paths.RESULTS_DIR.resolve())
    assert regenerate["regenerate"] == "1" and os.environ.get(paths.REGENERATE_ENV) is None
    assert not (paths.REPO_ROOT / "out.ipynb").exists()


@pytest.mark.parametrize("text, expected", [("[0, 1]", (0, 1)), ("[3]", (3,)), ("[ 5 ,7 ]", (5, 7))])
def test_a_list_given_as_text_by_papermill_is_read_as_yaml(text, expected):
    params, _ = chapters.check_notebook("03_mnist_validation", {"seeds": text, "gd_seeds": text})
    assert params.seeds == params.gd_seeds == expected


def test_text_that_is_not_a_list_is_refused_naming_the_parameter():
    with pytest.raises(ParameterError, match=r"parameter 'seeds' = '\[0, 1' is not allowed: it is not valid YAML"):
        chapters.check_notebook("03_mnist_validation", {"seeds": "[0, 1"})
    with pytest.raises(ParameterError, match=r"parameter 'seeds' = 'zero' is not allowed: must be a list"):
        chapters.check_notebook("03_mnist_validation", {"seeds": "zero"})
    # a text parameter is never parsed: 'embedded' stays the text it is
    params, _ = chapters.check_notebook("03_mnist_validation", presets.load("03_mnist_validation", "quick"))
    assert params.source == "embedded"


def test_one_real_papermill_run_takes_lists_as_text(tmp_path):
    """papermill's own command line, as the README writes it (-p NAME '[...]'), on a seconds-long
    setting of chapter 1: the chapter runs and used the lists."""
    out, cache = tmp_path / "out.ipynb", tmp_path / "cache"
    papermill = shutil.which("papermill", path=os.path.dirname(sys.executable))
    result = subprocess.run(
        [papermill, str(paths.BOOK_DIR / "01_theorem.ipynb"), str(out), "-f",
         str(paths.PARAMS_DIR / "01_theorem" / "quick.yaml"), "-p", "sizes", "[50, 100]", "-p", "seeds", "[0]",
         "-p", "mc_samples", "[100, 1000]", "-p", "cache_dir", str(cache),
         "-p", "progress", "False", "--cwd", str(paths.BOOK_DIR), "-k", "python3"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    names = {p.name.rsplit("-", 1)[0] for p in cache.iterdir()}
    assert {"ch1-spectrum-mnist-n50", "ch1-spectrum-mnist-n100"} <= names
    assert "ch1-spectrum-mnist-n200" not in names  # the quick preset's sizes were replaced by the list


# -- clear errors, before any work (point 6) ---------------------------------------------------------

def _run(args, tmp_path):
    return cli.main(["run", *args, "--output", str(tmp_path / "out.ipynb")])


def test_a_yaml_typo_in_an_override_names_the_parameter(tmp_path, capsys, no_execution):
    assert _run(["03_mnist_validation", "-p", "sizes=[250, 500"], tmp_path) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: parameter 'sizes' = '[250, 500' (from -p) is not allowed: it is not valid YAML")
    assert "Traceback" not in err and no_execution == []


@pytest.mark.parametrize("text, message", [
    ("sizes: [250, 500\nseeds: [0]\n", r"preset file .*broken\.yaml is not allowed: it is not valid YAML \(.*line \d+"),
    ("", r"preset file .*broken\.yaml is empty"),
    ("# only a comment\n", r"preset file .*broken\.yaml is empty"),
    ("- 1\n- 2\n", r"preset file .*broken\.yaml must hold a mapping"),
])
def test_a_broken_or_empty_preset_file_is_a_clear_error(text, message, tmp_path, monkeypatch, capsys,
                                                        no_execution):
    params = tmp_path / "params"
    shutil.copytree(paths.PARAMS_DIR, params)
    (params / "03_mnist_validation" / "broken.yaml").write_text(text)
    monkeypatch.setattr(paths, "PARAMS_DIR", params)
    with pytest.raises(ParameterError, match=message):
        presets.load("03_mnist_validation", "broken")
    assert _run(["03_mnist_validation", "--preset", "broken"], tmp_path) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err and no_execution == []


def test_a_seed_no_generator_takes_is_refused_before_any_work(tmp_path, capsys, no_execution):
    assert _run(["03_mnist_validation", "-p", "seeds=[18446744073709551616]",
                 "-p", f"cache_dir={tmp_path / 'cache'}"], tmp_path) == 2
    err = capsys.readouterr().err
    assert "parameter 'seeds[0]' = 18446744073709551616 is not allowed" in err
    assert "9223372036854775807" in err and no_execution == [] and not (tmp_path / "cache").exists()
    for chapter, name in [("01_theorem", "seeds"), ("02_derivation", "seeds"), ("03_mnist_validation", "gd_seeds")]:
        with pytest.raises(ParameterError, match=rf"'{name}\[0\]' = {2**63}"):
            chapters.check(chapter, {name: [2**63]})
        assert getattr(chapters.check(chapter, {name: [2**63 - 1]})[0], name) == (2**63 - 1,)


def test_a_seed_at_the_top_of_the_range_computes():
    """2**63 - 1, the largest seed allowed, goes through every generator a unit seeds."""
    import torch

    from companion import data, prune
    from companion.models import TwoLayerNet

    top = 2**63 - 1
    assert len(data.mnist(50, n_test=20, seed=top, source="embedded").train.x) == 50
    assert len(data.synthetic(5, 3, seed=top).x) == 5
    TwoLayerNet(784, 8, 10, "mean_field", seed=top)
    assert len(prune.random_selection(8, 2, seed=data.draw_seed(top, 3, 1))) == 2
    torch.Generator().manual_seed(top)


def test_1e_minus_1_read_as_text_says_how_to_write_it(tmp_path, capsys, no_execution):
    assert _run(["03_mnist_validation", "-p", "lr_mean_field=1e-1"], tmp_path) == 2
    err = capsys.readouterr().err
    assert "parameter 'lr_mean_field' = '1e-1' is not allowed" in err
    assert "YAML reads 1e-1 as a string; write 1.0e-1 or 0.1" in err and no_execution == []
    assert cli.parse_overrides(["lr_mean_field=1.0e-1"]) == {"lr_mean_field": 0.1}  # the advice works
    with pytest.raises(ParameterError, match=r"YAML reads 1e3 as a string; write 1000\)"):
        chapters.check("03_mnist_validation", {"steps": "1e3"})
